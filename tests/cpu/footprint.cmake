# footprint.cmake - the cpu.footprint test: the footprint `seqc compile`
# states in PREFIX.h and prints, against the object it wrote.
#
# cmake -DSEQC=<seqc> -DCC=<cc> -DSIZE=<size> -DSOURCE_DIR=<root>
#       -DWORKDIR=<dir> -P footprint.cmake
#
# For several models, precisions and targets (a multiversioned object and
# external weights among them):
#  - PREFIX_WEIGHTS_BYTES is the size of the object's .rodata sections
#    (`size -A`: the packed parameters and the constant pools), to the byte;
#    with --external-weights, the size of PREFIX.weights, and the object's
#    .rodata sections are a small fraction of it;
#  - PREFIX_CODE_BYTES is within 5 % of the object's .text sections;
#  - the line `seqc compile` prints states the header's figures;
#  - stack_probe.c, linked with the object, checks PREFIX_SCRATCH_BYTES and
#    that PREFIX_STACK_BYTES and PREFIX_TASK_STACK_BYTES cover the stack
#    measured on painted thread stacks (for the objects this host runs).

cmake_minimum_required(VERSION 3.20)
foreach(var SEQC CC SIZE SOURCE_DIR WORKDIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "footprint.cmake: ${var} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORKDIR}")
file(MAKE_DIRECTORY "${WORKDIR}")

# The value of `#define NAME ((size_t)Nu)` (or `Null`) in \p text, in \p out.
function(macro_value text name out)
  if(NOT text MATCHES "#define ${name} (\\(\\(size_t\\))?([0-9]+)(u\\)|ull)")
    message(FATAL_ERROR "no ${name} in the header")
  endif()
  set(${out} "${CMAKE_MATCH_2}" PARENT_SCOPE)
endfunction()

# Compiles \p model with the flags that follow as PREFIX \p name and checks
# its footprint; with \p probe, also runs stack_probe.c on it.
function(footprint_case name model probe)
  set(base "${WORKDIR}/${name}")
  execute_process(COMMAND "${SEQC}" compile "${SOURCE_DIR}/${model}" -o
                          "${base}" ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE printed
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}: seqc compile failed (${rc}):\n${err}")
  endif()
  file(READ "${base}.h" header)
  string(TOUPPER "${name}" up)
  macro_value("${header}" "${up}_CODE_BYTES" code)
  macro_value("${header}" "${up}_WEIGHTS_BYTES" weights)
  macro_value("${header}" "${up}_STACK_BYTES" stack)
  macro_value("${header}" "${up}_TASK_STACK_BYTES" taskStack)
  macro_value("${header}" "${up}_FLOPS_PER_SAMPLE" flops)

  execute_process(COMMAND "${SIZE}" -A -d "${base}.o" RESULT_VARIABLE rc
                  OUTPUT_VARIABLE sizes ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}: size -A failed:\n${err}")
  endif()
  set(text 0)
  set(rodata 0)
  string(REPLACE "\n" ";" lines "${sizes}")
  foreach(line IN LISTS lines)
    if(line MATCHES "^(\\.[^ \t]+)[ \t]+([0-9]+)[ \t]+[0-9]+")
      set(section "${CMAKE_MATCH_1}")
      set(bytes "${CMAKE_MATCH_2}")
      if(section MATCHES "^\\.text")
        math(EXPR text "${text} + ${bytes}")
      elseif(section MATCHES "^\\.rodata")
        math(EXPR rodata "${rodata} + ${bytes}")
      endif()
    endif()
  endforeach()

  if(";${ARGN};" MATCHES ";--external-weights;")
    file(SIZE "${base}.weights" blob)
    # The object keeps only the code's constants: well under the weights.
    math(EXPR rodata8 "${rodata} * 8")
    if(NOT weights EQUAL blob OR rodata8 GREATER blob)
      message(FATAL_ERROR "${name}: WEIGHTS_BYTES ${weights}, ${base}.weights "
                          "${blob} bytes, .rodata* ${rodata} bytes")
    endif()
  elseif(NOT weights EQUAL rodata OR weights EQUAL 0)
    message(FATAL_ERROR "${name}: WEIGHTS_BYTES ${weights} but .rodata* is "
                        "${rodata} bytes:\n${sizes}")
  endif()
  math(EXPR diff "${code} - ${text}")
  if(diff LESS 0)
    math(EXPR diff "-(${diff})")
  endif()
  math(EXPR diff100 "${diff} * 100")
  math(EXPR limit "${text} * 5")
  if(text EQUAL 0 OR diff100 GREATER limit)
    message(FATAL_ERROR "${name}: CODE_BYTES ${code} but .text is ${text} "
                        "bytes:\n${sizes}")
  endif()
  string(FIND "${printed}" "${base}.o: code ${code} bytes, weights ${weights} bytes, scratch " head)
  string(FIND "${printed}" " bytes, stack ${stack} bytes (work item ${taskStack}), ${flops} FLOPs/sample\n" tail)
  if(NOT head EQUAL 0 OR tail LESS 0)
    message(FATAL_ERROR "${name}: compile printed\n${printed}\nnot the "
                        "header's figures (code ${code}, weights ${weights}, "
                        "stack ${stack}/${taskStack}, ${flops} FLOPs)")
  endif()
  message(STATUS "${name}: code ${code} (.text ${text}), weights ${weights}, "
                 "stack ${stack}, work item ${taskStack}, ${flops} FLOPs")

  if(probe)
    execute_process(
      COMMAND "${CC}" -O1 -std=c11 -D_GNU_SOURCE "-DP=${name}" "-DUP=${up}"
              "-DHEADER=\"${name}.h\"" -I "${WORKDIR}"
              "${SOURCE_DIR}/tests/cpu/stack_probe.c" "${base}.o"
              -o "${base}_probe" -lpthread
      RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "${name}: building the probe failed:\n${out}${err}")
    endif()
    execute_process(COMMAND "${base}_probe" RESULT_VARIABLE rc
                    OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "${name}: the probe failed (${rc}):\n${out}${err}")
    endif()
    message(STATUS "${name}: ${out}")
  endif()
