// Stream entry -> TradeIntent. Every path out of here is a value: nlohmann's exceptions are
// caught at the call that can raise them and turned into Rejections.
#include "qsc/parse.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "qsc/json_limits.hpp"
#include "qsc/json_number.hpp"
#include "qsc/json_string_scan.hpp"
#include "qsc/json_unique_keys.hpp"
#include "qsc/same_bytes.hpp"

namespace qsc {
namespace {

using nlohmann::json;

// Python's json.dumps writes these bare tokens; they are rewritten to sentinel strings before
// nlohmann (which follows RFC 8259) parses, and read back as numbers by read_confidence.
constexpr std::string_view kNaNSentinel = "\x01qsc:NaN";
constexpr std::string_view kPosInfSentinel = "\x01qsc:+Inf";
constexpr std::string_view kNegInfSentinel = "\x01qsc:-Inf";

struct Reject {
  RejectReason reason;
  std::string field;
  std::string why;
};

// Returns the byte offset of the first invalid UTF-8 sequence, or npos.
std::size_t find_invalid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  const auto n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

// Checks size, UTF-8 and nesting (the shared pre-scan), and rewrites Python's NaN/Infinity tokens
// outside strings.
std::optional<Reject> prepare_json(std::string_view field, std::string_view text,
                                   const ParseLimits& limits, std::string& out) {
  if (text.size() > limits.max_payload_bytes) {
    return Reject{RejectReason::kTooLarge, std::string(field),
                  std::to_string(text.size()) + " bytes exceeds the limit of " +
                      std::to_string(limits.max_payload_bytes)};
  }
  if (auto bad = find_invalid_utf8(text); bad != std::string_view::npos) {
    return Reject{RejectReason::kInvalidUtf8, std::string(field),
                  "invalid UTF-8 at byte " + std::to_string(bad)};
  }
  if (auto deep = json_depth_problem(text, limits.max_depth); !deep.empty()) {
    return Reject{RejectReason::kTooDeep, std::string(field), std::move(deep)};
  }
  out.clear();
  out.reserve(text.size() + 16);
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out.push_back(c);
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    auto replace_token = [&](std::string_view token, std::string_view sentinel) {
      if (text.substr(i, token.size()) != token) return false;
      out.push_back('"');
      for (char s : sentinel) {
        if (s == '\x01') {
          out += "\\u0001";
        } else {
          out.push_back(s);
        }
      }
      out.push_back('"');
      i += token.size() - 1;
      return true;
    };
    switch (c) {
      case '"':
        in_string = true;
        out.push_back(c);
        break;
      case 'N':
        if (!replace_token("NaN", kNaNSentinel)) out.push_back(c);
        break;
      case 'I':
        if (!replace_token("Infinity", kPosInfSentinel)) out.push_back(c);
        break;
      case '-':
        if (!replace_token("-Infinity", kNegInfSentinel)) out.push_back(c);
        break;
      default:
        out.push_back(c);
    }
  }
  return std::nullopt;
}

// The longest prefix of valid UTF-8 text `s` that is at most `max` bytes (never splits a
// character).
std::string_view utf8_prefix(std::string_view s, std::size_t max) noexcept {
  if (s.size() <= max) return s;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

// A sent value quoted into a message: bounded, on one line.
std::string excerpt(std::string_view s) {
  constexpr std::size_t kMax = 40;
  std::string out(utf8_prefix(s, kMax));
  for (auto& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  }
  if (out.size() < s.size()) out += "...";
  return out;
}

std::optional<Reject> parse_json(std::string_view field, std::string_view text,
                                 const ParseLimits& limits, json& out) {
  std::string prepared;
  if (auto r = prepare_json(field, text, limits, prepared)) return r;
  std::optional<std::string> repeated;
  try {
    repeated = parse_with_unique_keys(prepared, out);
  } catch (const json::exception& e) {
    return Reject{RejectReason::kMalformedJson, std::string(field),
                  std::string("malformed JSON: ") + e.what()};
  }
  if (repeated) {
    // nlohmann would keep the last value: a NaN sent first would go unjudged.
    return Reject{RejectReason::kMalformedJson, std::string(field),
                  "malformed JSON: the key \"" + excerpt(*repeated) +
                      "\" appears twice in one object (only one value would be judged); send "
                      "each key once"};
  }
  return std::nullopt;
}

// Python's tokens are held as sentinel strings; everywhere but a confidence they are numbers
// sent where something else belongs, and are named as such (never echoed as the sentinel).
bool is_python_number(const json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  return s == kNaNSentinel || s == kPosInfSentinel || s == kNegInfSentinel;
}

bool is_text(const json& v) {
  return v.is_string() && !is_python_number(v);
}

const char* json_type(const json& v) {
  return is_python_number(v) ? "number" : v.type_name();
}

// Applies the contract's confidence rules to a number as sent.
void set_confidence(double x, Prediction& p) {
  p.raw_confidence = x;
  if (std::isnan(x)) {
    p.confidence_status = ConfidenceStatus::kNaN;
  } else if (std::isinf(x)) {
    p.confidence_status = ConfidenceStatus::kInfinite;
  } else if (x < 0.0) {
    p.confidence_status = ConfidenceStatus::kNegative;
  } else if (x > 1.0) {
    // Above 1 the engine sent a logit: map it into (0, 1) the way the engine's softmax would.
    p.confidence = 1.0 / (1.0 + std::exp(-x));
    p.confidence_status = ConfidenceStatus::kNormalized;
    return;
  } else {
    p.confidence = x;
    p.confidence_status = ConfidenceStatus::kOk;
    return;
  }
  p.confidence = std::numeric_limits<double>::quiet_NaN();
}

// A confidence that is not a number at all (a string, bool, null, object or array).
void set_not_a_number(Prediction& p) {
  p.raw_confidence = std::numeric_limits<double>::quiet_NaN();
  p.confidence = std::numeric_limits<double>::quiet_NaN();
  p.confidence_status = ConfidenceStatus::kNotNumber;
}

// Reads a confidence value; returns the status and the normalized value.
void read_confidence(const json& v, Prediction& p) {
  if (v.is_number()) return set_confidence(v.get<double>(), p);
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s == kNaNSentinel) return set_confidence(std::numeric_limits<double>::quiet_NaN(), p);
    if (s == kPosInfSentinel) return set_confidence(std::numeric_limits<double>::infinity(), p);
    if (s == kNegInfSentinel) return set_confidence(-std::numeric_limits<double>::infinity(), p);
  }
  set_not_a_number(p);
}

