# qsc_add_plugin(<kind> <name> [SOURCES ...] [OPT_IN]): one plugin, one shared library.
# Built against the SDK alone, hidden visibility, output into the build's plugin directory
# (which qsc finds when run from the build tree) and installed into the plugin directory.
# OPT_IN: built and installed next to it, in plugins-available/, which qsc does not load: the
# operator enables it by copying the library into the plugin directory (README, Configuration).
function(qsc_add_plugin kind name)
  cmake_parse_arguments(ARG "OPT_IN" "" "SOURCES;LIBS" ${ARGN})
  set(out_dir ${QSC_BUILD_PLUGIN_DIR})
  set(install_dir ${CMAKE_INSTALL_LIBDIR}/qsc/plugins)
  if(ARG_OPT_IN)
    set(out_dir ${QSC_BUILD_PLUGIN_DIR}-available)
    set(install_dir ${CMAKE_INSTALL_LIBDIR}/qsc/plugins-available)
  endif()
  if(NOT ARG_SOURCES)
    set(ARG_SOURCES ${name}.cpp)
  endif()
  set(target qsc_${kind}_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE qsc::sdk ${ARG_LIBS})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME ${name}
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${out_dir})
  install(TARGETS ${target} LIBRARY DESTINATION ${install_dir})
  # Remembered so that building qsc builds its plugins too (a fresh build works as is).
  set_property(GLOBAL APPEND PROPERTY QSC_PLUGIN_TARGETS ${target})
endfunction()
