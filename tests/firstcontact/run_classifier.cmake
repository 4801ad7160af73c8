# firstcontact.run.<backend> and firstcontact.compiled: the classifier on
# DIR/images.npy ([5, 8, 8]) must give PyTorch's DIR/expected.npy to 1e-4
# (of the outputs' magnitude).
#   -DSEQC=... -DBACKEND=ref|cpu  through `seqc run` with the checkpoint
#                                 (with -DONNX=1: of the ONNX export)
#   -DPROGRAM=...                 through the compiled C client
# and -DNPYCOMPARE, -DDIR, -DWORKDIR.
file(REMOVE_RECURSE "${WORKDIR}")
file(MAKE_DIRECTORY "${WORKDIR}")
set(out "${WORKDIR}/scores.npy")
if(DEFINED SEQC AND ONNX)
  set(command "${SEQC}" run "${DIR}/classifier.onnx" --backend "${BACKEND}"
              --input "${DIR}/images.npy" --output "${out}")
elseif(DEFINED SEQC)
  set(command "${SEQC}" run "${DIR}/classifier.nn" --backend "${BACKEND}"
              --weights "${DIR}/classifier.pt" --weights-prefix layers.
              --input "${DIR}/images.npy" --output "${out}")
else()
  set(command "${PROGRAM}" "${DIR}/images.npy" "${out}")
endif()
execute_process(COMMAND ${command} RESULT_VARIABLE rc OUTPUT_VARIABLE stdout
                ERROR_VARIABLE stderr)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${command} failed (${rc}):\n${stdout}${stderr}")
endif()
execute_process(COMMAND "${NPYCOMPARE}" "${out}" "${DIR}/expected.npy" --tol 1e-4
                RESULT_VARIABLE rc OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the outputs differ from PyTorch's:\n${stdout}${stderr}")
endif()
