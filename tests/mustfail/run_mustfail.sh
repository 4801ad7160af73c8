#!/usr/bin/env bash
# run_mustfail.sh - run one must-fail case and compare its diagnostics.
#
#   run_mustfail.sh SEQC CASE.nn
#
# The first line of CASE.nn is `# RUN: <command>`: a bash command line run in
# the case's directory, where `seqc` is the seqc executable under test, `%s`
# is the case's file name and `%t` a fresh scratch directory (for inputs too
# big to check in; `cd %t` before using them so printed paths stay relative).
# The test passes when the command exits with exactly 1 (not 0, not a signal,
# not a timeout), prints nothing on stdout, and its stderr equals CASE.expected
# byte for byte.
#
# UPDATE=1 run_mustfail.sh SEQC CASE.nn rewrites CASE.expected with the
# actual stderr (the exit code and stdout are still checked).
#
# Each command runs under `timeout` (SEQC_MUSTFAIL_TIMEOUT seconds, default 20)
# so a hang is a failure, not a stuck test suite.

set -u

if [[ $# -ne 2 ]]; then
  echo "usage: $0 SEQC CASE.nn" >&2
  exit 2
fi

SEQC_BIN=$(realpath -- "$1") || { echo "no seqc executable at '$1'" >&2; exit 2; }
CASE=$(realpath -- "$2") || { echo "no case file '$2'" >&2; exit 2; }
CASE_DIR=$(dirname -- "$CASE")
CASE_FILE=$(basename -- "$CASE")
EXPECTED="${CASE%.nn}.expected"
TIMEOUT=${SEQC_MUSTFAIL_TIMEOUT:-20}

if [[ ! -x "$SEQC_BIN" ]]; then
  echo "seqc executable '$SEQC_BIN' is missing; build it first" >&2
  exit 2
fi

FIRST=$(head -n 1 -- "$CASE" | tr -d '\r')
if [[ "$FIRST" != "# RUN: "* ]]; then
  echo "$CASE: the first line must be '# RUN: <command>'" >&2
  exit 2
fi
COMMAND=${FIRST#"# RUN: "}

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/seqc-mustfail.XXXXXX")
trap 'rm -rf -- "$SCRATCH"' EXIT
COMMAND=${COMMAND//%s/$CASE_FILE}
COMMAND=${COMMAND//%t/$SCRATCH/work}
mkdir -p -- "$SCRATCH/work"

# `seqc` in the command runs the executable under test, with a time limit.
# `timeout` exits with 124 when the limit is hit, and with 128+N when seqc
# dies of signal N: neither is 1, so both fail the case.
cd -- "$CASE_DIR" || exit 2
SEQC_BIN="$SEQC_BIN" TIMEOUT="$TIMEOUT" \
  bash -c 'seqc() { timeout -k 5 "$TIMEOUT" "$SEQC_BIN" "$@"; }; '"$COMMAND" \
  >"$SCRATCH/stdout" 2>"$SCRATCH/stderr"
RC=$?

STATUS=0
if [[ $RC -ne 1 ]]; then
  case $RC in
    0) why="it succeeded" ;;
    124) why="it timed out after ${TIMEOUT}s" ;;
    1[2-9][0-9]) why="it was killed by signal $((RC - 128))" ;;
    *) why="it exited with code $RC" ;;
  esac
  echo "FAIL: $CASE_FILE: expected exit code 1, but $why" >&2
  STATUS=1
fi
if [[ -s "$SCRATCH/stdout" ]]; then
  echo "FAIL: $CASE_FILE: a failing command must print nothing on stdout; it printed:" >&2
  head -c 2000 -- "$SCRATCH/stdout" >&2
  STATUS=1
fi

if [[ "${UPDATE:-0}" == 1 ]]; then
  cp -- "$SCRATCH/stderr" "$EXPECTED"
  echo "updated $(basename -- "$EXPECTED")" >&2
  exit $STATUS
fi

if [[ ! -f "$EXPECTED" ]]; then
  echo "FAIL: $CASE_FILE: $(basename -- "$EXPECTED") is missing (create it with UPDATE=1)" >&2
  echo "--- actual stderr:" >&2
  head -c 4000 -- "$SCRATCH/stderr" >&2
  exit 1
fi
if ! cmp -s -- "$EXPECTED" "$SCRATCH/stderr"; then
  echo "FAIL: $CASE_FILE: stderr differs from $(basename -- "$EXPECTED"):" >&2
  diff -u --label expected --label actual -- "$EXPECTED" "$SCRATCH/stderr" | head -c 8000 >&2
  STATUS=1
fi
exit $STATUS
