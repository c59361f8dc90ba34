// Recording-form lines and trade-intent payloads. nlohmann's exceptions stop here.
#include "telemetry/jsonl.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "qsc/json_limits.hpp"
#include "qsc/json_unique_keys.hpp"
#include "telemetry/jsonl_plain.hpp"

namespace qsc::agent {
namespace {

using ordered_json = nlohmann::ordered_json;

// Python's json.dumps spelling for non-finite numbers (nlohmann would write null).
std::string number_text(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return ordered_json(value).dump();
}

// A JSON string literal. Bytes >= 0x80 pass through untouched: valid UTF-8 stays valid, and
// invalid UTF-8 stays invalid, so a line whose entry the live reader would reject is rejected
// on replay too (fail closed) instead of being repaired into a readable one.
std::string json_string(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace

std::string format_jsonl_entry(const qsc::StreamEntry& entry) {
  // Built by hand so field order is the stream's, and one entry stays one line.
  std::string line = "{\"id\":" + json_string(entry.id) + ",\"fields\":{";
  bool first = true;
  for (const auto& [k, v] : entry.fields) {
    if (!first) line += ',';
    first = false;
    line += json_string(k);
    line += ':';
    line += json_string(v);
  }
  line += "}}";
  return line;
}

Result<qsc::StreamEntry> parse_jsonl_entry(std::string_view line, qsc::RejectReason* reason) {
  if (reason != nullptr) *reason = qsc::RejectReason::kMalformedJson;
  // The plain form nests two levels deep and its reader does not recurse, so the depth scan
  // below (a pass over the whole line) can only refuse what that reader gives up on.
  if (auto plain = read_plain_jsonl_entry(line)) return std::move(*plain);
  // A field value is kept as its JSON text (dump() recurses once per level): a line nesting
  // deeper than any real entry is refused unread rather than overflowing the stack.
  if (auto deep = qsc::json_depth_problem(line); !deep.empty()) {
    if (reason != nullptr) *reason = qsc::RejectReason::kTooDeep;
    return Error{"JSON " + deep};
  }
  return parse_jsonl_entry_dom(line);
}

Result<qsc::StreamEntry> parse_jsonl_entry_dom(std::string_view line) {
  ordered_json doc;
  std::optional<std::string> repeated;
  try {
    repeated = qsc::parse_with_unique_keys(line, doc);
  } catch (const nlohmann::json::exception& e) {
    return Error{std::string("not JSON: ") + e.what()};
  }
  if (repeated) {
    // Kept, the last value of a repeated field would be judged here and the first by the live
    // source that read the entry (parse_entry refuses an entry that repeats a field it reads).
    std::string_view key = *repeated;
    if (key.size() > 40) {  // a bounded message: cut at a character's start
      std::size_t end = 40;
      while (end > 0 && (static_cast<unsigned char>(key[end]) & 0xC0) == 0x80) --end;
      key = key.substr(0, end);
    }
    return Error{"the key " + json_string(key) +
                 " appears twice in one object (only one value would be judged); write each "
                 "key once"};
  }
  if (!doc.is_object()) return Error{"not a JSON object {\"id\":...,\"fields\":{...}}"};
  auto id = doc.find("id");
  if (id == doc.end() || !id->is_string()) return Error{"\"id\" is missing or not a string"};
  auto fields = doc.find("fields");
  if (fields == doc.end() || !fields->is_object()) {
    return Error{"\"fields\" is missing or not an object"};
  }
  qsc::StreamEntry entry;
  entry.id = id->get<std::string>();
  entry.fields.reserve(fields->size());
  for (const auto& [k, v] : fields->items()) {
    entry.fields.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
  }
  return entry;
}

std::string format_payload(const qsc::TradeIntent& event) {
  std::string out = "{";
  if (!event.symbol.empty()) out += "\"symbol\":" + json_string(event.symbol) + ",";
  if (event.side) out += "\"side\":" + json_string(qsc::vote_name(*event.side)) + ",";
  if (std::isfinite(event.confidence))
    out += "\"confidence\":" + number_text(event.confidence) + ",";
  out += "\"model_breakdown\":{";
  bool first = true;
  for (const auto& p : event.predictions) {
    if (!first) out += ',';
    first = false;
    out += json_string(p.model) + ":{\"action\":" + json_string(qsc::vote_name(p.action)) +
           ",\"confidence\":" + number_text(p.raw_confidence);
    if (!p.model_string.empty()) out += ",\"model\":" + json_string(p.model_string);
    if (p.inactive == qsc::InactiveReason::kShadow) out += ",\"shadow\":true";
    if (p.inactive == qsc::InactiveReason::kInactive) out += ",\"inactive\":true";
    out += '}';
  }
  out += "}}";
  return out;
}

std::vector<std::pair<std::string, std::string>> fields_for_event(const qsc::TradeIntent& event) {
  return {{"event_type", "trade.intent"}, {"payload", format_payload(event)}};
}

Result<JsonlWriter> JsonlWriter::open(const std::filesystem::path& path, bool append) {
  std::FILE* f = std::fopen(path.c_str(), append ? "ae" : "we");
  if (f == nullptr) {
    return Error{"cannot open " + path.string() + " for writing: " + std::strerror(errno) +
                 ": check that its directory exists and is writable"};
  }
  return JsonlWriter(f, path);
}

JsonlWriter::JsonlWriter(JsonlWriter&& other) noexcept
    : file_(std::exchange(other.file_, nullptr)), path_(std::move(other.path_)) {}

JsonlWriter& JsonlWriter::operator=(JsonlWriter&& other) noexcept {
  if (this != &other) {
    (void)close();
    file_ = std::exchange(other.file_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

JsonlWriter::~JsonlWriter() {
  (void)close();
}

Status JsonlWriter::write(const qsc::StreamEntry& entry) {
  if (file_ == nullptr) return Error{"internal: write to closed " + path_.string()};
  auto line = format_jsonl_entry(entry);
  line += '\n';
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0) {
    return Error{"cannot write " + path_.string() + ": " + std::strerror(errno)};
  }
  return ok_status();
}

Status JsonlWriter::close() {
  if (file_ == nullptr) return ok_status();
  bool ok = std::fflush(file_) == 0 && ::fsync(fileno(file_)) == 0;
  const int err = errno;
  ok = (std::fclose(file_) == 0) && ok;
  file_ = nullptr;
  if (!ok) return Error{"cannot finish writing " + path_.string() + ": " + std::strerror(err)};
  return ok_status();
}

}  // namespace qsc::agent
