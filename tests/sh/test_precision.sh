#!/usr/bin/env bash
# precision = "bf16": the whole pipeline (phase 1 on 2 ranks, phase-2 workers, soup with BN recompute,
# swap-inspect eval) runs, every checkpoint records precision bf16, and the kernels that ran are oneDNN's bf16
# ones (a bf16 run that silently computed in fp32 would name jit:avx512_core or jit_wino_4x3 here and fail);
# phase 1 interrupted and resumed ends bit-identical; a resume checkpoint of the other precision is refused
# unless allow_precision_change = true. On any CPU: with oneDNN capped below AVX512_BF16 (ONEDNN_MAX_CPU_ISA),
# bf16 is refused in one line naming the missing instruction set, and swap-bench refuses it the same way.
# swap-bench --ablate (timing only) skips what it names and refuses anything else.
source "$(dirname "$0")/lib.sh"
cd "$T"
attr() { /usr/bin/python3 -c "import h5py,sys; v=h5py.File(sys.argv[1],'r').attrs[sys.argv[2]]; print(v.decode() if isinstance(v,bytes) else v)" "$1" "$2"; }

# refusal without native bf16 (capping oneDNN's ISA stands in for an older CPU)
set +e
ONEDNN_MAX_CPU_ISA=AVX512_CORE "$BIN/swap-bench" --model cnn --batch 4 --threads 1 --steps 1 --precision bf16 \
  > capped.log 2>&1
rc=$?
set -e
[ $rc -ne 0 ] || { cat capped.log; fail "bf16 ran with oneDNN capped at AVX512_CORE"; }
[ "$(wc -l < capped.log)" -eq 1 ] && grep -q "AVX512_BF16" capped.log || { cat capped.log; fail "refusal is not one line naming AVX512_BF16"; }
ok "bf16 without AVX512_BF16 refused: $(cat capped.log)"

# swap-bench --ablate (timing only) really skips the parts it names: the loss changes and the line says so
field() { tr ' ' '\n' <<< "$2" | sed -n "s/^$1=//p"; }
full=$("$BIN/swap-bench" --model cnn --batch 8 --threads 1 --steps 1 --warmup 0)
abl=$("$BIN/swap-bench" --model cnn --batch 8 --threads 1 --steps 1 --warmup 0 --ablate layout,bn 2> ablate.err)
[ "$(field ablate "$abl")" = "layout,bn" ] || fail "--ablate layout,bn not reported: $abl"
[ -z "$(field ablate "$full")" ] || fail "ablate reported without --ablate: $full"
[ "$(field loss "$abl")" != "$(field loss "$full")" ] || fail "--ablate layout,bn left the loss unchanged ($(field loss "$full"))"
grep -q "result.*wrong" ablate.err || fail "--ablate does not warn that its results are wrong"
set +e; "$BIN/swap-bench" --model cnn --batch 8 --threads 1 --steps 1 --ablate conv > bad.log 2>&1; rc=$?; set -e
[ $rc -eq 2 ] && grep -q "ablate.*conv" bad.log || { cat bad.log; fail "--ablate conv not refused with a usage error"; }
ok "swap-bench --ablate skips what it names (loss $(field loss "$full") -> $(field loss "$abl")) and refuses the unknown"

# does this CPU run bf16 natively?
if ! "$BIN/swap-bench" --model cnn --batch 4 --threads 1 --steps 1 --precision bf16 > probe.log 2>&1; then
  grep -q "AVX512_BF16" probe.log || { cat probe.log; fail "bf16 probe failed for another reason"; }
  skip "this CPU has no AVX512_BF16 ($(cat probe.log)); the bf16 pipeline cannot run here"
fi
grep -q "precision=bf16" probe.log && grep -q "conv=onednn:jit_bf16" probe.log ||
  { cat probe.log; fail "swap-bench --precision bf16 did not run oneDNN's bf16 kernels"; }
ok "swap-bench --precision bf16 runs $(grep -o 'conv=[^ ]*' probe.log)"
have_fmnist || skip "Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"

