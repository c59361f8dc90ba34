// Log forms: journal priorities, terminal colours, plain UTC lines.
#include "logging/journal_logger.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

namespace qsc::agent {
namespace {

class PriorityFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*time*/,
              spdlog::memory_buf_t& dest) override {
    const char* prefix = syslog_prefix(msg.level);
    dest.append(prefix, prefix + std::strlen(prefix));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PriorityFlag>();
  }
};

// JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected to the journal.
bool journal_is_stderr() {
  const char* value = std::getenv("JOURNAL_STREAM");
  if (value == nullptr || *value == '\0') return false;
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  if (std::sscanf(value, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

}  // namespace

LogForm stderr_log_form() {
  if (journal_is_stderr()) return LogForm::kJournal;
  return ::isatty(STDERR_FILENO) ? LogForm::kTerminal : LogForm::kPlain;
}

const char* syslog_prefix(spdlog::level::level_enum level) noexcept {
  switch (level) {
    case spdlog::level::critical:
      return "<2>";
    case spdlog::level::err:
      return "<3>";
    case spdlog::level::warn:
      return "<4>";
    case spdlog::level::info:
      return "<6>";
    default:
      return "<7>";
  }
}

void apply_log_form(spdlog::logger& logger, LogForm form) {
  switch (form) {
    case LogForm::kJournal: {
      auto formatter = std::make_unique<spdlog::pattern_formatter>();
      formatter->add_flag<PriorityFlag>('*').set_pattern("%*%l %v");
      logger.set_formatter(std::move(formatter));
      break;
    }
    case LogForm::kTerminal:
      logger.set_pattern("%^[%H:%M:%S.%e] %l%$ %v");
      break;
    case LogForm::kPlain:
      logger.set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
      break;
  }
}

std::shared_ptr<spdlog::logger> stderr_logger(const std::string& name) {
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = spdlog::stderr_color_mt(name);
  apply_log_form(*logger, stderr_log_form());
  return logger;
}

void install_default_logger() {
  spdlog::set_default_logger(stderr_logger("qsc"));
}

}  // namespace qsc::agent
