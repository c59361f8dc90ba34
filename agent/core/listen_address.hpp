// A listening address as configured ("127.0.0.1:9464", "[::1]:9464"): parsed and checked where
// the configuration is read, so a typo is refused at start with the key and an example, not
// found by a scrape that never connects.
#pragma once

#include <string>

#include "qsc/result.hpp"

namespace qsc::agent {

struct ListenAddress {
  std::string host;  ///< an IPv4 address, or an IPv6 address without its brackets
  bool ipv6 = false;
  int port = 0;  ///< 0: any free port (the one bound is logged)

  /// The form civetweb (prometheus-cpp's exposer) binds: "1.2.3.4:P" or "[::1]:P".
  std::string bind_form() const;
  /// True for 127.0.0.0/8 and ::1: reachable from this host only.
  bool loopback() const;
};

/// Parses "IPV4:PORT" or "[IPV6]:PORT" (port 0-65535). Host names are refused: what a name
/// resolves to can change, and a metrics endpoint must bind exactly where it was told.
Result<ListenAddress> parse_listen_address(const std::string& text);

}  // namespace qsc::agent
