// The plain recording form's reader (see jsonl_plain.hpp). Whatever it is not sure to read as
// nlohmann would (an escape it does not decode, a byte that needs UTF-8 validation, a repeated
// key, a value that is not a string, anything after the object) makes it give up, never guess.
#include "telemetry/jsonl_plain.hpp"

#include <string>

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

  // A string with the one-character escapes only; false for anything else.
  bool string(std::string& out) {
    if (!take('"')) return false;
    out.clear();
    std::size_t run = at_;
    while (at_ < text_.size()) {
      const auto c = static_cast<unsigned char>(text_[at_]);
      if (c == '"') {
        out.append(text_.substr(run, at_ - run));
        ++at_;
        return true;
      }
      // Control characters are malformed, DEL and above need nlohmann's UTF-8 checks.
      if (c < 0x20 || c > 0x7e) return false;
      if (c != '\\') {
        ++at_;
        continue;
      }
      out.append(text_.substr(run, at_ - run));
      if (++at_ == text_.size()) return false;
      const char decoded = unescaped(text_[at_]);
      if (decoded == '\0') return false;  // \u or an invalid escape
      out.push_back(decoded);
      run = ++at_;
    }
    return false;
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
  std::string key;
  std::string value;
  do {
    if (!scan.string(key) || !scan.take(':') || !scan.string(value)) return false;
    for (const auto& [k, v] : entry.fields) {
      if (k == key) return false;  // nlohmann keeps the first place and the last value
    }
    entry.fields.emplace_back(key, value);
  } while (scan.take(','));
  return scan.take('}');
}

}  // namespace

std::optional<qsc::StreamEntry> read_plain_jsonl_entry(std::string_view line) {
  PlainScanner scan(line);
  qsc::StreamEntry entry;
  bool have_id = false;
  bool have_fields = false;
  std::string key;
  if (!scan.take('{')) return std::nullopt;
  do {
    if (!scan.string(key) || !scan.take(':')) return std::nullopt;
    if (key == "id" && !have_id) {
      if (!scan.string(entry.id)) return std::nullopt;
      have_id = true;
    } else if (key == "fields" && !have_fields) {
      if (!read_fields(scan, entry)) return std::nullopt;
      have_fields = true;
    } else {
      return std::nullopt;  // another key, or one repeated
    }
  } while (scan.take(','));
  if (!scan.take('}') || !scan.at_end() || !have_id || !have_fields) return std::nullopt;
  return entry;
}

}  // namespace qsc::agent
