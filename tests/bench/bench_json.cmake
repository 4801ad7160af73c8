# Helpers of the `seqc bench --json` smoke tests (smoke_json.cmake,
# smoke_layers.cmake); include() after SEQC is set.

# Runs `${SEQC} bench ARGN`, fails unless it exits 0 with `expected` JSON
# lines; sets `linesVar` to the lines and `errVar` to its stderr.
function(seqc_bench_json_lines linesVar errVar expected)
  execute_process(COMMAND ${SEQC} bench ${ARGN}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "seqc bench ${ARGN} failed (${rc}):\n${out}\n${err}")
  endif()
  string(STRIP "${out}" out)
  string(REPLACE "\n" ";" lines "${out}")
  list(LENGTH lines count)
  if(NOT count EQUAL expected)
    message(FATAL_ERROR "expected ${expected} JSON lines, got ${count}:\n${out}")
  endif()
  set(${linesVar} "${lines}" PARENT_SCOPE)
  set(${errVar} "${err}" PARENT_SCOPE)
endfunction()

# Sets `<prefix><key>` for every key in ARGN from JSON line number `i`;
# fails when one is missing.
function(seqc_json_fields line i prefix)
  foreach(key ${ARGN})
    string(JSON value ERROR_VARIABLE jsonError GET "${line}" ${key})
    if(jsonError)
      message(FATAL_ERROR "line ${i}: ${jsonError}\n${line}")
    endif()
    set(${prefix}${key} "${value}" PARENT_SCOPE)
  endforeach()
endfunction()

# Fails unless line `i`'s latencies are positive and ordered
# (min <= p10 <= median <= p90 <= max) and its GFLOP/s positive.
function(seqc_check_spread line i)
  seqc_json_fields("${line}" ${i} "" min_seconds p10_seconds median_seconds
                   p90_seconds max_seconds gflops)
  if(NOT min_seconds GREATER 0 OR min_seconds GREATER p10_seconds
     OR p10_seconds GREATER median_seconds OR median_seconds GREATER p90_seconds
     OR p90_seconds GREATER max_seconds OR NOT gflops GREATER 0)
    message(FATAL_ERROR "inconsistent timings in line ${i}:\n${line}")
  endif()
endfunction()
