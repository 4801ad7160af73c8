# run_onnx_case.cmake - one onnx.torch.* or onnx.backend.* test.
#
# cmake -DSEQC=<seqc> -DNPYCOMPARE=<npycompare> -DCASE_DIR=<dir> -DBACKEND=<ref|cpu>
#       -DTOL=<tolerance> -DWORKDIR=<dir> -P run_onnx_case.cmake
#
# Runs `seqc run M --input CASE_DIR/input.npy --backend BACKEND` for every .onnx file M in
# CASE_DIR (a torch export per opset, or a backend case's model.onnx) and compares each output
# with CASE_DIR/expected.npy (npycompare --tol TOL).

cmake_minimum_required(VERSION 3.20)

foreach(var SEQC NPYCOMPARE CASE_DIR BACKEND TOL WORKDIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_onnx_case.cmake: ${var} is not set (is its target built?)")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORKDIR}")
file(MAKE_DIRECTORY "${WORKDIR}")
file(GLOB models "${CASE_DIR}/*.onnx")
list(SORT models)
if(NOT models)
  message(FATAL_ERROR "no .onnx file in ${CASE_DIR}")
endif()
foreach(model ${models})
  get_filename_component(stem "${model}" NAME_WE)
  set(output "${WORKDIR}/${stem}.npy")
  execute_process(COMMAND "${SEQC}" run "${model}" --input "${CASE_DIR}/input.npy"
                          --output "${output}" --backend "${BACKEND}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "seqc run ${model} --backend ${BACKEND} failed (${rc}):\n${out}${err}")
  endif()
  execute_process(COMMAND "${NPYCOMPARE}" "${output}" "${CASE_DIR}/expected.npy" --tol "${TOL}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "${model} (${BACKEND}) differs from PyTorch:\n${out}${err}")
  endif()
  message(STATUS "${stem}: ${out}")
endforeach()
