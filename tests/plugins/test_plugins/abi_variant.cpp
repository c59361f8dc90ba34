// A deliberately malformed plugin, one variant per build (see ../CMakeLists.txt): a wrong ABI
// major, a newer minor, a too small descriptor, no descriptor, or an unknown kind. The host must
// reject each with its reason and never call into it.
#include "qsc/plugin.hpp"

#ifndef TEST_ABI_MAJOR
#define TEST_ABI_MAJOR QSC_ABI_MAJOR
#endif
#ifndef TEST_ABI_MINOR
#define TEST_ABI_MINOR QSC_ABI_MINOR
#endif
#ifndef TEST_DESCRIPTOR_SIZE
#define TEST_DESCRIPTOR_SIZE sizeof(::qsc::PluginDescriptor)
#endif
#ifndef TEST_KIND
#define TEST_KIND 1
#endif

namespace {

/// Never created by a correct host: every variant must be refused before create is called.
class NeverUsed final : public qsc::Detector {
 public:
  static qsc::Result<std::unique_ptr<NeverUsed>> create(const nlohmann::json&,
                                                        const nlohmann::json&) {
    return qsc::Error{"the host called create on a plugin it should have rejected"};
  }
  qsc::CheckResult check(const qsc::CheckInput&) override { return {}; }
  std::string effective_config() const override { return "{}"; }
};

}  // namespace

extern "C" BOOST_SYMBOL_EXPORT const qsc_plugin_abi qsc_plugin_abi = {
    TEST_ABI_MAJOR, TEST_ABI_MINOR, static_cast<std::uint32_t>(TEST_DESCRIPTOR_SIZE)};

#ifndef TEST_NO_DESCRIPTOR
extern "C" BOOST_SYMBOL_EXPORT const ::qsc::PluginDescriptor qsc_plugin_descriptor = {
    static_cast<::qsc::PluginKind>(TEST_KIND),
    "abi_variant",
    "0.0.1",
    "a malformed test plugin",
    &::qsc::detail::create_trampoline<NeverUsed>,
    &::qsc::detail::destroy_trampoline<NeverUsed>,
    &::qsc::detail::check_trampoline<NeverUsed>,
    nullptr,
    &::qsc::detail::effective_config_trampoline<NeverUsed>,
    ::qsc::DetectorScope::kEachModel};
#endif
