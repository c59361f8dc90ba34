// Deliberately broken detectors for the supervised monitor's tests (never installed), built from
// one source (see ../CMakeLists.txt). The detector passes until the file named by its section's
// "trigger_file" exists, then FAULT selects what it does inside check():
//   1 segfaults (raise SIGSEGV), 2 aborts, 3 loops forever, 4 deadlocks on its own mutex,
//   5 allocates and touches 4 GiB, 8 truncates the trigger file to 0 bytes (a recording cut
//   under `qsc replay`'s mapping), 9 raises SIGBUS (a bus error that is not the recording's).
// FAULT 6 throws from its constructor (at load), 7 segfaults in a static constructor (at dlopen,
// before the host has read anything of it).
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "qsc/config_section.hpp"
#include "qsc/plugin.hpp"

namespace {

#if FAULT == 7
// Runs inside dlopen, before the host has read the descriptor.
__attribute__((constructor)) void crash_at_load() {
  ::raise(SIGSEGV);
}
#endif

void fault([[maybe_unused]] const std::string& trigger_file) {
  switch (FAULT) {
    case 1:
      ::raise(SIGSEGV);
      break;
    case 2:
      std::abort();
    case 3:
      for (;;) {
        // An empty asm the compiler must keep: a loop without side effects may be assumed to
        // end, and would be optimised away.
        asm volatile("" ::: "memory");
      }
    case 4: {
      // PTHREAD_MUTEX_NORMAL: locking it again from its owner deadlocks, as POSIX defines it.
      static pthread_mutex_t mutex;
      pthread_mutexattr_t attr;
      pthread_mutexattr_init(&attr);
      pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_NORMAL);
      pthread_mutex_init(&mutex, &attr);
      pthread_mutex_lock(&mutex);
      pthread_mutex_lock(&mutex);
      break;
    }
    case 5: {
      constexpr std::size_t kBytes = 4ull << 30;
      auto* block = static_cast<char*>(std::malloc(kBytes));
      if (block == nullptr) throw std::bad_alloc();
      std::memset(block, 1, kBytes);
      // An empty asm that reads the block: without it the compiler drops the memset as a dead
      // store before free, no page is touched and the resident set never grows.
      asm volatile("" : : "r"(block) : "memory");
      std::free(block);
      break;
    }
    case 8:
      if (::truncate(trigger_file.c_str(), 0) != 0) std::abort();
      break;
    case 9:
      ::raise(SIGBUS);
      break;
    default:
      break;
  }
}

class Faulty final : public qsc::Detector {
 public:
  explicit Faulty(std::string trigger_file) : trigger_file_(std::move(trigger_file)) {
    if (FAULT == 6) throw std::runtime_error("faulty constructor");
  }

  static qsc::Result<std::unique_ptr<Faulty>> create(const nlohmann::json& section,
                                                     const nlohmann::json&) {
    qsc::ConfigSection config(section, "plugins.config." TEST_PLUGIN_NAME);
    auto trigger_file = config.string("trigger_file", "");
    if (auto status = config.finish(); !status) return status.error();
    return std::make_unique<Faulty>(std::move(trigger_file));
  }

  qsc::CheckResult check(const qsc::CheckInput&) override {
    std::error_code ec;
    if (!trigger_file_.empty() && std::filesystem::exists(trigger_file_, ec)) fault(trigger_file_);
    return {qsc::Verdict::kPass, "fine until " + trigger_file_ + " exists", {}};
  }
  std::string effective_config() const override {
    return nlohmann::json{{"trigger_file", trigger_file_}}.dump();
  }

 private:
  std::string trigger_file_;
};

}  // namespace

QSC_DETECTOR_PLUGIN(Faulty, TEST_PLUGIN_NAME, "0.0.1", "a deliberately broken detector")
