// The time since this host booted, with the boot's identity: real time that no wall-clock step
// moves, comparable across the processes (and restarts) of one boot.
#pragma once

#include <cstdint>
#include <string>

namespace qsc::agent {

/// An instant on this boot's clock.
struct BootInstant {
  /// The kernel's random ID of this boot (/proc/sys/kernel/random/boot_id); empty when it
  /// cannot be read, in which case no two instants are comparable.
  std::string boot_id;
  /// CLOCK_BOOTTIME in milliseconds: advances in real time, suspend included, never stepped.
  std::int64_t since_boot_ms = 0;
};

/// Now on this boot's clock.
BootInstant boot_now();

/// The real milliseconds from `earlier` to `later` when both are of the same (known) boot;
/// -1 otherwise (another boot, or an instant not recorded).
std::int64_t boot_elapsed_ms(const BootInstant& earlier, const BootInstant& later);

}  // namespace qsc::agent
