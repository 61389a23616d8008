// The run report: one self-contained HTML page per job directory (JOBDIR/report.html; inline
// SVG charts and base64 PNG images, no script, nothing fetched), built from what the job
// directory and the datasets already hold:
//   - the ledgers (one 32-byte record per finished block: time, duration, worker) give the
//     throughput over time, the blocks and failures per worker and the map of block states;
//   - the run summaries (summary*.json) give the read/compute/write time split;
//   - the output directory's file sizes against its decoded size give the compression ratio;
//   - one slice through the middle of the volume, cropped to at most 512 x 512 voxels, of the
//     input and the output at the same position (scaled for super-resolution) gives previews.
// Cost: one pass over the ledgers, a walk of the output's files, and two small reads.
#pragma once

#include <string>

namespace volbatch {

struct ReportResult {
  std::string path;  // the HTML file
  size_t charts = 0, images = 0;
};

// Writes JOBDIR/report.html (atomically). Throws NotFound if JOBDIR is not a job directory.
ReportResult WriteReport(const std::string& jobdir);

}  // namespace volbatch
