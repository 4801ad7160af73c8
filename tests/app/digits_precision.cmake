# digits_precision.cmake - the app.digits_precision test (issue 21: "the
# digits app's accuracy must be unchanged in every mode").
#
# cmake -DSEQC=<seqc> -DCOUNT_CORRECT=<count_correct> -DWORKDIR=<dir>
#       -DAPP_SOURCE=<examples/app> "-DMODES=cpu:f32|cpu:bf16|ref:int8|..."
#       -P digits_precision.cmake
#
# Classifies the 100 held-out samples of examples/app/digits_test.csv with
# `seqc run --backend B --precision P` for every B:P in MODES and checks
# that each mode gets exactly as many right as the f32 reference backend
# and as PyTorch did when train_digits.py recorded the file.

cmake_minimum_required(VERSION 3.20)

foreach(var SEQC COUNT_CORRECT WORKDIR APP_SOURCE MODES)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "digits_precision.cmake: ${var} is not set")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORKDIR}")
file(MAKE_DIRECTORY "${WORKDIR}")

include(${CMAKE_CURRENT_LIST_DIR}/digits_samples.cmake)
write_digits_pixels("${APP_SOURCE}/digits_test.csv" "${WORKDIR}/pixels.csv"
                    pytorchCorrect pytorchTotal)

# How many of the samples `seqc run --backend B --precision P` gets right.
function(count_mode backend precision outVar)
  set(scores "${WORKDIR}/${backend}_${precision}.npy")
  execute_process(
    COMMAND "${SEQC}" run "${APP_SOURCE}/digits.nn" --backend ${backend}
            --precision ${precision} --no-cache
            --input "${WORKDIR}/pixels.csv" --output "${scores}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "seqc run --backend ${backend} --precision "
                        "${precision} failed (${rc}):\n${out}${err}")
  endif()
  execute_process(COMMAND "${COUNT_CORRECT}" "${scores}"
                          "${APP_SOURCE}/digits_test.csv"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc STREQUAL "0" OR NOT out MATCHES "correct: ([0-9]+) of 100")
    message(FATAL_ERROR "count_correct on ${scores}: ${out}${err}")
  endif()
  set(${outVar} ${CMAKE_MATCH_1} PARENT_SCOPE)
endfunction()

count_mode(ref f32 f32Correct)
if(NOT f32Correct EQUAL pytorchCorrect)
  message(FATAL_ERROR "the f32 reference got ${f32Correct} right, PyTorch "
                      "${pytorchCorrect}")
endif()
string(REPLACE "|" ";" modes "${MODES}")
set(summary "")
foreach(mode IN LISTS modes)
  string(REPLACE ":" ";" parts "${mode}")
  list(GET parts 0 backend)
  list(GET parts 1 precision)
  count_mode(${backend} ${precision} correct)
  string(APPEND summary " ${mode}=${correct}")
  if(NOT correct EQUAL f32Correct)
    message(FATAL_ERROR "--backend ${backend} --precision ${precision} got "
                        "${correct} of 100 right, f32 ${f32Correct}")
  endif()
endforeach()
message(STATUS "digits correct of 100: f32 reference ${f32Correct},${summary}")
