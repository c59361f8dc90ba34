// libcurl opened at run time, on the first HTTP send, instead of linked: the notify plugin is
// loaded into every monitor worker, but only the process that executes the action (a child the
// worker forks, or one the supervisor starts) sends. Linked, libcurl brought its TLS, Kerberos
// and LDAP dependencies (about 5-6 MiB resident) into every worker that never sends.
// <curl/curl.h> provides the types and constants only; nothing here links to libcurl.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

#include "qsc/result.hpp"

namespace qsc::actions::notify {

/// The soname loaded unless QSC_NOTIFY_LIBCURL names another file.
inline constexpr const char* kCurlLibraryName = "libcurl.so.4";
/// The environment variable naming another libcurl to load (a file name or a path).
inline constexpr const char* kCurlLibraryEnv = "QSC_NOTIFY_LIBCURL";

/// The libcurl functions the HTTP channels call, resolved with dlsym.
struct CurlLibrary {
  decltype(&::curl_easy_init) easy_init = nullptr;
  decltype(&::curl_easy_setopt) easy_setopt = nullptr;
  decltype(&::curl_easy_perform) easy_perform = nullptr;
  decltype(&::curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&::curl_easy_strerror) easy_strerror = nullptr;
  decltype(&::curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&::curl_slist_append) slist_append = nullptr;
  decltype(&::curl_slist_free_all) slist_free_all = nullptr;
  decltype(&::curl_global_init) global_init = nullptr;
  decltype(&::curl_global_cleanup) global_cleanup = nullptr;
};

/// Opens libcurl (kCurlLibraryName, or the file QSC_NOTIFY_LIBCURL names), resolves the table
/// and initialises libcurl's global state; releasing the last copy of the table pairs that with
/// curl_global_cleanup. The error names the library and the fix.
Result<std::shared_ptr<const CurlLibrary>> open_curl_library();

}  // namespace qsc::actions::notify
