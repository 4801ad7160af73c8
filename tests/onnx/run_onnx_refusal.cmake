# run_onnx_refusal.cmake - one onnx.backend.refused.* test.
#
# cmake -DSEQC=<seqc> -DMODEL=<model.onnx> -DTEXT=<message part> -P run_onnx_refusal.cmake
#
# `seqc check MODEL` must exit with 1, print nothing on stdout, and print TEXT in its error.

cmake_minimum_required(VERSION 3.20)

foreach(var SEQC MODEL TEXT)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_onnx_refusal.cmake: ${var} is not set")
  endif()
endforeach()

execute_process(COMMAND "${SEQC}" check "${MODEL}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc STREQUAL "1" OR NOT out STREQUAL "")
  message(FATAL_ERROR "seqc check ${MODEL}: expected exit code 1 and no output, got ${rc}:\n"
                      "${out}${err}")
endif()
string(FIND "${err}" "${TEXT}" found)
if(found EQUAL -1)
  message(FATAL_ERROR "seqc check ${MODEL}: the error does not say '${TEXT}':\n${err}")
endif()
message(STATUS "refused as expected: ${err}")
