# lakehost_add_plugin(<name> SOURCES <files...> [NO_ENTRY_CHECK])
#
# Builds a lakehost plugin: a MODULE library named <name>.so that exports only the entry alias.
#  - hidden visibility and a version script, so nothing but `lakehost_plugin` is exported (weak
#    template instances from Boost and libstdc++ headers would otherwise be);
#  - -fno-gnu-unique, so the host can really unload the library after its last instance is gone;
#  - --exclude-libs,ALL, so static libraries linked in (FAISS, ...) stay private to the plugin;
#  - -z defs, so a missing symbol is a link error, not a load-time surprise;
#  - after linking, LakehostCheckEntry.cmake checks that `lakehost_plugin` is exported once, as a
#    function or a pointer to one (NO_ENTRY_CHECK skips it: only for the host's own tests of
#    libraries that get it wrong on purpose).
set(_LAKEHOST_PLUGIN_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR} CACHE INTERNAL "where plugin-exports.map is")

function(lakehost_add_plugin name)
  cmake_parse_arguments(ARG "NO_ENTRY_CHECK" "" "SOURCES" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE lakehost::sdk)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fno-gnu-unique>)
  endif()
  target_link_options(${name} PRIVATE -Wl,--exclude-libs,ALL
                      -Wl,--version-script=${_LAKEHOST_PLUGIN_CMAKE_DIR}/plugin-exports.map)
  if(NOT LAKEHOST_SANITIZE)
    target_link_options(${name} PRIVATE -Wl,-z,defs)
  endif()
  if(NOT ARG_NO_ENTRY_CHECK)
    if(NOT CMAKE_READELF)
      find_program(CMAKE_READELF readelf REQUIRED)
    endif()
    add_custom_command(TARGET ${name} POST_BUILD
      COMMAND ${CMAKE_COMMAND} -DREADELF=${CMAKE_READELF} -DLIBRARY=$<TARGET_FILE:${name}>
              -DPOINTER_SIZE=${CMAKE_SIZEOF_VOID_P} -P ${_LAKEHOST_PLUGIN_CMAKE_DIR}/LakehostCheckEntry.cmake
      VERBATIM)
  endif()
endfunction()
