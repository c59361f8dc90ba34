// The log form of the built qsc: syslog priority prefixes only when stderr is the journal's
// stream (JOURNAL_STREAM names its device and inode, as systemd sets it for a unit), plain UTC
// lines otherwise, including when JOURNAL_STREAM was inherited but stderr goes elsewhere.
#include <sys/stat.h>

#include <fstream>
#include <regex>

#include "e2e_harness.hpp"

namespace qsc::metrics_test {
namespace {

using std::chrono::milliseconds;

class JournalLog : public monitor_test::MonitorE2E {
 protected:
  // `qsc monitor` with no canary: the endpoint logs that it serves, then the monitor refuses
  // (exit 2). `journal` decides what JOURNAL_STREAM says about the stderr file.
  std::string monitor_stderr(const std::string& tag, bool journal_is_stderr) {
    write_config({{"metrics", {{"listen", "127.0.0.1:0"}}}});
    const auto err_file = dir_ / (tag + ".err");
    std::ofstream(err_file).close();
    struct stat st {};
    EXPECT_EQ(::stat(err_file.c_str(), &st), 0);
    const std::string stream =
        journal_is_stderr ? std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)
                          : std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
    auto c = monitor_test::spawn({QSC_BINARY, "monitor"}, dir_, tag, {"JOURNAL_STREAM=" + stream});
    EXPECT_TRUE(c.wait(milliseconds(60'000)));
    EXPECT_EQ(c.exit_code, 2) << c.stdout_text() << c.stderr_text();
    return c.stderr_text();
  }
};

TEST_F(JournalLog, LinesCarrySyslogPrioritiesWhenStderrIsTheJournal) {
  const auto err = monitor_stderr("journal", true);
  EXPECT_TRUE(std::regex_search(err, std::regex(R"((^|\n)<6>info metrics: serving http://)")))
      << err;
  EXPECT_FALSE(std::regex_search(err, std::regex(R"((^|\n)\d{4}-\d\d-\d\dT)"))) << err;
}

TEST_F(JournalLog, LinesArePlainUtcWhenJournalStreamIsNotStderr) {
  const auto err = monitor_stderr("inherited", false);
  EXPECT_TRUE(std::regex_search(
      err,
      std::regex(R"((^|\n)\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info metrics: serving http://)")))
      << err;
  EXPECT_EQ(err.find("<6>"), std::string::npos) << err;
}

}  // namespace
}  // namespace qsc::metrics_test
