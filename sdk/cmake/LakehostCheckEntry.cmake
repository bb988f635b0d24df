# Run after a plugin is linked (lakehost_add_plugin): checks that the library exports
# `lakehost_plugin` exactly once, as one of the two forms plugin_api.h allows: a function, or a
# variable the size of a pointer (the BOOST_DLL_ALIAS form). A plugin that forgot its entry, or
# exported a variable of another kind under the name, fails its build instead of its load.
#   cmake -DREADELF=<readelf> -DLIBRARY=<file.so> -DPOINTER_SIZE=<bytes> -P LakehostCheckEntry.cmake
execute_process(COMMAND ${READELF} --dyn-syms --wide ${LIBRARY}
                OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${LIBRARY}: readelf failed (${rc})")
endif()
string(REPLACE "\n" ";" lines "${symbols}")
set(found 0)
foreach(line IN LISTS lines)
  #    Num:    Value          Size Type    Bind   Vis      Ndx Name
  if(line MATCHES "^ *[0-9]+: +[0-9a-f]+ +([0-9a-fx]+) +([A-Z_]+) +[A-Z_]+ +[A-Z_]+ +([A-Z0-9]+) +lakehost_plugin(@.*)?$")
    set(size ${CMAKE_MATCH_1})
    set(type ${CMAKE_MATCH_2})
    if(NOT CMAKE_MATCH_3 STREQUAL "UND")
      math(EXPR found "${found} + 1")
    endif()
  endif()
endforeach()
if(found EQUAL 0)
  message(FATAL_ERROR "${LIBRARY} does not export `lakehost_plugin`: use LAKEHOST_PLUGIN(...) "
                      "(C++) or `LH_PLUGIN_EXPORT const lh_plugin_descriptor* lakehost_plugin(void)` (C)")
elseif(NOT found EQUAL 1)
  message(FATAL_ERROR "${LIBRARY} exports `lakehost_plugin` ${found} times")
elseif(type STREQUAL "OBJECT" AND NOT size EQUAL POINTER_SIZE)
  message(FATAL_ERROR "${LIBRARY}: `lakehost_plugin` is a variable of ${size} bytes; it must be the "
                      "descriptor function or a pointer to it")
elseif(NOT type STREQUAL "FUNC" AND NOT type STREQUAL "OBJECT")
  message(FATAL_ERROR "${LIBRARY}: `lakehost_plugin` is of ELF type ${type}; it must be the "
                      "descriptor function or a pointer to it")
endif()
