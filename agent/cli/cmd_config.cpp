// `qsc config`: prints the effective configuration (after defaults and QSC_REDIS_URL), so a user
// can see what every other command will use, with its SHA-256 (the digest every audit entry and
// report carries). Loading validated the agent's keys; each plugins.config.<name> section is
// checked against the schema its plugin declares (no plugin is created for that), and only a
// section of a plugin without a schema is left to the plugin itself to check.
#include <iostream>

#include "cli/command.hpp"
#include "plugin_host/config_schema.hpp"
#include "plugin_host/plugin_host.hpp"

namespace qsc::agent {
namespace {

/// Splits "a; b; c" into its items (how a Status lists several problems).
void append_items(const std::string& listed, std::vector<std::string>& out) {
  std::size_t start = 0;
  for (std::size_t at = listed.find("; "); at != std::string::npos; at = listed.find("; ", start)) {
    out.push_back(listed.substr(start, at - start));
    start = at + 2;
  }
  out.push_back(listed.substr(start));
}

/// Every section's problems found from the plugins' schemas; *needs_plugins is set when a
/// configured plugin declares no schema (its section can only be checked by creating it).
Result<std::vector<std::string>> schema_problems(const Config& config, bool* needs_plugins) {
  auto described = PluginHost::describe(config);
  if (!described) return described.error();
  std::vector<std::string> problems;
  if (auto s = described->startup_status(); !s) append_items(s.error().message, problems);
  const auto host = config.to_json();
  const auto sections =
      host.value("plugins", nlohmann::json::object()).value("config", nlohmann::json());
  if (!sections.is_object()) return problems;
  for (const auto& [name, section] : sections.items()) {
    for (const auto& r : described->records()) {
      if (r.name != name || r.status != "described") continue;
      if (r.config_schema.is_null()) {
        *needs_plugins = true;
      } else if (auto s = config_schema::validate(r.config_schema, section, name, host); !s) {
        append_items(s.error().message, problems);
      }
    }
  }
  return problems;
}

class ConfigCommand final : public Command {
 public:
  std::string name() const override { return "config"; }
  std::string summary() const override {
    return "validate the configuration and print the effective settings as JSON";
  }
  void setup(CLI::App& app) override {
    app.footer(
        "Checks every plugins.config.<name> section against the schema its plugin declares "
        "(an unknown key, a wrong type or a value out of range is refused, naming the plugin, "
        "the key and the allowed range) without creating any plugin; a plugin that declares no "
        "schema is created so that it checks its own section. "
        "Prints config_sha256, the SHA-256 of the effective configuration that every audit "
        "entry and report carries. Exit 0 when the configuration is valid; 2 with every "
        "problem listed otherwise.");
  }
  int run(CommandContext& context) override {
    bool needs_plugins = false;
    auto problems = schema_problems(context.config, &needs_plugins);
    if (problems && problems->empty() && needs_plugins) {
      auto host = PluginHost::open(context.config);
      if (!host) {
        problems = host.error();
      } else if (auto s = host->startup_status(); !s) {
        append_items(s.error().message, *problems);
      }
    }
    if (!problems) {
      std::cerr << "qsc config: plugins: " << problems.error().message << "\n";
      return exit_code::kError;
    }
    if (!problems->empty()) {
      // One problem a line, as the agent's own keys are listed.
      std::cerr << "qsc config: configuration " << context.config.loaded_from
                << " is invalid (plugin sections):\n";
      for (const auto& p : *problems) std::cerr << "  - " << p << "\n";
      return exit_code::kError;
    }
    auto doc = context.config.to_json();
    // Never echo a password embedded in the Redis URL.
    auto& url = doc["telemetry"]["redis_url"];
    const auto text = url.get<std::string>();
    if (auto at = text.find('@'); at != std::string::npos) {
      const auto scheme = text.find("://");
      url = text.substr(0, scheme == std::string::npos ? 0 : scheme + 3) + "***" + text.substr(at);
    }
    std::cout << "# loaded from: " << context.config.loaded_from << "\n"
              << "# config_sha256: " << context.config.sha256 << "\n"
              << doc.dump(2) << "\n";
    return exit_code::kOk;
  }
};

QSC_REGISTER_COMMAND(ConfigCommand);

}  // namespace
}  // namespace qsc::agent
