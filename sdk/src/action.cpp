// Names of the action interface's enumerations.
#include "qsc/action.hpp"

namespace qsc {

std::string_view incident_kind_name(IncidentKind k) noexcept {
  switch (k) {
    case IncidentKind::kActivate:
      return "activate";
    case IncidentKind::kRollback:
      return "rollback";
    case IncidentKind::kPromote:
      return "promote";
    case IncidentKind::kFinalize:
      return "finalize";
    case IncidentKind::kResolved:
      return "resolved";
  }
  return "?";
}

}  // namespace qsc