// The contract's inactive rule: shadow, else inactive, else a "fallback" model string. Set in
// every case, none included: replay reads each line into the storage of the line before.
void set_inactive(bool shadow, bool inactive, Prediction& p) {
  if (shadow) {
    p.inactive = InactiveReason::kShadow;
  } else if (inactive) {
    p.inactive = InactiveReason::kInactive;
  } else if (p.model_string.find("fallback") != std::string::npos) {
    p.inactive = InactiveReason::kFallback;
  } else {
    p.inactive = InactiveReason::kNone;
  }
}

// Optional boolean flag: true/false, or a number (Python engines sometimes send 0/1).
std::optional<Reject> read_flag(const json& obj, const std::string& field_prefix, const char* key,
                                bool& out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (it->is_boolean()) {
    out = it->get<bool>();
  } else if (it->is_number()) {
    out = it->get<double>() != 0.0;
  } else {
    return Reject{RejectReason::kWrongType, field_prefix + "." + key,
                  std::string("expected a boolean, got ") + json_type(*it)};
  }
  return std::nullopt;
}

std::optional<Reject> read_prediction(const std::string& model, const json& v, Prediction& p) {
  const std::string field = "model_breakdown." + model;
  if (!v.is_object()) {
    return Reject{RejectReason::kWrongType, field,
                  std::string("expected an object, got ") + json_type(v)};
  }
  p.model = model;
  auto action = v.find("action");
  if (action == v.end()) {
    return Reject{RejectReason::kMissingField, field + ".action", "missing"};
  }
  if (!is_text(*action)) {
    return Reject{RejectReason::kWrongType, field + ".action",
                  std::string("expected a string, got ") + json_type(*action)};
  }
  auto vote = parse_vote(action->get_ref<const std::string&>());
  if (!vote) {
    return Reject{RejectReason::kUnknownAction, field + ".action",
                  "unknown action \"" + excerpt(action->get_ref<const std::string&>()) +
                      "\" (expected BUY, SELL or HOLD)"};
  }
  p.action = *vote;
  auto conf = v.find("confidence");
  if (conf == v.end()) {
    return Reject{RejectReason::kMissingField, field + ".confidence", "missing"};
  }
  read_confidence(*conf, p);
  if (auto m = v.find("model"); m != v.end() && !m->is_null()) {
    if (!is_text(*m)) {
      return Reject{RejectReason::kWrongType, field + ".model",
                    std::string("expected a string, got ") + json_type(*m)};
    }
    p.model_string = m->get<std::string>();
  }
  bool shadow = false;
  bool inactive = false;
  if (auto r = read_flag(v, field, "shadow", shadow)) return r;
  if (auto r = read_flag(v, field, "inactive", inactive)) return r;
  set_inactive(shadow, inactive, p);
  return std::nullopt;
}

std::optional<Reject> read_breakdown(const json& breakdown, const ParseLimits& limits,
                                     TradeIntent& event) {
  if (!breakdown.is_object()) {
    return Reject{RejectReason::kWrongType, "model_breakdown",
                  std::string("expected an object, got ") + json_type(breakdown)};
  }
  if (breakdown.empty()) {
    return Reject{RejectReason::kMissingField, "model_breakdown", "empty: no model predictions"};
  }
  if (breakdown.size() > limits.max_models) {
    return Reject{RejectReason::kTooLarge, "model_breakdown",
                  std::to_string(breakdown.size()) + " models exceeds the limit of " +
                      std::to_string(limits.max_models)};
  }
  event.predictions.reserve(breakdown.size());
  for (const auto& [model, v] : breakdown.items()) {
    if (model.empty()) {
      return Reject{RejectReason::kMissingField, "model_breakdown", "a model has an empty name"};
    }
    Prediction p;
    if (auto r = read_prediction(model, v, p)) return r;
    event.predictions.push_back(std::move(p));
  }
  return std::nullopt;
}

std::optional<Reject> read_envelope(const json& payload, TradeIntent& event) {
  if (auto s = payload.find("symbol"); s != payload.end() && !s->is_null()) {
    if (!is_text(*s)) {
      return Reject{RejectReason::kWrongType, "payload.symbol",
                    std::string("expected a string, got ") + json_type(*s)};
    }
    event.symbol = s->get<std::string>();
  }
  if (auto s = payload.find("side"); s != payload.end() && !s->is_null()) {
    if (!is_text(*s)) {
      return Reject{RejectReason::kWrongType, "payload.side",
                    std::string("expected a string, got ") + json_type(*s)};
    }
    auto vote = parse_vote(s->get_ref<const std::string&>());
    if (!vote) {
      return Reject{RejectReason::kUnknownAction, "payload.side",
                    "unknown side \"" + excerpt(s->get_ref<const std::string&>()) +
                        "\" (expected BUY, SELL or HOLD)"};
    }
    event.side = vote;
  }
  event.confidence = std::numeric_limits<double>::quiet_NaN();
  if (auto c = payload.find("confidence"); c != payload.end() && c->is_number()) {
    event.confidence = c->get<double>();
  }
  return std::nullopt;
}

