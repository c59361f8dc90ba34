// A plugin as SDK 1 built it: ABI 1.1, its descriptor holding C++ types (std::string*) that
// crossed dlopen. Written out here (SDK 2 no longer has these types) so the host's refusal of a
// 1.x plugin is tested with the real shape. The host must refuse it from the ABI block alone,
// never calling any of it.
#include <cstdint>
#include <string>

namespace {

struct CheckInputV1;
struct CheckResultV1;
struct IncidentV1;
struct ActionOutcomeV1;

// qsc::PluginDescriptor of ABI 1.1.
struct PluginDescriptorV1 {
  std::uint32_t kind;
  const char* name;
  const char* version;
  const char* description;
  void* (*create)(const char* section_json, const char* host_json, std::string* error) noexcept;
  void (*destroy)(void* instance) noexcept;
  void (*check)(void* instance, const CheckInputV1* input, CheckResultV1* out) noexcept;
  void (*execute)(void* instance, const IncidentV1* incident, ActionOutcomeV1* out) noexcept;
  void (*effective_config)(void* instance, std::string* out) noexcept;
  std::uint32_t scope;
};

void* create(const char*, const char*, std::string* error) noexcept {
  *error = "the host called create on an ABI 1 plugin";
  return nullptr;
}
void destroy(void*) noexcept {}
void check(void*, const CheckInputV1*, CheckResultV1*) noexcept {}
void effective_config(void*, std::string* out) noexcept {
  *out = "{}";
}

}  // namespace

struct qsc_plugin_abi_v1 {
  std::uint32_t major;
  std::uint32_t minor;
  std::uint32_t descriptor_size;
};

extern "C" __attribute__((visibility("default")))
const qsc_plugin_abi_v1 qsc_plugin_abi = {1, 1, sizeof(PluginDescriptorV1)};
extern "C" __attribute__((visibility("default")))
const PluginDescriptorV1 qsc_plugin_descriptor = {1,
                                                  "abi_v1",
                                                  "1.0.0",
                                                  "a detector built against SDK 1",
                                                  &create,
                                                  &destroy,
                                                  &check,
                                                  nullptr,
                                                  &effective_config,
                                                  0};
