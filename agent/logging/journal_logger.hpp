// Where a log line goes decides its form. On the systemd journal (stderr is the stream named by
// JOURNAL_STREAM, which systemd sets for a unit's processes) each line starts with its syslog
// priority, "<3>" for an error and so on, so `journalctl -u qsc-monitor -p warning` filters them
// (journald stamps the time itself). On a terminal: short, coloured. Anywhere else (a file, a
// pipe): one plain line with a full UTC timestamp.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace qsc::agent {

/// How log lines are written.
enum class LogForm { kJournal, kTerminal, kPlain };

/// The form for stderr: kJournal when JOURNAL_STREAM names stderr's device and inode (the
/// journal protocol; a variable inherited by a process whose stderr went elsewhere does not
/// count), else kTerminal on a tty, else kPlain.
LogForm stderr_log_form();

/// The syslog priority prefix of a level: "<7>" debug and trace, "<6>" info, "<4>" warning,
/// "<3>" error, "<2>" critical.
const char* syslog_prefix(spdlog::level::level_enum level) noexcept;

/// Sets `logger`'s pattern for `form`.
void apply_log_form(spdlog::logger& logger, LogForm form);

/// A logger on stderr named `name` in the stderr form (the existing one when already made).
std::shared_ptr<spdlog::logger> stderr_logger(const std::string& name);

/// Makes spdlog's default logger (spdlog::info(...) and friends) a stderr logger in that form.
void install_default_logger();

}  // namespace qsc::agent
