# exit_codes.cmake - the cli.exit_codes test.
#
# cmake -DSEQC=<seqc> -DWORKDIR=<dir> [-DHAVE_LLVM=ON] [-DHAVE_CUDA=ON]
#       -P exit_codes.cmake
#
# Checks the exit codes the README and `seqc --help` promise: 0 on success,
# 1 on a user or input error, 2 on an environment failure (here an output
# in a directory that does not exist, and a CUDA run without a GPU or
# without the CUDA backend).

cmake_minimum_required(VERSION 3.20)

foreach(var SEQC WORKDIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "exit_codes.cmake: ${var} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORKDIR}")
file(MAKE_DIRECTORY "${WORKDIR}")
set(missing "${WORKDIR}/no-such-dir")
file(WRITE "${WORKDIR}/good.nn"
     "Net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))\n")
file(WRITE "${WORKDIR}/bad.nn"
     "Net = nn.Sequential(nn.Linear(2, 3), nn.Linear(4, 1))\n")
file(WRITE "${WORKDIR}/x.csv" "1, 2\n3, 4\n")

# expect_exit(CODE ARGS...): runs seqc ARGS and checks its exit code; leaves
# its stdout in `out` and stderr in `err`.
function(expect_exit code)
  execute_process(COMMAND "${SEQC}" ${ARGN} RESULT_VARIABLE rc
                  OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
  if(NOT rc STREQUAL "${code}")
    string(REPLACE ";" " " shown "${ARGN}")
    message(FATAL_ERROR "seqc ${shown}: expected exit code ${code}, got "
                        "${rc}\n${stdout}${stderr}")
  endif()
  set(out "${stdout}" PARENT_SCOPE)
  set(err "${stderr}" PARENT_SCOPE)
endfunction()

expect_exit(0 --help)
foreach(line "exit status:" "  0  success" "  1  a user or input error"
             "  2  an environment failure")
  string(FIND "${out}" "\n${line}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "seqc --help does not say '${line}':\n${out}")
  endif()
endforeach()

expect_exit(0 check "${WORKDIR}/good.nn" --init-seed 1)
expect_exit(1 check "${WORKDIR}/bad.nn" --init-seed 1)
if(NOT err MATCHES "bad.nn:1:[0-9]+: error: ")
  message(FATAL_ERROR "seqc check bad.nn did not report the error:\n${err}")
endif()
expect_exit(1 run "${WORKDIR}/good.nn" --init-seed 1 --backend ref
            --input "${WORKDIR}/missing.npy")

expect_exit(0 run "${WORKDIR}/good.nn" --init-seed 1 --backend ref
            --input "${WORKDIR}/x.csv" --output "${WORKDIR}/y.npy")
expect_exit(2 run "${WORKDIR}/good.nn" --init-seed 1 --backend ref
            --input "${WORKDIR}/x.csv" --output "${missing}/y.npy")
if(HAVE_LLVM)
  expect_exit(2 emit "${WORKDIR}/good.nn" --init-seed 1 --target cpu
              --format asm -o "${missing}/x.s")
  expect_exit(2 compile "${WORKDIR}/good.nn" --init-seed 1 --target cpu
              -o "${missing}/x")
endif()
# CUDA: success with a GPU; without one (no driver or no device), or in a
# build without the CUDA backend, an environment failure that says so.
execute_process(COMMAND "${SEQC}" run "${WORKDIR}/good.nn" --init-seed 1
                        --backend cuda --input "${WORKDIR}/x.csv"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(HAVE_CUDA)
  set(expected "^seqc: error: CUDA: ")
else()
  set(expected "^seqc: error: this seqc was built without the CUDA backend")
endif()
if(NOT (rc STREQUAL "0" AND HAVE_CUDA) AND
   NOT (rc STREQUAL "2" AND err MATCHES "${expected}"))
  message(FATAL_ERROR "seqc run --backend cuda: expected exit code 0 (with "
                      "a GPU) or 2 with '${expected}', got ${rc}\n${out}${err}")
endif()
message(STATUS "seqc run --backend cuda: exit code ${rc}")

if(EXISTS "${missing}")
  message(FATAL_ERROR "a failed command created ${missing}")
endif()
message(STATUS "exit codes as documented")
