// `qsc config`: prints the effective configuration (after defaults and QSC_REDIS_URL), so a user
// can see what every other command will use, with its SHA-256 (the digest every audit entry and
// report carries). Loading validated the agent's keys; the plugins validate their own sections,
// so they are loaded here too and every section they refuse is listed.
#include <iostream>

#include "cli/command.hpp"
#include "plugin_host/plugin_host.hpp"

namespace qsc::agent {
namespace {

class ConfigCommand final : public Command {
 public:
  std::string name() const override { return "config"; }
  std::string summary() const override {
    return "validate the configuration and print the effective settings as JSON";
  }
  void setup(CLI::App& app) override {
    app.footer(
        "Loads the plugins so that they check their plugins.config sections too (a threshold "
        "at which a check could never fire is refused, naming the key and the allowed range). "
        "Prints config_sha256, the SHA-256 of the effective configuration that every audit "
        "entry and report carries. Exit 0 when the configuration is valid; 2 with every "
        "problem listed otherwise.");
  }
  int run(CommandContext& context) override {
    auto host = PluginHost::open(context.config);
    if (!host) {
      std::cerr << "qsc config: plugins: " << host.error().message << "\n";
      return exit_code::kError;
    }
    if (auto s = host->startup_status(); !s) {
      // One refusal a line, as the agent's own keys are listed.
      std::string listed = s.error().message;
      for (std::size_t at = 0; (at = listed.find("; plugin ", at)) != std::string::npos;) {
        listed.replace(at, 2, "\n  - ");
      }
      std::cerr << "qsc config: configuration " << context.config.loaded_from
                << " is invalid (plugin sections):\n  - " << listed << "\n";
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