// Two readings of one breakdown: the same models, votes, flags and numbers as sent (NaN as NaN).
bool same_predictions(const std::vector<Prediction>& a, const std::vector<Prediction>& b) {
  const auto same_number = [](double x, double y) {
    return (std::isnan(x) && std::isnan(y)) || x == y;
  };
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].model != b[i].model || a[i].model_string != b[i].model_string ||
        a[i].action != b[i].action || a[i].confidence_status != b[i].confidence_status ||
        a[i].inactive != b[i].inactive || !same_number(a[i].raw_confidence, b[i].raw_confidence)) {
      return false;
    }
  }
  return true;
}

// The first of the fields parse_entry reads that the entry holds more than once, or nullptr.
// A stream entry may repeat a field name (Redis keeps both pairs of XADD ... payload A payload
// B); a reader takes one of them, and which one differed between the live source and a replay
// of its recording, so neither is taken.
const char* repeated_field(const StreamEntry& entry) {
  for (const char* name : {"event_type", "payload", "model_breakdown"}) {
    std::size_t count = 0;
    for (const auto& [k, v] : entry.fields) count += k == name ? 1 : 0;
    if (count > 1) return name;
  }
  return nullptr;
}

const std::string* find_field(const StreamEntry& entry, std::string_view name) {
  for (const auto& [k, v] : entry.fields) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::optional<Reject> parse_body(const StreamEntry& entry, const ParseLimits& limits,
                                 TradeIntent& event) {
  const std::string* payload_text = find_field(entry, "payload");
  const std::string* breakdown_text = find_field(entry, "model_breakdown");
  if (!payload_text && !breakdown_text) {
    return Reject{RejectReason::kMissingField, "payload", "missing (and no model_breakdown field)"};
  }
  json payload;
  bool have_breakdown = false;
  if (payload_text) {
    if (auto r = parse_json("payload", *payload_text, limits, payload)) return r;
    if (!payload.is_object()) {
      return Reject{RejectReason::kWrongType, "payload",
                    std::string("expected a JSON object, got ") + json_type(payload)};
    }
    if (auto r = read_envelope(payload, event)) return r;
    if (auto it = payload.find("model_breakdown"); it != payload.end() && !it->is_null()) {
      have_breakdown = true;
      if (is_text(*it)) {
        // Some producers double-encode the breakdown inside the payload.
        json inner;
        if (auto r = parse_json("payload.model_breakdown", it->get_ref<const std::string&>(),
                                limits, inner)) {
          return r;
        }
        if (auto r = read_breakdown(inner, limits, event)) return r;
      } else if (auto r = read_breakdown(*it, limits, event)) {
        return r;
      }
    }
  }
  if (!have_breakdown) {
    if (!breakdown_text) {
      return Reject{RejectReason::kMissingField, "model_breakdown",
                    "missing from the payload and not a field of its own"};
    }
    json breakdown;
    if (auto r = parse_json("model_breakdown", *breakdown_text, limits, breakdown)) return r;
    if (auto r = read_breakdown(breakdown, limits, event)) return r;
  } else if (breakdown_text) {
    // Both forms at once: the payload's is judged, so a field that says otherwise (a canary NaN
    // in it) would go unseen. The same breakdown twice is read; any difference is refused.
    json breakdown;
    TradeIntent field_event;
    if (auto r = parse_json("model_breakdown", *breakdown_text, limits, breakdown)) return r;
    if (auto r = read_breakdown(breakdown, limits, field_event)) return r;
    if (!same_predictions(field_event.predictions, event.predictions)) {
      return Reject{RejectReason::kWrongType, "model_breakdown",
                    "differs from the payload's model_breakdown (only one would be judged); send "
                    "the breakdown once, in the payload or as a field of its own"};
    }
  }
  return std::nullopt;
}

// ------------------------------------------------------------------------------------------
// The fast path. A single pass over the payload with no DOM, no copy and no allocation beyond
// the event's own strings, for the entries real producers send. It only ever ACCEPTS: at the
// first thing it does not handle exactly like the DOM path (an escape, a non-ASCII byte, a
// duplicate key, a double-encoded breakdown, any error) it gives up and the DOM path below
// reads the entry, so every rejection keeps its reason and message by construction.

enum class Kind : std::uint8_t {
  kString,
  kNumber,
  kPyNaN,
  kPyPosInf,
  kPyNegInf,
  kBool,
  kNull,
  kOther
};

struct Scalar {
  Kind kind = Kind::kOther;
  std::string_view text;  // kString
  double number = 0.0;    // kNumber
  bool boolean = false;   // kBool
};

// The keys of one object that the fast path does not read, so that a repeat among them (which
// the DOM path refuses) makes it give up too. Real payloads have none or one; past eight the
// fast path gives up rather than search further.
class UnknownKeys {
 public:
  // False when `key` came before in this object, or there are too many to track.
  bool first(std::string_view key) noexcept {
    for (std::size_t i = 0; i < count_; ++i) {
      if (keys_[i] == key) return false;
    }
    if (count_ == keys_.size()) return false;
    keys_[count_++] = key;
    return true;
  }

 private:
  std::array<std::string_view, 8> keys_{};
  std::size_t count_ = 0;
};

// kEscaped: the payload as it stands inside a JSON string of a recorded line, its escapes not
// decoded. A quote is then the two bytes \" and whitespace is a space or the escapes \n \r \t;
// every other escape (\\, \/, \u...) and every raw control byte makes the reader give up, as
// does any byte the decoded form would read differently. Decoding first cost replay a copy of
// each 600-byte payload with an escape every seven bytes or so.
template <bool kEscaped>
class FastReader {
 public:
  /// A quote's bytes in this form.
  static constexpr std::ptrdiff_t kQuoteBytes = kEscaped ? 2 : 1;

  FastReader(std::string_view text, std::size_t max_depth)
      : p_(text.data()), end_(text.data() + text.size()), max_depth_(max_depth) {}

  void ws() noexcept {
    for (;;) {
      if (p_ == end_) return;
      if (*p_ == ' ') {
        ++p_;
      } else if constexpr (kEscaped) {
        if (*p_ != '\\' || end_ - p_ < 2 || (p_[1] != 'n' && p_[1] != 'r' && p_[1] != 't')) return;
        p_ += 2;
      } else {
        if (*p_ != '\n' && *p_ != '\r' && *p_ != '\t') return;
        ++p_;
      }
    }
  }
  bool at_end() noexcept {
    ws();
    return p_ == end_;
  }
  bool peek(char c) noexcept {
    ws();
    return p_ < end_ && *p_ == c;
  }
  // Where the reader stands (after the payload, for the escaped form's caller).
  const char* position() const noexcept { return p_; }

  // A string without escapes, control characters or non-ASCII bytes (else: give up).
  bool string(std::string_view& out) noexcept { return take_quote() && string_after_quote(out); }

  // The same string, its opening quote taken already.
  bool string_after_quote(std::string_view& out) noexcept {
    const char* start = p_;
    // DEL is a byte nlohmann takes as it is; what ends the run must be the closing quote. In the
    // escaped form DEL makes the line's reader give up, so this one does too.
    p_ += plain_json_run</*kAllowDel=*/!kEscaped>(p_, end_);
    const char* stop = p_;
    if (!take_quote()) return false;
    out = std::string_view(start, static_cast<std::size_t>(stop - start));
    return true;
  }

  // RFC 8259's number grammar exactly; values as nlohmann reads them (std::from_chars's, with
  // its exact fast path: qsc/json_number.hpp).
  bool number(double& out) noexcept {
    bool integer = true;
    const char* const stop = read_json_number(p_, end_, out, integer);
    // Out of range (nlohmann refuses it): give up; nlohmann reads "-0" as the integer 0.
    if (stop == nullptr || std::isinf(out)) return false;
    p_ = stop;
    if (integer && out == 0.0) out = 0.0;
    return true;
  }

  bool literal(std::string_view word) noexcept {
    if (static_cast<std::size_t>(end_ - p_) < word.size() ||
        !same_bytes(p_, word.data(), word.size())) {
      return false;
    }
    p_ += word.size();
    return true;
  }

  // A scalar, or an object/array skipped (kOther).
  bool value(Scalar& out) noexcept {
    // A number starting with a digit right where the reader stands first: no whitespace to skip
    // and no other kind to tell it from (a third of a payload's values; a layout's text ends
    // where each value starts).
    if (p_ < end_ && static_cast<unsigned>(static_cast<unsigned char>(*p_)) - '0' <= 9) {
      out.kind = Kind::kNumber;
      return number(out.number);
    }
    ws();
    if (p_ == end_) return false;
    if (at_quote()) {
      out.kind = Kind::kString;
      return string(out.text);
    }
    switch (*p_) {
      case '{':
      case '[':
        out.kind = Kind::kOther;
        return skip_container();
      case 't':
        out.kind = Kind::kBool;
        out.boolean = true;
        return literal("true");
      case 'f':
        out.kind = Kind::kBool;
        out.boolean = false;
        return literal("false");
      case 'n':
        out.kind = Kind::kNull;
        return literal("null");
      case 'N':
        out.kind = Kind::kPyNaN;
        return literal("NaN");
      case 'I':
        out.kind = Kind::kPyPosInf;
        return literal("Infinity");
      default:
        if (*p_ == '-' && p_ + 1 < end_ && p_[1] == 'I') {
          out.kind = Kind::kPyNegInf;
          return literal("-Infinity");
        }
        out.kind = Kind::kNumber;
        return number(out.number);
    }
  }

  // Calls on_member(key) with the reader at the member's value; on_member consumes it.
  template <typename OnMember>
  bool object(OnMember&& on_member) {
    return container('{', '}', [&] {
      ws();
      std::string_view key;
      if (!string(key) || !peek(':')) return false;
      ++p_;
      ws();
      return on_member(key);
    });
  }

  bool skip_value() {
    Scalar ignored;
    return value(ignored);
  }

 private:
  bool at_quote() const noexcept {
    if constexpr (kEscaped) return end_ - p_ >= 2 && p_[0] == '\\' && p_[1] == '"';
    return p_ < end_ && *p_ == '"';
  }
  bool take_quote() noexcept {
    if (!at_quote()) return false;
    p_ += kQuoteBytes;
    return true;
  }

  // `open` items `close`, items separated by commas; on_item consumes one item.
  template <typename OnItem>
  bool container(char open, char close, OnItem&& on_item) {
    ws();
    if (p_ == end_ || *p_ != open || ++depth_ > max_depth_) return false;
    ++p_;
    if (peek(close)) {
      ++p_;
      --depth_;
      return true;
    }
    for (;;) {
      if (!on_item()) return false;
      ws();
      if (p_ == end_) return false;
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ != close) return false;
      ++p_;
      --depth_;
      return true;
    }
  }

  bool skip_container() {
    if (*p_ == '{') {
      UnknownKeys keys;
      return object(
          [this, &keys](std::string_view key) { return keys.first(key) && skip_value(); });
    }
    return container('[', ']', [this] { return skip_value(); });
  }

  const char* p_;
  const char* end_;
  std::size_t depth_ = 0;
  std::size_t max_depth_;
};

