# Runs `seqc bench --layers --json` on MODEL (the mnist net: three dense
# layers, each its own stage) and checks the per-stage lines: after the two
# whole-model lines (batches 1 and 3), one line per stage and batch, with the
# stage's kind, its op, its own FLOPs and consistent timings.
if(NOT SEQC OR NOT MODEL)
  message(FATAL_ERROR "usage: cmake -DSEQC=... -DMODEL=... -P smoke_layers.cmake")
endif()
execute_process(
  COMMAND ${SEQC} bench ${MODEL} --init-seed 7 --batch 1,3 --repeat 3 --json
          --layers
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
  message(FATAL_ERROR "seqc bench --layers failed (${rc}):\n${out}\n${err}")
endif()
string(STRIP "${out}" out)
string(REPLACE "\n" ";" lines "${out}")
list(LENGTH lines count)
if(NOT count EQUAL 8)
  message(FATAL_ERROR "expected 8 JSON lines (2 whole, 3 stages x 2 batches), "
                      "got ${count}:\n${out}")
endif()
# Stage lines come per batch, stages in order; 2 * in * out FLOPs and
# (in * out + out) * 4 weight bytes each.
set(expectedFlops 802816 524288 10240)
set(expectedWeightBytes 1607680 1050624 20520)
foreach(i RANGE 2 7)
  list(GET lines ${i} line)
  math(EXPR stage "(${i} - 2) % 3")
  if(i LESS 5)
    set(expectedBatch 1)
  else()
    set(expectedBatch 3)
  endif()
  list(GET expectedFlops ${stage} flops)
  list(GET expectedWeightBytes ${stage} weightBytes)
  foreach(key stage stage_kind first_op last_op stage_label batch
              flops_per_sample median_seconds min_seconds p10_seconds
              p90_seconds max_seconds gflops samples weight_bytes
              compile_seconds artifact_bytes)
    string(JSON ${key}_ ERROR_VARIABLE jsonError GET "${line}" ${key})
    if(jsonError)
      message(FATAL_ERROR "line ${i}: ${jsonError}\n${line}")
    endif()
  endforeach()
  if(NOT stage_ EQUAL stage OR NOT stage_kind_ STREQUAL "dense"
     OR NOT first_op_ EQUAL stage OR NOT last_op_ EQUAL stage
     OR NOT batch_ EQUAL expectedBatch OR NOT flops_per_sample_ EQUAL flops
     OR NOT samples_ EQUAL 3 OR NOT stage_label_ MATCHES "Linear"
     OR NOT weight_bytes_ EQUAL weightBytes OR NOT compile_seconds_ GREATER 0
     OR NOT artifact_bytes_ GREATER weightBytes)
    message(FATAL_ERROR "unexpected fields in line ${i}:\n${line}")
  endif()
  if(NOT min_seconds_ GREATER 0 OR min_seconds_ GREATER p10_seconds_
     OR p10_seconds_ GREATER median_seconds_
     OR median_seconds_ GREATER p90_seconds_
     OR p90_seconds_ GREATER max_seconds_ OR NOT gflops_ GREATER 0)
    message(FATAL_ERROR "inconsistent timings in line ${i}:\n${line}")
  endif()
endforeach()
foreach(i RANGE 1)
  list(GET lines ${i} line)
  string(JSON stage ERROR_VARIABLE noStage GET "${line}" stage)
  if(NOT noStage)
    message(FATAL_ERROR "whole-model line ${i} carries a stage:\n${line}")
  endif()
endforeach()
message(STATUS "seqc bench --layers --json: ok")
