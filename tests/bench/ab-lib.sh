# Sourced by the A/B benchmark scripts (external-weights-ab.sh,
# weights-pages-ab.sh, codegen-ab.sh).
#
# model_features HEADER PREFIX: sets inF and outF to the model's input and
# output features, read from the #defines of the PREFIX.h seqc wrote.
model_features() {
  local up
  up=$(echo "$2" | tr a-z A-Z)
  inF=$(sed -n "s/^#define ${up}_INPUT_FEATURES \([0-9]*\)$/\1/p" "$1")
  outF=$(sed -n "s/^#define ${up}_OUTPUT_FEATURES \([0-9]*\)$/\1/p" "$1")
  [ -n "$inF" ] && [ -n "$outF" ]
}