// A member's key against one the reader knows. The length is a constant, so the compiler
// compares in place instead of calling memcmp (about thirty keys a replayed line).
template <std::size_t N>
bool key_is(std::string_view key, const char (&word)[N]) noexcept {
  return key.size() == N - 1 && std::memcmp(key.data(), word, N - 1) == 0;
}

// Sets `seen` for `bit`; false when it was already set (a duplicate key: give up, the DOM
// path keeps the last one).
bool first_time(unsigned& seen, unsigned bit) noexcept {
  if (seen & bit) return false;
  seen |= bit;
  return true;
}

void fast_confidence(const Scalar& v, Prediction& p) {
  switch (v.kind) {
    case Kind::kNumber:
      return set_confidence(v.number, p);
    case Kind::kPyNaN:
      return set_confidence(std::numeric_limits<double>::quiet_NaN(), p);
    case Kind::kPyPosInf:
      return set_confidence(std::numeric_limits<double>::infinity(), p);
    case Kind::kPyNegInf:
      return set_confidence(-std::numeric_limits<double>::infinity(), p);
    default:  // a string, bool, null, object or array
      return set_not_a_number(p);
  }
}

// An optional text member: a string is kept, null is empty (as an absent one); the first time
// only.
bool fast_optional_text(const Scalar& v, unsigned& seen, unsigned bit, std::string& out) {
  if (!first_time(seen, bit)) return false;
  if (v.kind == Kind::kString) {
    assign_text(out, v.text);
    return true;
  }
  if (v.kind != Kind::kNull) return false;
  out.clear();
  return true;
}

