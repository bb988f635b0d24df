# lakehost_add_plugin(<name> SOURCES <files...>)
#
# Builds a lakehost plugin: a MODULE library named <name>.so that exports only the entry alias.
#  - hidden visibility and a version script, so nothing but `lakehost_plugin` is exported (weak
#    template instances from Boost and libstdc++ headers would otherwise be);
#  - -fno-gnu-unique, so the host can really unload the library after its last instance is gone;
#  - --exclude-libs,ALL, so static libraries linked in (FAISS, ...) stay private to the plugin;
#  - -z defs, so a missing symbol is a link error, not a load-time surprise.
set(_LAKEHOST_PLUGIN_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR} CACHE INTERNAL "where plugin-exports.map is")

function(lakehost_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE lakehost::sdk)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${name} PRIVATE -fno-gnu-unique)
  endif()
  target_link_options(${name} PRIVATE -Wl,--exclude-libs,ALL
                      -Wl,--version-script=${_LAKEHOST_PLUGIN_CMAKE_DIR}/plugin-exports.map)
  if(NOT LAKEHOST_SANITIZE)
    target_link_options(${name} PRIVATE -Wl,-z,defs)
  endif()
endfunction()
