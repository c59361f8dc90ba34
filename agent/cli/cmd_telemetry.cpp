// `qsc telemetry`: the runbook's step 1. Says where events come from, how many there are (and
// how many after --after TS), how old the newest is, what was rejected and why, and what the
// ring lost. Exit 0 only when enough readable, fresh events are there and none were lost: no
// telemetry, no decision.
// --record FILE keeps what was read in the JSONL form the file source replays.
#include <cstdio>
#include <iostream>

#include "cli/command.hpp"
#include "core/duration.hpp"
#include "core/files.hpp"
#include "core/timestamp.hpp"
#include "lifecycle/services.hpp"
#include "qsc/percent_text.hpp"
#include "telemetry/source.hpp"

namespace qsc::agent {
namespace {

std::string format_age(std::int64_t ms) {
  if (ms < 0) return "in the future (clock skew?)";
  const auto s = ms / 1000;
  if (s < 120) return std::to_string(s) + " s ago";
  if (s < 7200) return std::to_string(s / 60) + " min ago";
  if (s < 172800) return std::to_string(s / 3600) + " h ago";
  return std::to_string(s / 86400) + " days ago";
}

class TelemetryCommand final : public Command {
 public:
  std::string name() const override { return "telemetry"; }
  std::string summary() const override {
    return "step 1: confirm telemetry (source, event count, newest event, rejections, loss)";
  }
  void setup(CLI::App& app) override {
    app.add_option(
           "--after", after_text_,
           "also count the events at or after TS (the cutover): " + std::string(kTimestampForms))
        ->option_text("TS");
    app.add_option("--record", record_path_,
                   "write the entries read (those at or after TS with --after, else all) to "
                   "FILE as JSONL, one {\"id\": \"<ms>-<seq>\", \"fields\": {...}} a line, "
                   "the form telemetry.source \"file\" replays; FILE is replaced atomically")
        ->option_text("FILE");
    app.footer(
        "Exit 0 when at least telemetry.min_events (200) readable trade.intent events are there "
        "(after TS when given), no more than telemetry.max_rejected_pct are unreadable, the "
        "newest event is at most telemetry.stale_after old and not stamped beyond "
        "telemetry.max_clock_skew ahead of this host's clock, and the ring lost none; 2 "
        "otherwise, when the source is unreachable, or when --record FILE cannot be written.");
  }

