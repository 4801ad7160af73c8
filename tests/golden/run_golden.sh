#!/usr/bin/env bash
# run_golden.sh - run one golden IR case and compare its output.
#
#   run_golden.sh SEQC CASE.nn
#
# The first line of CASE.nn is `# RUN: <command>`, a bash command line run in
# the case's directory, where `seqc` is the seqc executable under test and
# `%s` the case's file name (typically `seqc ir %s --print-after-all`). The
# test passes when the command exits with 0 and its stdout and stderr,
# together in the order written, equal CASE.expected byte for byte.
#
# UPDATE=1 run_golden.sh SEQC CASE.nn rewrites CASE.expected with the actual
# output (the exit code is still checked). Read every change before keeping it.

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
TIMEOUT=${SEQC_GOLDEN_TIMEOUT:-20}

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
COMMAND=${COMMAND//%s/$CASE_FILE}

OUTPUT=$(mktemp "${TMPDIR:-/tmp}/seqc-golden.XXXXXX")
trap 'rm -f -- "$OUTPUT"' EXIT

cd -- "$CASE_DIR" || exit 2
SEQC_BIN="$SEQC_BIN" TIMEOUT="$TIMEOUT" \
  bash -c 'seqc() { timeout -k 5 "$TIMEOUT" "$SEQC_BIN" "$@"; }; '"$COMMAND" \
  >"$OUTPUT" 2>&1
RC=$?

STATUS=0
if [[ $RC -ne 0 ]]; then
  echo "FAIL: $CASE_FILE: expected exit code 0, got $RC; output:" >&2
  head -c 4000 -- "$OUTPUT" >&2
  STATUS=1
fi

if [[ "${UPDATE:-0}" == 1 ]]; then
  cp -- "$OUTPUT" "$EXPECTED"
  echo "updated $(basename -- "$EXPECTED")" >&2
  exit $STATUS
fi

if [[ ! -f "$EXPECTED" ]]; then
  echo "FAIL: $CASE_FILE: $(basename -- "$EXPECTED") is missing (create it with UPDATE=1)" >&2
  exit 1
fi
if ! cmp -s -- "$EXPECTED" "$OUTPUT"; then
  echo "FAIL: $CASE_FILE: output differs from $(basename -- "$EXPECTED"):" >&2
  diff -u --label expected --label actual -- "$EXPECTED" "$OUTPUT" | head -c 8000 >&2
  STATUS=1
fi
exit $STATUS
