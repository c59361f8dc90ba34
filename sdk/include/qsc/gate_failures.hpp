// The quality gate's per-model checks for a caller that reads only the failures' texts: the
// quality_gate detector, run at every event, reports "GO (6 checks passed)" or the texts of the
// checks that failed, so composing the passing checks' messages was wasted work. Apart from
// qsc/checks.hpp so that the checks' header, which nearly every file includes, stays as it is.
#pragma once

#include "qsc/checks.hpp"

namespace qsc {

/// gate_model(m, t, out) with the same verdicts, figures and non-passing messages; the message
/// of each check that passes is left empty.
void gate_model_failures(const ModelStats& m, const GateThresholds& t, GateModelVerdict& out);

}  // namespace qsc
