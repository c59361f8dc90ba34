// The plain recording form's reader (see jsonl_plain.hpp). Whatever it is not sure to read as
// nlohmann would (an escape it does not decode, a byte that needs UTF-8 validation, a repeated
// key, a value that is not a string, anything after the object) makes it give up, never guess.
#include "telemetry/jsonl_plain.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "qsc/json_string_scan.hpp"

namespace qsc::agent {
namespace {

class PlainScanner {
 public:
  explicit PlainScanner(std::string_view text) : text_(text) {}

  // Skips JSON whitespace, then takes `c` if it is next.
  bool take(char c) {
    skip_space();
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }

  bool at_end() {
    skip_space();
    return at_ == text_.size();
  }

  // The text from here on, and a step over what a caller read of it.
  std::string_view rest() const { return text_.substr(at_); }
  void advance(std::size_t bytes) { at_ += bytes; }

  // A string with the one-character escapes only; false for anything else.
  bool string(std::string& out) {
    if (!take('"')) return false;
    const char* const end = text_.data() + text_.size();
    const char* p = text_.data() + at_;
    // Most strings (the ID, the keys) have no escape: read whole, at their size.
    const std::size_t first = qsc::plain_json_run</*kAllowDel=*/false>(p, end);
    if (first < static_cast<std::size_t>(end - p) && p[first] == '"') {
      out.assign(p, first);
      at_ += first + 1;
      return true;
    }
    // The decoded text is never longer than the rest of the line: sized once, written in place
    // (a recorded payload is about 600 bytes with an escaped quote every ten or so, and
    // appending run by run cost more than the scan).
    // The first run, already scanned, is copied as it is.
    out.resize(static_cast<std::size_t>(end - p));
    char* const begin = out.data();
    std::memcpy(begin, p, first);
    char* dst = begin + first;
    p += first;
    for (;;) {
      if (p == end) return false;
      if (*p == '"') {
        out.resize(static_cast<std::size_t>(dst - begin));
        at_ = static_cast<std::size_t>(p - text_.data()) + 1;
        return true;
      }
      // Control characters are malformed, DEL and above need nlohmann's UTF-8 checks.
      if (*p != '\\' || ++p == end) return false;
      const char decoded = unescaped(*p);
      if (decoded == '\0') return false;  // \u or an invalid escape
      *dst++ = decoded;
      ++p;
      const std::size_t run = qsc::plain_json_run</*kAllowDel=*/false, /*kCopy=*/true>(p, end, dst);
      p += run;
      dst += run;
    }
  }

 private:
  static char unescaped(char c) {
    switch (c) {
      case '"':
        return '"';
      case '\\':
        return '\\';
      case '/':
        return '/';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      default:
        return '\0';
    }
  }

