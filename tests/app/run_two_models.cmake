# run_two_models.cmake - the app.two_models test.
#
# cmake -DSEQC=<seqc> -DNPYCOMPARE=<npycompare> -DPROGRAM=<two_models>
#       -DWORKDIR=<dir> -DDIGITS_MODEL=<digits.nn> -DDIGITS_WEIGHTS=<w>
#       -DMIXED_MODEL=<mixed.nn> -DMIXED_SEED=<n> -P run_two_models.cmake
#
# Runs the C program (which writes NAME_in_B.npy / NAME_out_B.npy for both
# models), then for each pair runs `seqc run --backend ref` on the same input
# and compares with npycompare at 1e-4 scaled by max(1, max |reference|).

cmake_minimum_required(VERSION 3.20)

foreach(var SEQC NPYCOMPARE PROGRAM WORKDIR DIGITS_MODEL DIGITS_WEIGHTS
            MIXED_MODEL MIXED_SEED)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_two_models.cmake: ${var} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORKDIR}")
file(MAKE_DIRECTORY "${WORKDIR}")

execute_process(COMMAND "${PROGRAM}" "${WORKDIR}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "two_models failed (${rc}):\n${out}${err}")
endif()
message(STATUS "${out}")

# Must match kBatches in two_models.c.
set(batches 1 7 64 2051)
set(digits_args "${DIGITS_MODEL}" --weights "${DIGITS_WEIGHTS}")
set(mixed_mv_args "${MIXED_MODEL}" --init-seed "${MIXED_SEED}")
set(mixed_ext_args ${mixed_mv_args})
set(compared 0)
foreach(model digits mixed_mv mixed_ext)
  foreach(batch IN LISTS batches)
    set(in "${WORKDIR}/${model}_in_${batch}.npy")
    set(out "${WORKDIR}/${model}_out_${batch}.npy")
    set(ref "${WORKDIR}/${model}_ref_${batch}.npy")
    foreach(file "${in}" "${out}")
      if(NOT EXISTS "${file}")
        message(FATAL_ERROR "two_models did not write ${file}")
      endif()
    endforeach()
    execute_process(COMMAND "${SEQC}" run ${${model}_args} --backend ref
                            --input "${in}" --output "${ref}"
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out2 ERROR_VARIABLE err)
    if(NOT rc STREQUAL "0")
      message(FATAL_ERROR "seqc run --backend ref failed for ${model} batch "
                          "${batch} (${rc}):\n${out2}${err}")
    endif()
    execute_process(COMMAND "${NPYCOMPARE}" "${out}" "${ref}" --tol 1e-4
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out2 ERROR_VARIABLE err)
    if(NOT rc STREQUAL "0")
      message(FATAL_ERROR "${model}, batch ${batch}: the linked object "
                          "differs from the reference:\n${out2}${err}")
    endif()
    string(STRIP "${out2}" out2)
    message(STATUS "${model}, batch ${batch}: ${out2}")
    math(EXPR compared "${compared} + 1")
  endforeach()
endforeach()
message(STATUS "${compared} outputs match the reference backend")
