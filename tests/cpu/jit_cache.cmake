# jit_cache.cmake - the cpu.jit_cache test: `seqc run` and the object cache.
#
# cmake -DSEQC=<seqc> -DMODEL=<digits.nn> -DWORKDIR=<dir> -P jit_cache.cmake
#
# With SEQC_CACHE_DIR set to a fresh directory and SEQC_CACHE_VERBOSE=1
# (which makes seqc say "compile cache hit|miss|corrupt|disabled"):
#  - the first run misses and stores one entry, the second hits, and both
#    write the same output bytes;
#  - other weights (--init-seed), a flag (--fast-math) and external weights
#    miss once, then hit;
#  - an entry overwritten with garbage is reported corrupt and rebuilt, with
#    the same output; --no-cache does not touch the cache;
#  - three processes started together on an empty cache all give the same
#    output, leave one entry and no temporary file;
#  - a cache directory that cannot be created costs one note, not the run.

cmake_minimum_required(VERSION 3.20)
foreach(var SEQC MODEL WORKDIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "jit_cache.cmake: ${var} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORKDIR}")
file(MAKE_DIRECTORY "${WORKDIR}")
set(cache "${WORKDIR}/cache")

# Eight rows of 64 pixels.
set(csv "")
foreach(row RANGE 7)
  set(line "")
  foreach(col RANGE 63)
    math(EXPR value "(${row} * 31 + ${col} * 7) % 17")
    list(APPEND line "${value}")
  endforeach()
  list(JOIN line "," line)
  string(APPEND csv "${line}\n")
endforeach()
file(WRITE "${WORKDIR}/input.csv" "${csv}")

# run_seqc(<output name> <expected outcome> [args...]): runs `seqc run` on
# the model with the cache in ${cache}, checks the outcome it reports.
function(run_seqc name expected)
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E env SEQC_CACHE_DIR=${cache}
            SEQC_CACHE_VERBOSE=1
            "${SEQC}" run "${MODEL}" --init-seed 1 --input "${WORKDIR}/input.csv"
            --output "${WORKDIR}/${name}.npy" ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "seqc run ${ARGN} failed (${rc}):\n${out}${err}")
  endif()
  if(NOT err MATCHES "compile cache ${expected} ")
    message(FATAL_ERROR
            "seqc run ${ARGN}: expected a cache ${expected}, got:\n${err}")
  endif()
endfunction()

function(expect_same a b)
  file(SHA256 "${WORKDIR}/${a}.npy" ha)
  file(SHA256 "${WORKDIR}/${b}.npy" hb)
  if(NOT ha STREQUAL hb)
    message(FATAL_ERROR "${a}.npy and ${b}.npy differ")
  endif()
endfunction()

function(expect_entries count)
  file(GLOB entries "${cache}/*.seqcobj")
  file(GLOB temps "${cache}/*seqc-tmp*")
  list(LENGTH entries n)
  if(NOT n EQUAL count OR temps)
    message(FATAL_ERROR "expected ${count} cache entries and no temporary "
                        "file, found: ${entries} ${temps}")
  endif()
endfunction()

run_seqc(cold miss)
expect_entries(1)
run_seqc(warm hit)
expect_same(cold warm)
expect_entries(1)

run_seqc(seed2 miss --init-seed 2)
run_seqc(seed2_warm hit --init-seed 2)
expect_same(seed2 seed2_warm)
run_seqc(fast miss --fast-math)
run_seqc(fast_warm hit --fast-math)
expect_same(fast fast_warm)
run_seqc(ext miss --external-weights)
run_seqc(ext_warm hit --external-weights)
expect_same(ext ext_warm)
expect_entries(4)

# Garbage in every entry: each is detected, rebuilt, and then hits again.
file(GLOB entries "${cache}/*.seqcobj")
foreach(entry IN LISTS entries)
  file(WRITE "${entry}" "not an object")
endforeach()
run_seqc(rebuilt corrupt)
expect_same(cold rebuilt)
run_seqc(rebuilt_warm hit)
expect_same(cold rebuilt_warm)
run_seqc(nocache disabled --no-cache)
expect_same(cold nocache)

# Three processes at once (a pipeline runs its commands concurrently).
file(REMOVE_RECURSE "${cache}")
set(racers "")
foreach(i 1 2 3)
  list(APPEND racers COMMAND ${CMAKE_COMMAND} -E env SEQC_CACHE_DIR=${cache}
       "${SEQC}" run "${MODEL}" --init-seed 1 --input "${WORKDIR}/input.csv"
       --output "${WORKDIR}/race${i}.npy")
endforeach()
execute_process(${racers} RESULTS_VARIABLE rcs ERROR_VARIABLE err)
if(NOT rcs STREQUAL "0;0;0")
  message(FATAL_ERROR "racing runs failed (${rcs}):\n${err}")
endif()
foreach(i 1 2 3)
  expect_same(cold race${i})
endforeach()
expect_entries(1)
run_seqc(after_race hit)

# A cache under a regular file cannot be created: one note, same output.
file(WRITE "${WORKDIR}/a-file" "")
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env SEQC_CACHE_DIR=${WORKDIR}/a-file/cache
          "${SEQC}" run "${MODEL}" --init-seed 1 --input "${WORKDIR}/input.csv"
          --output "${WORKDIR}/unwritable.npy"
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "seqc run with an unwritable cache failed:\n${err}")
endif()
string(REGEX MATCHALL "note:" notes "${err}")
list(LENGTH notes noteCount)
if(NOT noteCount EQUAL 1 OR NOT err MATCHES "a-file/cache")
  message(FATAL_ERROR "expected one note naming the cache, got:\n${err}")
endif()
expect_same(cold unwritable)
