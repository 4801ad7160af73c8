# Runs SEQC on MODEL (--init-seed 1) and INPUT with the reference backend in
# f32 and in the precision PRECISION, and checks with NPYCOMPARE that the
# simulated precision is within TOL of f32 (scaled by the output's
# magnitude) yet not equal to it: the simulation rounds.
foreach(var SEQC MODEL INPUT PRECISION TOL NPYCOMPARE WORKDIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "ref_modes.cmake needs -D${var}=...")
  endif()
endforeach()
file(MAKE_DIRECTORY ${WORKDIR})
foreach(mode f32 ${PRECISION})
  execute_process(
    COMMAND ${SEQC} run ${MODEL} --init-seed 1 --backend ref
            --precision ${mode} --input ${INPUT} -o ${WORKDIR}/${mode}.npy
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "seqc run --precision ${mode} failed (${rc}): ${err}")
  endif()
endforeach()
execute_process(
  COMMAND ${NPYCOMPARE} ${WORKDIR}/${PRECISION}.npy ${WORKDIR}/f32.npy
          --tol ${TOL}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PRECISION} is not within ${TOL} of f32: ${out}")
endif()
execute_process(
  COMMAND ${NPYCOMPARE} ${WORKDIR}/${PRECISION}.npy ${WORKDIR}/f32.npy
          --tol 0
  RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "${PRECISION} equals f32 to the bit: nothing rounded")
endif()
