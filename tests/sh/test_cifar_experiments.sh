#!/usr/bin/env bash
# The shipped CIFAR experiment files run end to end: lua/experiments/cifar100.lua (no CIFAR-100 copy exists
# here) on CIFAR-100 binary files this test writes (random pixels, fine and coarse labels), shrunk through
# --set to a few seconds: resnet9 with crop + flip + cutout + label smoothing, SWAP and both baselines; and
# lua/experiments/cifar10-paper.lua, whose network is written out in the network language, through the SWAP chain
# on generated CIFAR-10 files (bf16 where the CPU has it).
source "$(dirname "$0")/lib.sh"
cd "$T"
mkdir -p data/cifar-100-binary
/usr/bin/python3 - <<'PY'
import random
random.seed(7)
def write(path, n):
    with open(path, "wb") as f:
        for i in range(n):
            fine = random.randrange(100)
            f.write(bytes([fine // 5, fine]) + bytes(random.getrandbits(8) for _ in range(3072)))
write("data/cifar-100-binary/train.bin", 1024)
write("data/cifar-100-binary/test.bin", 200)
PY
sets=(--set data_dir=data --set results="$T/results" --set width=4 --set threads=1 --set phase1.max_epochs=1
      --set phase1.batch=512 --set phase2.workers=2 --set phase2.epochs=1 --set phase2.batch=64
      --set phase3.bn_batches=2 --set phase3.eval_batch=100
      --set baselines.small.epochs=1 --set baselines.small.batch=64 --set baselines.large.epochs=1 --set baselines.large.batch=512)
"$BIN/swap-run" "$SRC/lua/experiments/cifar100.lua" "${sets[@]}" > run.log 2>&1 || { cat run.log; fail "swap-run cifar100.lua"; }
R=results/cifar100-swap
"$BIN/swap-inspect" verify $R/phase1/model.h5 $R/phase2/worker-0.h5 $R/phase2/worker-1.h5 $R/phase3/model.h5 \
  $R/baseline-small/model.h5 $R/baseline-large/model.h5 > /dev/null || fail "outputs verify"
/usr/bin/python3 - $R/summary.json <<'PY' || fail "summary"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["dataset"] == "cifar100" and s["model"] == "resnet9" and s["test_samples"] == 200, s
assert set(s["baselines"]) == {"small", "large"} and s["baselines"]["large"]["ranks"] == 2, s["baselines"]
assert s["baselines"]["small"]["images"] == 1024 and s["baselines"]["large"]["images"] == 1024, s["baselines"]
PY
grep -q "crop_pad = 4" run.log && grep -q "cutout = 8" run.log && grep -q "label_smoothing = 0.2" run.log ||
  fail "the experiment's augmentation and label smoothing were not used"
ok "cifar100.lua: SWAP and both baselines on generated CIFAR-100 files, outputs verify"

mkdir -p data/cifar-10-batches-bin
/usr/bin/python3 - <<'PY'
import random
random.seed(8)
def write(path, n):
    with open(path, "wb") as f:
        for i in range(n):
            f.write(bytes([random.randrange(10)]) + bytes(random.getrandbits(8) for _ in range(3072)))
for b in range(1, 6):
    write(f"data/cifar-10-batches-bin/data_batch_{b}.bin", 128)
write("data/cifar-10-batches-bin/test_batch.bin", 100)
PY
prec=fp32
grep -qw avx512_bf16 /proc/cpuinfo && prec=bf16
"$BIN/swap-run" "$SRC/lua/experiments/cifar10-paper.lua" --only swap "${sets[@]}" --set precision=$prec \
  --set phase1.max_epochs=1 > paper.log 2>&1 || { cat paper.log; fail "swap-run cifar10-paper.lua"; }
R=results/cifar10-paper
"$BIN/swap-inspect" $R/phase3/model.h5 --json > paper.json || fail "swap-inspect summary (cifar10-paper)"
/usr/bin/python3 - paper.json $prec <<'PY' || fail "cifar10-paper's checkpoint"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["provenance"]["precision"] == sys.argv[2], s["provenance"]
t = {x["name"]: x["shape"] for x in s["tensors"]}
assert t["prep.conv.weight"] == [32, 3, 3, 3] and t["layer3.res2.conv.weight"] == [256, 256, 3, 3], t
assert t["fc.weight"] == [10, 256] and "fc.bias" not in t, t
PY
# its test-time flip: phase 3 evaluated with it, and swap-inspect eval takes it from the file
"$BIN/swap-inspect" eval $R/phase3/model.h5 --data data --json > paper-eval.json || fail "swap-inspect eval (cifar10-paper)"
/usr/bin/python3 - paper-eval.json $R/summary.json <<'PY' || fail "cifar10-paper's test-time flip"
import json, sys
e, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert e["tta"] == "flip", e
assert abs(e["test_acc"] - s["average"]["test_acc"]) < 1e-9, (e["test_acc"], s["average"])
PY
ok "cifar10-paper.lua: its written-out network trains through the SWAP chain ($prec), checkpoints hold it, phase 3 and eval use its test-time flip"
rm -rf "$T"
