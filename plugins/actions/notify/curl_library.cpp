// dlopen + dlsym of libcurl for the HTTP channels, with errors as values.
#include "curl_library.hpp"

#include <dlfcn.h>

#include <cstdlib>

namespace qsc::actions::notify {
namespace {

/// What to do about a library that cannot be used: install libcurl, or fix the override.
std::string fix_for(bool overridden) {
  if (overridden) {
    return std::string("point ") + kCurlLibraryEnv +
           " at libcurl (7.85 or later) or unset it to use " + kCurlLibraryName;
  }
  return std::string("install libcurl (Debian: apt-get install libcurl4)");
}

template <typename Function>
bool resolve(void* handle, const char* symbol, Function& out) {
  void* address = ::dlsym(handle, symbol);
  if (address == nullptr) return false;
  out = reinterpret_cast<Function>(address);
  return true;
}

}  // namespace

Result<std::shared_ptr<const CurlLibrary>> open_curl_library() {
  const char* override_name = std::getenv(kCurlLibraryEnv);
  const bool overridden = override_name != nullptr && override_name[0] != '\0';
  const std::string file = overridden ? override_name : kCurlLibraryName;
  const std::string origin = overridden ? file + " (from " + kCurlLibraryEnv + ")" : file;
  // This runs in the action's process, typically a child the worker forked (run_in_child):
  // glibc reinitialises the dynamic loader's lock and malloc's locks in a fork child, so dlopen
  // there cannot deadlock on a lock another thread of the parent held at the fork.
  // RTLD_LOCAL: libcurl's symbols stay out of the global namespace the other plugins see.
  void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return Error{"cannot load " + origin + " (" + (why != nullptr ? why : "unknown reason") +
                 "): the webhook, slack and pagerduty channels need it; " + fix_for(overridden)};
  }
  // The handle is never closed: unloading libcurl would unload its TLS and Kerberos
  // libraries, whose exit handlers are not made to run mid-process; only a process that sent
  // has it mapped.
  auto table = std::make_unique<CurlLibrary>();
  std::string missing;
  auto need = [&](const char* symbol, auto& function) {
    if (!resolve(handle, symbol, function))
      missing += (missing.empty() ? "" : ", ") + std::string(symbol);
  };
  need("curl_easy_init", table->easy_init);
  need("curl_easy_setopt", table->easy_setopt);
  need("curl_easy_perform", table->easy_perform);
  need("curl_easy_getinfo", table->easy_getinfo);
  need("curl_easy_strerror", table->easy_strerror);
  need("curl_easy_cleanup", table->easy_cleanup);
  need("curl_slist_append", table->slist_append);
  need("curl_slist_free_all", table->slist_free_all);
  need("curl_global_init", table->global_init);
  need("curl_global_cleanup", table->global_cleanup);
  if (!missing.empty()) {
    return Error{origin + " lacks " + missing + ": it is not libcurl; " + fix_for(overridden)};
  }
  if (const CURLcode rc = table->global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
    return Error{origin + ": curl_global_init failed: " + table->easy_strerror(rc)};
  }
  return std::shared_ptr<const CurlLibrary>(table.release(), [](const CurlLibrary* library) {
    library->global_cleanup();
    delete library;
  });
}

}  // namespace qsc::actions::notify
