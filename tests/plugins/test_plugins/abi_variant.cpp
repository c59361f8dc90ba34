// A plugin whose ABI block or descriptor is bent, one variant per build (see ../CMakeLists.txt):
// another major, a newer minor with a larger descriptor (appended fields this host does not know),
// a descriptor smaller than this SDK's (its later fields must read as defaults), too small a
// descriptor, none, an unknown kind, unknown flags.
#include <cstddef>

#include "qsc/plugin.hpp"

#ifndef TEST_ABI_MAJOR
#define TEST_ABI_MAJOR QSC_PLUGIN_ABI_MAJOR
#endif
#ifndef TEST_ABI_MINOR
#define TEST_ABI_MINOR QSC_PLUGIN_ABI_MINOR
#endif
#ifndef TEST_KIND
#define TEST_KIND QSC_KIND_DETECTOR
#endif
#ifndef TEST_FLAGS
#define TEST_FLAGS QSC_FLAG_BEST_EFFORT
#endif

/// A descriptor of a later minor: this SDK's fields, then one this host has never heard of.
struct LargerDescriptor {
  struct qsc_plugin_descriptor known;
  std::uint64_t appended_later;
};

namespace {

/// A working detector: the variants that load must also run.
class Variant final : public qsc::Detector {
 public:
  static qsc::Result<std::unique_ptr<Variant>> create(const nlohmann::json&,
                                                      const nlohmann::json&) {
    return std::make_unique<Variant>();
  }
  qsc::CheckResult check(const qsc::CheckInput& input) override {
    return {qsc::Verdict::kPass,
            "abi variant saw " + std::to_string(input.window->models.size()) + " models",
            {{"models", static_cast<double>(input.window->models.size())}}};
  }
  std::string effective_config() const override { return "{}"; }
};

constexpr struct qsc_plugin_descriptor kKnown = {
#ifdef TEST_DESCRIPTOR_SIZE
    TEST_DESCRIPTOR_SIZE,
#elif defined(TEST_LARGER)
    sizeof(LargerDescriptor),
#else
    sizeof(struct qsc_plugin_descriptor),
#endif
    TEST_ABI_MAJOR, TEST_ABI_MINOR, TEST_KIND, "abi_variant", "0.0.1",
    "a test plugin with a bent ABI", &::qsc::detail::create_trampoline<Variant>,
    &::qsc::detail::destroy_trampoline<Variant>, &::qsc::detail::check_trampoline<Variant>, nullptr,
    &::qsc::detail::effective_config_trampoline<Variant>,
    // Past a smaller descriptor's end: a host reading them would see an ensemble scope, a
    // best-effort flag and a schema the plugin never declared.
    QSC_SCOPE_ENSEMBLE, TEST_FLAGS, R"({"never_declared": {"type": "number"}})"};

}  // namespace

extern "C" QSC_PLUGIN_EXPORT const struct qsc_plugin_abi qsc_plugin_abi = {
    TEST_ABI_MAJOR, TEST_ABI_MINOR, kKnown.struct_size};

#ifndef TEST_NO_DESCRIPTOR
#ifdef TEST_LARGER
extern "C" QSC_PLUGIN_EXPORT const LargerDescriptor qsc_plugin_descriptor = {kKnown, 42};
#else
extern "C" QSC_PLUGIN_EXPORT const struct qsc_plugin_descriptor qsc_plugin_descriptor = kKnown;
#endif
#endif
