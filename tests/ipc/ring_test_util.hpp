// Shared by the ring tests and their helper executable: deterministic events whose every field
// derives from (producer, index), so a consumer can verify a record was not torn or mixed up,
// plus unique segment names and child-process handling.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "qsc/event.hpp"
#include "qsc/ipc/ring.hpp"

namespace qsc::ipc::testing {

inline const char* const kModels[] = {"xgb", "lgbm",   "nhits", "patchtst",
                                      "tft", "deepar", "lstm",  "arima"};
inline const char* const kModelStrings[] = {"xgboost", "lightgbm", "nhits_fallback", "patchtst",
                                            "tft",     "deepar",   "lstm",           "arima"};
static_assert(std::size(kModels) == kMaxPredictions);

/// The index-th event of producer `producer`: symbol "P<producer>", seq = index, and 1 to 8
/// predictions (by index), so consecutive records in a slot differ in length: the ring copies
/// only the words a record uses, and a torn copy of a longer or shorter record must still be
/// caught.
inline TradeIntent make_event(std::uint32_t producer, std::uint64_t index) {
  TradeIntent e;
  e.time_ms = 1'700'000'000'000ULL + index;
  e.seq = index;
  e.symbol = "P" + std::to_string(producer);
  e.side = static_cast<Vote>(index % 3);
  e.confidence = static_cast<double>(index % 1000) / 1000.0;
  for (std::size_t k = 0; k < 1 + (index + producer) % kMaxPredictions; ++k) {
    Prediction p;
    p.model = kModels[k];
    p.model_string = kModelStrings[k];
    p.action = static_cast<Vote>((index + k) % 3);
    p.confidence = static_cast<double>((index * 7 + k) % 997) / 997.0;
    p.raw_confidence = p.confidence + static_cast<double>(producer);
    p.confidence_status = ConfidenceStatus::kOk;
    p.inactive = k == 2 ? InactiveReason::kFallback : InactiveReason::kNone;
    e.predictions.push_back(p);
  }
  return e;
}

/// Parses the producer number out of the symbol; -1 if it is not "P<n>".
inline int producer_of(const TradeIntent& e) {
  if (e.symbol.size() < 2 || e.symbol[0] != 'P') return -1;
  return std::stoi(e.symbol.substr(1));
}

/// True when `e` is exactly make_event(producer_of(e), e.seq).
inline bool is_intact(const TradeIntent& e) {
  const int producer = producer_of(e);
  if (producer < 0) return false;
  const TradeIntent want = make_event(static_cast<std::uint32_t>(producer), e.seq);
  if (e.time_ms != want.time_ms || e.side != want.side || e.confidence != want.confidence ||
      e.predictions.size() != want.predictions.size()) {
    return false;
  }
  for (std::size_t k = 0; k < want.predictions.size(); ++k) {
    const auto& a = e.predictions[k];
    const auto& b = want.predictions[k];
    if (a.model != b.model || a.model_string != b.model_string || a.action != b.action ||
        a.confidence != b.confidence || a.raw_confidence != b.raw_confidence ||
        a.confidence_status != b.confidence_status || a.inactive != b.inactive) {
      return false;
    }
  }
  return true;
}

/// Removes the named segment when the test ends, whatever happens.
struct RingGuard {
  std::string name;
  ~RingGuard() { (void)remove_ring(name); }
};

/// Consumer options for `name` with the given capacity, everything else default.
inline ConsumerOptions consumer_options(const std::string& name, std::uint64_t capacity = 64) {
  ConsumerOptions o;
  o.name = name;
  o.capacity_records = capacity;
  return o;
}

/// Producer options for `name` with the given capacity, everything else default.
inline ProducerOptions producer_options(const std::string& name, std::uint64_t capacity = 64) {
  ProducerOptions o;
  o.name = name;
  o.capacity_records = capacity;
  return o;
}

/// A segment name unique to this process and call: "qsc_test_<tag>_<pid>_<n>".
inline std::string unique_ring_name(const std::string& tag) {
  static std::atomic<int> counter{0};
  return "qsc_test_" + tag + "_" + std::to_string(::getpid()) + "_" +
         std::to_string(counter.fetch_add(1));
}

/// A child process started with fork + exec, its stdout captured through a pipe.
class Child {
 public:
  /// Starts `argv[0]` with the arguments; aborts the test process if fork fails.
  explicit Child(const std::vector<std::string>& argv) {
    int fds[2];
    if (::pipe(fds) != 0) ::abort();
    pid_ = ::fork();
    if (pid_ < 0) ::abort();
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_fd_ = fds[0];
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
  }

  pid_t pid() const { return pid_; }

  /// Reads one line of the child's stdout ("" at end of file).
  std::string read_line() {
    std::string line;
    char c;
    while (::read(out_fd_, &c, 1) == 1) {
      if (c == '\n') return line;
      line.push_back(c);
    }
    return line;
  }

  /// Reads the rest of stdout, then reaps the child; returns its exit code (128+signal if
  /// killed).
  int wait_exit(std::string* output = nullptr) {
    std::string all;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out_fd_, buf, sizeof buf)) > 0) all.append(buf, static_cast<std::size_t>(n));
    if (output) *output = all;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
  }

  /// Waits until the child stops (SIGSTOP); false if it exited instead.
  bool wait_stopped() {
    int status = 0;
    if (::waitpid(pid_, &status, WUNTRACED) != pid_) return false;
    if (WIFSTOPPED(status)) return true;
    reaped_ = true;
    return false;
  }

  /// SIGKILLs the child and reaps it.
  void kill_and_reap() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool reaped_ = false;
};

}  // namespace qsc::ipc::testing
