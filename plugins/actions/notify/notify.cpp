// The notify action: tells the on-call people what happened to the canary.
//
// Channels (plugins.config.notify.channels, none by default): a generic JSON webhook (the whole
// incident), a Slack incoming webhook (a readable message), PagerDuty Events API v2 (trigger on
// rollback with a dedup key stable per canary activation, resolve when monitoring completes
// clean) and exec (a program with the incident JSON on its standard input). A failed earlier
// action (rollback, systemd) escalates: severity critical, the failure quoted. Delivery failures
// are reported in the outcome, never thrown: the rollback has already happened.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "http.hpp"
#include "qsc/action.hpp"
#include "qsc/config_section.hpp"
#include "qsc/json_limits.hpp"
#include "qsc/percent_text.hpp"
#include "qsc/plugin.hpp"
#include "qsc/process.hpp"
#include "secrets.hpp"

namespace qsc::actions::notify {
namespace {

using nlohmann::json;

constexpr const char* kPagerDutyDefaultUrl = "https://events.pagerduty.com/v2/enqueue";
constexpr const char* kAllKinds[] = {"activate", "rollback", "promote", "finalize", "resolved"};
// PagerDuty limits (Events API v2): summary 1024 characters, dedup_key 255.
constexpr std::size_t kMaxSummary = 1024;
constexpr std::size_t kMaxDedupKey = 255;

enum class ChannelType { kWebhook, kSlack, kPagerDuty, kExec };

/// One configured channel.
struct Channel {
  ChannelType type = ChannelType::kWebhook;
  std::string type_name;
  std::string name;                 ///< shown in details; defaults to the type
  std::vector<std::string> events;  ///< incident kinds it is sent for
  HttpSettings http;
  Secret url;                     ///< webhook, slack
  Secret token;                   ///< webhook (optional bearer token)
  Secret routing_key;             ///< pagerduty
  std::string endpoint;           ///< pagerduty: the Events API URL (not a secret)
  std::string source;             ///< pagerduty: payload.source; empty = the incident's host
  std::vector<std::string> argv;  ///< exec
  long exec_timeout_ms = 10000;   ///< exec
};

/// JSON text that never throws: invalid UTF-8 (a program's odd output quoted in an earlier
/// outcome, say) becomes U+FFFD instead of an exception that would lose the whole notification.
std::string dump(const json& doc) {
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

json parse_or_text(const std::string& text) {
  if (text.empty()) return json::object();
  if (qsc::json_too_deep_at(text)) return json(text);
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? json(text) : parsed;
}

std::vector<const ActionOutcome*> failed_earlier(const Incident& incident) {
  std::vector<const ActionOutcome*> failed;
  for (const auto& o : incident.earlier) {
    if (!o.ok) failed.push_back(&o);
  }
  return failed;
}

/// critical when an earlier action (rollback, systemd) failed, error for a rollback, else info.
std::string severity_of(const Incident& incident) {
  if (!failed_earlier(incident).empty()) return "critical";
  return incident.kind == IncidentKind::kRollback ? "error" : "info";
}

/// The incident as the generic webhook and exec receive it.
json incident_document(const Incident& incident) {
  json earlier = json::array();
  json failed = json::array();
  for (const auto& o : incident.earlier) {
    earlier.push_back(
        {{"action", o.action}, {"ok", o.ok}, {"detail", o.detail}, {"duration_ms", o.duration_ms}});
    if (!o.ok) failed.push_back(o.action);
  }
  return json{{"source", "qsc"},
              {"kind", std::string(incident_kind_name(incident.kind))},
              {"severity", severity_of(incident)},
              {"trigger", incident.trigger},
              {"reason", incident.reason},
              {"canary_model", incident.canary_model},
              {"canary_weight", incident.canary_weight},
              {"violations", incident.violations},
              {"figures", parse_or_text(incident.figures_json)},
              {"state", parse_or_text(incident.state_json)},
              {"host", incident.hostname},
              {"timestamp", incident.timestamp},
              {"earlier", earlier},
              {"failed_actions", failed}};
}

/// Slack's mrkdwn treats &, < and > as control characters; violation messages contain '>'.
std::string slack_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else {
      out += c;
    }
  }
  return out;
}

std::string slack_text(const Incident& incident) {
  const std::string model = "`" + slack_escape(incident.canary_model) + "`";
  const std::string host =
      incident.hostname.empty() ? "" : " on `" + slack_escape(incident.hostname) + "`";
  std::string text;
  switch (incident.kind) {
    case IncidentKind::kRollback:
      text = ":rotating_light: *QSC: VIOLATION DETECTED - ROLLBACK EXECUTED*: canary " + model +
             " (" + weight_percent(incident.canary_weight) + ")" + host;
      break;
    case IncidentKind::kActivate:
      text = ":rocket: *QSC: canary activated*: " + model + " at " +
             weight_percent(incident.canary_weight) + host;
      break;
    case IncidentKind::kPromote:
      text = ":arrow_up: *QSC: canary promoted*: " + model + " to " +
             weight_percent(incident.canary_weight) + host;
      break;
    case IncidentKind::kFinalize:
      text = ":white_check_mark: *QSC: canary finalized*: " + model +
             " is now in the live weights" + host;
      break;
    case IncidentKind::kResolved:
      text =
          ":white_check_mark: *QSC: monitoring completed - no violations*: canary " + model + host;
      break;
  }
  for (const auto* o : failed_earlier(incident)) {
    text += "\n:fire: *CRITICAL: the " + slack_escape(o->action) +
            " action FAILED*: " + slack_escape(o->detail);
  }
  if (!incident.trigger.empty()) text += "\nTrigger: " + slack_escape(incident.trigger);
  if (!incident.reason.empty()) text += "\nReason: " + slack_escape(incident.reason);
  if (!incident.violations.empty()) {
    text += "\nViolations:";
    for (const auto& v : incident.violations) text += "\n• ❌ " + slack_escape(v);
  }
  if (!incident.earlier.empty()) {
    std::string actions;
    for (const auto& o : incident.earlier) {
      actions +=
          (actions.empty() ? "" : ", ") + slack_escape(o.action) + (o.ok ? " ok" : " FAILED");
    }
    text += "\nActions: " + actions;
  }
  if (!incident.timestamp.empty()) text += "\nTime: " + slack_escape(incident.timestamp);
  return text;
}

/// The activation's start from the canary state, so that every page about one activation shares
/// one dedup key (a flapping check then updates the open alert instead of paging again).
std::string activation_start(const Incident& incident) {
  const json state = parse_or_text(incident.state_json);
  if (!state.is_object()) return {};
  for (const char* key : {"activated_at", "start", "started_at", "start_time"}) {
    const auto it = state.find(key);
    if (it == state.end()) continue;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number()) return it->dump();
  }
  return {};
}

