// A valid shared library that exports nothing of the plugin ABI.
#include <boost/config.hpp>

extern "C" BOOST_SYMBOL_EXPORT int qsc_test_unrelated_function() {
  return 42;
}
