# Runs `seqc bench --layers --json` on MODEL (the mnist net: three dense
# layers, each its own stage) and checks the per-stage lines: after the two
# whole-model lines (batches 1 and 3), one line per stage and batch, with the
# stage's kind, its op, its own FLOPs and consistent timings.
if(NOT SEQC OR NOT MODEL)
  message(FATAL_ERROR "usage: cmake -DSEQC=... -DMODEL=... -P smoke_layers.cmake")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/bench_json.cmake)
seqc_bench_json_lines(lines err 8 ${MODEL} --init-seed 7 --batch 1,3
                      --repeat 3 --json --layers)
if(NOT err STREQUAL "")
  message(FATAL_ERROR "seqc bench --layers wrote to stderr:\n${err}")
endif()
# Stage lines come per batch, stages in order; 2 * in * out FLOPs and
# (in * out + out) * 4 weight bytes each.
set(expectedFlops 802816 524288 10240)
set(expectedWeightBytes 1607680 1050624 20520)
foreach(i RANGE 2 7)
  list(GET lines ${i} line)
  math(EXPR expectedStage "(${i} - 2) % 3")
  if(i LESS 5)
    set(expectedBatch 1)
  else()
    set(expectedBatch 3)
  endif()
  list(GET expectedFlops ${expectedStage} flops)
  list(GET expectedWeightBytes ${expectedStage} weightBytes)
  seqc_json_fields("${line}" ${i} "" stage stage_kind first_op last_op
                   stage_label batch flops_per_sample samples weight_bytes
                   compile_seconds artifact_bytes)
  if(NOT stage EQUAL expectedStage OR NOT stage_kind STREQUAL "dense"
     OR NOT first_op EQUAL expectedStage OR NOT last_op EQUAL expectedStage
     OR NOT batch EQUAL expectedBatch OR NOT flops_per_sample EQUAL flops
     OR NOT samples EQUAL 3 OR NOT stage_label MATCHES "Linear"
     OR NOT weight_bytes EQUAL weightBytes OR NOT compile_seconds GREATER 0
     OR NOT artifact_bytes GREATER weightBytes)
    message(FATAL_ERROR "unexpected fields in line ${i}:\n${line}")
  endif()
  seqc_check_spread("${line}" ${i})
endforeach()
foreach(i RANGE 1)
  list(GET lines ${i} line)
  string(JSON stage ERROR_VARIABLE noStage GET "${line}" stage)
  if(NOT noStage)
    message(FATAL_ERROR "whole-model line ${i} carries a stage:\n${line}")
  endif()
endforeach()
message(STATUS "seqc bench --layers --json: ok")