std::string dedup_key(const Incident& incident) {
  std::string model = incident.canary_model;
  if (model.empty()) {
    const json state = parse_or_text(incident.state_json);
    if (state.is_object() && state.contains("model") && state["model"].is_string()) {
      model = state["model"].get<std::string>();
    }
  }
  std::string key = "qsc-" + (model.empty() ? std::string("canary") : model);
  if (const std::string start = activation_start(incident); !start.empty()) key += "-" + start;
  return key.substr(0, kMaxDedupKey);
}

json pagerduty_trigger(const Incident& incident, const Channel& channel) {
  const auto failed = failed_earlier(incident);
  std::string summary;
  if (!failed.empty()) {
    std::string names;
    for (const auto* o : failed) names += (names.empty() ? "" : ", ") + o->action;
    summary = "[" + names + " FAILED] ";
  }
  summary += "QSC rolled back canary " + incident.canary_model;
  if (!incident.hostname.empty()) summary += " on " + incident.hostname;
  if (!incident.violations.empty()) {
    summary += ": " + incident.violations.front();
    if (incident.violations.size() > 1) {
      summary += " (+" + std::to_string(incident.violations.size() - 1) + " more)";
    }
  } else if (!incident.reason.empty()) {
    summary += ": " + incident.reason;
  }
  json payload{{"summary", summary.substr(0, kMaxSummary)},
               {"source", channel.source.empty()
                              ? (incident.hostname.empty() ? std::string("qsc") : incident.hostname)
                              : channel.source},
               {"severity", failed.empty() ? "error" : "critical"},
               {"component", incident.canary_model},
               {"group", "qsc"},
               {"class", "canary_violation"},
               // The whole incident, as the webhook gets it: on-call sees every figure.
               {"custom_details", incident_document(incident)}};
  if (!incident.timestamp.empty()) payload["timestamp"] = incident.timestamp;
  return json{{"routing_key", channel.routing_key.value},
              {"event_action", "trigger"},
              {"dedup_key", dedup_key(incident)},
              {"client", "qsc"},
              {"payload", payload}};
}

