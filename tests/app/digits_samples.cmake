# digits_samples.cmake - included by the app tests that classify
# examples/app/digits_test.csv (install_example.cmake, digits_precision.cmake).
#
# write_digits_pixels(CSV OUT CORRECT_VAR TOTAL_VAR) writes the rows of CSV
# without their label (the first field) to OUT, and sets CORRECT_VAR and
# TOTAL_VAR from the `# pytorch_correct: N of M` line train_digits.py
# recorded (fatal when there is none).
function(write_digits_pixels csv out correctVar totalVar)
  file(STRINGS "${csv}" lines)
  set(pixels "")
  set(correct "")
  foreach(line IN LISTS lines)
    if(line MATCHES "^# pytorch_correct: ([0-9]+) of ([0-9]+)")
      set(correct ${CMAKE_MATCH_1})
      set(total ${CMAKE_MATCH_2})
    elseif(NOT line MATCHES "^#")
      # Drop the first field (string(REGEX REPLACE) would drop every field:
      # CMake's `^` matches at the start of each retry).
      string(FIND "${line}" "," comma)
      if(comma GREATER_EQUAL 0)
        math(EXPR comma "${comma} + 1")
        string(SUBSTRING "${line}" ${comma} -1 line)
        string(APPEND pixels "${line}\n")
      endif()
    endif()
  endforeach()
  if(correct STREQUAL "")
    message(FATAL_ERROR "${csv} records no '# pytorch_correct: N of M'")
  endif()
  file(WRITE "${out}" "${pixels}")
  set(${correctVar} ${correct} PARENT_SCOPE)
  set(${totalVar} ${total} PARENT_SCOPE)
endfunction()
