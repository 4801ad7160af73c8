# firstcontact.pasted_as_written: every line of MODEL (the .nn file) that is
# not blank, a comment, the import or the line naming the model stands in
# SCRIPT (the training script), in the same order, as written (leading
# spaces aside): the model is the user's text, not a rewrite of it.
file(STRINGS "${MODEL}" model_lines)
file(READ "${SCRIPT}" script)
set(position 0)
foreach(line IN LISTS model_lines)
  string(STRIP "${line}" stripped)
  if(stripped STREQUAL "" OR stripped MATCHES "^#" OR
     stripped MATCHES "^import " OR stripped MATCHES "^[A-Za-z_]+ = nn\\.Sequential\\($")
    continue()
  endif()
  string(SUBSTRING "${script}" ${position} -1 rest)
  string(FIND "${rest}" "${stripped}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "'${stripped}' of ${MODEL} is not in ${SCRIPT} "
                        "(after the lines before it)")
  endif()
  string(LENGTH "${stripped}" length)
  math(EXPR position "${position} + ${found} + ${length}")
endforeach()