bool fast_flag(const Scalar& v, bool& out) {
  switch (v.kind) {
    case Kind::kNull:
      return true;
    case Kind::kBool:
      out = v.boolean;
      return true;
    case Kind::kNumber:
      out = v.number != 0.0;
      return true;
    default:
      return false;
  }
}

// What a value of the payload is, by its key: the payload's own members, then a prediction's.
// A payload's layout (EscapedPayloadLayout) stores these, so the values a layout reads are
// applied by the same functions as the full read's.
enum class Role : std::uint8_t {
  kSymbol,
  kSide,
  kConfidence,
  kIgnored,  // a payload member the parser does not read
  kModel,    // a model's name: a key of the breakdown
  kAction,
  kModelConfidence,
  kModelString,
  kShadow,
  kInactive,
  kModelIgnored,  // a prediction member the parser does not read
};

Role envelope_role(std::string_view key) noexcept {
  if (key_is(key, "symbol")) return Role::kSymbol;
  if (key_is(key, "side")) return Role::kSide;
  if (key_is(key, "confidence")) return Role::kConfidence;
  return Role::kIgnored;
}

Role prediction_role(std::string_view key) noexcept {
  if (key_is(key, "action")) return Role::kAction;
  if (key_is(key, "confidence")) return Role::kModelConfidence;
  if (key_is(key, "model")) return Role::kModelString;
  if (key_is(key, "shadow")) return Role::kShadow;
  if (key_is(key, "inactive")) return Role::kInactive;
  return Role::kModelIgnored;
}

bool is_prediction_role(Role role) noexcept {
  return role >= Role::kAction;
}

// A payload member's value, as the DOM path reads it; `seen` catches a key given twice.
bool apply_envelope(Role role, const Scalar& v, unsigned& seen, TradeIntent& event) {
  switch (role) {
    case Role::kSymbol:
      return fast_optional_text(v, seen, 1, event.symbol);
    case Role::kSide:
      if (!first_time(seen, 2)) return false;
      if (v.kind == Kind::kString) {
        auto vote = parse_vote(v.text);
        if (!vote) return false;
        event.side = vote;
        return true;
      }
      return v.kind == Kind::kNull;
    case Role::kConfidence:
      if (!first_time(seen, 4)) return false;
      event.confidence =
          v.kind == Kind::kNumber ? v.number : std::numeric_limits<double>::quiet_NaN();
      return true;
    default:
      return true;
  }
}

// PredictionState::seen's bit for the "model" member.
constexpr unsigned kModelStringSeen = 4;

// A prediction's flags and the keys it has had, until its object ends.
struct PredictionState {
  unsigned seen = 0;
  bool shadow = false;
  bool inactive = false;
};

bool apply_prediction(Role role, const Scalar& v, PredictionState& state, Prediction& p) {
  switch (role) {
    case Role::kAction: {
      if (!first_time(state.seen, 1) || v.kind != Kind::kString) return false;
      auto vote = parse_vote(v.text);
      if (!vote) return false;
      p.action = *vote;
      return true;
    }
    case Role::kModelConfidence:
      if (!first_time(state.seen, 2)) return false;
      fast_confidence(v, p);
      return true;
    case Role::kModelString:
      return fast_optional_text(v, state.seen, kModelStringSeen, p.model_string);
    case Role::kShadow:
      return first_time(state.seen, 8) && fast_flag(v, state.shadow);
    case Role::kInactive:
      return first_time(state.seen, 16) && fast_flag(v, state.inactive);
    default:
      return true;
  }
}

// A prediction's object has ended: both required members seen, its inactive reason set, and a
// model string it did not send empty (`p` may hold the line before's: replay reuses it).
bool finish_prediction(const PredictionState& state, Prediction& p) {
  if ((state.seen & 3) != 3) return false;
  if ((state.seen & kModelStringSeen) == 0) p.model_string.clear();
  set_inactive(state.shadow, state.inactive, p);
  return true;
}

bool start_prediction(std::string_view model, const ParseLimits& limits,
                      std::vector<Prediction>& predictions) {
  if (model.empty() || predictions.size() >= limits.max_models) return false;
  predictions.emplace_back().model.assign(model);
  return true;
}

// The breakdown has ended: predictions in the DOM's order (by model name), no model twice.
bool finish_breakdown(std::vector<Prediction>& predictions) {
  if (predictions.empty()) return false;
  // By name as std::string compares (bytes as unsigned char); names are not empty, and an
  // ensemble's names mostly differ in their first byte, which settles it without a call.
  std::sort(predictions.begin(), predictions.end(), [](const Prediction& a, const Prediction& b) {
    const auto a0 = static_cast<unsigned char>(a.model[0]);
    const auto b0 = static_cast<unsigned char>(b.model[0]);
    return a0 != b0 ? a0 < b0 : a.model < b.model;
  });
  for (std::size_t i = 1; i < predictions.size(); ++i) {
    if (predictions[i - 1].model == predictions[i].model) return false;  // duplicate model
  }
  return true;
}

// One allocation for the usual ensemble instead of growing 1, 2, 4 (a tenth of a replayed
// line's parse); not max_models, which would hold 64 predictions' room per event of a batch.
constexpr std::size_t kUsualModels = 8;

