// A real redis-server for tests: started on a free loopback port, killed and restarted on the
// same port when a test needs Redis to go away, and cleaned up (process and data directory) at
// the end. Header-only and self-contained (POSIX + the standard library, no hiredis), so any
// test area can include it.
//
//   qsc::test::RedisServer redis;                       // throwaway: --save '' --appendonly no
//   ASSERT_TRUE(redis.start()) << redis.error();
//   use redis.url() / redis.port();
//   redis.kill9(); redis.restart();                     // same port; data only if persistent
//
//   qsc::test::RedisServer::Options o;
//   o.persistent = true;                                // --appendonly yes --appendfsync always
//   o.requirepass = "s3cret";                           // AUTH required
//
// Ports: the kernel picks a free one, which another process may take before redis-server binds
// it (tests run in parallel, and other suites do the same). start() then picks another and
// tries again; readiness is this server's own log line, not just "something answers PING on
// the port", which another process's Redis could do.
//
// The redis-server binary is QSC_REDIS_SERVER_PATH when the build defines it (tests/CMakeLists
// finds it as QSC_REDIS_SERVER), else the first redis-server on PATH. A test that cannot find it
// should GTEST_SKIP() with redis.error().
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace qsc::test {

/// One redis-server child process bound to 127.0.0.1.
class RedisServer {
 public:
  struct Options {
    /// Keep data across kill9()/restart(): append-only file synced on every write.
    bool persistent = false;
    /// Non-empty: the server requires this password (requirepass).
    std::string requirepass;
    /// Also listen on a Unix socket (unix_socket() gives its path).
    bool unix_socket = false;
    /// More `--name value` arguments for redis-server.
    std::vector<std::string> extra_args;
    /// How long start() and restart() wait for the server to be ready (generous: a loaded
    /// machine only makes it slower).
    std::chrono::milliseconds ready_timeout{60000};
  };

  RedisServer() : RedisServer(Options{}) {}
  explicit RedisServer(Options options) : options_(std::move(options)) {}
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  /// Kills the server and removes its data directory.
  ~RedisServer() {
    kill9();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  /// Picks a free port and a fresh data directory, starts the server and waits for PING.
  /// False (with error()) when redis-server is missing or does not come up.
  bool start() {
    if (dir_.empty()) {
      std::string pattern = (std::filesystem::temp_directory_path() / "qsc-redis-XXXXXX").string();
      if (::mkdtemp(pattern.data()) == nullptr) return fail("mkdtemp failed");
      dir_ = pattern;
    }
    const bool chosen_port = port_ != 0;
    for (int attempt = 0;; ++attempt) {
      if (!chosen_port) port_ = free_port();
      if (port_ == 0) return fail("no free loopback port");
      if (launch()) return true;
      // Lost the port to another process between picking and binding: pick another.
      if (chosen_port || attempt >= 20 || !port_taken_at_launch_) return false;
    }
  }

  /// Starts the server again on the same port and directory (after kill9() or stop()).
  bool restart() {
    kill9();
    return launch();
  }

  /// SIGKILL: the server gets no chance to save or say goodbye. Waits until it is gone.
  void kill9() { signal_and_wait(SIGKILL); }
  /// SIGTERM: a clean shutdown.
  void stop() { signal_and_wait(SIGTERM); }

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  /// "redis://127.0.0.1:<port>/0" (with the password when one is required).
  std::string url() const {
    const std::string auth = options_.requirepass.empty() ? "" : ":" + options_.requirepass + "@";
    return "redis://" + auth + "127.0.0.1:" + std::to_string(port_) + "/0";
  }
  /// The Unix socket's path (only with Options::unix_socket).
  std::string unix_socket() const { return (dir_ / "redis.sock").string(); }
  /// The data directory (holds the log, redis.log, useful when a test fails).
  const std::filesystem::path& dir() const { return dir_; }
  /// Why start() or restart() failed.
  const std::string& error() const { return error_; }

  /// The redis-server binary to use.
  static std::string binary() {
#ifdef QSC_REDIS_SERVER_PATH
    if (std::filesystem::exists(QSC_REDIS_SERVER_PATH)) return QSC_REDIS_SERVER_PATH;
#endif
    if (const char* path = std::getenv("PATH")) {
      std::string all = path;
      for (std::size_t start = 0; start <= all.size();) {
        auto end = all.find(':', start);
        if (end == std::string::npos) end = all.size();
        auto candidate = std::filesystem::path(all.substr(start, end - start)) / "redis-server";
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
        start = end + 1;
      }
    }
    return {};
  }

  /// A loopback port nothing listens on right now (the kernel's choice for port 0).
  static int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
  }

 private:
  bool fail(std::string why) {
    error_ = std::move(why);
    return false;
  }

  // The server's log (it appends across restarts).
  std::string log_text() const {
    std::ifstream in(dir_ / "redis.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  bool launch() {
    port_taken_at_launch_ = false;
    const auto log_before = log_text().size();
    auto logged = [&](const char* what) {
      const auto text = log_text();
      return text.size() > log_before && text.find(what, log_before) != std::string::npos;
    };
    const auto bin = binary();
    if (bin.empty()) return fail("redis-server not found (install redis-server)");
    std::vector<std::string> args{bin,
                                  "--port",
                                  std::to_string(port_),
                                  "--bind",
                                  "127.0.0.1",
                                  "--dir",
                                  dir_.string(),
                                  "--logfile",
                                  (dir_ / "redis.log").string(),
                                  "--daemonize",
                                  "no",
                                  "--save",
                                  ""};
    if (options_.persistent) {
      args.insert(args.end(), {"--appendonly", "yes", "--appendfsync", "always"});
    } else {
      args.insert(args.end(), {"--appendonly", "no"});
    }
    if (!options_.requirepass.empty())
      args.insert(args.end(), {"--requirepass", options_.requirepass});
    if (options_.unix_socket) args.insert(args.end(), {"--unixsocket", unix_socket()});
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());

    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) return fail("fork failed");
    if (pid == 0) {
      // The server dies with the test process, even when the test crashes.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + options_.ready_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        port_taken_at_launch_ = logged("Address already in use");
        return fail("redis-server exited during start; see " + (dir_ / "redis.log").string());
      }
      // Ready: this server says so in its own log, and the port answers.
      if (logged("Ready to accept connections") && answers_ping()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill9();
    return fail("redis-server did not answer PING on port " + std::to_string(port_));
  }

  // True once the server replies to PING (+PONG, or -NOAUTH when a password is required).
  bool answers_ping() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    timeval tv{0, 200000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port_));
    bool ok = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) {
      char buf[64] = {};
      const auto n = ::recv(fd, buf, sizeof buf - 1, 0);
      const std::string reply(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
      ok = reply.rfind("+PONG", 0) == 0 || reply.rfind("-NOAUTH", 0) == 0;
    }
    ::close(fd);
    return ok;
  }

  void signal_and_wait(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  Options options_;
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool port_taken_at_launch_ = false;
  std::string error_;
};

}  // namespace qsc::test
