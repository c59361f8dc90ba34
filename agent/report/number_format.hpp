// Numbers as the reports print them, independent of the process locale: the same figure is the
// same text on every host (a German locale would otherwise write 0,5 into an SVG coordinate).
#pragma once

#include <string>

namespace qsc::report {

/// Fixed notation with `decimals` digits after the point ('.' always); "n/a" for NaN or an
/// infinity; never "-0".
std::string format_fixed(double value, int decimals);

/// A coordinate for an SVG attribute: at most two decimals, trailing zeros dropped ("12.5",
/// "40", "0.25").
std::string svg_number(double value);

}  // namespace qsc::report