// Where a full read of an escaped payload found each value: the layout it leaves behind.
struct LayoutRecorder {
  struct Value {
    Role role;
    Kind kind;
    const char* begin;
    const char* end;
  };
  std::vector<Value> values;
  bool usable = true;  // false once a value was an object or array (depth: read in full)

  void note(Role role, const char* begin, const char* end, Kind kind) {
    if (kind == Kind::kOther) usable = false;
    values.push_back({role, kind, begin, end});
  }
};

// A member's value at the reader: read, noted for the layout, applied.
template <typename Reader, typename Apply>
bool read_member_value(Reader& r, Role role, LayoutRecorder* recorder, Apply&& apply) {
  r.ws();
  const char* begin = r.position();
  Scalar v;
  if (!r.value(v)) return false;
  if (recorder != nullptr) recorder->note(role, begin, r.position(), v.kind);
  return apply(v);
}

template <typename Reader>
bool fast_prediction(Reader& r, Prediction& p, LayoutRecorder* recorder) {
  PredictionState state;
  UnknownKeys unknown;
  const bool shaped = r.object([&](std::string_view key) {
    const Role role = prediction_role(key);
    if (role == Role::kModelIgnored && !unknown.first(key)) return false;
    return read_member_value(r, role, recorder,
                             [&](const Scalar& v) { return apply_prediction(role, v, state, p); });
  });
  return shaped && finish_prediction(state, p);
}

// The breakdown object at the reader.
template <typename Reader>
bool fast_breakdown(Reader& r, const ParseLimits& limits, TradeIntent& event,
                    LayoutRecorder* recorder = nullptr) {
  auto& predictions = event.predictions;
  predictions.clear();
  predictions.reserve(kUsualModels);
  const bool shaped = r.object([&](std::string_view model) {
    if (!start_prediction(model, limits, predictions) || !r.peek('{')) return false;
    if (recorder != nullptr) {
      // The name with its quotes, as a layout reads it back.
      recorder->note(Role::kModel, model.data() - Reader::kQuoteBytes,
                     model.data() + model.size() + Reader::kQuoteBytes, Kind::kString);
    }
    return fast_prediction(r, predictions.back(), recorder);
  });
  return shaped && finish_breakdown(predictions);
}

// The payload object at the reader, read into `event`; `have_breakdown` when it held one.
template <typename Reader>
bool fast_payload(Reader& r, const ParseLimits& limits, TradeIntent& event, bool& have_breakdown,
                  LayoutRecorder* recorder = nullptr) {
  UnknownKeys unknown;
  unsigned seen = 0;
  const bool shaped = r.object([&](std::string_view key) {
    if (key_is(key, "model_breakdown")) {
      if (!first_time(seen, 8)) return false;
      if (r.peek('{')) {
        have_breakdown = true;
        return fast_breakdown(r, limits, event, recorder);
      }
      Scalar v;
      return r.value(v) && v.kind == Kind::kNull;  // a double-encoded one: the DOM path
    }
    const Role role = envelope_role(key);
    if (role == Role::kIgnored && !unknown.first(key)) return false;
    return read_member_value(r, role, recorder,
                             [&](const Scalar& v) { return apply_envelope(role, v, seen, event); });
  });
  return shaped;
}

// parse_body's result for the common forms, or false to let the DOM path decide.
bool fast_body(const StreamEntry& entry, const ParseLimits& limits, TradeIntent& event) {
  const std::string* payload_text = find_field(entry, "payload");
  const std::string* breakdown_text = find_field(entry, "model_breakdown");
  bool have_breakdown = false;
  if (payload_text) {
    if (payload_text->size() > limits.max_payload_bytes) return false;
    FastReader<false> r(*payload_text, limits.max_depth);
    if (!fast_payload(r, limits, event, have_breakdown) || !r.at_end()) return false;
    // Both forms at once: the DOM path compares them.
    if (have_breakdown && breakdown_text) return false;
  }
  if (!have_breakdown) {
    if (!breakdown_text || breakdown_text->size() > limits.max_payload_bytes) return false;
    FastReader<false> r(*breakdown_text, limits.max_depth);
    if (!fast_breakdown(r, limits, event) || !r.at_end()) return false;
  }
  return true;
}

}  // namespace

std::string_view reject_reason_name(RejectReason r) noexcept {
  switch (r) {
    case RejectReason::kBadStreamId:
      return "bad_stream_id";
    case RejectReason::kMissingField:
      return "missing_field";
    case RejectReason::kMalformedJson:
      return "malformed_json";
    case RejectReason::kWrongType:
      return "wrong_type";
    case RejectReason::kUnknownAction:
      return "unknown_action";
    case RejectReason::kTooLarge:
      return "too_large";
    case RejectReason::kTooDeep:
      return "too_deep";
    case RejectReason::kInvalidUtf8:
      return "invalid_utf8";
    case RejectReason::kFutureTimestamp:
      return "future_timestamp";
  }
  return "?";
}

namespace {

// The decimal digits of `text` as std::from_chars reads an unsigned integer that must take the
// whole text: at least one digit, nothing else, no overflow. By hand: replay reads a stream ID a
// line, and the two from_chars calls cost about 290 instructions of it.
bool whole_decimal(std::string_view text, std::uint64_t& out) noexcept {
  // Nineteen digits never overflow 64 bits (10^19 - 1 < 2^64): checked only past them.
  constexpr std::size_t kSafeDigits = 19;
  if (text.empty()) return false;
  std::uint64_t value = 0;
  std::size_t i = 0;
  for (const std::size_t safe = std::min(text.size(), kSafeDigits); i < safe; ++i) {
    const auto digit = static_cast<unsigned>(static_cast<unsigned char>(text[i])) - '0';
    if (digit > 9) return false;
    value = value * 10 + digit;
  }
  for (; i < text.size(); ++i) {
    const auto digit = static_cast<unsigned>(static_cast<unsigned char>(text[i])) - '0';
    if (digit > 9) return false;
    if (__builtin_mul_overflow(value, 10u, &value) ||
        __builtin_add_overflow(value, digit, &value)) {
      return false;
    }
  }
  out = value;
  return true;
}

}  // namespace

