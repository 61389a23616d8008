#include "volbatch/ops/operator.h"

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "volbatch/core/error.h"
#include "volbatch/ops/builtin.h"
#include "volbatch/ops/plugin.h"

namespace volbatch {

void Operator::CheckOutputDType(DataType /*input*/, DataType output) const {
  if (output == DataType::kFloat16) {
    throw InvalidArgument(name() + " cannot write float16 (volbatch does not compute in float16)");
  }
}

Shape Operator::DefaultWindow() const {
  // 64^3 windows keep a window's input (with context) in the caches' reach while making the
  // per-window overhead negligible.
  return Shape(spatial_rank_, 64);
}

// ---- OperatorParams -----------------------------------------------------------------------

ParamTable::ParamTable(nlohmann::json table, size_t spatial_rank, std::string table_name)
    : table_(std::move(table)), spatial_rank_(spatial_rank), name_(std::move(table_name)) {
  if (!table_.is_object()) throw InvalidArgument("[" + name_ + "]: must be a table");
}

Error ParamTable::Bad(const std::string& key, const std::string& what) const {
  return InvalidArgument("[" + name_ + "] " + key + ": " + what);
}

bool ParamTable::Has(const std::string& key) const { return table_.contains(key); }

const nlohmann::json& ParamTable::Get(const std::string& key) {
  used_.insert(key);
  return table_.at(key);
}

const nlohmann::json* ParamTable::Raw(const std::string& key) {
  used_.insert(key);
  return table_.contains(key) ? &table_.at(key) : nullptr;
}

namespace {

// The value of `key` in `t` (marked as used) through parse(value), or `fallback` when the
// table lacks it; neither: "[table] key: missing (<missing>)".
template <typename T, typename Parse>
T ReadParam(ParamTable& t, const std::string& key, std::optional<T> fallback,
            const std::string& missing, Parse&& parse) {
  const nlohmann::json* v = t.Raw(key);
  if (!v) {
    if (fallback) return *std::move(fallback);
    throw t.Bad(key, "missing (" + missing + ")");
  }
  return parse(*v);
}

// A value that `is` accepts (a json type test such as is_number), `what` in errors.
template <typename T, typename Is>
T ReadScalar(ParamTable& t, const std::string& key, std::optional<T> fallback,
             const std::string& what, Is is) {
  return ReadParam(t, key, std::move(fallback), what, [&](const nlohmann::json& v) {
    if (!std::invoke(is, v)) throw t.Bad(key, "must be " + what + ", not " + v.dump());
    return v.get<T>();
  });
}

// A list of spatial_rank elements that `is` accepts, or one such element for every axis;
// `one` names an element ("a number") and `many` several ("numbers") in errors.
template <typename List, typename Is>
List ReadPerAxis(ParamTable& t, const std::string& key, std::optional<List> fallback,
                 const std::string& one, const std::string& many, Is is) {
  using E = typename List::value_type;
  const std::string rank = std::to_string(t.spatial_rank());
  auto parse = [&](const nlohmann::json& v) {
    if (std::invoke(is, v)) return List(t.spatial_rank(), v.get<E>());
    if (!v.is_array() || v.size() != t.spatial_rank()) {
      throw t.Bad(key, "must be " + one + " or a list of " + rank + " " + many +
                           " (one per axis, z y x), not " + v.dump());
    }
    List out;
    for (const auto& e : v) {
      if (!std::invoke(is, e)) throw t.Bad(key, "must hold " + many + ", not " + e.dump());
      out.push_back(e.get<E>());
    }
    return out;
  };
  return ReadParam(t, key, std::move(fallback), one + " or a list of " + rank + " " + many, parse);
}

}  // namespace

double ParamTable::Number(const std::string& key, std::optional<double> fallback) {
  return ReadScalar(*this, key, fallback, "a number", &nlohmann::json::is_number);
}

Index ParamTable::Integer(const std::string& key, std::optional<Index> fallback) {
  return ReadScalar(*this, key, fallback, "an integer", &nlohmann::json::is_number_integer);
}

std::string ParamTable::String(const std::string& key, std::optional<std::string> fallback) {
  return ReadScalar(*this, key, std::move(fallback), "a string", &nlohmann::json::is_string);
}

bool ParamTable::Bool(const std::string& key, std::optional<bool> fallback) {
  return ReadScalar(*this, key, fallback, "true or false", &nlohmann::json::is_boolean);
}

std::vector<double> ParamTable::Numbers(const std::string& key,
                                        std::optional<std::vector<double>> fallback) {
  return ReadPerAxis(*this, key, std::move(fallback), "a number", "numbers",
                     &nlohmann::json::is_number);
}

Shape ParamTable::Integers(const std::string& key, std::optional<Shape> fallback) {
  return ReadPerAxis(*this, key, std::move(fallback), "an integer", "integers",
                     &nlohmann::json::is_number_integer);
}

void ParamTable::Finish() const {
  for (const auto& [key, value] : table_.items()) {
    if (!used_.count(key)) {
      if (name_ == "operator") {
        throw Bad(key, "unknown key for type \"" + table_.value("type", std::string("?")) + "\"");
      }
      throw Bad(key, "unknown key");
    }
  }
}

// ---- registry -----------------------------------------------------------------------------

namespace {
std::map<std::string, OperatorFactory>& Registry() {
  static std::map<std::string, OperatorFactory> r;
  return r;
}
std::once_flag builtin_once;
void EnsureBuiltins() { std::call_once(builtin_once, RegisterBuiltinOperators); }
}  // namespace

void RegisterOperator(const std::string& type, OperatorFactory factory) {
  Registry()[type] = std::move(factory);
}

std::vector<std::string> RegisteredOperators() {
  EnsureBuiltins();
  std::vector<std::string> names;
  for (const auto& [name, f] : Registry()) names.push_back(name);
  return names;
}

std::unique_ptr<Operator> MakeOperator(const nlohmann::json& table, size_t spatial_rank) {
  EnsureBuiltins();
  OperatorParams params(table, spatial_rank);
  const std::string type = params.String("type");
  auto it = Registry().find(type);
  if (it == Registry().end() && LoadOperatorPlugin(type)) it = Registry().find(type);
  if (it == Registry().end()) {
    std::set<std::string> names;
    for (const auto& n : RegisteredOperators()) names.insert(n);
    for (const auto& n : AvailableOperatorPlugins()) names.insert(n);
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw InvalidArgument("[operator] type: \"" + type + "\" is unknown (known: " + known + ")");
  }
  auto op = it->second(params);
  params.Finish();
  return op;
}

// ---- element conversion --------------------------------------------------------------------

std::vector<double> ToDoubles(const Array& a) {
  std::vector<double> out(static_cast<size_t>(a.num_elements()));
  VisitDataType(a.dtype(), [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_arithmetic_v<T>) {
      const T* p = a.data_as<T>();
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(p[i]);
    } else {
      throw Unsupported("float16 data cannot be computed on; cast it to float32 first");
    }
  });
  return out;
}

