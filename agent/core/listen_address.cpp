// Listening addresses.
#include "core/listen_address.hpp"

#include <arpa/inet.h>

#include <cctype>

namespace qsc::agent {
namespace {

Error refused(const std::string& text, const std::string& why) {
  return Error{why +
               ": use \"IPV4:PORT\" or \"[IPV6]:PORT\" with a port from 0 to 65535 (e.g. "
               "\"127.0.0.1:9464\"; 0 picks a free port), or \"\" to disable, got \"" +
               text + "\""};
}

}  // namespace

std::string ListenAddress::bind_form() const {
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool ListenAddress::loopback() const {
  if (ipv6) return host == "::1";
  return host.rfind("127.", 0) == 0;
}

Result<ListenAddress> parse_listen_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return refused(text, "no port");
  ListenAddress out;
  std::string host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    in6_addr a6{};
    if (::inet_pton(AF_INET6, host.c_str(), &a6) != 1) {
      return refused(text, "\"" + host + "\" is not an IPv6 address");
    }
    out.ipv6 = true;
  } else {
    in_addr a4{};
    if (::inet_pton(AF_INET, host.c_str(), &a4) != 1) {
      return refused(text, "\"" + host +
                               "\" is not an IPv4 address (host names are not accepted; "
                               "IPv6 goes in brackets)");
    }
  }
  if (port.empty() || port.size() > 5) return refused(text, "\"" + port + "\" is not a port");
  for (const char c : port) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return refused(text, "\"" + port + "\" is not a port");
    }
  }
  out.port = std::stoi(port);
  if (out.port > 65535) return refused(text, "port " + port + " is above 65535");
  out.host = host;
  return out;
}

}  // namespace qsc::agent
