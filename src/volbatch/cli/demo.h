// `volbatch demo`: the main job end to end on generated data.
#pragma once

#include <ostream>
#include <string>

#include "volbatch/core/box.h"

namespace volbatch {

struct DemoOptions {
  std::string dir = "volbatch-demo";
  Index depth = 256, height = 512, width = 512;
};

void RunDemo(const DemoOptions& options, std::ostream& out);

}  // namespace volbatch