json pagerduty_resolve(const Incident& incident, const Channel& channel) {
  return json{{"routing_key", channel.routing_key.value},
              {"event_action", "resolve"},
              {"dedup_key", dedup_key(incident)}};
}

HttpSettings read_http(ConfigSection& cfg, const HttpSettings& defaults) {
  HttpSettings s;
  s.connect_timeout_ms = static_cast<long>(cfg.number(
      "connect_timeout_ms", static_cast<double>(defaults.connect_timeout_ms), 1, 600'000));
  s.timeout_ms = static_cast<long>(
      cfg.number("timeout_ms", static_cast<double>(defaults.timeout_ms), 1, 600'000));
  s.retries = static_cast<int>(cfg.number("retries", defaults.retries, 0, 10));
  s.backoff_initial_ms = static_cast<long>(cfg.number(
      "backoff_initial_ms", static_cast<double>(defaults.backoff_initial_ms), 0, 600'000));
  s.backoff_max_ms = static_cast<long>(
      cfg.number("backoff_max_ms", static_cast<double>(defaults.backoff_max_ms), 0, 3'600'000));
  return s;
}

json http_json(const HttpSettings& s) {
  return json{{"connect_timeout_ms", s.connect_timeout_ms},
              {"timeout_ms", s.timeout_ms},
              {"retries", s.retries},
              {"backoff_initial_ms", s.backoff_initial_ms},
              {"backoff_max_ms", s.backoff_max_ms}};
}

bool is_http_url(const std::string& url) {
  return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
}

/// The part of a URL after scheme://host[:port]: in webhook URLs that is where the secret is,
/// so it is scrubbed on its own too (an error text might quote the path without the host).
std::string url_path(const std::string& url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string::npos) return {};
  const std::size_t slash = url.find('/', scheme + 3);
  if (slash == std::string::npos) return {};
  std::string path = url.substr(slash);
  return path.size() >= 8 ? path : std::string();
}

Result<Channel> read_channel(const json& section, std::size_t index, const HttpSettings& defaults) {
  const std::string where = "plugins.config.notify.channels[" + std::to_string(index) + "]";
  ConfigSection cfg(section, where);
  Channel ch;
  ch.type_name = cfg.string("type", "");
  if (ch.type_name == "webhook") {
    ch.type = ChannelType::kWebhook;
  } else if (ch.type_name == "slack") {
    ch.type = ChannelType::kSlack;
  } else if (ch.type_name == "pagerduty") {
    ch.type = ChannelType::kPagerDuty;
  } else if (ch.type_name == "exec") {
    ch.type = ChannelType::kExec;
  } else {
    cfg.fail("type",
             "must be one of webhook, slack, pagerduty, exec; got \"" + ch.type_name + "\"");
  }
  ch.name = cfg.string("name", ch.type_name);

  if (ch.type == ChannelType::kPagerDuty) {
    ch.events = {"rollback", "resolved"};
  } else {
    ch.events.assign(std::begin(kAllKinds), std::end(kAllKinds));
  }
  if (const json* events = cfg.raw("events")) {
    ch.events.clear();
    if (!events->is_array()) {
      cfg.fail("events",
               "must be an array of incident kinds (activate, rollback, promote, "
               "finalize, resolved)");
    } else {
      for (const auto& e : *events) {
        const bool known = e.is_string() && std::any_of(std::begin(kAllKinds), std::end(kAllKinds),
                                                        [&](const char* k) { return e == k; });
        if (!known) {
          cfg.fail("events", e.dump() +
                                 " is not an incident kind (activate, rollback, promote, "
                                 "finalize, resolved)");
        } else {
          ch.events.push_back(e.get<std::string>());
        }
      }
    }
  }

  switch (ch.type) {
    case ChannelType::kWebhook:
      ch.http = read_http(cfg, defaults);
      ch.url = read_secret(cfg, "url", true);
      ch.token = read_secret(cfg, "token", false);
      break;
    case ChannelType::kSlack:
      ch.http = read_http(cfg, defaults);
      ch.url = read_secret(cfg, "url", true);
      break;
    case ChannelType::kPagerDuty:
      ch.http = read_http(cfg, defaults);
      ch.routing_key = read_secret(cfg, "routing_key", true);
      // The endpoint is public (the secret is the routing key), so it may sit in the file.
      ch.endpoint = cfg.string("url", kPagerDutyDefaultUrl);
      ch.source = cfg.string("source", "");
      if (!is_http_url(ch.endpoint)) cfg.fail("url", "must be an http:// or https:// URL");
      break;
    case ChannelType::kExec: {
      ch.exec_timeout_ms = static_cast<long>(cfg.number("timeout_ms", 10000, 1, 3'600'000));
      const json* argv = cfg.raw("argv");
      if (argv == nullptr || !argv->is_array() || argv->empty()) {
        cfg.fail("argv", "must be a non-empty array of strings: the program and its arguments");
      } else {
        for (const auto& a : *argv) {
          if (!a.is_string()) {
            cfg.fail("argv", "every element must be a string, got " + a.dump());
          } else {
            ch.argv.push_back(a.get<std::string>());
          }
        }
      }
      break;
    }
  }
  if (ch.type != ChannelType::kPagerDuty && !ch.url.value.empty() && !is_http_url(ch.url.value)) {
    cfg.fail("url_env", "the URL from " + ch.url.origin + " must start with http:// or https://");
  }
  if (auto done = cfg.finish(); !done.ok()) return done.error();
  return ch;
}

}  // namespace

/// Sends the incident to every configured channel that wants its kind.
// The top-level keys; the channels' own keys (type, url, routing key, argv, ...) are checked
// when the plugin is created.
// clang-format off
constexpr const char kNotifySchema[] = R"json({
    "connect_timeout_ms": {"type": "number", "min": 1, "max": 600000, "default": 5000},
    "timeout_ms": {"type": "number", "min": 1, "max": 600000, "default": 10000},
    "retries": {"type": "number", "min": 0, "max": 10, "default": 3},
    "backoff_initial_ms": {"type": "number", "min": 0, "max": 600000, "default": 500},
    "backoff_max_ms": {"type": "number", "min": 0, "max": 3600000, "default": 8000},
    "deadline_ms": {"type": "number", "min": 1, "max": 3600000, "default": 30000},
    "channels": {"type": "object_list", "default": [],
                 "description": "where to send: webhook, slack, pagerduty or exec channels"}
})json";
// clang-format on

class NotifyAction final : public Action {
 public:
  // A page that cannot be sent must never fail a rollback; it runs after the postconditions.
  static constexpr std::uint64_t kPluginFlags = QSC_FLAG_BEST_EFFORT;
  static constexpr const char* kConfigSchema = kNotifySchema;
  using Clock = std::chrono::steady_clock;

  /// Section keys: channels (array), deadline_ms (the whole notification's budget), and the
  /// HTTP defaults connect_timeout_ms, timeout_ms, retries, backoff_initial_ms, backoff_max_ms
  /// that each channel may override.
  static Result<std::unique_ptr<NotifyAction>> create(const nlohmann::json& section,
                                                      const nlohmann::json& /*host*/) {
    ConfigSection cfg(section, "plugins.config.notify");
    auto action = std::unique_ptr<NotifyAction>(new NotifyAction());
    action->defaults_ = read_http(cfg, HttpSettings{});
    // Retries with backoff on several channels could otherwise hold the monitor's exit (and
    // the report of a rollback that already happened) for minutes.
    action->deadline_ms_ = static_cast<long>(
        cfg.number("deadline_ms", static_cast<double>(kDefaultDeadlineMs), 1, 3'600'000));
    const json* channels = cfg.raw("channels");
    if (auto done = cfg.finish(); !done.ok()) return done.error();
    std::string problems;
    if (channels != nullptr && !channels->is_array()) {
      return Error{"plugins.config.notify.channels: must be an array of channel objects"};
    }
    if (channels != nullptr) {
      for (std::size_t i = 0; i < channels->size(); ++i) {
        auto ch = read_channel((*channels)[i], i, action->defaults_);
        if (!ch.ok()) {
          problems += (problems.empty() ? "" : "; ") + ch.error().message;
        } else {
          action->channels_.push_back(std::move(ch).value());
        }
      }
    }
    if (!problems.empty()) return Error{problems};
    for (const auto& ch : action->channels_) {
      for (const Secret* s : {&ch.url, &ch.token, &ch.routing_key}) {
        if (s->value.empty()) continue;
        action->secrets_.push_back(s->value);
        if (const std::string path = url_path(s->value); !path.empty()) {
          action->secrets_.push_back(path);
        }
      }
    }
    // Longest first, so that a secret containing another is scrubbed whole.
    std::sort(action->secrets_.begin(), action->secrets_.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    // libcurl is not touched here: create() runs in every worker, which never sends.
    return action;
  }

  ActionOutcome execute(const Incident& incident) override {
    ActionOutcome out;
    out.action = "notify";
    out.ok = true;
    const std::string kind(incident_kind_name(incident.kind));
    std::vector<std::string> parts;
    const auto deadline = Clock::now() + std::chrono::milliseconds(deadline_ms_);
    for (const auto& ch : channels_) {
      if (std::find(ch.events.begin(), ch.events.end(), kind) == ch.events.end()) continue;
      bool delivered = false;
      if (Clock::now() >= deadline) {
        out.ok = false;
        parts.push_back(ch.name + ": not sent: the notify deadline (deadline_ms " +
                        std::to_string(deadline_ms_) + ") had passed");
        continue;
      }
      parts.push_back(ch.name + ": " + send(ch, incident, deadline, delivered));
      out.ok = out.ok && delivered;
    }
    std::string detail;
    for (const auto& p : parts) detail += (detail.empty() ? "" : "; ") + p;
    out.detail = detail.empty() ? "no channel configured for " + kind : redact(detail, secrets_);
    return out;
  }

  std::string effective_config() const override {
    json channels = json::array();
    for (const auto& ch : channels_) {
      json c{{"type", ch.type_name}, {"name", ch.name}, {"events", ch.events}};
      auto show_secret = [&c](const std::string& key, const Secret& s) {
        if (!s.env_name.empty()) c[key + "_env"] = s.env_name;
        if (!s.file_path.empty()) c[key + "_file"] = s.file_path;
        if (!s.value.empty()) c[key] = "<redacted>";
      };
      switch (ch.type) {
        case ChannelType::kWebhook:
          show_secret("url", ch.url);
          show_secret("token", ch.token);
          c.update(http_json(ch.http));
          break;
        case ChannelType::kSlack:
          show_secret("url", ch.url);
          c.update(http_json(ch.http));
          break;
        case ChannelType::kPagerDuty:
          show_secret("routing_key", ch.routing_key);
          c["url"] = ch.endpoint;
          c["source"] = ch.source;
          c.update(http_json(ch.http));
          break;
        case ChannelType::kExec:
          c["argv"] = ch.argv;
          c["timeout_ms"] = ch.exec_timeout_ms;
          break;
      }
      channels.push_back(c);
    }
    json doc = http_json(defaults_);
    doc["deadline_ms"] = deadline_ms_;
    doc["channels"] = channels;
    return redact(dump(doc), secrets_);
  }

 private:
  NotifyAction() = default;

  /// libcurl, opened by this action's first HTTP send (kept, error included, for the later
  /// ones: the process that sends is short-lived, so a library installed meanwhile is picked up
  /// by the next action's process).
  const Result<std::shared_ptr<const CurlLibrary>>& curl() {
    if (!curl_) curl_.emplace(open_curl_library());
    return *curl_;
  }

  /// Sends to one channel; returns the detail and sets `delivered`.
  std::string send(const Channel& ch, const Incident& incident, Clock::time_point deadline,
                   bool& delivered) {
    delivered = false;
    // Best effort: without libcurl the channel fails with the reason, the others still run.
    switch (ch.type) {
      case ChannelType::kWebhook: {
        if (!curl().ok()) return "failed: " + curl().error().message;
        std::vector<std::string> headers;
        if (!ch.token.value.empty()) headers.push_back("Authorization: Bearer " + ch.token.value);
        const HttpResult r = post_json(**curl(), ch.url.value, dump(incident_document(incident)),
                                       headers, ch.http, deadline);
        delivered = r.delivered;
        return describe(r);
      }
      case ChannelType::kSlack: {
        if (!curl().ok()) return "failed: " + curl().error().message;
        const HttpResult r =
            post_json(**curl(), ch.url.value, dump(json{{"text", slack_text(incident)}}), {},
                      ch.http, deadline);
        delivered = r.delivered;
        return describe(r);
      }
      case ChannelType::kPagerDuty: {
        const bool resolve = incident.kind == IncidentKind::kResolved;
        if (incident.kind != IncidentKind::kRollback && !resolve) {
          // PagerDuty pages people: only a rollback opens an alert, only a clean run closes it.
          delivered = true;
          return "nothing to send for " + std::string(incident_kind_name(incident.kind));
        }
        if (!curl().ok()) return "failed: " + curl().error().message;
        const json body =
            resolve ? pagerduty_resolve(incident, ch) : pagerduty_trigger(incident, ch);
        const HttpResult r = post_json(**curl(), ch.endpoint, dump(body), {}, ch.http, deadline);
        delivered = r.delivered;
        return std::string(resolve ? "resolve" : "trigger") + " " +
               body["dedup_key"].get<std::string>() + " " + describe(r);
      }
      case ChannelType::kExec: {
        const ProcessResult r =
            run_program(ch.argv, dump(incident_document(incident)),
                        std::max(1L, std::min(ch.exec_timeout_ms, remaining_ms(deadline))));
        delivered = r.succeeded();
        return (delivered ? "ran " : "failed: ") + join_argv(ch.argv) + ": " + qsc::describe(r);
      }
    }
    delivered = false;
    return "unknown channel type";
  }

  static constexpr long kDefaultDeadlineMs = 30'000;

  HttpSettings defaults_;
  long deadline_ms_ = kDefaultDeadlineMs;
  std::vector<Channel> channels_;
  std::vector<std::string> secrets_;
  std::optional<Result<std::shared_ptr<const CurlLibrary>>> curl_;
};

}  // namespace qsc::actions::notify

QSC_ACTION_PLUGIN(qsc::actions::notify::NotifyAction, "notify", "1.0.0",
                  "Notifies on-call: JSON webhook, Slack, PagerDuty Events API v2, exec")
