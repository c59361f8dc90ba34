// How a `qsc` subcommand plugs into the CLI: one file a command, registered at static init,
// so adding a command never edits main.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace qsc::agent {

/// Exit codes shared by every command (docs/design.md fixes the per-command meanings).
namespace exit_code {
inline constexpr int kOk = 0;
inline constexpr int kRefused = 1;  ///< gate failed, violation rolled back, promotion refused
inline constexpr int kError = 2;    ///< error, FAIL, too few events
inline constexpr int kInconclusive = 3;
}  // namespace exit_code

/// What every command receives once the command line is parsed.
struct CommandContext {
  Config config;
  std::optional<std::string> config_path;  ///< --config as given
};

/// One subcommand.
class Command {
 public:
  virtual ~Command() = default;
  /// The subcommand's name, e.g. "gate".
  virtual std::string name() const = 0;
  /// One line for `qsc --help`.
  virtual std::string summary() const = 0;
  /// Declares options on the subcommand (and its own footer/description).
  virtual void setup(CLI::App& app) = 0;
  /// Runs after parsing; returns the process exit code.
  virtual int run(CommandContext& context) = 0;
  /// False for commands that must run without a valid configuration (none so far).
  virtual bool needs_config() const { return true; }
};

/// All registered commands, in registration order.
std::vector<std::unique_ptr<Command>>& command_registry();

/// Registers a command; used through QSC_REGISTER_COMMAND.
bool register_command(std::unique_ptr<Command> command);

}  // namespace qsc::agent

#define QSC_REGISTER_COMMAND(Type) \
  static const bool qsc_registered_##Type = ::qsc::agent::register_command(std::make_unique<Type>())
