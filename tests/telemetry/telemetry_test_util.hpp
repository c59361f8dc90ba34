// Helpers shared by the telemetry tests: payloads in both of the contract's forms, and a raw
// hiredis writer (the tests publish like an engine would, independent of the code under test).
#pragma once

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "../support/redis_fixture.hpp"

namespace qsc::test {

/// Cutover used throughout: 2026-01-10T05:43:15Z.
inline constexpr std::int64_t kCutoverMs = 1768023795000;

/// A payload with model_breakdown inside (the current producers' form).
inline std::string payload_inline(int i) {
  const char* actions[] = {"BUY", "SELL", "HOLD"};
  std::string conf = std::to_string(0.5 + (i % 7) * 0.05);
  return std::string("{\"symbol\":\"BTCUSDT\",\"side\":\"") + actions[i % 3] +
         "\",\"confidence\":0.7,\"model_breakdown\":{\"xgb\":{\"action\":\"" + actions[i % 3] +
         "\",\"confidence\":" + conf + ",\"model\":\"xgboost\"},\"patchtst\":{\"action\":\"" +
         actions[(i + 1) % 3] + "\",\"confidence\":0.61,\"model\":\"patchtst\",\"shadow\":false}}}";
}

/// The older producers' form: model_breakdown as a field of its own holding a JSON string.
inline std::vector<std::pair<std::string, std::string>> fields_legacy(int i) {
  const char* actions[] = {"BUY", "SELL", "HOLD"};
  return {{"event_type", "trade.intent"},
          {"payload", "{\"symbol\":\"ETHUSDT\",\"side\":\"BUY\",\"confidence\":0.6}"},
          {"model_breakdown", std::string("{\"xgb\":{\"action\":\"") + actions[i % 3] +
                                  "\",\"confidence\":0.55},\"lgbm\":{\"action\":\"HOLD\","
                                  "\"confidence\":0.6}}"}};
}

/// Fields of a healthy trade.intent in the inline form.
inline std::vector<std::pair<std::string, std::string>> fields_inline(int i) {
  return {{"event_type", "trade.intent"}, {"payload", payload_inline(i)}};
}

/// A direct hiredis connection to the fixture's server.
class RawRedis {
 public:
  explicit RawRedis(int port, const std::string& password = "") {
    timeval tv{2, 0};
    ctx_ = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (ctx_ != nullptr && ctx_->err == 0 && !password.empty()) {
      freeReplyObject(redisCommand(ctx_, "AUTH %s", password.c_str()));
    }
  }
  ~RawRedis() {
    if (ctx_ != nullptr) redisFree(ctx_);
  }
  RawRedis(const RawRedis&) = delete;
  RawRedis& operator=(const RawRedis&) = delete;

  bool ok() const { return ctx_ != nullptr && ctx_->err == 0; }

  /// XADD with an explicit ID ("<ms>-<seq>"); returns the error text ("" on success).
  std::string xadd(const std::string& stream, const std::string& id,
                   const std::vector<std::pair<std::string, std::string>>& fields) {
    std::vector<std::string> args{"XADD", stream, id};
    for (const auto& [k, v] : fields) {
      args.push_back(k);
      args.push_back(v);
    }
    return run(args);
  }

  /// Runs a command with an integer reply (XLEN, ...); -1 on any failure.
  long long integer(const std::vector<std::string>& args) {
    auto* r = command(args);
    if (r == nullptr) return -1;
    const long long value = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return value;
  }

  /// Runs a command; returns the error text ("" on success).
  std::string run(const std::vector<std::string>& args) {
    auto* r = command(args);
    if (r == nullptr)
      return std::string("io: ") + (ctx_ != nullptr ? ctx_->errstr : "no connection");
    std::string err = r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "";
    freeReplyObject(r);
    return err;
  }

 private:
  redisReply* command(const std::vector<std::string>& args) {
    if (!ok()) return nullptr;
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(args.size()), argv.data(), lens.data()));
  }
  redisContext* ctx_ = nullptr;
};

/// "<ms>-<seq>".
inline std::string sid(std::int64_t ms, std::uint64_t seq = 0) {
  return std::to_string(ms) + "-" + std::to_string(seq);
}

/// A cutover fifteen minutes before now, in whole seconds: events stamped shortly after it are
/// fresh, as `qsc telemetry`, `gate` and `activate` require (they refuse events older than
/// telemetry.stale_after on the wall clock).
inline std::int64_t recent_cutover_ms() {
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return (now_ms - 15 * 60'000) / 1000 * 1000;
}

/// `ms` as ISO-8601 UTC ("2026-01-10T05:43:15Z") or, with `systemd_form`, as systemctl prints
/// it ("Sat 2026-01-10 05:43:15 UTC"); without strftime, whose %a depends on the locale.
inline std::string utc_text(std::int64_t ms, bool systemd_form = false) {
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  if (systemd_form) {
    std::snprintf(buf, sizeof buf, "%s %04d-%02d-%02d %02d:%02d:%02d UTC", kDays[tm.tm_wday],
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  return buf;
}

}  // namespace qsc::test
