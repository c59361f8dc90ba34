// Fuzz target: the configuration file. The input is written to a file of this process's own
// (mode 0600, so the trust check passes) and loaded by load_config exactly as `qsc --config`
// loads it: read, depth-checked, parsed, validated key by key, digested. It must load or be
// refused with a message, never crash; a loaded configuration's to_json() must load again to
// the same digest (a difference is a finding: __builtin_trap()).
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/config.hpp"

namespace {

std::string write_config(const std::string& name, const char* bytes, std::size_t n) {
  const char* dir = std::getenv("TMPDIR");
  const std::string path = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/" + name +
                           "_" + std::to_string(::getpid()) + ".json";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) __builtin_trap();
  while (n > 0) {
    const ssize_t w = ::write(fd, bytes, n);
    if (w <= 0) __builtin_trap();
    bytes += w;
    n -= static_cast<std::size_t>(w);
  }
  ::close(fd);
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::unsetenv("QSC_REDIS_URL");  // the digest must be of the file alone
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path =
      write_config("qsc_fuzz_config", reinterpret_cast<const char*>(data), size);
  auto config = qsc::agent::load_config(path);
  ::unlink(path.c_str());
  if (!config) {
    if (config.error().message.empty()) __builtin_trap();  // a refusal always says why
    return 0;
  }
  const std::string effective = config->to_json().dump();
  const std::string again_path =
      write_config("qsc_fuzz_config_again", effective.data(), effective.size());
  auto again = qsc::agent::load_config(again_path);
  ::unlink(again_path.c_str());
  if (!again || again->sha256 != config->sha256) __builtin_trap();
  return 0;
}