  void skip_space() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r')) {
      ++at_;
    }
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

// "fields": {"k": "v", ...} with string values and no repeated key.
bool read_fields(PlainScanner& scan, qsc::StreamEntry& entry) {
  if (!scan.take('{')) return false;
  if (scan.take('}')) return true;
  do {
    // Read in place: a recorded payload is a few hundred bytes, not worth copying again.
    auto& [key, value] = entry.fields.emplace_back();
    if (!scan.string(key) || !scan.take(':') || !scan.string(value)) return false;
    for (std::size_t i = 0; i + 1 < entry.fields.size(); ++i) {
      if (entry.fields[i].first == key)
        return false;  // nlohmann keeps the first place and the last value
    }
  } while (scan.take(','));
  return scan.take('}');
}

// "fields": {"event_type": "trade.intent", "payload": "..."} in either order, and the legacy
// "model_breakdown": "..." after a payload without one; nothing else. The strings are read in
// place into `event`.
bool read_intent_fields(PlainScanner& scan, qsc::TradeIntent& event,
                        qsc::EscapedPayloadLayout* layout) {
  bool have_type = false;
  bool have_payload = false;
  bool payload_breakdown = false;
  bool have_field_breakdown = false;
  std::string key;
  std::string type;
  if (!scan.take('{')) return false;
  do {
    if (!scan.string(key) || !scan.take(':')) return false;
    std::size_t taken = 0;
    if (key == "event_type" && !have_type) {
      // Another event type is skipped by parse_entry, with its name: that path says so.
      if (!scan.string(type) || type != "trade.intent") return false;
      have_type = true;
      continue;
    } else if (key == "payload" && !have_payload) {
      if (!scan.take('"')) return false;
      taken = qsc::read_escaped_payload(scan.rest(), event, payload_breakdown, {}, layout);
      have_payload = true;
    } else if (key == "model_breakdown" && have_payload && !payload_breakdown &&
               !have_field_breakdown) {
      // parse_entry reads this field only when the payload had no breakdown (read first here).
      if (!scan.take('"')) return false;
      taken = qsc::read_escaped_breakdown(scan.rest(), event);
      have_field_breakdown = true;
    } else {
      return false;  // another field, one again, or a breakdown field before the payload
    }
    if (taken == 0) return false;
    scan.advance(taken);
  } while (scan.take(','));
  return scan.take('}') && have_type && have_payload && (payload_breakdown || have_field_breakdown);
}

// {"id": "...", "fields": {...}} in either order, nothing else, each once; `read_fields` reads
// the fields object at the scanner.
template <typename ReadFields>
bool read_line(PlainScanner& scan, std::string& id, ReadFields&& read_fields) {
  bool have_id = false;
  bool have_fields = false;
  std::string key;
  if (!scan.take('{')) return false;
  do {
    if (!scan.string(key) || !scan.take(':')) return false;
    if (key == "id" && !have_id) {
      if (!scan.string(id)) return false;
      have_id = true;
    } else if (key == "fields" && !have_fields) {
      if (!read_fields()) return false;
      have_fields = true;
    } else {
      return false;  // another key, or one repeated
    }
  } while (scan.take(','));
  return scan.take('}') && scan.at_end() && have_id && have_fields;
}

// The stream ID at `p` as the recorder writes it, <milliseconds>-<sequence> with one to nineteen
// digits each, closed by its quote: its size, with its two numbers read as it is scanned
// (parse_stream_id reads them alike: nineteen digits never overflow 64 bits); 0 for any other
// ID, which its reader then scans and parse_stream_id reads. The scan and parse_stream_id's two
// passes over the ID cost about 300 instructions of a replayed line (session 13, callgrind).
std::size_t usual_stream_id(const char* p, const char* end, std::uint64_t& ms,
                            std::uint64_t& seq) noexcept {
  constexpr std::ptrdiff_t kMaxDigits = 19;
  const char* const start = p;
  const auto number = [&p, end](std::uint64_t& out) {
    const char* const first = p;
    std::uint64_t value = 0;
    for (; p < end && p - first < kMaxDigits; ++p) {
      const auto digit = static_cast<unsigned>(static_cast<unsigned char>(*p)) - '0';
      if (digit > 9) break;
      value = value * 10 + digit;
    }
    out = value;
    return p != first;
  };
  if (!number(ms) || p == end || *p++ != '-' || !number(seq) || p == end || *p != '"') return 0;
  return static_cast<std::size_t>(p - start);
}

// The line exactly as format_jsonl_entry writes the usual entry,
// {"id":"<id>","fields":{"event_type":"trade.intent","payload":"<payload>"}}, or the legacy one
// with "model_breakdown":"<breakdown>" after a payload without one, its fixed text matched whole
// instead of scanned token by token (about a fifth of reading a replayed line). The scanner reads
// the same line to the same event; any other spelling is left to it, but a legacy line is read
// here: it once went the scanner's way too, its payload read twice (27% of the bundled sample).
// `id_read` is set when the ID was the usual one, its numbers then in `event` already.
bool read_recorded_intent(std::string_view line, std::string& id_out, qsc::TradeIntent& event,
                          qsc::EscapedPayloadLayout* layout, bool& id_read) {
  constexpr std::string_view kHead = R"({"id":")";
  constexpr std::string_view kMiddle = R"(","fields":{"event_type":"trade.intent","payload":")";
  constexpr std::string_view kBreakdownField = R"(,"model_breakdown":")";
  constexpr std::string_view kTail = "}}";
  if (!line.starts_with(kHead)) return false;
  const char* const id = line.data() + kHead.size();
  const char* const line_end = line.data() + line.size();
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;
  std::size_t id_size = usual_stream_id(id, line_end, ms, seq);
  const bool usual_id = id_size != 0;
  if (!usual_id) id_size = qsc::plain_json_run</*kAllowDel=*/false>(id, line_end);
  std::string_view rest = line.substr(kHead.size() + id_size);
  if (!rest.starts_with(kMiddle)) return false;
  rest.remove_prefix(kMiddle.size());
  bool has_breakdown = false;
  const std::size_t taken = qsc::read_escaped_payload(rest, event, has_breakdown, {}, layout);
  if (taken == 0) return false;
  rest.remove_prefix(taken);
  if (!has_breakdown) {
    // parse_entry reads the field only when the payload had no breakdown, as here.
    if (!rest.starts_with(kBreakdownField)) return false;
    rest.remove_prefix(kBreakdownField.size());
    const std::size_t breakdown_taken = qsc::read_escaped_breakdown(rest, event);
    if (breakdown_taken == 0) return false;
    rest.remove_prefix(breakdown_taken);
  }
  if (rest != kTail) return false;
  qsc::assign_text(id_out, std::string_view(id, id_size));
  if (usual_id) {
    event.time_ms = ms;
    event.seq = seq;
    id_read = true;
  }
  return true;
}

}  // namespace

bool read_plain_jsonl_intent(std::string_view line, std::string& id, qsc::TradeIntent& event,
                             qsc::EscapedPayloadLayout* layout) {
  bool id_read = false;
  if (!read_recorded_intent(line, id, event, layout, id_read)) {
    PlainScanner scan(line);
    if (!read_line(scan, id, [&] { return read_intent_fields(scan, event, layout); })) {
      return false;
    }
  }
  // A malformed ID is a rejection with parse_entry's own message.
  return id_read || qsc::parse_stream_id(id, event.time_ms, event.seq);
}

std::optional<PlainIntent> read_plain_jsonl_intent(std::string_view line,
                                                   qsc::EscapedPayloadLayout* layout) {
  PlainIntent out;
  if (!read_plain_jsonl_intent(line, out.id, out.event, layout)) return std::nullopt;
  return out;
}

std::optional<qsc::StreamEntry> read_plain_jsonl_entry(std::string_view line) {
  PlainScanner scan(line);
  qsc::StreamEntry entry;
  if (!read_line(scan, entry.id, [&] { return read_fields(scan, entry); })) return std::nullopt;
  return entry;
}

}  // namespace qsc::agent
