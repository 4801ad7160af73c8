# check_undefined.cmake - the app.undefined test.
#
# cmake -DNM=<nm> "-DOBJECTS=prefix=obj.o|prefix2=obj2.o" -P check_undefined.cmake
#
# Fails unless `nm -u` on every object lists only memcpy, memset and memmove,
# and the object defines PREFIX_run (so a wrong or empty file cannot pass).

cmake_minimum_required(VERSION 3.20)

if(NOT NM OR NOT OBJECTS)
  message(FATAL_ERROR "check_undefined.cmake: NM and OBJECTS must be set")
endif()
string(REPLACE "|" ";" objects "${OBJECTS}")
set(allowed memcpy memset memmove)
foreach(entry IN LISTS objects)
  if(NOT entry MATCHES "^([A-Za-z_][A-Za-z0-9_]*)=(.+)$")
    message(FATAL_ERROR "check_undefined.cmake: bad entry '${entry}'")
  endif()
  set(prefix "${CMAKE_MATCH_1}")
  set(object "${CMAKE_MATCH_2}")
  if(NOT EXISTS "${object}")
    message(FATAL_ERROR "${object} does not exist (build the tests first)")
  endif()

  execute_process(COMMAND "${NM}" -u "${object}" RESULT_VARIABLE rc
                  OUTPUT_VARIABLE undefined ERROR_VARIABLE err)
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "nm -u ${object} failed (${rc}): ${err}")
  endif()
  string(REGEX REPLACE "\n$" "" undefined "${undefined}")
  string(REPLACE "\n" ";" lines "${undefined}")
  set(imports "")
  foreach(line IN LISTS lines)
    string(STRIP "${line}" line)
    if(line STREQUAL "")
      continue()
    endif()
    if(NOT line MATCHES "^[Uw] ([^ ]+)$")
      message(FATAL_ERROR "${object}: unexpected nm -u line '${line}'")
    endif()
    list(APPEND imports "${CMAKE_MATCH_1}")
    if(NOT CMAKE_MATCH_1 IN_LIST allowed)
      message(FATAL_ERROR "${object} imports '${CMAKE_MATCH_1}'; only "
                          "memcpy/memset/memmove are allowed\n${undefined}")
    endif()
  endforeach()

  execute_process(COMMAND "${NM}" --defined-only "${object}" RESULT_VARIABLE rc
                  OUTPUT_VARIABLE defined ERROR_VARIABLE err)
  if(NOT rc STREQUAL "0" OR NOT defined MATCHES "[TtiI] ${prefix}_run\n")
    message(FATAL_ERROR "${object} does not define ${prefix}_run:\n"
                        "${defined}${err}")
  endif()
  list(JOIN imports ", " shown)
  if(shown STREQUAL "")
    set(shown "nothing")
  endif()
  message(STATUS "${object}: imports ${shown}")
endforeach()
