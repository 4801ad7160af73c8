# run_checkpoint_case.cmake - one checkpoints.<backend>.<case> test.
#
# cmake -DSEQC=<seqc> -DMODEL=<model.nn> -DSAFETENSORS=<weights.safetensors>
#       -DCHECKPOINT_NAME=<case> -DTORCH_DATA=<tests/data/torch>
#       -DINPUT=<input> -DBACKEND=<ref|cpu> -DWORKDIR=<dir>
#       -P run_checkpoint_case.cmake
#
# Runs MODEL as written (it loads TORCH_DATA/<case>.pt), with --weights
# SAFETENSORS and with --weights TORCH_DATA/<case>.pt; all three outputs must
# be byte-identical .npy files. With -DPREFIXED=<other case> -DPREFIX=<p>, a
# fourth run takes --weights TORCH_DATA/<other case>.pt --weights-prefix <p>
# (a training checkpoint or a wrapped module holding the same weights).

cmake_minimum_required(VERSION 3.20)

foreach(var SEQC MODEL SAFETENSORS CHECKPOINT_NAME TORCH_DATA INPUT BACKEND
            WORKDIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_checkpoint_case.cmake: ${var} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORKDIR}")
file(MAKE_DIRECTORY "${WORKDIR}")

set(as_written_args)
set(safetensors_args --weights "${SAFETENSORS}")
set(checkpoint_args --weights "${TORCH_DATA}/${CHECKPOINT_NAME}.pt")
set(ways safetensors checkpoint)
if(DEFINED PREFIXED)
  set(prefixed_args --weights "${TORCH_DATA}/${PREFIXED}.pt"
                    --weights-prefix "${PREFIX}")
  list(APPEND ways prefixed)
endif()
foreach(way as_written ${ways})
  set(output "${WORKDIR}/${way}.npy")
  execute_process(COMMAND "${SEQC}" run "${MODEL}" ${${way}_args}
                          --input "${INPUT}" --output "${output}"
                          --backend "${BACKEND}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc STREQUAL "0" OR NOT EXISTS "${output}")
    message(FATAL_ERROR "seqc run ${MODEL} ${${way}_args} failed (${rc}):\n"
                        "${out}${err}")
  endif()
endforeach()
foreach(way ${ways})
  execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files
                          "${WORKDIR}/as_written.npy" "${WORKDIR}/${way}.npy"
                  RESULT_VARIABLE differ)
  if(NOT differ STREQUAL "0")
    message(FATAL_ERROR "the output with ${way} weights differs from the "
                        "model's own load_state_dict(\"${CHECKPOINT_NAME}.pt\")")
  endif()
endforeach()
file(SIZE "${WORKDIR}/as_written.npy" size)
message(STATUS "${BACKEND}: ${CHECKPOINT_NAME}.pt and its safetensors twin give "
               "the same ${size}-byte output")
