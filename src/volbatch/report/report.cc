#include "volbatch/report/report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "volbatch/core/error.h"
#include "volbatch/engine/job.h"
#include "volbatch/engine/job_dir.h"
#include "volbatch/engine/ledger.h"
#include "volbatch/ops/operator.h"
#include "volbatch/report/png.h"
#include "volbatch/report/svg.h"
#include "volbatch/store/dataset.h"

namespace volbatch {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr Index kPreviewSide = 512;
constexpr Index kMapCells = 16384;  // block-map squares at most (larger grids are coarsened)

std::string Base64(const Bytes& b) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  for (size_t i = 0; i < b.size(); i += 3) {
    uint32_t v = std::to_integer<uint32_t>(b[i]) << 16;
    if (i + 1 < b.size()) v |= std::to_integer<uint32_t>(b[i + 1]) << 8;
    if (i + 2 < b.size()) v |= std::to_integer<uint32_t>(b[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < b.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < b.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

std::string Fixed(double v, int digits = 2) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(digits);
  o << v;
  return o.str();
}

Shape ShapeOf(const json& j) {
  Shape s;
  if (j.is_array()) {
    for (const auto& v : j) s.push_back(v.get<Index>());
  }
  return s;
}

// A grayscale preview of `region` (2-D after dropping axes of length 1): values stretched
// between their 0.5th and 99.5th percentiles.
struct Preview {
  Bytes png;
  int width = 0, height = 0;
  std::string what;
};

Preview SlicePreview(const Dataset& ds, const Box& region, const std::string& what) {
  const Array a = ds.Read(region);
  std::vector<double> v = ToDoubles(a);
  Index h = 1, w = 1;
  const Shape& s = region.shape;
  w = s.back();
  for (size_t i = 0; i + 1 < s.size(); ++i) h *= s[i];
  std::vector<double> sorted;
  for (double x : v) {
    if (std::isfinite(x)) sorted.push_back(x);
  }
  double lo = 0, hi = 1;
  if (!sorted.empty()) {
    std::sort(sorted.begin(), sorted.end());
    lo = sorted[static_cast<size_t>(0.005 * static_cast<double>(sorted.size() - 1))];
    hi = sorted[static_cast<size_t>(0.995 * static_cast<double>(sorted.size() - 1))];
    if (hi <= lo) hi = lo + 1;
  }
  std::vector<uint8_t> px(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const double t = std::isfinite(v[i]) ? (v[i] - lo) / (hi - lo) : 0;
    px[i] = static_cast<uint8_t>(std::lround(std::clamp(t, 0.0, 1.0) * 255));
  }
  Preview p;
  p.width = static_cast<int>(w);
  p.height = static_cast<int>(h);
  p.png = EncodeGrayPng(px, p.width, p.height);
  p.what = what + " " + region.ToString();
  return p;
}

// The middle slice of the leading spatial axis, cropped around the centre to kPreviewSide,
// channel 0; `frac` places the crop (fractions of the volume) so input and output agree.
// `lead`: the leading batch and channel axes, each shown at index 0.
Box PreviewBox(const Shape& shape, size_t lead) {
  const size_t rank = shape.size();
  Shape begin(rank, 0), size = shape;
  for (size_t a = 0; a < lead && a < rank; ++a) size[a] = 1;
  const size_t first = std::min(lead, rank);
  const size_t spatial = rank - first;
  if (spatial >= 3) {
    for (size_t a = first; a + 2 < rank; ++a) {
      begin[a] = shape[a] / 2;
      size[a] = 1;
    }
  }
  for (size_t a = rank >= 2 ? rank - 2 : 0; a < rank; ++a) {
    if (a < first) continue;
    if (size[a] > kPreviewSide) {
      begin[a] = (shape[a] - kPreviewSide) / 2;
      size[a] = kPreviewSide;
    }
  }
  return Box(begin, size);
}

// The same physical region in another volume of `to` shape (spatial axes scaled).
Box ScaledBox(const Box& b, const Shape& from, const Shape& to) {
  Shape begin(b.rank()), size(b.rank());
  for (size_t a = 0; a < b.rank(); ++a) {
    const double f = static_cast<double>(to[a]) / static_cast<double>(from[a]);
    begin[a] =
        std::min(to[a] - 1, static_cast<Index>(std::floor(static_cast<double>(b.begin[a]) * f)));
    const Index end = std::min(
        to[a],
        std::max(begin[a] + 1,
                 static_cast<Index>(std::ceil(static_cast<double>(b.begin[a] + b.shape[a]) * f))));
    size[a] = end - begin[a];
  }
  return Box(begin, size);
}

// The bytes the files under `dir` hold, and how many files. Files are counted from the
// listing (its d_type: no stat); sizes need a stat each, so past the first kExactFiles only
// one file in kSampleEvery is statted and the total is scaled (`estimated` set): the report
// of a job of millions of chunks must not cost a stat per chunk.
int64_t DirectoryBytes(const fs::path& dir, int64_t* files, bool* estimated) {
  constexpr int64_t kExactFiles = 4096, kSampleEvery = 16;
  int64_t exact = 0, sampled = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const int64_t n = (*files)++;
    if (n < kExactFiles) {
      exact += static_cast<int64_t>(it->file_size(ec));
    } else if ((n - kExactFiles) % kSampleEvery == 0) {
      sampled += static_cast<int64_t>(it->file_size(ec));
    }
  }
  *estimated = *files > kExactFiles;
  return exact + sampled * kSampleEvery;
}

}  // namespace

ReportResult WriteReport(const std::string& jobdir) {
  JobDir dir(jobdir);
  const std::optional<json> job = dir.ReadJob();
  if (!job) throw NotFound(jobdir + ": not a job directory (no job.json)");
  const json& id = job->at("identity");
  const json& in = id.at("input");
  const json& out = id.at("output");
  const Shape in_shape = ShapeOf(in.at("shape")), out_shape = ShapeOf(out.at("shape"));
  const Shape block = ShapeOf(id.at("tiling").at("block"));
  const Shape out_spatial(out_shape.end() - static_cast<std::ptrdiff_t>(block.size()),
                          out_shape.end());
  // The map draws the spatial grid; batch indices (leading, C order) stack along its first axis.
  const BlockGrid block_grid = IdentityBlockGrid(id);
  const Index nblocks = block_grid.num_blocks();
  Shape grid = block_grid.counts();
  while (grid.size() > block.size()) {
    grid[1] *= grid[0];
    grid.erase(grid.begin());
  }

  // Ledgers: per worker, and over time.
  const std::vector<LedgerHistory> histories = ReadLedgerHistories(jobdir);
  std::vector<std::string> workers;
  std::vector<double> done_per_worker, failed_per_worker, busy_s;
  std::vector<BlockState> states(static_cast<size_t>(nblocks), BlockState::kPending);
  std::vector<std::pair<uint64_t, Index>> finished;  // time, block
  for (const auto& h : histories) {
    workers.push_back(fs::path(h.file).stem().string());
    double d = 0, f = 0, busy = 0;
    for (const auto& r : h.records) {
      busy += r.duration_ms / 1000.0;
      if (r.block < 0 || r.block >= nblocks) continue;
      auto& st = states[static_cast<size_t>(r.block)];
      if (r.status == BlockStatus::kDone) {
        ++d;
        st = BlockState::kDone;
        finished.push_back({r.time_ms, r.block});
      } else {
        ++f;
        if (st != BlockState::kDone) st = BlockState::kFailed;
      }
    }
    done_per_worker.push_back(d);
    failed_per_worker.push_back(f);
    busy_s.push_back(busy);
  }
  std::sort(finished.begin(), finished.end());
  Index block_voxels = 1;
  for (Index b : block) block_voxels *= b;
  // Throughput: blocks finished per time bin, as output Mvox/s (whole blocks; edge blocks
  // count whole, so the last bins may read a little high).
  std::vector<double> tx, ty;
  if (finished.size() >= 2) {
    const double t0 = static_cast<double>(finished.front().first);
    const double span = std::max(1.0, static_cast<double>(finished.back().first) - t0);
    const int bins = static_cast<int>(std::clamp<size_t>(finished.size() / 4, 2, 60));
    std::vector<double> count(static_cast<size_t>(bins), 0);
    for (const auto& [t, b] : finished) {
      const int k =
          std::min(bins - 1, static_cast<int>((static_cast<double>(t) - t0) / span * bins));
      count[static_cast<size_t>(k)] += 1;
    }
    const double bin_s = span / 1000.0 / bins;
    for (int k = 0; k < bins; ++k) {
      tx.push_back((k + 0.5) * bin_s);
      ty.push_back(count[static_cast<size_t>(k)] * static_cast<double>(block_voxels) / 1e6 /
                   std::max(bin_s, 1e-3));
    }
  }

  // Run summaries: the time split of each run recorded.
  std::vector<std::string> run_names;
  BarSeries read{"read", "#1f77b4", {}}, compute{"compute", "#ff7f0e", {}},
      write{"write", "#2ca02c", {}};
  std::error_code ec;
  for (fs::directory_iterator it(jobdir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("summary", 0) != 0 || it->path().extension() != ".json") continue;
    const std::optional<json> s = dir.ReadJson(name);
    if (!s || !s->is_object()) continue;
    run_names.push_back(name);
    read.values.push_back(s->value("read_s", 0.0));
    compute.values.push_back(s->value("compute_s", 0.0));
    write.values.push_back(s->value("write_s", 0.0));
  }

  // Compression of the output.
  int64_t files = 0;
  bool estimated = false;
  const int64_t stored = DirectoryBytes(out.at("path").get<std::string>(), &files, &estimated);
  int64_t decoded = 1;
  for (Index s : out_shape) decoded *= s;
  decoded *=
      static_cast<int64_t>(ByteSize(ParseDataType(out.at("dtype").get<std::string>(), "dtype")));

  // Previews at the same position.
  std::vector<Preview> previews;
  std::string preview_problem;
  try {
    const Dataset input = Dataset::Open(in.at("path").get<std::string>());
    const Dataset output = Dataset::Open(out.at("path").get<std::string>());
    const size_t ic = in_shape.size() >= block.size() ? in_shape.size() - block.size() : 0;
    const Box ib = PreviewBox(in_shape, ic);
    previews.push_back(SlicePreview(input, ib, "input"));
    // The output's spatial axes scaled like the input's; its batch and channel axes at 0.
    const Shape in_sp(in_shape.begin() + static_cast<std::ptrdiff_t>(ic), in_shape.end());
    const Box sp(Shape(ib.begin.begin() + static_cast<std::ptrdiff_t>(ic), ib.begin.end()),
                 Shape(ib.shape.begin() + static_cast<std::ptrdiff_t>(ic), ib.shape.end()));
    Box ob = ScaledBox(sp, in_sp, out_spatial);
    for (size_t a = 0; a + 2 < ob.rank(); ++a) ob.shape[a] = 1;  // one slice
    const size_t lead = out_shape.size() - out_spatial.size();
    ob.begin.insert(ob.begin.begin(), lead, 0);
    ob.shape.insert(ob.shape.begin(), lead, 1);
    previews.push_back(SlicePreview(output, ob, "output"));
  } catch (const Error& e) {
    preview_problem = e.what();
  }

  // The page.
  size_t charts = 0;
  std::ostringstream h;
  const std::string title = "volbatch report: " + out.at("path").get<std::string>();
  h << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" << SvgEscape(title)
    << "</title><style>body{font-family:sans-serif;margin:24px;max-width:1100px}"
       "h2{margin-top:28px;border-bottom:1px solid #ccc}table{border-collapse:collapse}"
       "td{padding:2px 12px 2px 0}figure{display:inline-block;margin:0 16px 8px 0}"
       "img{image-rendering:pixelated;border:1px solid #999;max-width:512px}</style></head>"
       "<body>\n<h1>"
    << SvgEscape(title) << "</h1>\n";
  size_t ndone = 0, nfailed = 0;
  for (auto s : states) {
    ndone += s == BlockState::kDone;
    nfailed += s == BlockState::kFailed;
  }
  h << "<table id=\"summary\">"
    << "<tr><td>input</td><td>" << SvgEscape(in.at("path").get<std::string>()) << " "
    << ShapeToString(in_shape) << " " << SvgEscape(in.value("dtype", "")) << "</td></tr>"
    << "<tr><td>output</td><td>" << SvgEscape(out.at("path").get<std::string>()) << " "
    << ShapeToString(out_shape) << " " << SvgEscape(out.value("dtype", "")) << "</td></tr>"
    << "<tr><td>operator</td><td>" << SvgEscape(id.at("operator").dump()) << "</td></tr>"
    << "<tr><td>blocks</td><td>" << ndone << " done, " << nfailed << " failed, "
    << nblocks - static_cast<Index>(ndone + nfailed) << " pending, of " << nblocks << " (block "
    << ShapeToString(block) << ")</td></tr>"
    << "<tr><td>compression</td><td id=\"ratio\">"
    << Fixed(static_cast<double>(decoded) / std::max<int64_t>(stored, 1)) << " : 1 ("
    << (estimated ? "about " : "") << stored << " bytes in " << files << " files for " << decoded
    << " decoded bytes)</td></tr></table>\n";

  h << "<h2>Throughput over time</h2>\n";
  if (tx.empty()) {
    h << "<p>Fewer than two blocks recorded.</p>\n";
  } else {
    h << SvgLineChart(tx, ty, "seconds since the first block", "Mvox/s") << "\n";
    ++charts;
  }
  h << "<h2>Blocks per worker</h2>\n"
    << SvgStackedBars(
           workers,
           {{"done", "#2ca02c", done_per_worker}, {"failed", "#d62728", failed_per_worker}},
           "blocks")
    << "\n";
  ++charts;
  h << "<h2>Time split (thread-seconds)</h2>\n";
  if (run_names.empty()) {
    h << "<p>No run summary recorded.</p>\n";
  } else {
    h << SvgStackedBars(run_names, {read, compute, write}, "s") << "\n";
    ++charts;
  }
  h << "<h2>Blocks</h2>\n";
  {
    // Coarsen big grids: a cell is failed if any block in it failed, done if all are done.
    Shape g = grid, f(grid.size(), 1);
    auto cells = [&] {
      Index n = 1;
      for (Index x : g) n *= x;
      return n;
    };
    while (cells() > kMapCells) {
      const size_t a = static_cast<size_t>(std::max_element(g.begin(), g.end()) - g.begin());
      f[a] *= 2;
      g[a] = (grid[a] + f[a] - 1) / f[a];
    }
    std::vector<BlockState> cs(static_cast<size_t>(cells()), BlockState::kDone);
    std::vector<bool> any(cs.size(), false);
    for (Index b = 0; b < nblocks; ++b) {
      Index rest = b, c = 0, stride = 1;
      Shape idx(grid.size());
      for (size_t a = grid.size(); a-- > 0;) {
        idx[a] = rest % grid[a];
        rest /= grid[a];
      }
      for (size_t a = grid.size(); a-- > 0;) {
        c += idx[a] / f[a] * stride;
        stride *= g[a];
      }
      auto& cell = cs[static_cast<size_t>(c)];
      const BlockState s = states[static_cast<size_t>(b)];
      any[static_cast<size_t>(c)] = true;
      if (s == BlockState::kFailed || cell == BlockState::kFailed) {
        cell = BlockState::kFailed;
      } else if (s == BlockState::kPending) {
        cell = BlockState::kPending;
      }
    }
    h << "<p>green done, red failed, grey pending; one square per "
      << (cells() < nblocks ? ShapeToString(f) + " blocks" : std::string("block")) << "</p>\n"
      << SvgBlockMap(g, cs) << "\n";
    ++charts;
  }
  h << "<h2>Slices</h2>\n";
  for (const auto& p : previews) {
    h << "<figure><img class=\"preview\" width=\"" << p.width << "\" height=\"" << p.height
      << "\" alt=\"" << SvgEscape(p.what) << "\" src=\"data:image/png;base64," << Base64(p.png)
      << "\"><figcaption>" << SvgEscape(p.what) << "</figcaption></figure>\n";
  }
  if (!preview_problem.empty()) {
    h << "<p>No previews: " << SvgEscape(preview_problem) << "</p>\n";
  }
  h << "</body></html>\n";

  ReportResult r;
  r.path = dir.WriteText("report.html", h.str(), 0644);
  r.charts = charts;
  r.images = previews.size();
  return r;
}

}  // namespace volbatch
