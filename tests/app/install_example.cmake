# install_example.cmake - the app.example test.
#
# cmake -DSEQC_BUILD_DIR=<seqc build> -DAPP_SOURCE=<examples/app>
#       -DWORKDIR=<dir> -DCOUNT_CORRECT=<count_correct> -DGENERATOR=<gen>
#       [-DMAKE_PROGRAM=<ninja>] [-DCXX_COMPILER=<c++>]
#       [-DSANITIZE=<sanitizers seqc was built with>] -P install_example.cmake
#
# 1. `cmake --install` the seqc build into WORKDIR/prefix and checks the
#    package's files are there.
# 2. Configures a copy of examples/app with -DCMAKE_PREFIX_PATH=that prefix
#    (find_package(seqc) + seqc_add_model), builds it, checks that a second
#    build does nothing and that touching the weights recompiles the model.
# 3. Runs classify on digits_test.csv and checks its accuracy line against
#    the number of rows `seqc run --backend ref` classifies correctly and the
#    number train_digits.py recorded in the CSV (`# pytorch_correct: N of M`):
#    all three must be equal.

cmake_minimum_required(VERSION 3.20)

foreach(var SEQC_BUILD_DIR APP_SOURCE WORKDIR COUNT_CORRECT GENERATOR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "install_example.cmake: ${var} is not set")
  endif()
endforeach()

function(run_checked what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc STREQUAL "0")
    string(REPLACE ";" " " shown "${ARGN}")
    message(FATAL_ERROR "${what} failed (${rc}): ${shown}\n${out}${err}")
  endif()
  set(output "${out}${err}" PARENT_SCOPE)
endfunction()

set(prefix "${WORKDIR}/prefix")
set(src "${WORKDIR}/src")
set(build "${WORKDIR}/build")
file(REMOVE_RECURSE "${WORKDIR}")
file(MAKE_DIRECTORY "${WORKDIR}")

# 1. Install.
run_checked("cmake --install" "${CMAKE_COMMAND}" --install "${SEQC_BUILD_DIR}"
            --prefix "${prefix}")
file(GLOB configs "${prefix}/lib*/cmake/seqc/seqcConfig.cmake"
     "${prefix}/lib/*/cmake/seqc/seqcConfig.cmake")
if(NOT configs)
  message(FATAL_ERROR "no seqcConfig.cmake installed under ${prefix}")
endif()
list(GET configs 0 config)
get_filename_component(packageDir "${config}" DIRECTORY)
get_filename_component(libDir "${packageDir}/../.." ABSOLUTE)
foreach(file "${prefix}/bin/seqc" "${libDir}/libseqc_runtime.a"
             "${prefix}/include/seqc/ThreadPool.h"
             "${packageDir}/seqcConfigVersion.cmake"
             "${packageDir}/seqcAddModel.cmake")
  if(NOT EXISTS "${file}")
    message(FATAL_ERROR "cmake --install did not install ${file}")
  endif()
endforeach()

# 2. Build a copy of examples/app (so the test never touches the source
# tree) against the installed package.
file(COPY "${APP_SOURCE}/" DESTINATION "${src}" PATTERN "build*" EXCLUDE)
set(configure "${CMAKE_COMMAND}" -S "${src}" -B "${build}" -G "${GENERATOR}"
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}")
if(MAKE_PROGRAM)
  list(APPEND configure "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER)
  list(APPEND configure "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(SANITIZE)
  # The installed runtime library is instrumented: the app must link the
  # sanitizers' runtimes too.
  list(APPEND configure "-DCMAKE_CXX_FLAGS=-fsanitize=${SANITIZE}"
       "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE}")
endif()
run_checked("configuring examples/app" ${configure})
file(STRINGS "${build}/CMakeCache.txt" seqcDir REGEX "^seqc_DIR:")
if(NOT seqcDir STREQUAL "seqc_DIR:PATH=${packageDir}")
  message(FATAL_ERROR "find_package(seqc) did not find the installed "
                      "package in ${packageDir}: ${seqcDir}")
endif()

run_checked("building examples/app" "${CMAKE_COMMAND}" --build "${build}")
if(NOT output MATCHES "seqc: compiling")
  message(FATAL_ERROR "the build did not run seqc:\n${output}")
endif()
run_checked("rebuilding examples/app" "${CMAKE_COMMAND}" --build "${build}")
if(output MATCHES "seqc: compiling")
  message(FATAL_ERROR "a second build recompiled the model:\n${output}")
endif()
file(TOUCH "${src}/digits.safetensors")
run_checked("rebuilding examples/app" "${CMAKE_COMMAND}" --build "${build}")
if(NOT output MATCHES "seqc: compiling")
  message(FATAL_ERROR "changing the weights did not recompile the "
                      "model:\n${output}")
endif()

# 3. Accuracy.
run_checked("classify" "${build}/classify" "${src}/digits_test.csv")
message(STATUS "classify printed:\n${output}")
if(NOT output MATCHES "accuracy: ([0-9]+)/([0-9]+) ")
  message(FATAL_ERROR "classify printed no accuracy line")
endif()
set(appCorrect ${CMAKE_MATCH_1})
set(appTotal ${CMAKE_MATCH_2})

# The same rows without their labels, through the reference interpreter.
include(${CMAKE_CURRENT_LIST_DIR}/digits_samples.cmake)
write_digits_pixels("${src}/digits_test.csv" "${WORKDIR}/pixels.csv"
                    pytorchCorrect pytorchTotal)
run_checked("seqc run --backend ref" "${prefix}/bin/seqc" run
            "${src}/digits.nn" --backend ref --input "${WORKDIR}/pixels.csv"
            --output "${WORKDIR}/reference.npy")
run_checked("count_correct" "${COUNT_CORRECT}" "${WORKDIR}/reference.npy"
            "${src}/digits_test.csv")
if(NOT output MATCHES "correct: ([0-9]+) of ([0-9]+)")
  message(FATAL_ERROR "count_correct printed '${output}'")
endif()
set(refCorrect ${CMAKE_MATCH_1})
set(refTotal ${CMAKE_MATCH_2})

message(STATUS "classify: ${appCorrect}/${appTotal}, reference backend: "
               "${refCorrect}/${refTotal}, PyTorch: "
               "${pytorchCorrect}/${pytorchTotal}")
if(NOT appTotal EQUAL refTotal OR NOT appTotal EQUAL pytorchTotal)
  message(FATAL_ERROR "the three counts are over different numbers of rows")
endif()
if(NOT appCorrect EQUAL refCorrect)
  message(FATAL_ERROR "classify got ${appCorrect} right, the reference "
                      "backend ${refCorrect}")
endif()
if(NOT refCorrect EQUAL pytorchCorrect)
  message(FATAL_ERROR "the reference backend got ${refCorrect} right, "
                      "PyTorch ${pytorchCorrect} (train_digits.py)")
endif()
