// One JSON POST with libcurl: connect and total timeouts, retries with exponential backoff on
// network errors, 5xx and 429, none on other 4xx (the request itself is wrong: retrying cannot
// help and would only delay the report).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "curl_library.hpp"

namespace qsc::actions::notify {

/// Timeouts and retry policy of one channel.
struct HttpSettings {
  long connect_timeout_ms = 5000;
  long timeout_ms = 10000;  ///< the whole request, connect included
  int retries = 3;          ///< further attempts after the first
  long backoff_initial_ms = 500;
  long backoff_max_ms = 8000;
};

/// How a POST ended.
struct HttpResult {
  bool delivered = false;  ///< a 2xx answer
  int attempts = 0;
  long status = 0;    ///< the last HTTP status, 0 when none was received
  std::string error;  ///< the last network error (curl's text), empty when there was none
  std::string body;   ///< the start of the last answer's body, for the report
};

/// Milliseconds left until `deadline` (negative once it has passed).
long remaining_ms(std::chrono::steady_clock::time_point deadline);

/// POSTs `body` as application/json to `url` (http or https only, redirects not followed, so a
/// secret URL is never replayed elsewhere) with `headers` ("Name: value") added. No attempt,
/// backoff or timeout reaches past `deadline` (the notify action's overall budget). `lib` is the
/// libcurl opened for the send (open_curl_library).
HttpResult post_json(const CurlLibrary& lib, const std::string& url, const std::string& body,
                     const std::vector<std::string>& headers, const HttpSettings& settings,
                     std::chrono::steady_clock::time_point deadline);

/// "delivered (HTTP 202, 1 attempt)" or "failed after 4 attempts: HTTP 500: <body>".
std::string describe(const HttpResult& result);

}  // namespace qsc::actions::notify