bool parse_stream_id(std::string_view id, std::uint64_t& ms, std::uint64_t& seq) noexcept {
  const auto dash = id.find('-');
  if (!whole_decimal(id.substr(0, dash), ms)) return false;
  seq = 0;
  return dash == std::string_view::npos || whole_decimal(id.substr(dash + 1), seq);
}

namespace {

// parse_entry, with or without the fast path.
ParseOutcome parse_entry_with(const StreamEntry& entry, const ParseLimits& limits, bool try_fast) {
  auto rejection = [&entry](Reject r) {
    // The entry ID is echoed only when it is printable, so a hostile ID cannot corrupt logs.
    std::string id = find_invalid_utf8(entry.id) == std::string_view::npos && entry.id.size() <= 64
                         ? entry.id
                         : std::string("<unprintable id>");
    std::string message = "entry " + id + ": field " + r.field + ": " + r.why;
    return ParseOutcome{Rejection{r.reason, std::move(id), std::move(r.field), std::move(message)}};
  };
  TradeIntent event;
  // Unknown until a payload sends it (the breakdown-only form has none).
  event.confidence = std::numeric_limits<double>::quiet_NaN();
  if (!parse_stream_id(entry.id, event.time_ms, event.seq)) {
    return rejection({RejectReason::kBadStreamId, "id", "expected <milliseconds>-<sequence>"});
  }
  if (const char* name = repeated_field(entry)) {
    return rejection({RejectReason::kMalformedJson, name,
                      "repeated: the entry holds this field more than once (only one would be "
                      "judged); send each field once"});
  }
  const std::string* type = find_field(entry, "event_type");
  if (!type) return rejection({RejectReason::kMissingField, "event_type", "missing"});
  if (*type != "trade.intent") {
    return Skipped{find_invalid_utf8(*type) == std::string_view::npos
                       ? std::string(utf8_prefix(*type, 64))
                       : std::string("<binary>")};
  }
  try {
    if (try_fast) {
      TradeIntent fast = event;
      if (fast_body(entry, limits, fast)) return fast;
    }
    if (auto r = parse_body(entry, limits, event)) return rejection(std::move(*r));
  } catch (const std::exception& e) {
    // Belt and braces: nothing in parse_body should throw, but nothing may escape the SDK.
    return rejection({RejectReason::kMalformedJson, "payload", e.what()});
  }
  return event;
}

}  // namespace

ParseOutcome parse_entry(const StreamEntry& entry, const ParseLimits& limits) {
  return parse_entry_with(entry, limits, /*try_fast=*/true);
}

ParseOutcome parse_entry_reference(const StreamEntry& entry, const ParseLimits& limits) {
  return parse_entry_with(entry, limits, /*try_fast=*/false);
}

namespace {

// Where an escaped reader stopped: just past the closing quote of the string it read, or 0 when
// something other than whitespace comes before that quote, or the decoded text (never longer
// than the escaped) may be past the limit.
template <typename Reader>
std::size_t through_closing_quote(Reader& r, std::string_view text, const ParseLimits& limits) {
  r.ws();
  const char* closing = r.position();
  if (closing == text.data() + text.size() || *closing != '"') return 0;
  const auto consumed = static_cast<std::size_t>(closing + 1 - text.data());
  return consumed - 1 > limits.max_payload_bytes ? 0 : consumed;
}

}  // namespace