tiny_experiment ref.lua ref 'precision = "bf16",'
tiny_experiment cut.lua cut 'precision = "bf16",'
SETS=(--set train_subset=4096 --set phase2.epochs=1)
"$BIN/swap-run" ref.lua "${SETS[@]}" > ref.log 2>&1 || { cat ref.log; fail "bf16 pipeline"; }
for f in phase1/model.h5 phase2/worker-0.h5 phase2/worker-1.h5 phase3/model.h5; do
  p=$(attr results/ref/$f precision)
  [ "$p" = bf16 ] || fail "$f records precision '$p', expected bf16"
  c=$(attr results/ref/$f conv)
  # every convolution ran a bf16 kernel: no fp32 direct (jit:avx512_core), Winograd or im2col+gemm among them
  for k in ${c//,/ }; do
    case "$k" in onednn:*bf16*/*bf16*/*bf16*) ;; *) fail "$f: kernel '$k' is not a bf16 kernel (conv=$c)" ;; esac
  done
done
ok "bf16 pipeline: every checkpoint records precision bf16 and bf16 kernels ($c)"
"$BIN/swap-inspect" eval results/ref/phase3/model.h5 --json > eval.json || fail "swap-inspect eval"
acc=$(json_get eval.json 'd["test_acc"]')
/usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > 0.5 else 1)" "$acc" || fail "bf16 soup accuracy $acc"
ok "swap-inspect eval of the bf16 soup: accuracy $acc"

# WASH workers (one MPI job, parameter shuffling) from the same bf16 phase 1, and their soup, stay bf16
tiny_experiment wash.lua wash "precision = \"bf16\", shared_dir = \"$T/results/ref\",
  phase2 = { workers = 2, batch = 64, epochs = 1, lr = 0.05, mode = \"wash\" },"
"$BIN/swap-run" wash.lua "${SETS[@]}" > wash.log 2>&1 || { cat wash.log; fail "bf16 WASH"; }
for f in phase2/worker-0.h5 phase2/worker-1.h5 phase3/model.h5; do
  [ "$(attr results/wash/$f precision)" = bf16 ] || fail "WASH $f does not record bf16"
done
ok "bf16 WASH workers and their average record bf16"

# interrupted phase 1 resumes bit-identical within bf16 (one rank and a smaller subset: the resume
# part runs phase 1 three times)
SETS=(--set train_subset=2048)
"$BIN/swap-train" cut.lua "${SETS[@]}" --set phase1.ranks=1 > ref1.log 2>&1 || { cat ref1.log; fail "phase 1"; }
mv results/cut/phase1/model.h5 uninterrupted.h5
rm -rf results/cut
"$BIN/swap-train" cut.lua "${SETS[@]}" --set phase1.ranks=1 > cut.log 2>&1 &
pid=$!
wait_for cut.log 'epoch +1/'
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
[ $rc -eq 3 ] || { cat cut.log; fail "expected exit 3 after SIGTERM, got $rc"; }
R=results/cut/phase1/resume.h5
[ -s $R ] || fail "no resume checkpoint"
[ "$(attr $R precision)" = bf16 ] || fail "resume checkpoint does not record bf16"
cp $R resume-bf16.h5

# the other precision refuses it, in one line naming the override
set +e
"$BIN/swap-train" cut.lua "${SETS[@]}" --set phase1.ranks=1 --set precision=fp32 > other.log 2>&1
rc=$?
set -e
[ $rc -ne 0 ] || fail "an fp32 run resumed a bf16 checkpoint"
grep -q "allow_precision_change" other.log && grep -q "resume.h5: computed in precision bf16" other.log ||
  { cat other.log; fail "refusal does not name the file, the precisions and the override"; }
cmp -s $R resume-bf16.h5 || fail "the refused run changed the resume checkpoint"
ok "fp32 run refuses the bf16 resume checkpoint: $(grep allow_precision_change other.log)"

"$BIN/swap-train" cut.lua "${SETS[@]}" --set phase1.ranks=1 > resume.log 2>&1 || { cat resume.log; fail "resume"; }
grep -q "resuming" resume.log || fail "phase 1 did not resume"
[ "$(attr results/cut/phase1/model.h5 content_hash)" = "$(attr uninterrupted.h5 content_hash)" ] ||
  fail "bf16 phase 1 resumed != uninterrupted"
ok "bf16 phase 1 resumed bit-identical"

# the override lets an fp32 run continue from the bf16 checkpoint (and its files then record fp32)
rm -rf results/cut && mkdir -p results/cut/phase1 && cp resume-bf16.h5 $R
"$BIN/swap-train" cut.lua "${SETS[@]}" --set phase1.ranks=1 --set precision=fp32 --set allow_precision_change=true \
  > allow.log 2>&1 || { cat allow.log; fail "allow_precision_change"; }
[ "$(attr results/cut/phase1/model.h5 precision)" = fp32 ] || fail "continued run does not record fp32"
ok "allow_precision_change = true continues in fp32"
rm -rf "$T"
