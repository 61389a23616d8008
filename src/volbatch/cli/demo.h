// `volbatch demo`: the main job end to end on generated data.
#pragma once

#include <ostream>
#include <string>

#include "volbatch/core/box.h"

namespace volbatch {

struct DemoOptions {
  std::string dir = "volbatch-demo";
  Index depth = 128, height = 256, width = 256;
  double noise_sigma = 20;  // grey levels of noise on the generated volume
  std::string model;        // the denoiser; default: models/denoise3d in the source tree
  int threads = 0;
};

void RunDemo(const DemoOptions& options, std::ostream& out);

}  // namespace volbatch
