// The ownership and mode rule shared by the configuration, the secrets file and the plugin
// loader, on real files: each refusal names the file, the owner or mode, and the fix.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "qsc/file_trust.hpp"

namespace qsc {
namespace {

namespace fs = std::filesystem;

class FileTrust : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "qsc_trust_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path write(const std::string& name, const std::string& text, mode_t mode) {
    const auto path = dir_ / name;
    std::ofstream(path) << text;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }
  fs::path dir_;
};

TEST_F(FileTrust, AnOwnerWritableFileIsRead) {
  const auto path = write("qsc.json", "{}", 0644);
  auto text = read_trusted_file(path, "configuration file " + path.string());
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_EQ(text.value(), "{}");
}

TEST_F(FileTrust, AGroupOrOtherWritableFileIsRefusedWithTheModeAndTheFix) {
  for (const mode_t mode : {0664, 0646, 0666}) {
    const auto path = write("qsc.json", "{}", mode);
    auto text = read_trusted_file(path, "configuration file " + path.string());
    ASSERT_FALSE(text.ok()) << std::oct << mode;
    char mode_text[8];
    std::snprintf(mode_text, sizeof mode_text, "%04o", static_cast<unsigned>(mode));
    EXPECT_EQ(text.error().message, "configuration file " + path.string() +
                                        " is writable by group or others (mode " + mode_text +
                                        "): chmod go-w " + path.string());
  }
}

TEST_F(FileTrust, AFileOwnedByAnotherUserIsRefusedWithTheOwnerAndTheFix) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  const auto path = write("qsc.json", "{}", 0644);
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  auto text = read_trusted_file(path, "configuration file " + path.string());
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().message, "configuration file " + path.string() +
                                      " is owned by uid 65534, neither root nor this agent's "
                                      "user (uid 0): chown 0 " +
                                      path.string());
}

TEST_F(FileTrust, ASecretReadableByOthersIsRefusedButAPrivateOneIsRead) {
  const auto open_secret = write("key", "s3cret", 0644);
  auto refused =
      read_trusted_file(open_secret, "secrets file " + open_secret.string(), FileSecrecy::kSecret);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "secrets file " + open_secret.string() +
                                         " is accessible to group or others (mode 0644): "
                                         "refused, since it holds a secret; chmod 600 " +
                                         open_secret.string());
  const auto private_secret = write("key2", "s3cret", 0600);
  auto read = read_trusted_file(private_secret, "secrets file", FileSecrecy::kSecret);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read.value(), "s3cret");
}

TEST_F(FileTrust, ASymlinkIsJudgedByTheFileItReaches) {
  const auto target = write("target.json", "{}", 0666);
  const auto link = dir_ / "qsc.json";
  fs::create_symlink(target, link);
  auto text = read_trusted_file(link, "configuration file " + link.string());
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.error().message.find("(mode 0666)"), std::string::npos) << text.error().message;
}

TEST_F(FileTrust, ADirectoryIsNotARegularFile) {
  auto text = read_trusted_file(dir_, "configuration file " + dir_.string());
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().message, "configuration file " + dir_.string() + " is not a regular file");
}

}  // namespace
}  // namespace qsc
