# Precompiled headers, compiled once per build and shared: nlohmann/json, CLI11 and GoogleTest
# dominate compile time on a two-core machine. Every executable and static library of more than
# one source file reuses a shared precompiled header (the common set, with GoogleTest or with
# CLI11) instead of compiling its own: 33 per-target copies cost about 110 MB of disk each in a
# sanitizer build (3.7 GB, which filled CI's disk) and a compile each. The plugins (production
# and test ones, one source each) reuse the common set too: every one includes qsc/plugin.hpp,
# hence nlohmann/json, whose parsing was a third of a plugin's compile (3.1 of 9.1 CPU-seconds
# at -O2), 45 times a build.
#
# GCC uses a precompiled header only when the flags that matter match those it was built with:
# the macros its headers test (hence _FILE_OFFSET_BITS for every target, in CMakeLists.txt) and
# -fPIC (libraries) against -fPIE (executables), and the plugins' hidden visibility, so each set
# exists in those flavours (pic, pie, plugin), made when a target first needs it. -Winvalid-pch (an error under -Werror) makes a mismatch fail the
# build instead of silently compiling the headers again in every file.
set(qsc_pch_common_headers <nlohmann/json.hpp> <string> <vector> <map> <memory> <optional>
                           <chrono> <filesystem>)

# qsc_pch_holder(SET FLAVOUR OUT): the name of the target owning the precompiled header of SET
# (common, gtest or cli) built as FLAVOUR (pic, pie or plugin); made on first use.
function(qsc_pch_holder set flavour out)
  set(name qsc_pch_${set}_${flavour})
  set(${out} ${name} PARENT_SCOPE)
  if(TARGET ${name})
    return()
  endif()
  set(source ${CMAKE_BINARY_DIR}/pch/${name}.cpp)
  if(NOT EXISTS ${source})
    file(WRITE ${source} "// Owns the precompiled header ${name}; compiles to nothing.\n")
  endif()
  add_library(${name} OBJECT ${source})
  target_compile_options(${name} PRIVATE -Winvalid-pch)
  if(flavour STREQUAL "pie")
    set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE OFF)
    target_compile_options(${name} PRIVATE -fPIE)
  elseif(flavour STREQUAL "plugin")
    set_target_properties(${name} PROPERTIES CXX_VISIBILITY_PRESET hidden
                                             VISIBILITY_INLINES_HIDDEN ON)
  endif()
  target_link_libraries(${name} PRIVATE nlohmann_json::nlohmann_json)
  target_precompile_headers(${name} PRIVATE ${qsc_pch_common_headers})
  if(set STREQUAL "gtest")
    target_link_libraries(${name} PRIVATE GTest::gtest)
    target_precompile_headers(${name} PRIVATE <gtest/gtest.h>)
  elseif(set STREQUAL "cli")
    target_link_libraries(${name} PRIVATE CLI11::CLI11)
    target_precompile_headers(${name} PRIVATE <CLI/CLI.hpp>)
  endif()
endfunction()

function(qsc_precompile_in dir)
  qsc_targets_below(${dir} targets)
  foreach(t ${targets})
    get_target_property(type ${t} TYPE)
    get_target_property(sources ${t} SOURCES)
    list(FILTER sources INCLUDE REGEX "\\.cpp$")
    list(LENGTH sources count)
    if(count GREATER 1 AND (type STREQUAL "EXECUTABLE" OR type STREQUAL "STATIC_LIBRARY"))
      get_target_property(libs ${t} LINK_LIBRARIES)
      set(set common)
      if(libs MATCHES "GTest::")
        set(set gtest)
      elseif(libs MATCHES "CLI11::")
        set(set cli)
      endif()
      set(flavour pic)
      if(type STREQUAL "EXECUTABLE")
        set(flavour pie)
      endif()
      qsc_pch_holder(${set} ${flavour} holder)
      target_compile_options(${t} PRIVATE -Winvalid-pch)
      target_precompile_headers(${t} REUSE_FROM ${holder})
    elseif(count GREATER 0 AND type STREQUAL "MODULE_LIBRARY")
      # A plugin: the common set built with the plugins' flags (only for a plugin built as
      # qsc_add_plugin builds them, hidden visibility; any other keeps its own headers).
      get_target_property(visibility ${t} CXX_VISIBILITY_PRESET)
      get_target_property(inlines_hidden ${t} VISIBILITY_INLINES_HIDDEN)
      if(visibility STREQUAL "hidden" AND inlines_hidden)
        qsc_pch_holder(common plugin holder)
        target_compile_options(${t} PRIVATE -Winvalid-pch)
        target_precompile_headers(${t} REUSE_FROM ${holder})
      endif()
    endif()
  endforeach()
endfunction()

function(qsc_precompile_all)
  if(QSC_BUILD_TESTS)
    find_package(GTest REQUIRED)
  endif()
  qsc_precompile_in(${CMAKE_SOURCE_DIR})
  get_property(holders DIRECTORY ${CMAKE_SOURCE_DIR} PROPERTY BUILDSYSTEM_TARGETS)
  list(FILTER holders INCLUDE REGEX "^qsc_pch_")
  message(STATUS "Precompiled headers shared: ${holders}")
endfunction()
