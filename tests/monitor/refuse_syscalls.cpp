// refuse_syscalls NAME=ERRNO[,NAME=ERRNO...] -- PROGRAM [ARGS...]
//
// Runs PROGRAM with the named system calls refused by the kernel (a seccomp filter returning
// the errno), as an older kernel (ENOSYS), a container's seccomp profile or
// kernel.perf_event_paranoid (EACCES) refuses them. The tests run the real `qsc` under it to
// reach its fallbacks where this machine's kernel would never take them: the supervisor without
// a pidfd of its worker (pidfd_open), without the page-fault watch (perf_event_open). The filter
// is inherited by every child (the worker, the action runners), as the real refusal would be.
// Names known: pidfd_open, perf_event_open; errnos: ENOSYS, EACCES, EPERM.
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

#if defined(__x86_64__)
constexpr unsigned kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr unsigned kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "refuse_syscalls: add this architecture's AUDIT_ARCH"
#endif

struct Refusal {
  long number;
  int error;
};

bool parse_refusal(std::string_view item, Refusal& out) {
  const auto eq = item.find('=');
  if (eq == std::string_view::npos) return false;
  const auto name = item.substr(0, eq);
  const auto error = item.substr(eq + 1);
  if (name == "pidfd_open") {
    out.number = SYS_pidfd_open;
  } else if (name == "perf_event_open") {
    out.number = SYS_perf_event_open;
  } else {
    return false;
  }
  if (error == "ENOSYS") {
    out.error = ENOSYS;
  } else if (error == "EACCES") {
    out.error = EACCES;
  } else if (error == "EPERM") {
    out.error = EPERM;
  } else {
    return false;
  }
  return true;
}

int usage(const char* why) {
  std::fprintf(stderr,
               "refuse_syscalls: %s\nusage: refuse_syscalls NAME=ERRNO[,NAME=ERRNO...] -- "
               "PROGRAM [ARGS...]\n  NAME: pidfd_open, perf_event_open; ERRNO: ENOSYS, EACCES, "
               "EPERM\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || std::strcmp(argv[2], "--") != 0) return usage("wrong arguments");
  std::vector<Refusal> refusals;
  std::string_view list(argv[1]);
  while (!list.empty()) {
    const auto comma = list.find(',');
    Refusal r{};
    if (!parse_refusal(list.substr(0, comma), r)) return usage("unknown NAME=ERRNO");
    refusals.push_back(r);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  // The filter: another architecture's calls are killed (their numbers mean other calls), each
  // refused number returns its errno, everything else is allowed.
  std::vector<sock_filter> code;
  code.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  code.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0));
  code.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  code.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  for (const auto& r : refusals) {
    code.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(r.number), 0, 1));
    code.push_back(BPF_STMT(
        BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(r.error) & SECCOMP_RET_DATA)));
  }
  code.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  const sock_fprog program{static_cast<unsigned short>(code.size()), code.data()};
  // No new privileges: what lets an unprivileged process install a filter (and what a setuid
  // program run under it could not undo).
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0) {
    std::perror("refuse_syscalls: installing the seccomp filter");
    return 2;
  }
  ::execv(argv[3], argv + 3);
  std::perror("refuse_syscalls: execv");
  return 127;
}