endfunction()

# The probe runs x86-64-v3 code, and the multiversioned object whichever
# variant the host supports: it needs an x86-64 host with AVX2.
set(probe OFF)
cmake_host_system_information(RESULT arch QUERY OS_PLATFORM)
if(arch MATCHES "x86_64|AMD64" AND EXISTS /proc/cpuinfo)
  file(READ /proc/cpuinfo cpuinfo)
  if(cpuinfo MATCHES "[ \t]avx2[ \n]" AND cpuinfo MATCHES "[ \t]fma[ \n]")
    set(probe ON)
  endif()
endif()

set(v3 --cpu x86-64-v3 --target-triple x86_64-linux-gnu)
footprint_case(lecture tests/bench/lecture.nn ${probe} --init-seed 1 ${v3})
footprint_case(mynet examples/lecture/mynet.nn ${probe} ${v3})
footprint_case(digits_bf16 tests/bench/digits.nn ${probe} --init-seed 1 ${v3}
               --precision bf16)
footprint_case(mnist_int8w tests/bench/mnist.nn ${probe} --init-seed 1 ${v3}
               --precision int8w)
footprint_case(mnist tests/bench/mnist.nn ${probe} --init-seed 1 ${v3})
# int8 quantises each work item's rows into a buffer on the stack (up to
# 64 KiB a layer): the bound must cover it, portable and VNNI variants.
footprint_case(mnist_int8 tests/bench/mnist.nn ${probe} --init-seed 1 ${v3}
               --precision int8)
footprint_case(mnist_int8_multi tests/bench/mnist.nn ${probe} --init-seed 1
               --cpu x86-64-v3,sapphirerapids --target-triple x86_64-linux-gnu
               --precision int8)
footprint_case(digits_multi tests/bench/digits.nn ${probe} --init-seed 1
               --cpu x86-64-v3,x86-64-v4 --target-triple x86_64-linux-gnu)
footprint_case(digits_external tests/bench/digits.nn OFF --init-seed 1 ${v3}
               --external-weights)
footprint_case(digits_aarch64 tests/bench/digits.nn OFF --init-seed 1
               --target-triple aarch64-linux-gnu --precision bf16)
