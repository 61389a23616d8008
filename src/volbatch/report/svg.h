// Small SVG charts for the run report, written as text so the page needs no script and no
// network: a line chart (throughput over time), stacked horizontal bars (blocks per worker,
// the time split) and a map of the block grid coloured by state.
#pragma once

#include <string>
#include <vector>

#include "volbatch/core/box.h"

namespace volbatch {

std::string SvgEscape(const std::string& text);

// y over x, with axis labels and min/max ticks.
std::string SvgLineChart(const std::vector<double>& x, const std::vector<double>& y,
                         const std::string& x_label, const std::string& y_label);

struct BarSeries {
  std::string name;
  std::string color;  // CSS colour
  std::vector<double> values;  // one per bar
};
// One horizontal bar per label, its series stacked, with a legend.
std::string SvgStackedBars(const std::vector<std::string>& labels,
                           const std::vector<BarSeries>& series, const std::string& unit);

enum class BlockState { kPending = 0, kDone = 1, kFailed = 2 };
// The block grid ([z,] y, x; more leading axes are folded into z) as one small y-by-x panel per
// z, each block a square coloured by its state.
std::string SvgBlockMap(const Shape& grid, const std::vector<BlockState>& states);

}  // namespace volbatch
