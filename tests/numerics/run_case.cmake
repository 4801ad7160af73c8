# run_case.cmake - run one PyTorch-golden numerics case and compare its output.
#
# cmake -DSEQC=<seqc> -DNPYCOMPARE=<npycompare> -DCASE_DIR=<case dir> -DOUTPUT=<out.npy>
#       [-DBACKEND=ref] [-DTOL=1e-6] [-DEXTRA=--stop-after=fuse] -P run_case.cmake
#
# Runs `seqc run CASE_DIR/model.nn --input CASE_DIR/input.npy --output OUTPUT --backend BACKEND`,
# then `npycompare OUTPUT CASE_DIR/expected.npy --tol TOL`; fails if either fails.

foreach(var SEQC NPYCOMPARE CASE_DIR OUTPUT)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_case.cmake: ${var} is not set (is its target built?)")
  endif()
endforeach()
if(NOT DEFINED BACKEND)
  set(BACKEND ref)
endif()
if(NOT DEFINED TOL)
  set(TOL 1e-6)
endif()
foreach(tool "${SEQC}" "${NPYCOMPARE}")
  if(NOT EXISTS "${tool}")
    message(FATAL_ERROR "run_case.cmake: ${tool} does not exist; build it first")
  endif()
endforeach()

file(REMOVE "${OUTPUT}")
set(runCmd "${SEQC}" run "${CASE_DIR}/model.nn" --input "${CASE_DIR}/input.npy"
    --output "${OUTPUT}" --backend "${BACKEND}" ${EXTRA})
execute_process(COMMAND ${runCmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc STREQUAL "0")
  string(REPLACE ";" " " shown "${runCmd}")
  message(FATAL_ERROR "seqc failed (${rc}): ${shown}\n${out}${err}")
endif()

set(cmpCmd "${NPYCOMPARE}" "${OUTPUT}" "${CASE_DIR}/expected.npy" --tol "${TOL}")
execute_process(COMMAND ${cmpCmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc STREQUAL "0")
  string(REPLACE ";" " " shown "${cmpCmd}")
  message(FATAL_ERROR "output differs from PyTorch (${rc}): ${shown}\n${out}${err}")
endif()
message(STATUS "${out}")
