// Parsing of the small argument grammars shared by the CLI and job files.
#pragma once

#include <string>
#include <vector>

#include "volbatch/core/box.h"

namespace volbatch {

// "64,128,128" -> {64, 128, 128}. Throws InvalidArgument naming `what`.
Shape ParseShapeList(const std::string& text, const std::string& what);
// "40,4,4.5" -> {40, 4, 4.5}, each positive and finite. Throws InvalidArgument naming `what`.
std::vector<double> ParseDoubleList(const std::string& text, const std::string& what);
// "0:10,5:20,:" against `shape` (":" or empty means the whole axis; negative counts from the
// end, as in numpy). Throws InvalidArgument naming `what`.
Box ParseRoi(const std::string& text, const Shape& shape, const std::string& what);

}  // namespace volbatch
