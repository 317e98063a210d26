#!/usr/bin/env bash
# dataset = "hdf5" end to end: odd sizes (40x40x3, 7 classes, int16 labels; and 36x28x1) through swap-run
# (phase 1 on 2 ranks, workers, average) with augmentation and a validation split; swap-inspect eval finds the
# data file through the checkpoint and reproduces the summary; checkpoints record the file, its content hash
# and the normalization; a changed file is refused unless --ignore-data-hash; 10,000 classes train; so does a
# network written in the experiment.
source "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c "import h5py, numpy" 2>/dev/null || skip "python3-h5py / python3-numpy not installed (make deps-test)"
cd "$T"
MAKE="/usr/bin/python3 $SRC/tests/sh/lib/make_h5data.py"
HASH="/usr/bin/python3 $SRC/python/swap_data.py hash"

# run_case NAME FILE MODEL C: the pipeline on FILE, then the checks
run_case() {
  local name=$1 file=$2 model=$3 c=$4
  cat > $name.lua <<LUA
return {
  name = "$name", dataset = "hdf5", data_file = "$file", model = "$model", width = 8, seed = 5,
  results = "$T/results", threads = 1, data = { val_split = 64 },
  augment = { crop_pad = 2, flip = true, cutout = 6 },
  phase1 = { ranks = 2, batch = 128, lr = 0.1, warmup = 0.2, max_epochs = 3, stop_train_acc = 1 },
  phase2 = { workers = 2, batch = 64, epochs = 1, lr = 0.05 },
  phase3 = { bn_batches = 4, bn_batch = 64, eval_batch = 100 },
}
LUA
  "$BIN/swap-run" $name.lua > $name.log 2>&1 || { cat $name.log; fail "$name: swap-run failed"; }
  local R=results/$name
  "$BIN/swap-inspect" eval $R/phase3/model.h5 --json --per-class > $name-eval.json || fail "$name: swap-inspect eval"
  /usr/bin/python3 - $R "$file" "$($HASH $file)" $c $name-eval.json <<'PY' || fail "$name: checks"
import h5py, json, numpy as np, os, sys
R, file, want_hash, C, ev = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), json.load(open(sys.argv[5]))
s = lambda v: v.decode() if isinstance(v, bytes) else v
with h5py.File(file, "r") as f:
    x = f["train/images"][()]
    K = int(max(f["train/labels"][()].max(), f["test/labels"][()].max())) + 1
    names = [s(v) for v in f["classes"][()]] if "classes" in f else None
    y_test = f["test/labels"][()]
    if "mean" in f["train/images"].attrs:
        mean, std = f["train/images"].attrs["mean"] / 255, f["train/images"].attrs["std"] / 255
    else:
        mean, std = x.reshape(-1, C).mean(0) / 255, x.reshape(-1, C).std(0) / 255
N, H, W, _ = x.shape
for ck in ("phase1/model.h5", "phase2/worker-0.h5", "phase2/worker-1.h5", "phase3/model.h5"):
    with h5py.File(f"{R}/{ck}", "r") as f:
        m = f["model"].attrs
        assert s(m["dataset"]) == "hdf5", ck
        assert s(m["data_file"]) == os.path.realpath(file), (ck, s(m["data_file"]))
        assert s(m["data_hash"]) == want_hash, (ck, s(m["data_hash"]), want_hash)
        assert (int(m["in_c"]), int(m["in_h"]), int(m["in_w"]), int(m["classes"])) == (C, H, W, K), ck
        assert np.allclose(m["norm_mean"], mean, atol=1e-6) and np.allclose(m["norm_std"], std, atol=1e-6), ck
        assert ([s(v) for v in m["class_names"]] if "class_names" in m else None) == names, ck
d = json.load(open(f"{R}/summary.json"))
avg = d["average"]
# summary.json keeps 6 decimals, eval 9 significant digits
assert ev["n"] > 0 and abs(ev["test_acc"] - avg["test_acc"]) < 1e-6 and abs(ev["test_loss"] - avg["test_loss"]) < 1e-6, (ev, avg)
assert ev["val_n"] == 64 and abs(ev["val_acc"] - avg["val_acc"]) < 1e-6, (ev, avg)
assert avg["test_acc"] > 2.0 / K, avg  # learned something
# --per-class: one row per class, counted from the test labels, adding up to the total, named by /classes
pc = ev["per_class"]
assert [r["class"] for r in pc] == list(range(K)), pc
assert [r["n"] for r in pc] == np.bincount(y_test, minlength=K).tolist(), pc
assert sum(r["correct"] for r in pc) == ev["correct"], (pc, ev)
assert [r.get("name") for r in pc] == (names or [None] * K), pc
print(f"ok: {R}: {H}x{W}x{C}, {K} classes, SWAP test acc {avg['test_acc']:.3f} = swap-inspect eval")
PY
}

$MAKE rgb.h5 --hw 40x40 --channels 3 --classes 7 --label-dtype int16 --train 768 --test 200
run_case rgb rgb.h5 resnet9 3
ok "40x40x3, 7 classes, int16 labels: swap-run end to end, eval reproduces the summary"

