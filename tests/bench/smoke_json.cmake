# Runs `seqc bench` on MODEL with BACKEND (default ref) and checks its --json
# output: one parseable object per batch, the batches and thread count asked
# for, and min <= p10 <= median <= p90 <= max, all positive; for the cpu
# backend also a compile time and an artifact size (the JIT's object code).
if(NOT SEQC OR NOT MODEL)
  message(FATAL_ERROR "usage: cmake -DSEQC=... -DMODEL=... [-DBACKEND=cpu] -P smoke_json.cmake")
endif()
if(NOT BACKEND)
  set(BACKEND ref)
endif()
include(${CMAKE_CURRENT_LIST_DIR}/bench_json.cmake)
seqc_bench_json_lines(lines err 2 ${MODEL} --init-seed 7 --backend ${BACKEND}
                      --batch 1,3 --repeat 3 --json)
set(expectedBatches 1 3)
foreach(i RANGE 1)
  list(GET lines ${i} line)
  list(GET expectedBatches ${i} expected)
  seqc_json_fields("${line}" ${i} "" batch threads seconds_per_sample samples
                   runs_per_sample flops_per_sample peak_gflops backend)
  if(NOT batch EQUAL expected OR NOT threads EQUAL 1 OR NOT samples EQUAL 3
     OR NOT backend STREQUAL "${BACKEND}" OR NOT flops_per_sample EQUAL 28)
    message(FATAL_ERROR "unexpected fields in line ${i}:\n${line}")
  endif()
  seqc_check_spread("${line}" ${i})
  if(NOT peak_gflops GREATER 0 OR NOT runs_per_sample GREATER 0)
    message(FATAL_ERROR "inconsistent timings in line ${i}:\n${line}")
  endif()
  if(BACKEND STREQUAL "cpu")
    string(JSON artifact GET "${line}" artifact_bytes)
    string(JSON compile GET "${line}" compile_seconds)
    # The second compile, from bench's private object cache.
    string(JSON warm GET "${line}" warm_compile_seconds)
    if(NOT warm GREATER 0)
      message(FATAL_ERROR "cpu: warm_compile_seconds ${warm} in line ${i}")
    endif()
    # The lecture net's object: a few KiB of code, well under 1 MiB.
    if(NOT artifact GREATER 1000 OR NOT artifact LESS 1000000
       OR NOT compile GREATER 0)
      message(FATAL_ERROR "cpu: artifact_bytes ${artifact} / compile_seconds "
                          "${compile} out of range in line ${i}:\n${line}")
    endif()
  endif()
endforeach()
message(STATUS "seqc bench --json: ok")
