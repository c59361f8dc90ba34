// JSON POSTs with libcurl (through the table of curl_library.hpp), retried with exponential
// backoff where a retry can help.
#include "http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

namespace qsc::actions::notify {
namespace {

// Enough of an answer to explain a refusal (PagerDuty's 400 names the bad field).
constexpr std::size_t kMaxBodyBytes = 1024;

std::size_t collect_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  const std::size_t n = size * count;
  if (body->size() < kMaxBodyBytes) body->append(data, std::min(n, kMaxBodyBytes - body->size()));
  return n;
}

struct CurlDeleter {
  const CurlLibrary* curl;
  void operator()(CURL* c) const { curl->easy_cleanup(c); }
};
struct SlistDeleter {
  const CurlLibrary* curl;
  void operator()(curl_slist* l) const { curl->slist_free_all(l); }
};

/// One attempt; fills status/error/body of `result`.
void attempt(const CurlLibrary& lib, const std::string& url, const std::string& body,
             curl_slist* headers, const HttpSettings& settings, HttpResult& result) {
  result.status = 0;
  result.error.clear();
  result.body.clear();
  std::unique_ptr<CURL, CurlDeleter> curl(lib.easy_init(), CurlDeleter{&lib});
  if (!curl) {
    result.error = "cannot create a curl handle";
    return;
  }
  char error_buffer[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  lib.easy_setopt(c, CURLOPT_URL, url.c_str());
  lib.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  lib.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  lib.easy_setopt(c, CURLOPT_POST, 1L);
  lib.easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  lib.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  lib.easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  lib.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, settings.connect_timeout_ms);
  lib.easy_setopt(c, CURLOPT_TIMEOUT_MS, settings.timeout_ms);
  // Signals would interfere with the host's threads; timeouts work without them.
  lib.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  lib.easy_setopt(c, CURLOPT_USERAGENT, "qsc-notify/1.0");
  lib.easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  lib.easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect_body);
  lib.easy_setopt(c, CURLOPT_WRITEDATA, &result.body);
  const CURLcode rc = lib.easy_perform(c);
  if (rc != CURLE_OK) {
    result.error = error_buffer[0] != '\0' ? error_buffer : lib.easy_strerror(rc);
    return;
  }
  lib.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &result.status);
}

}  // namespace

long remaining_ms(std::chrono::steady_clock::time_point deadline) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                               deadline - std::chrono::steady_clock::now())
                               .count());
}

HttpResult post_json(const CurlLibrary& lib, const std::string& url, const std::string& body,
                     const std::vector<std::string>& headers, const HttpSettings& settings,
                     std::chrono::steady_clock::time_point deadline) {
  HttpResult result;
  curl_slist* list = lib.slist_append(nullptr, "Content-Type: application/json");
  // Without this curl waits for "100 Continue" on larger bodies, eating into the timeout.
  list = lib.slist_append(list, "Expect:");
  for (const auto& h : headers) list = lib.slist_append(list, h.c_str());
  std::unique_ptr<curl_slist, SlistDeleter> owned(list, SlistDeleter{&lib});

  long backoff_ms = settings.backoff_initial_ms;
  for (int i = 0; i <= settings.retries; ++i) {
    if (i > 0) {
      // A backoff that would end past the deadline leaves no time for the attempt after it.
      if (remaining_ms(deadline) <= backoff_ms) {
        result.error += " (the notify deadline left no time for another attempt)";
        return result;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      backoff_ms = std::min(settings.backoff_max_ms, backoff_ms * 2);
    }
    HttpSettings bounded = settings;
    const long left_ms = remaining_ms(deadline);
    if (left_ms <= 0) {
      if (result.attempts == 0) result.error = "not sent: the notify deadline had passed";
      return result;
    }
    bounded.timeout_ms = std::min(settings.timeout_ms, left_ms);
    bounded.connect_timeout_ms = std::min(settings.connect_timeout_ms, left_ms);
    attempt(lib, url, body, list, bounded, result);
    ++result.attempts;
    if (result.status >= 200 && result.status < 300) {
      result.delivered = true;
      return result;
    }
    // 429 asks to come back later (PagerDuty documents retrying it); other 4xx mean this
    // request will never be accepted, and 1xx/3xx are not answers we can act on.
    const bool retryable = result.status == 0 || result.status >= 500 || result.status == 429;
    if (!retryable) return result;
  }
  return result;
}

std::string describe(const HttpResult& result) {
  if (result.attempts == 0) return result.error;
  const std::string tries =
      std::to_string(result.attempts) + (result.attempts == 1 ? " attempt" : " attempts");
  if (result.delivered)
    return "delivered (HTTP " + std::to_string(result.status) + ", " + tries + ")";
  std::string why = result.status != 0 ? "HTTP " + std::to_string(result.status) : result.error;
  std::string body = result.body;
  std::replace(body.begin(), body.end(), '\n', ' ');
  while (!body.empty() && body.back() == ' ') body.pop_back();
  if (!body.empty()) why += ": " + body;
  return "failed after " + tries + ": " + why;
}

}  // namespace qsc::actions::notify
