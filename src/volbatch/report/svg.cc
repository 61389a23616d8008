#include "volbatch/report/svg.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace volbatch {
namespace {

std::string Num(double v) {
  std::ostringstream o;
  o.precision(4);
  o << v;
  return o.str();
}

}  // namespace

std::string SvgEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string SvgLineChart(const std::vector<double>& x, const std::vector<double>& y,
                         const std::string& x_label, const std::string& y_label) {
  const double w = 640, h = 240, left = 60, right = 20, top = 20, bottom = 40;
  std::ostringstream s;
  s << "<svg class=\"chart line\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w
    << "\" height=\"" << h << "\" viewBox=\"0 0 " << w << " " << h << "\">";
  s << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << w - left - right
    << "\" height=\"" << h - top - bottom << "\" fill=\"#fafafa\" stroke=\"#999\"/>";
  const size_t n = std::min(x.size(), y.size());
  double x0 = 0, x1 = 1, y1 = 1;
  if (n > 0) {
    x0 = *std::min_element(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(n));
    x1 = *std::max_element(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(n));
    y1 = *std::max_element(y.begin(), y.begin() + static_cast<std::ptrdiff_t>(n));
  }
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= 0) y1 = 1;
  auto px = [&](double v) { return left + (v - x0) / (x1 - x0) * (w - left - right); };
  auto py = [&](double v) { return h - bottom - v / y1 * (h - top - bottom); };
  if (n > 0) {
    s << "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"";
    for (size_t i = 0; i < n; ++i) s << Num(px(x[i])) << "," << Num(py(y[i])) << " ";
    s << "\"/>";
  }
  s << "<text x=\"" << left << "\" y=\"" << h - 8 << "\" font-size=\"12\">" << Num(x0)
    << "</text><text x=\"" << w - right << "\" y=\"" << h - 8
    << "\" font-size=\"12\" text-anchor=\"end\">" << Num(x1) << "</text>";
  s << "<text x=\"" << (w + left) / 2 << "\" y=\"" << h - 8
    << "\" font-size=\"12\" text-anchor=\"middle\">" << SvgEscape(x_label) << "</text>";
  s << "<text x=\"" << left - 4 << "\" y=\"" << top + 10
    << "\" font-size=\"12\" text-anchor=\"end\">" << Num(y1) << "</text>";
  s << "<text x=\"12\" y=\"" << (h - bottom + top) / 2 << "\" font-size=\"12\" transform=\"rotate(-90 12 "
    << (h - bottom + top) / 2 << ")\" text-anchor=\"middle\">" << SvgEscape(y_label) << "</text>";
  s << "</svg>";
  return s.str();
}

std::string SvgStackedBars(const std::vector<std::string>& labels,
                           const std::vector<BarSeries>& series, const std::string& unit) {
  const double w = 640, left = 120, right = 80, bar = 18, gap = 6, legend = 24;
  const double h = legend + static_cast<double>(labels.size()) * (bar + gap) + gap;
  double most = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    double total = 0;
    for (const auto& sr : series) total += i < sr.values.size() ? sr.values[i] : 0;
    most = std::max(most, total);
  }
  if (most <= 0) most = 1;
  std::ostringstream s;
  s << "<svg class=\"chart bars\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w
    << "\" height=\"" << h << "\" viewBox=\"0 0 " << w << " " << h << "\">";
  double lx = left;
  for (const auto& sr : series) {
    s << "<rect x=\"" << lx << "\" y=\"4\" width=\"12\" height=\"12\" fill=\"" << sr.color
      << "\"/><text x=\"" << lx + 16 << "\" y=\"14\" font-size=\"12\">" << SvgEscape(sr.name)
      << "</text>";
    lx += 24 + 8 * static_cast<double>(sr.name.size());
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    const double y = legend + static_cast<double>(i) * (bar + gap);
    s << "<text x=\"" << left - 6 << "\" y=\"" << y + 13
      << "\" font-size=\"12\" text-anchor=\"end\">" << SvgEscape(labels[i]) << "</text>";
    double x = left, total = 0;
    for (const auto& sr : series) {
      const double v = i < sr.values.size() ? sr.values[i] : 0;
      const double len = v / most * (w - left - right);
      if (len > 0) {
        s << "<rect class=\"bar\" x=\"" << Num(x) << "\" y=\"" << y << "\" width=\"" << Num(len)
          << "\" height=\"" << bar << "\" fill=\"" << sr.color << "\"><title>"
          << SvgEscape(sr.name) << ": " << Num(v) << " " << SvgEscape(unit) << "</title></rect>";
      }
      x += len;
      total += v;
    }
    s << "<text x=\"" << Num(x + 4) << "\" y=\"" << y + 13 << "\" font-size=\"12\">" << Num(total)
      << " " << SvgEscape(unit) << "</text>";
  }
  s << "</svg>";
  return s.str();
}

std::string SvgBlockMap(const Shape& grid, const std::vector<BlockState>& states) {
  Index nz = 1, ny = 1, nx = 1;
  if (!grid.empty()) nx = grid.back();
  if (grid.size() >= 2) ny = grid[grid.size() - 2];
  for (size_t i = 0; i + 2 < grid.size(); ++i) nz *= grid[i];
  // Cells of 4 to 12 px; panels wrap at ~640 px.
  const double cell = std::clamp(160.0 / static_cast<double>(std::max(nx, ny)), 4.0, 12.0);
  const double pw = static_cast<double>(nx) * cell + 8, ph = static_cast<double>(ny) * cell + 18;
  const Index per_row = std::max<Index>(1, static_cast<Index>(640 / pw));
  const Index rows = (nz + per_row - 1) / per_row;
  const double w = static_cast<double>(std::min(nz, per_row)) * pw,
               h = static_cast<double>(rows) * ph;
  static const char* kColor[] = {"#dddddd", "#2ca02c", "#d62728"};
  std::ostringstream s;
  s << "<svg class=\"chart blockmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w
    << "\" height=\"" << h << "\" viewBox=\"0 0 " << w << " " << h << "\">";
  for (Index z = 0; z < nz; ++z) {
    const double ox = static_cast<double>(z % per_row) * pw,
                 oy = static_cast<double>(z / per_row) * ph;
    if (nz > 1) s << "<text x=\"" << ox << "\" y=\"" << oy + 11 << "\" font-size=\"10\">z " << z << "</text>";
    for (Index y = 0; y < ny; ++y) {
      for (Index x = 0; x < nx; ++x) {
        const size_t b = static_cast<size_t>((z * ny + y) * nx + x);
        const int st = b < states.size() ? static_cast<int>(states[b]) : 0;
        s << "<rect class=\"block s" << st << "\" x=\"" << Num(ox + static_cast<double>(x) * cell)
          << "\" y=\"" << Num(oy + 14 + static_cast<double>(y) * cell) << "\" width=\""
          << Num(cell - 1) << "\" height=\"" << Num(cell - 1) << "\" fill=\"" << kColor[st]
          << "\"/>";
      }
    }
  }
  s << "</svg>";
  return s.str();
}

}  // namespace volbatch
