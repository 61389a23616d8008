// The datasets a job writes (its output, the pyramid levels its blocks write): an existing one
// must have the layout the job would create and is written into only by its own job (a job
// directory owns it) or with --force; a missing one is created. All sync deferred: a block
// syncs its chunks once, then records itself done.
#pragma once

#include <memory>
#include <string>

#include "volbatch/store/dataset.h"

namespace volbatch {

// `where` prefixes every message (e.g. "job.toml: [output] path: /data/out.zarr/y"). Returns
// null for a missing dataset when `create` is false (a check before anything is written).
std::shared_ptr<Dataset> PrepareJobDataset(const std::string& where, const std::string& path,
                                           const CreateOptions& want, const std::string& jobdir,
                                           bool owned, bool create);

}  // namespace volbatch
