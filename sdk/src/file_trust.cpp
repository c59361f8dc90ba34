// The ownership and mode rule for files that steer the agent, and the open-once trusted read.
#include "qsc/file_trust.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "qsc/durable_file.hpp"

namespace qsc {
namespace {

std::string octal_mode(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

std::string ownership_problem(const struct stat& st, std::string_view what, const std::string& path,
                              FileSecrecy secrecy) {
  const std::string name(what);
  if (secrecy == FileSecrecy::kSecret && (st.st_mode & 077) != 0) {
    return name + " is accessible to group or others (mode " + octal_mode(st.st_mode) +
           "): refused, since it holds a secret; chmod 600 " + path;
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    return name + " is writable by group or others (mode " + octal_mode(st.st_mode) +
           "): chmod go-w " + path;
  }
  // Root may own it: root can change anything the agent runs anyway.
  const uid_t me = ::geteuid();
  if (st.st_uid != 0 && st.st_uid != me) {
    return name + " is owned by uid " + std::to_string(st.st_uid) +
           ", neither root nor this agent's user (uid " + std::to_string(me) + "): chown " +
           std::to_string(me) + " " + path;
  }
  return {};
}

Result<std::string> read_trusted_file(const std::filesystem::path& path, std::string_view what,
                                      FileSecrecy secrecy) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error{"cannot read " + std::string(what) + ": " + errno_text(errno)};
  }
  struct stat st {};
  std::string problem;
  if (::fstat(fd, &st) != 0) {
    problem = "cannot read " + std::string(what) + ": " + errno_text(errno);
  } else if (!S_ISREG(st.st_mode)) {
    problem = std::string(what) + " is not a regular file";
  } else {
    problem = ownership_problem(st, what, path.string(), secrecy);
  }
  if (!problem.empty()) {
    ::close(fd);
    return Error{problem};
  }
  auto text = read_open_file(fd, path);
  ::close(fd);
  return text;
}

}  // namespace qsc
