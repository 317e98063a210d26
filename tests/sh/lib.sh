# Shared helpers for shell tests: a scratch dir, assertions, and a tiny experiment.
set -euo pipefail
SRC=${SWAP_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${SWAP_BIN:-$SRC/bin}
TMPBASE=${SWAP_TEST_TMP:-/tmp}
mkdir -p "$TMPBASE"
T=$(mktemp -d "$TMPBASE/$(basename "$0" .sh).XXXXXX")
fail() { echo "FAIL: $*" >&2; exit 1; }
# skip REASON: this test cannot run here; exit 77, which ctest reports as skipped (SKIP_RETURN_CODE), not passed.
# Say what is skipped and what would make it run.
skip() { echo "SKIP: $*"; rm -rf "$T"; exit 77; }
ok() { echo "ok: $*"; }
# wait_for FILE REGEX [TIMEOUT_S]: poll until a line matching REGEX appears in FILE (a running job's log), so a
# test acts on progress the job reports rather than on a guess of how long it takes on this machine.
wait_for() {
  local file=$1 re=$2 limit=$(( ${3:-300} * 20 )) i=0
  until grep -Eq "$re" "$file" 2>/dev/null; do
    i=$((i + 1)); [ $i -le $limit ] || fail "waited ${3:-300} s for /$re/ in $file"
    sleep 0.05
  done
}
have_fmnist() { [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; }
# json_get FILE EXPR: evaluate a Python expression on the parsed JSON document `d`.
json_get() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
# tiny_experiment FILE NAME [extra Lua fields]: a small, quick Fashion-MNIST SWAP experiment.
tiny_experiment() {
  cat > "$1" <<LUA
return {
  name = "$2", dataset = "fashion-mnist", model = "cnn", seed = 3,
  results = "$T/results", train_subset = 2048, test_subset = 500, threads = 1,
  phase1 = { ranks = 2, batch = 256, lr = 0.2, warmup = 0.2, max_epochs = 3, stop_train_acc = 0.99 },
  phase2 = { workers = 2, batch = 64, epochs = 1, lr = 0.05 },
  phase3 = { bn_batches = 8, eval_batch = 250 },
  ${3:-}
}
LUA
}
