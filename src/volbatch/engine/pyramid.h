// Multiscale pyramids: levels 1..N of a dataset, each the previous one reduced (mean for
// intensities, mode for labels) by 2 along the axes whose voxels are the finest, so that an
// anisotropic EM stack (e.g. 40 x 4 x 4 nm) is first made isotropic in-plane and z is not
// downsampled until it is no coarser than y and x. Each level is a job of the block-wise engine
// (operator "downsample"), so it runs on every core, resumes after a crash and never leaves a
// half-written chunk; its job directory is removed once the level is complete.
//
// Layout: the levels sit beside the dataset, named after it (".../s0" -> s1, s2, ...; ".../0"
// -> 1, 2, ...; ".../raw" -> raw_s1, raw_s2, ...), and the parent group describes them:
//   Zarr v2: .zattrs "multiscales" (OME-NGFF 0.4: version, name, axes with types and units,
//            datasets with coordinateTransformations scale and translation);
//   Zarr v3: zarr.json attributes "ome": {"version": "0.5", "multiscales": [...]} (NGFF 0.5);
//   N5:      each level's "downsamplingFactors" and the group's "scales", "resolution",
//            "multiScale" and "units" (x, y, z order), as BigDataViewer and Paintera read them.
// Level 0's voxel size comes from those same attributes, or from an HDF5 dataset's
// "resolution" (z, y, x order, as CREMI writes it) when a job reads HDF5.
// A voxel of level k covers F = 2^k voxels of level 0 per axis; its centre is (F - 1) / 2
// level-0 voxels in, which is the translation written for it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "volbatch/core/box.h"

namespace volbatch {

// The reduction factor of each level (relative to the one before) for a volume of `shape`
// whose voxels measure `voxel_size` (spatial axes, in order); axes of length 1 stay.
std::vector<Shape> PyramidFactors(const Shape& shape, const std::vector<double>& voxel_size,
                                  int levels);

// The names of levels 1..levels beside a dataset called `name`.
std::vector<std::string> PyramidLevelNames(const std::string& name, int levels);

struct PyramidOptions {
  std::string dataset;                     // level 0
  int levels = 1;                          // levels to write below it
  std::string method = "mean";             // "mean" | "mode"
  std::optional<std::vector<double>> voxel_size;  // spatial axes; default: the attributes, or 1
  std::string unit;                        // default: the attributes', or "nanometer"
  std::string codec = "zstd:3";
  int threads = 0;
  bool quiet = false;
  bool force = false;  // rewrite existing levels
  // Levels 1..written_levels exist already (written by a job's blocks): checked, not redone.
  int written_levels = 0;
  // Where each level's pass keeps its job directory (JOBDIRS/NAME). Default: beside the
  // levels (GROUP/.volbatch-pyramid/NAME), or for a group at a URL under the working directory.
  std::string jobdirs;
};

struct PyramidResult {
  std::vector<std::string> levels;  // paths, level 1 first
  std::vector<Shape> shapes;        // of every level, level 0 first
  std::vector<std::vector<double>> scales;  // voxel size of every level
  std::string metadata;  // the file that describes the pyramid
  int written_by_blocks = 0;  // levels the job's blocks wrote (the rest ran as passes)
};

PyramidResult BuildPyramid(const PyramidOptions& options);

struct JobSpec;
// The pyramid of a complete job with `[output] pyramid`: the levels its blocks did not write,
// then the metadata. Same voxel size and codec as the job's own levels.
PyramidResult FinishJobPyramid(const JobSpec& spec, int threads, bool quiet, bool force);

// The voxel size of a job's output (spatial axes), which chooses its pyramid's factors:
// [output] voxel_size if given; else the input's, as its attributes say (OME-NGFF
// multiscales, N5 resolution/pixelResolution, HDF5 resolution as CREMI writes it), scaled by
// input/output shape per axis; else 1 on every axis.
std::vector<double> JobVoxelSize(const JobSpec& spec, const Shape& input_spatial,
                                 const Shape& output_spatial);

}  // namespace volbatch