namespace {

template <typename To, typename From>
To ConvertOne(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From{};
  } else if constexpr (std::is_floating_point_v<To>) {
    return static_cast<To>(v);
  } else if constexpr (std::is_floating_point_v<From>) {
    if (std::isnan(v)) return To{0};
    const double r = std::nearbyint(static_cast<double>(v));
    // Compare in double: the bounds of 64-bit types are not exact there, so saturate with >=.
    if (r <= static_cast<double>(std::numeric_limits<To>::lowest())) {
      return std::numeric_limits<To>::lowest();
    }
    if (r >= static_cast<double>(std::numeric_limits<To>::max())) {
      return std::numeric_limits<To>::max();
    }
    return static_cast<To>(r);
  } else {
    // Integer to integer, saturating.
    using Wide = std::conditional_t<std::is_signed_v<From>, int64_t, uint64_t>;
    const Wide w = static_cast<Wide>(v);
    if constexpr (std::is_signed_v<From>) {
      if (w < 0 && !std::is_signed_v<To>) return To{0};
      if constexpr (std::is_signed_v<To>) {
        if (w < static_cast<int64_t>(std::numeric_limits<To>::lowest())) {
          return std::numeric_limits<To>::lowest();
        }
      }
      if (w > 0 &&
          static_cast<uint64_t>(w) > static_cast<uint64_t>(std::numeric_limits<To>::max())) {
        return std::numeric_limits<To>::max();
      }
    } else {
      if (w > static_cast<uint64_t>(std::numeric_limits<To>::max())) {
        return std::numeric_limits<To>::max();
      }
    }
    return static_cast<To>(w);
  }
}

}  // namespace

Array CastArray(Array&& a, DataType to) {
  if (a.dtype() == to) return std::move(a);
  return CastArray(static_cast<const Array&>(a), to);
}

Array CastArray(const Array& a, DataType to) {
  if (a.dtype() == to) return a;
  Array out = Array::Uninitialized(to, a.shape());
  const size_t n = static_cast<size_t>(a.num_elements());
  VisitDataType(a.dtype(), [&](auto f) {
    using From = decltype(f);
    VisitDataType(to, [&](auto t) {
      using To = decltype(t);
      if constexpr (std::is_arithmetic_v<From> && std::is_arithmetic_v<To>) {
        const From* src = a.data_as<From>();
        To* dst = out.data_as<To>();
        for (size_t i = 0; i < n; ++i) dst[i] = ConvertOne<To>(src[i]);
      } else {
        throw Unsupported("conversion to or from float16 is not supported here");
      }
    });
  });
  return out;
}

}  // namespace volbatch