$MAKE gray.h5 --hw 36x28 --channels 1 --classes 5 --label-dtype uint8 --train 768 --test 200 --class-names --norm
run_case gray gray.h5 cnn 1
"$BIN/swap-inspect" results/gray/phase3/model.h5 > gray-summary.txt || fail "swap-inspect summary"
grep -q "^class names  0=class-0 1=class-1 .* 4=class-4$" gray-summary.txt ||
  fail "swap-inspect summary: class names"
"$BIN/swap-inspect" export results/gray/phase3/model.h5 --format safetensors -o gray.safetensors || fail "export"
/usr/bin/python3 - gray.safetensors <<'PY' || fail "safetensors metadata: class_names"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
md = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])["__metadata__"]
assert json.loads(md["class_names"]) == [f"class-{k}" for k in range(5)], md
PY
/usr/bin/python3 "$SRC/python/swap_torch.py" export results/gray/phase3/model.h5 -o gray.pt > /dev/null || fail "swap_torch export"
[ "$(json_get gray.pt.json 'd["class_names"][4]')" = class-4 ] || fail "export sidecar: class_names"
ok "36x28x1 with /classes and mean/std attributes: swap-run end to end; class names in checkpoints, summary, eval --per-class, exports"

# the file is found through the checkpoint; a copy elsewhere works with --data; a changed one is refused
cp rgb.h5 copy.h5
"$BIN/swap-inspect" eval results/rgb/phase3/model.h5 --data copy.h5 --json > copy.json || fail "--data FILE"
cmp <(json_get copy.json 'd["test_acc"]') <(json_get rgb-eval.json 'd["test_acc"]') || fail "--data copy differs"
/usr/bin/python3 -c "import h5py; f = h5py.File('copy.h5', 'a'); f['test/images'][0, 0, 0, 0] ^= 1"
set +e; "$BIN/swap-inspect" eval results/rgb/phase3/model.h5 --data copy.h5 > out.txt 2> err.txt; rc=$?; set -e
[ $rc -ne 0 ] || fail "a changed data file was accepted"
[ "$(wc -l < err.txt)" = 1 ] && grep -q "copy.h5: content hash .* differs .*--ignore-data-hash" err.txt || { cat err.txt; fail "hash message"; }
"$BIN/swap-inspect" eval results/rgb/phase3/model.h5 --data copy.h5 --ignore-data-hash > /dev/null || fail "--ignore-data-hash"
"$BIN/swap-inspect" interpolate results/rgb/phase1/model.h5 results/rgb/phase3/model.h5 --steps 1 --bn-batches 2 \
  --bn-batch 32 --subset 64 --threads 1 --out line > interp.log 2>&1 || { cat interp.log; fail "interpolate on the data file"; }
mv rgb.h5 moved.h5
set +e; "$BIN/swap-inspect" eval results/rgb/phase3/model.h5 > out.txt 2> err.txt; rc=$?; set -e
[ $rc -ne 0 ] && grep -q "rgb.h5: /: cannot open" err.txt || { cat err.txt; fail "a moved data file"; }
"$BIN/swap-inspect" eval results/rgb/phase3/model.h5 --data moved.h5 > /dev/null || fail "--data after a move"
ok "swap-inspect eval/interpolate: recorded path, --data FILE, hash refusal with --ignore-data-hash"

# 10,000 classes (K from the largest label), a quick mlp
$MAKE many.h5 --hw 8x8 --channels 1 --classes 10000 --label-dtype int32 --train 10000 --test 100 --class-names
cat > many.lua <<LUA
return { name = "many", dataset = "hdf5", data_file = "many.h5", model = "mlp", results = "$T/results", threads = 1,
         phase1 = { ranks = 1, batch = 500, lr = 0.05, max_epochs = 1 } }
LUA
"$BIN/swap-train" many.lua > many.log 2>&1 || { cat many.log; fail "10,000 classes"; }
[ "$(/usr/bin/python3 -c "import h5py; print(int(h5py.File('results/many/phase1/model.h5')['model'].attrs['classes']))")" = 10000 ] \
  || fail "classes != 10000"
[ "$(/usr/bin/python3 -c "import h5py; v = h5py.File('results/many/phase1/model.h5')['model'].attrs['class_names'][-1]; print(getattr(v, 'decode', lambda: v)())")" = class-9999 ] \
  || fail "10,000 class names"
ok "10,000 classes"

# a network written in the experiment (not a preset) on a data file: Lua resolved it, the engine takes it as is
$MAKE tiny.h5 --hw 8x8 --channels 1 --classes 3 --train 256 --test 64
cat > net.lua <<LUA
return { name = "net", dataset = "hdf5", data_file = "tiny.h5", results = "$T/results", threads = 1,
         model = { name = "tinynet", layers = { { "conv", out = 4, k = 3 }, { "bn" }, { "relu" },
                                                { "global_avgpool" }, { "linear", out = 3 } } },
         phase1 = { ranks = 1, batch = 64, lr = 0.05, max_epochs = 1 } }
LUA
"$BIN/swap-train" net.lua > net.log 2>&1 || { cat net.log; fail "a written-out network on a data file"; }
[ "$(/usr/bin/python3 -c "import h5py; v = h5py.File('results/net/phase1/model.h5')['model'].attrs['model']; print(getattr(v, 'decode', lambda: v)())")" = tinynet ] \
  || fail "the written-out network's name is not in the checkpoint"
ok "a network written in the experiment trains on a data file"
rm -rf "$T"
