// systemd's notify protocol (READY=1, WATCHDOG=1, STATUS=...) spoken directly over
// $NOTIFY_SOCKET, so the agent needs no libsystemd; without the variable every call is a no-op.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace qsc::agent {

/// Sends one notification; false when not under systemd or the send failed.
bool sd_notify_send(std::string_view message);
/// The watchdog interval systemd expects pings within ($WATCHDOG_USEC), if it set one.
std::optional<std::chrono::milliseconds> sd_watchdog_interval();

}  // namespace qsc::agent
