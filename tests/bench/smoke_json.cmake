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
execute_process(
  COMMAND ${SEQC} bench ${MODEL} --init-seed 7 --backend ${BACKEND} --batch 1,3
          --repeat 3 --json
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "seqc bench failed (${rc}):\n${out}\n${err}")
endif()
string(STRIP "${out}" out)
string(REPLACE "\n" ";" lines "${out}")
list(LENGTH lines count)
if(NOT count EQUAL 2)
  message(FATAL_ERROR "expected 2 JSON lines (batches 1 and 3), got ${count}:\n${out}")
endif()
set(expectedBatches 1 3)
foreach(i RANGE 1)
  list(GET lines ${i} line)
  list(GET expectedBatches ${i} expected)
  foreach(key batch threads median_seconds gflops min_seconds p10_seconds p90_seconds
              max_seconds seconds_per_sample samples runs_per_sample flops_per_sample
              peak_gflops backend)
    string(JSON ${key} ERROR_VARIABLE jsonError GET "${line}" ${key})
    if(jsonError)
      message(FATAL_ERROR "line ${i}: ${jsonError}\n${line}")
    endif()
  endforeach()
  if(NOT batch EQUAL expected OR NOT threads EQUAL 1 OR NOT samples EQUAL 3
     OR NOT backend STREQUAL "${BACKEND}" OR NOT flops_per_sample EQUAL 28)
    message(FATAL_ERROR "unexpected fields in line ${i}:\n${line}")
  endif()
  if(NOT min_seconds GREATER 0 OR min_seconds GREATER p10_seconds
     OR p10_seconds GREATER median_seconds OR median_seconds GREATER p90_seconds
     OR p90_seconds GREATER max_seconds OR NOT gflops GREATER 0
     OR NOT peak_gflops GREATER 0 OR NOT runs_per_sample GREATER 0)
    message(FATAL_ERROR "inconsistent timings in line ${i}:\n${line}")
  endif()
  if(BACKEND STREQUAL "cpu")
    string(JSON artifact GET "${line}" artifact_bytes)
    string(JSON compile GET "${line}" compile_seconds)
    # The lecture net's object: a few KiB of code, well under 1 MiB.
    if(NOT artifact GREATER 1000 OR NOT artifact LESS 1000000
       OR NOT compile GREATER 0)
      message(FATAL_ERROR "cpu: artifact_bytes ${artifact} / compile_seconds "
                          "${compile} out of range in line ${i}:\n${line}")
    endif()
  endif()
endforeach()
message(STATUS "seqc bench --json: ok")
