#!/usr/bin/env bash
# The AVX2/AVX-512 clones of the hot loops (src/core/clones.h) give the same bits as the baseline loops: three
# SGD steps of four networks (every kind whose loops are cloned, fp32 and, where the CPU has it, bf16) digested by
# tests/tools/step_digest in this build and in the sanitizer build, which compiles no clones (`make asan`, as
# `make check` does first). A clone that rounded differently (a contracted multiply-add, a reassociated sum)
# would change the digests, and a resumed run would no longer reproduce on another node.
source "$(dirname "$0")/lib.sh"
TOOLS=${SWAP_TOOLS:-$SRC/build/tools}
REF=${SWAP_ASAN_TOOLS:-$SRC/build-asan/tools}
[ -x "$TOOLS/step_digest" ] || fail "no $TOOLS/step_digest: build the project first"
[ -x "$REF/step_digest" ] || skip "no sanitizer build at $REF (make asan builds it; make check runs it first)"

"$TOOLS/step_digest" > "$T/clones.txt"
ASAN_OPTIONS=detect_leaks=0 "$REF/step_digest" > "$T/baseline.txt"
level=$(sed -n 's/^clones //p' "$T/clones.txt")
grep -qx 'clones baseline-only' "$T/baseline.txt" || fail "the sanitizer build runs clones: $(head -1 "$T/baseline.txt")"
[ "$(grep -c '^fp32 ' "$T/clones.txt")" = 4 ] || fail "expected 4 fp32 digests: $(cat "$T/clones.txt")"
diff <(tail -n +2 "$T/baseline.txt") <(tail -n +2 "$T/clones.txt") >&2 \
  || fail "the $level clones and the baseline loops differ (left: baseline, right: $level)"
case $level in
  x86-64-v4|x86-64-v3) ok "$level clones match the baseline loops bit for bit: $(tail -n +2 "$T/clones.txt" | cut -d' ' -f1,2 | tr '\n' ',' | sed 's/,$//')" ;;
  *) skip "this CPU runs the baseline loops ($level): no clone to compare (the digests match the sanitizer build's)" ;;
esac
rm -rf "$T"