  int run(CommandContext& context) override {
    const auto& t = context.config.telemetry;
    std::optional<EpochMs> after;
    if (!after_text_.empty()) {
      // The gate's reading of TS, "auto" (the unit's ActiveEnterTimestamp) included.
      auto parsed = resolve_cutover(after_text_, context.config);
      if (!parsed) {
        std::cerr << "qsc telemetry: --after: " << parsed.error().message << "\n";
        return exit_code::kError;
      }
      after = *parsed;
    }
    auto source = open_source(context.config);
    if (!source) return unavailable(source.error());
    std::cout << "Telemetry source: " << source.value()->describe() << "\n";
    std::string recorded;
    std::uint64_t recorded_entries = 0;
    if (!record_path_.empty()) {
      source.value()->set_recorder([&](std::string_view line) {
        recorded.append(line);
        recorded += '\n';
        ++recorded_entries;
      });
    }
    auto s = source.value()->summary(after);
    if (!s) return unavailable(s.error());
    const auto& sum = s.value();
    if (!record_path_.empty()) {
      // Written before judging, so a short or unreadable stream can be recorded and studied.
      if (auto w = write_file_atomic(record_path_, recorded); !w) {
        std::cout << "❌ RECORDING FAILED: " << w.error().message << "\n";
        std::cerr << "qsc telemetry: --record: " << w.error().message << "\n";
        return exit_code::kError;
      }
      std::cout << "  Recorded:        " << recorded_entries << " entries to " << record_path_
                << "\n";
    }

    const auto& c = sum.counts;
    std::cout << "  " << label(sum.source) << sum.location << "\n"
              << "  Entries:         " << sum.total_events << "\n"
              << "  Read:            " << c.accepted << " trade.intent, " << c.skipped
              << " other event types skipped, " << c.rejected_total() << " rejected"
              << (after ? " (at or after " + format_iso(*after) + ")" : std::string()) << "\n";
    if (after) {
      std::cout << "  After " << format_iso(*after) << ": " << sum.events_after.value_or(0)
                << " trade.intent events\n";
    }
    if (sum.newest_event_ms) {
      const auto age_ms = now_ms() - *sum.newest_event_ms;
      std::cout << "  Newest event:    " << format_iso(*sum.newest_event_ms) << " ("
                << format_age(age_ms) << ")\n";
    } else {
      std::cout << "  Newest event:    none\n";
    }
    std::cout << "  Rejected:        " << c.rejected_total();
    if (c.rejected_total() > 0) {
      std::cout << " (" << percent_text(c.rejected_pct()) << "):";
      for (std::size_t i = 0; i < c.rejected.size(); ++i) {
        if (c.rejected[i] == 0) continue;
        std::cout << " " << reject_reason_name(static_cast<RejectReason>(i)) << "="
                  << c.rejected[i];
      }
    }
    std::cout << "\n";
    for (const auto& r : sum.rejections) std::cout << "    " << r.message << "\n";
    if (c.rejected_total() > sum.rejections.size()) {
      std::cout << "    (" << c.rejected_total() - sum.rejections.size() << " more not listed)\n";
    }
    if (sum.source == "shm") {
      std::cout << "  Lost (ring):     " << sum.events_lost;
      if (sum.skipped_before_window > 0) {
        // History overwritten while it was read is not missing telemetry: say so, apart.
        std::cout << " (" << sum.skipped_before_window
                  << " older events overwritten while reading, not counted)";
      }
      std::cout << "\n";
    }

    const std::uint64_t count = after ? sum.events_after.value_or(0) : c.accepted;
    const std::string scope = after ? " after " + format_iso(*after) : std::string();
    // Lost events are missing telemetry, and named first: every figure above lacks them, and
    // a count short of min_events because of them is no reason to "wait for more data" (the
    // reader was lapped; waiting does not bring them back).
    if (sum.events_lost > 0) {
      std::cout << "❌ TELEMETRY LOST: the ring lost " << sum.events_lost
                << " events while being read (the reader fell a whole ring behind)\n   STOP: "
                   "missing telemetry is never healthy; read again when the reader keeps up\n";
      return exit_code::kError;
    }
    if (count < t.min_events) {
      std::cout << "❌ TELEMETRY INSUFFICIENT: " << count << " events" << scope << " < "
                << t.min_events << " required\n   STOP: wait for more data; no deploy allowed\n";
      return exit_code::kError;
    }
    if (c.rejected_pct() > t.max_rejected_pct) {
      // Unreadable telemetry is missing telemetry: the gate would fail on it, so say so now.
      std::cout << "❌ TELEMETRY UNREADABLE: " << percent_text(c.rejected_pct())
                << " of entries rejected (> " << t.max_rejected_pct
                << "% telemetry.max_rejected_pct)\n   STOP: fix the producer's payloads; no "
                   "deploy allowed\n";
      return exit_code::kError;
    }
    // A newest event beyond the allowed skew says nothing of the present and would hide the
    // real events' age from the stale check below (a negative age is never stale): refused.
    if (sum.newest_event_ms && *sum.newest_event_ms > now_ms() + t.max_clock_skew.count()) {
      const auto ahead_ms = *sum.newest_event_ms - now_ms();
      std::cout << "❌ TELEMETRY FROM THE FUTURE: the newest event ("
                << format_iso(*sum.newest_event_ms) << ") is stamped "
                << format_duration(std::chrono::seconds(ahead_ms / 1000))
                << " ahead of this host's clock (> telemetry.max_clock_skew "
                << format_duration(t.max_clock_skew)
                << ")\n   STOP: fix the producer's (or this host's) clock (NTP); the monitor and "
                   "the gate reject such events as future_timestamp\n";
      return exit_code::kError;
    }
    // Old events are missing telemetry: the gate fails on them, so say so now.
    if (sum.newest_event_ms && now_ms() - *sum.newest_event_ms > t.stale_after.count()) {
      const auto age_ms = now_ms() - *sum.newest_event_ms;
      std::cout << "❌ TELEMETRY STALE: the newest event (" << format_iso(*sum.newest_event_ms)
                << ") is " << format_duration(std::chrono::seconds(age_ms / 1000))
                << " old (> telemetry.stale_after " << format_duration(t.stale_after)
                << ")\n   STOP: is the AI engine publishing? No deploy on old data\n";
      return exit_code::kError;
    }
    std::cout << "✅ TELEMETRY OK: " << count << " events" << scope << " (>= " << t.min_events
              << " required)\n";
    return exit_code::kOk;
  }

 private:
  static std::string label(const std::string& source) {
    if (source == "redis") return "Stream:          ";
    if (source == "shm") return "Segment:         ";
    return "File:            ";
  }

  static int unavailable(const Error& error) {
    std::cout << "❌ TELEMETRY UNAVAILABLE: " << error.message
              << "\n   STOP: no telemetry, no decision\n";
    std::cerr << "qsc telemetry: " << error.message << "\n";
    return exit_code::kError;
  }

  std::string after_text_;
  std::string record_path_;
};

QSC_REGISTER_COMMAND(TelemetryCommand);

}  // namespace
}  // namespace qsc::agent
