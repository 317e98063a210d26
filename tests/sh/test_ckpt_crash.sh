#!/usr/bin/env bash
# Crash safety: a writer saving large checkpoints to one path in a loop is killed with SIGKILL at random
# moments; each time the file at the final path is a complete checkpoint that verifies (the last one
# published, or the one being published at the kill), never a partial file.
source "$(dirname "$0")/lib.sh"
TOOLS=${SWAP_TOOLS:-$SRC/build/tools}
MK="$TOOLS/make_ckpt"
SI="$BIN/swap-inspect"
[ -x "$MK" ] || fail "make_ckpt missing in $TOOLS"
cd "$T"
OUT=ckpt/latest.h5
mkdir -p ckpt
KILLS=${CRASH_KILLS:-6}
RANDOM=$$
epoch_of() { /usr/bin/python3 -c "import h5py,sys; print(int(h5py.File(sys.argv[1],'r').attrs['epoch']))" "$1"; }
midwrite=0
for k in $(seq 1 "$KILLS"); do
  : > writer.log
  # resnet9 width 32 with momentum: ~13 MB per save, so a kill often lands inside a write
  "$MK" "$OUT" --loop 0 --model resnet9 --in 3 32 32 --width 32 --momentum > writer.log 2>&1 &
  pid=$!
  # let it publish at least once (the first run) or just run for a while, then kill at a random moment
  for _ in $(seq 1 200); do grep -q "^saved" writer.log && break; sleep 0.05; done
  sleep "0.$((RANDOM % 9))$((RANDOM % 10))"
  kill -KILL $pid
  wait $pid 2>/dev/null || true
  last=$(sed -n 's/^saved \([0-9]*\) .*/\1/p' writer.log | tail -1)
  [ -n "$last" ] || fail "round $k: the writer never published"
  [ -f "$OUT" ] || fail "round $k: no checkpoint at the final path"
  "$SI" verify "$OUT" > verify.log || { cat verify.log; fail "round $k: checkpoint at the final path does not verify"; }
  e=$(epoch_of "$OUT")
  [ "$e" = "$last" ] || [ "$e" = "$((last + 1))" ] || fail "round $k: file holds save $e, last published $last"
  h=$(sed -n "s/^saved $e \(.*\)/\1/p" writer.log)
  if [ -n "$h" ]; then grep -q "content $h" verify.log || fail "round $k: content hash differs from what was saved"; fi
  temps=$(ls -A ckpt | grep -c '^\.latest\.h5\.tmp\.' || true)
  echo "round $k: killed after save $last, final path holds save $e and verifies; $temps temp file(s)"
  # the only thing besides the final file may be the killed writer's temp file, never a half-written final file
  [ "$(ls -A ckpt | grep -v '^\.latest\.h5\.tmp\.' | wc -l)" -eq 1 ] || { ls -la ckpt; fail "round $k: stray files"; }
  [ "$temps" -eq 0 ] || midwrite=$((midwrite + 1))
  rm -f ckpt/.latest.h5.tmp.*
done
# a temp file left behind means the kill landed inside a write, which is the case under test
[ $midwrite -ge 1 ] || fail "no kill landed inside a write"
ok "$KILLS SIGKILLs mid-write: the final path always held a complete, verified checkpoint"