namespace {

void clear_payload(TradeIntent& event) {
  event.symbol.clear();
  event.side.reset();
  event.confidence = std::numeric_limits<double>::quiet_NaN();
  event.predictions.clear();
}

// The layout of a payload the full read took in whole: the text between its values, and each
// value's role. A model's name is a key, so it stays in the text: the value after it starts the
// model's prediction.
void keep_layout(const LayoutRecorder& recorder, std::string_view text, std::size_t consumed,
                 const ParseLimits& limits, EscapedPayloadLayout& layout) {
  layout.valid = false;
  if (!recorder.usable) return;
  layout.literals.clear();
  layout.slots.clear();
  layout.model_names.clear();
  layout.model_strings.clear();
  layout.folded_model_string.clear();
  // Where the text before the next value starts: past the value before (a name stays in it).
  const char* literal_start = text.data();
  bool starts_model = false;
  // A string without its quotes (no escapes: the full read took none in a string).
  const auto unquoted = [](const LayoutRecorder::Value& value) {
    return std::string_view(
        value.begin + FastReader<true>::kQuoteBytes,
        static_cast<std::size_t>(value.end - value.begin) - 2 * FastReader<true>::kQuoteBytes);
  };
  for (const auto& value : recorder.values) {
    if (value.role == Role::kModel) {
      // A prediction with no value of its own is refused by the full read (action and
      // confidence are required); this keeps a layout from ever reading one.
      if (starts_model) return;
      layout.model_names.emplace_back(unquoted(value));
      layout.model_strings.emplace_back();
      layout.folded_model_string.push_back(0);
      starts_model = true;
      continue;
    }
    // A model string (one a prediction: the full read refuses a second) that is not the first
    // value of its prediction stays in the text, which then holds its bytes: a payload matching
    // that text sends the same string there.
    if (value.role == Role::kModelString && value.kind == Kind::kString && !starts_model) {
      layout.model_strings.back().assign(unquoted(value));
      layout.folded_model_string.back() = 1;
      continue;
    }
    // A string's opening quote is matched with the text before it: its reader then starts at
    // the string's first byte, with no test of what kind of value comes.
    const bool string = value.kind == Kind::kString;
    const char* const value_start = value.begin + (string ? FastReader<true>::kQuoteBytes : 0);
    layout.slots.push_back({static_cast<std::uint32_t>(layout.literals.size()),
                            static_cast<std::uint32_t>(value_start - literal_start),
                            static_cast<std::uint8_t>(value.role), starts_model, string});
    layout.literals.append(literal_start, value_start);
    starts_model = false;
    literal_start = value.end;
  }
  if (starts_model) return;
  layout.tail.assign(literal_start, text.data() + consumed);
  // Where each model's prediction lands once sorted by name (as the names sort), so that a
  // payload laid out alike (the same names) fills them in place instead of sorting.
  const auto& names = layout.model_names;
  layout.model_order.assign(names.size(), 0);
  for (std::size_t i = 0; i < names.size(); ++i) {
    for (std::size_t j = 0; j < names.size(); ++j) {
      if (names[j] < names[i]) ++layout.model_order[i];  // distinct names: a permutation
    }
  }
  layout.max_depth = limits.max_depth;
  layout.max_models = limits.max_models;
  layout.valid = true;
}

// The payload read against the layout of one before it: every run of text between values must
// be the same bytes, so the structure and every key (the models' names too) are the same (no key
// twice, the same depth, the names in the order the layout sorted); the values are read and
// applied by the full read's own functions. Every member of `event` but time_ms and seq is
// written over, its strings where they stand. 0 at the first difference: the caller reads the
// payload in full.
std::size_t read_with_layout(std::string_view text, const EscapedPayloadLayout& layout,
                             TradeIntent& event, const ParseLimits& limits) {
  if (layout.max_depth != limits.max_depth || layout.max_models != limits.max_models) return 0;
  FastReader<true> r(text, limits.max_depth);
  const std::string_view literals = layout.literals;
  auto& predictions = event.predictions;
  // Each prediction is written where the layout's names sorted: no sort, no move.
  predictions.resize(layout.model_order.size());
  event.side.reset();
  event.confidence = std::numeric_limits<double>::quiet_NaN();
  std::size_t models_read = 0;
  Prediction* current = nullptr;
  unsigned seen = 0;
  PredictionState state;
  for (const auto& slot : layout.slots) {
    if (!r.literal(literals.substr(slot.literal_offset, slot.literal_size))) return 0;
    if (slot.starts_model) {
      if (current != nullptr && !finish_prediction(state, *current)) return 0;
      current = &predictions[layout.model_order[models_read]];
      assign_text(current->model, layout.model_names[models_read]);
      state = PredictionState{};
      // Its string is matched with the text after a value of this prediction (the literal
      // of the next slot or the tail): a difference there returns 0 before it is used.
      if (layout.folded_model_string[models_read] != 0) {
        assign_text(current->model_string, layout.model_strings[models_read]);
        state.seen |= kModelStringSeen;
      }
      ++models_read;
    }
    const auto role = static_cast<Role>(slot.role);
    Scalar v;
    if (slot.string) {
      v.kind = Kind::kString;
      if (!r.string_after_quote(v.text)) return 0;
    } else if (!r.value(v) || v.kind == Kind::kOther) {
      // An object or array where the layout had a scalar: the full read judges its depth.
      return 0;
    }
    if (is_prediction_role(role)) {
      if (current == nullptr || !apply_prediction(role, v, state, *current)) return 0;
    } else if (!apply_envelope(role, v, seen, event)) {
      return 0;
    }
  }
  if (current != nullptr && !finish_prediction(state, *current)) return 0;
  if (!r.literal(layout.tail) || predictions.empty()) return 0;
  // What the payload did not send is as a full read of a cleared event leaves it.
  if ((seen & 1) == 0) event.symbol.clear();
  const auto consumed = static_cast<std::size_t>(r.position() - text.data());
  return consumed - 1 > limits.max_payload_bytes ? 0 : consumed;
}

}  // namespace

std::size_t read_escaped_payload(std::string_view text, TradeIntent& event, bool& has_breakdown,
                                 const ParseLimits& limits, EscapedPayloadLayout* layout) {
  if (layout != nullptr && layout->valid) {
    if (const std::size_t taken = read_with_layout(text, *layout, event, limits); taken != 0) {
      has_breakdown = true;
      return taken;
    }
  }
  clear_payload(event);
  has_breakdown = false;
  FastReader<true> r(text, limits.max_depth);
  LayoutRecorder recorder;
  LayoutRecorder* const noting = layout != nullptr ? &recorder : nullptr;
  std::size_t taken = 0;
  if (fast_payload(r, limits, event, has_breakdown, noting)) {
    taken = through_closing_quote(r, text, limits);
  }
  // Only a payload with its breakdown is a layout to read the next one by. Any other (the
  // legacy form's, one the fast path gives up on) leaves the layout as it was, so a recording
  // that mixes the forms (27% of the bundled sample's lines are legacy ones, between the others)
  // reads its usual payloads by their layout still: a layout is a guess checked byte by byte,
  // and an older one reads a payload right or not at all.
  if (layout != nullptr && taken != 0 && has_breakdown) {
    keep_layout(recorder, text, taken, limits, *layout);
  }
  return taken;
}

std::size_t read_escaped_breakdown(std::string_view text, TradeIntent& event,
                                   const ParseLimits& limits) {
  FastReader<true> r(text, limits.max_depth);
  if (!fast_breakdown(r, limits, event)) return 0;
  return through_closing_quote(r, text, limits);
}

void ParseCounts::add(const ParseOutcome& outcome) noexcept {
  if (std::holds_alternative<TradeIntent>(outcome)) {
    ++accepted;
  } else if (std::holds_alternative<Skipped>(outcome)) {
    ++skipped;
  } else {
    ++rejected[static_cast<std::size_t>(std::get<Rejection>(outcome).reason)];
  }
}

std::uint64_t ParseCounts::rejected_total() const noexcept {
  std::uint64_t total = 0;
  for (auto n : rejected) total += n;
  return total;
}

double ParseCounts::rejected_pct() const noexcept {
  const auto bad = rejected_total();
  const auto all = accepted + bad;
  return all == 0 ? 0.0 : static_cast<double>(bad) * 100.0 / static_cast<double>(all);
}

}  // namespace qsc
