// `qsc config`: prints the effective configuration (after defaults and QSC_REDIS_URL), so a user
// can see what every other command will use. Loading already validated it.
#include <iostream>

#include "cli/command.hpp"

namespace qsc::agent {
namespace {

class ConfigCommand final : public Command {
 public:
  std::string name() const override { return "config"; }
  std::string summary() const override {
    return "validate the configuration and print the effective settings as JSON";
  }
  void setup(CLI::App& app) override {
    app.footer("Exit 0 when the configuration is valid; 2 with every problem listed otherwise.");
  }
  int run(CommandContext& context) override {
    auto doc = context.config.to_json();
    // Never echo a password embedded in the Redis URL.
    auto& url = doc["telemetry"]["redis_url"];
    const auto text = url.get<std::string>();
    if (auto at = text.find('@'); at != std::string::npos) {
      const auto scheme = text.find("://");
      url = text.substr(0, scheme == std::string::npos ? 0 : scheme + 3) + "***" + text.substr(at);
    }
    std::cout << "# loaded from: " << context.config.loaded_from << "\n" << doc.dump(2) << "\n";
    return exit_code::kOk;
  }
};

QSC_REGISTER_COMMAND(ConfigCommand);

}  // namespace
}  // namespace qsc::agent
