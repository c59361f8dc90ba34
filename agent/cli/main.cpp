// The qsc command: global options, then one subcommand from the registry.
#include <unistd.h>

#include <iostream>

#include "cli/command.hpp"
#include "logging/journal_logger.hpp"

namespace qsc::agent {

std::vector<std::unique_ptr<Command>>& command_registry() {
  static std::vector<std::unique_ptr<Command>> commands;
  return commands;
}

bool register_command(std::unique_ptr<Command> command) {
  command_registry().push_back(std::move(command));
  return true;
}

}  // namespace qsc::agent

int main(int argc, char** argv) {
  using namespace qsc::agent;
  // spdlog's lines (plugin host, actions, metrics) in the form stderr needs (journal or not).
  install_default_logger();
  CLI::App app{
      "QSC (Quality Safeguard Canary): gate, activate, monitor and roll back a canary model in a "
      "live ML trading ensemble.\nNo PASS, no deploy. No telemetry, no decision. No manual "
      "override."};
  app.require_subcommand(1);
  app.footer(
      "Runbook: qsc telemetry -> qsc gate --after TS -> qsc activate --model M --cutover TS -> "
      "qsc monitor -> qsc promote / qsc rollback.\nConfiguration: --config PATH, else ./qsc.json, "
      "else /etc/qsc/qsc.json, else built-in defaults.");
  std::optional<std::string> config_path;
  app.add_option("--config", config_path, "configuration file (JSON)");

  auto& registry = command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const auto& a, const auto& b) { return a->name() < b->name(); });
  std::vector<std::pair<CLI::App*, Command*>> subs;
  for (auto& command : registry) {
    auto* sub = app.add_subcommand(command->name(), command->summary());
    command->setup(*sub);
    subs.emplace_back(sub, command.get());
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    // CLI11 returns 0 for --help; a usage error is an error (2) whatever CLI11 thinks.
    return rc == 0 ? 0 : exit_code::kError;
  }
  for (auto [sub, command] : subs) {
    if (!sub->parsed()) continue;
    CommandContext context;
    context.config_path = config_path;
    auto config = load_config(config_path);
    if (!config) {
      std::cerr << "qsc: " << config.error().message << "\n";
      return exit_code::kError;
    }
    for (const auto& warning : config->warnings) std::cerr << "qsc: warning: " << warning << "\n";
    context.config = std::move(config).value();
    try {
      return command->run(context);
    } catch (const std::exception& e) {
      // Commands return errors as values; this is the last line of defence, and it fails closed.
      std::cerr << "qsc " << command->name() << ": internal error: " << e.what() << "\n";
      return exit_code::kError;
    }
  }
  return exit_code::kError;
}
