// Operator: what runs on one window. The engine cuts the output volume into windows on a global
// lattice; for each window it reads the input box the operator asks for (the window mapped
// through Scale() and grown by Context(), virtually padded at the volume's border), calls
// Compute, and either blends the results (models) or takes them as they are (Exact() ops).
// Operators are plugins: a factory registered by name, built from the [operator] table.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "volbatch/core/array.h"
#include "volbatch/core/error.h"
#include "volbatch/tile/scale.h"

namespace volbatch {

// Where a window sits; boxes are spatial (no channel axis).
struct WindowInfo {
  Box output;  // output-space voxels the window produces
  Box input;   // input-space voxels `input` holds (output mapped by Scale, grown by Context)
  Shape input_volume;  // spatial shape of the whole input volume
};

class Operator {
 public:
  virtual ~Operator() = default;
  virtual std::string name() const = 0;
  // The resolved parameters (defaults filled in), for job.json and the job's fingerprint.
  virtual nlohmann::json Parameters() const = 0;

  // Input voxels needed on each side of a window beyond the input box its output maps to.
  virtual Shape Context() const = 0;
  virtual Scale GetScale() const { return Scale::Identity(spatial_rank()); }
  // Channels of the output for `input_channels` input channels (0: the input has no channel
  // axis); 0 means the output has no channel axis. Throws InvalidArgument if the input's
  // channels do not suit the operator.
  virtual Index OutputChannels(Index input_channels) const { return input_channels; }
  // The element type Compute returns for an input of `input`.
  virtual DataType ComputeDType(DataType input) const = 0;
  // Throws InvalidArgument (the engine prefixes "[output] dtype: ") if the operator's result
  // cannot be stored as `output` (e.g. a probability as bool).
  virtual void CheckOutputDType(DataType input, DataType output) const;
  // The threads the job runs with (a model sets its intra-op threads from it).
  virtual void SetThreads(int /*threads*/) {}
  // Told the output's element type before any Compute (an operator that scales to the output
  // type's range, like cast, needs it).
  virtual void SetOutputDType(DataType /*output*/) {}
  // True when a window's result at a voxel equals the whole-volume result there (the window
  // had all the context it needs): the engine then copies window results without blending,
  // which keeps them bit-exact. Models are not exact and are blended.
  virtual bool Exact() const { return true; }
  // The window the engine uses when the job names none (output space).
  virtual Shape DefaultWindow() const;

  // Whole-input statistics the operator needs (e.g. {"percentiles": [1, 99]}), computed once
  // per job by the engine and handed back through SetStatistics. Null: none.
  virtual nlohmann::json StatisticsRequest() const { return nullptr; }
  virtual void SetStatistics(const nlohmann::json& /*statistics*/) {}

  // `input` is [c?, spatial...] over info.input; returns [c_out?, spatial...] over info.output
  // with element type ComputeDType(input.dtype()), c_out = ComputeChannels. Called from many
  // threads at once.
  virtual Array Compute(const Array& input, const WindowInfo& info) const = 0;
  // Several windows at once: a model runs them as batches (and may merge the calls of
  // concurrent blocks into one batch). The default computes them in parallel, one Compute each.
  virtual std::vector<Array> ComputeBatch(const std::vector<Array>& inputs,
                                          const std::vector<WindowInfo>& infos) const;
  // How many windows the engine should hand to one ComputeBatch call (0: the engine decides).
  virtual size_t WindowsPerCall() const { return 0; }

  // Channels of Compute's result (what is blended); by default what is stored.
  virtual Index ComputeChannels(Index input_channels) const {
    return OutputChannels(input_channels);
  }
  // Turns a blended block, float32 [ComputeChannels?, region], into what is stored,
  // [OutputChannels?, region] (e.g. labels by argmax over blended class scores: blending labels
  // would be meaningless). Only called for blended operators. Default: as it is.
  virtual Array Finalize(Array blended) const { return blended; }

  size_t spatial_rank() const { return spatial_rank_; }

  // Public so that subclasses can inherit it with `using` (the class is abstract anyway).
  explicit Operator(size_t spatial_rank) : spatial_rank_(spatial_rank) {}

 private:
  size_t spatial_rank_;
};

// A table of the job file ([operator], [tiling], ...), read key by key: every key is looked up
// through here, and Finish() rejects the ones nobody asked for (a typo must not be silently
// ignored). Errors name "[table] key".
class ParamTable {
 public:
  // `table` as JSON; `spatial_rank` the rank of the volume's space (per-axis lists).
  ParamTable(nlohmann::json table, size_t spatial_rank, std::string table_name = "operator");
  const std::string& table_name() const { return name_; }
  size_t spatial_rank() const { return spatial_rank_; }
  bool Has(const std::string& key) const;
  // Each throws InvalidArgument "[table] key: ..." on a wrong type or value.
  double Number(const std::string& key, std::optional<double> fallback = std::nullopt);
  Index Integer(const std::string& key, std::optional<Index> fallback = std::nullopt);
  std::string String(const std::string& key, std::optional<std::string> fallback = std::nullopt);
  bool Bool(const std::string& key, std::optional<bool> fallback = std::nullopt);
  // A per-axis list of spatial_rank numbers; a single number is repeated on every axis.
  std::vector<double> Numbers(const std::string& key,
                              std::optional<std::vector<double>> fallback = std::nullopt);
  Shape Integers(const std::string& key, std::optional<Shape> fallback = std::nullopt);
  // The raw value, marked as used (for operators with structured parameters).
  const nlohmann::json* Raw(const std::string& key);
  // Throws InvalidArgument naming the first key no one read.
  void Finish() const;
  // InvalidArgument "[table] key: what".
  Error Bad(const std::string& key, const std::string& what) const;

 private:
  const nlohmann::json& Get(const std::string& key);
  nlohmann::json table_;
  size_t spatial_rank_;
  std::string name_;
  std::set<std::string> used_;
};
// Operators read their parameters from the [operator] table.
using OperatorParams = ParamTable;

using OperatorFactory = std::function<std::unique_ptr<Operator>(OperatorParams& params)>;

// Adding an operator is one file with a Register...() function and one line in builtin.cc.
void RegisterOperator(const std::string& type, OperatorFactory factory);
// Builds the operator named by table["type"]; checks every key. Throws InvalidArgument
// naming "[operator] type" for an unknown type (listing the known ones).
std::unique_ptr<Operator> MakeOperator(const nlohmann::json& table, size_t spatial_rank);
std::vector<std::string> RegisteredOperators();

// Helpers shared by the built-in operators.
// Every element of `a` as double, in order.
std::vector<double> ToDoubles(const Array& a);
// Converts with rounding to nearest and saturation for integer targets (NaN -> 0); floats
// convert as C++ does; bool is value != 0.
Array CastArray(const Array& a, DataType to);
// As above, but hands `a` back without a copy when it already has type `to`.
Array CastArray(Array&& a, DataType to);

}  // namespace volbatch
