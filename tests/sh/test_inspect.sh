#!/usr/bin/env bash
# swap-inspect: every subcommand on checkpoints written by tests/tools/make_ckpt, numbers cross-checked with
# h5py/numpy; h5dump reads the files cleanly; verify fails on a corrupted copy; everything works on a
# read-only file in a read-only directory and leaves it byte-for-byte and mtime unchanged.
source "$(dirname "$0")/lib.sh"
TOOLS=${SWAP_TOOLS:-$SRC/build/tools}
MK="$TOOLS/make_ckpt"
SI="$BIN/swap-inspect"
[ -x "$MK" ] || fail "make_ckpt missing in $TOOLS"
[ -x "$SI" ] || fail "swap-inspect missing in $BIN"
PY=/usr/bin/python3
cd "$T"
mkdir -p runs/p1 runs/p2
"$MK" runs/p1/a.h5 --history 4 --momentum --dataset fashion-mnist --epoch 4 --config $'model = cnn\nseed = 1\nlr = 0.1\n'
"$MK" runs/p2/b.h5 --seed 5 --phase refine --worker 1 --parent runs/p1/a.h5 --config $'model = cnn\nseed = 5\nlr = 0.1\nbatch = 64\n'
"$MK" runs/c.h5 --seed 9 --phase average --parent runs/p1/a.h5 --parent runs/p2/b.h5
echo "not a checkpoint" > runs/junk.h5
touch runs/p2/.b.h5.tmp.12345   # a dead writer's temp file: not listed

# ---- summary
"$SI" runs/p1/a.h5 > sum.txt || fail "summary exited non-zero"
grep -q "^phase        train" sum.txt || fail "summary: phase"
grep -q "^integrity    OK" sum.txt || fail "summary: integrity"
grep -q "layer2.conv.weight" sum.txt || fail "summary: tensor table"
grep -q "momentum yes" sum.txt || fail "summary: momentum"
hash_a=$($PY -c "import h5py,sys; print(h5py.File(sys.argv[1],'r').attrs['content_hash'].decode())" runs/p1/a.h5)
grep -q "^content      $hash_a" sum.txt || fail "summary: content hash"
[ "$(grep -c '^ *[0-9] ' sum.txt)" -ge 4 ] || fail "summary: metrics history rows"
"$SI" runs/p1/a.h5 --json > sum.json || fail "summary --json"
# the statistics agree with numpy on the same data read through h5py
$PY - runs/p1/a.h5 sum.json <<'PY' || fail "summary statistics differ from numpy"
import h5py, json, sys, numpy as np
d = json.load(open(sys.argv[2]))
f = h5py.File(sys.argv[1], "r")
arrays = {}
f["model"].visititems(lambda n, o: arrays.__setitem__(o.attrs["name"].decode(), o[()].astype(np.float64))
                      if isinstance(o, h5py.Dataset) else None)
assert d["integrity_ok"] and d["content_hash"] == f.attrs["content_hash"].decode()
assert len(d["tensors"]) == len(arrays) == len(f["model"].attrs["tensor_names"])
for t in d["tensors"]:
    a = arrays[t["name"]]
    assert list(a.shape) == t["shape"], t["name"]
    for k, v in (("mean", a.mean()), ("std", a.std()), ("min", a.min()), ("max", a.max()), ("l2", np.sqrt((a * a).sum()))):
        assert abs(t[k] - v) <= 1e-6 * max(1.0, abs(v)), (t["name"], k, t[k], v)
h = d["history"]
assert len(h) == 4 and h[0]["test_acc"] is None and abs(h[1]["test_acc"] - 0.49) < 1e-12
assert d["phase"] == "train" and d["epoch"] == 4 and d["has_momentum"]
print("summary statistics match numpy for", len(arrays), "tensors")
PY
ok "summary (text and JSON) agrees with h5py/numpy"

# ---- diff
"$SI" diff runs/p1/a.h5 runs/p1/a.h5 --json > same.json || fail "diff same"
$PY -c "
import json,sys; d=json.load(open('same.json'))
assert d['same_content'] and d['config_same'] and d['config_diff'] == []
assert all(t['l2'] == 0 for t in d['tensors']) and all(t['cosine'] is None or abs(t['cosine']-1) < 1e-12 for t in d['tensors'])
" || fail "diff of a file with itself is not zero"
"$SI" diff runs/p1/a.h5 runs/p2/b.h5 > diff.txt || fail "diff exited non-zero"
grep -q "^content      differs" diff.txt || fail "diff: content"
grep -q -- "- seed = 1" diff.txt && grep -q -- "+ seed = 5" diff.txt && grep -q -- "+ batch = 64" diff.txt \
  || { cat diff.txt; fail "diff: config line diff"; }
grep -q -- "- lr = 0.1" diff.txt && fail "diff: unchanged line reported"
"$SI" diff runs/p1/a.h5 runs/p2/b.h5 --json > diff.json
$PY - runs/p1/a.h5 runs/p2/b.h5 diff.json <<'PY' || fail "diff distances differ from numpy"
import h5py, json, sys, numpy as np
def load(p):
    out = {}
    h5py.File(p, "r")["model"].visititems(lambda n, o: out.__setitem__(o.attrs["name"].decode(), o[()].astype(np.float64).ravel()) if hasattr(o, "shape") else None)
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
d = json.load(open(sys.argv[3]))
assert not d["same_content"] and d["unmatched_tensors"] == 0
for t in d["tensors"]:
    if t["name"].startswith("("):
        continue
    x, y = a[t["name"]], b[t["name"]]
    l2 = np.linalg.norm(x - y)
    assert abs(t["l2"] - l2) <= 1e-6 * max(1, l2), t
    if np.linalg.norm(x) > 0 and np.linalg.norm(y) > 0:
        cos = x @ y / (np.linalg.norm(x) * np.linalg.norm(y))
        assert abs(t["cosine"] - cos) <= 1e-6, t
print("diff distances match numpy")
PY
ok "diff: distances and config line diff"

# ---- ls
"$SI" ls runs > ls.txt || fail "ls exited non-zero"
[ "$(grep -c '\.h5' ls.txt)" -eq 4 ] || { cat ls.txt; fail "ls: expected 4 rows"; }
grep -q "tmp" ls.txt && fail "ls listed a temp file"
grep "junk.h5" ls.txt | grep -q "INVALID" || fail "ls: junk not flagged"
hash_b=$($PY -c "import h5py,sys; print(h5py.File(sys.argv[1],'r').attrs['content_hash'].decode())" runs/p2/b.h5)
grep "runs/c.h5" ls.txt | grep -q "${hash_a:0:8},${hash_b:0:8}" || { cat ls.txt; fail "ls: parents of the average"; }
grep "runs/p1/a.h5" ls.txt | grep -q "0.5700" || fail "ls: last test accuracy"
"$SI" ls runs --json | $PY -c "import json,sys; d=json.load(sys.stdin); assert len(d)==4 and sum(not r['valid'] for r in d)==1" \
  || fail "ls --json"
ok "ls: rows, lineage prefixes, invalid files flagged, temps ignored"

# ---- verify
"$SI" verify runs/p1/a.h5 runs/p2/b.h5 runs/c.h5 > ver.txt || fail "verify of good files failed"
[ "$(grep -c ': OK ' ver.txt)" -eq 3 ] || fail "verify: 3 OK lines"
cp runs/p1/a.h5 bad.h5
$PY - bad.h5 <<'PY'
import h5py, sys
with h5py.File(sys.argv[1], "r") as f:
    off = f["model/L008_layer3.conv/weight"].id.get_offset()
with open(sys.argv[1], "r+b") as g:
    g.seek(off + 1000); b = g.read(4); g.seek(off + 1000); g.write(bytes(x ^ 0xFF for x in b))
PY
set +e; "$SI" verify runs/p1/a.h5 bad.h5 > ver2.txt 2> ver2.err; rc=$?; set -e
[ $rc -ne 0 ] || fail "verify accepted a corrupted file"
[ "$(wc -l < ver2.txt)" -eq 2 ] && grep -q "^bad.h5: .*layer3.conv.weight.*checksum mismatch" ver2.txt \
  || { cat ver2.txt; fail "verify: one line naming the bad file and tensor"; }
[ ! -s ver2.err ] || { cat ver2.err; fail "verify printed HDF5 diagnostics"; }
# into a file first: grep -q stops reading at the match, and the rest of the summary (the layer table) would
# then meet a closed pipe
"$SI" bad.h5 > badsum.txt || true
grep -q "^integrity    FAILED" badsum.txt || fail "summary does not flag the corrupted file"
"$MK" nan.h5 --nan
set +e; "$SI" verify nan.h5 > ver3.txt; rc=$?; set -e
[ $rc -ne 0 ] && grep -q "NaN/Inf" ver3.txt || fail "verify accepted NaN weights"
ok "verify: good files pass, corrupted and NaN files fail with one line each"

# ---- tensor
"$SI" tensor runs/p1/a.h5 fc.bias > fcb.txt
"$SI" tensor runs/p1/a.h5 fc.weight --csv > fcw.csv
"$SI" tensor runs/p1/a.h5 layer2.conv.weight --raw w.raw 2> raw.err
"$SI" tensor runs/p1/a.h5 layer2.conv.weight --momentum --raw m.raw 2> /dev/null
$PY - runs/p1/a.h5 <<'PY' || fail "tensor output differs from h5py"
import h5py, sys, numpy as np
f = h5py.File(sys.argv[1], "r")
def get(name, root="model"):
    hit = []
    f[root].visititems(lambda n, o: hit.append(o[()]) if hasattr(o, "shape") and o.attrs["name"].decode() == name else None)
    return hit[0]
b = np.loadtxt("fcb.txt", comments="#")
assert np.array_equal(b.astype(np.float32), get("fc.bias"))
w = np.loadtxt("fcw.csv", delimiter=",")
assert w.shape == (10, 128) and np.array_equal(w.astype(np.float32), get("fc.weight"))
assert np.fromfile("w.raw", dtype="<f4").tobytes() == get("layer2.conv.weight").tobytes()
assert np.fromfile("m.raw", dtype="<f4").tobytes() == get("layer2.conv.weight", "optimizer/momentum").tobytes()
print("tensor dumps are exact")
PY
set +e; "$SI" tensor runs/p1/a.h5 no.such.tensor > /dev/null 2> nt.err; rc=$?; set -e
[ $rc -eq 1 ] && [ "$(wc -l < nt.err)" -eq 1 ] && grep -q "no tensor 'no.such.tensor'" nt.err || fail "unknown tensor"
ok "tensor: text, CSV and raw dumps are exact"

# ---- eval: tests/sh/test_inspect_eval.sh (needs Fashion-MNIST, so it can be skipped on its own)

# ---- h5dump reads the format cleanly
h5dump -H runs/p1/a.h5 > dump.txt 2> dump.err || fail "h5dump -H failed"
[ ! -s dump.err ] || fail "h5dump printed errors"
for g in '"/model"\|GROUP "model"' 'GROUP "config"' 'GROUP "state"' 'GROUP "metrics"' 'GROUP "optimizer"' 'DATASET "history"'; do
  grep -q "$g" dump.txt || fail "h5dump: $g missing"
done
ok "h5dump -H lists the file cleanly"

# ---- read-only file in a read-only directory: everything works and nothing changes
mkdir ro && cp runs/p1/a.h5 runs/p2/b.h5 ro/ && chmod 0444 ro/*.h5 && chmod 0555 ro
state() { (cd ro && sha256sum a.h5 b.h5 && stat -c '%n %y %s' a.h5 b.h5); }
before=$(state)
"$SI" ro/a.h5 > /dev/null || fail "summary on read-only file"
"$SI" ro/a.h5 --json > /dev/null || fail "summary --json on read-only file"
"$SI" diff ro/a.h5 ro/b.h5 > /dev/null || fail "diff on read-only files"
"$SI" verify ro/a.h5 ro/b.h5 > /dev/null || fail "verify on read-only files"
"$SI" ls ro > /dev/null || fail "ls on a read-only directory"
"$SI" tensor ro/a.h5 fc.bias > /dev/null || fail "tensor on a read-only file"
HDF5_USE_FILE_LOCKING=TRUE "$SI" verify ro/a.h5 > /dev/null || fail "verify with file locking requested"
after=$(state)
[ "$before" = "$after" ] || fail "a read-only file changed (hash or mtime)"
[ "$(ls -A ro | wc -l)" -eq 2 ] || fail "something was created in the read-only directory"
chmod 0755 ro
ok "read-only files and directory: all subcommands work, files unchanged"

# ---- usage errors
set +e; "$SI" > /dev/null 2>&1; rc1=$?; "$SI" diff onlyone.h5 > /dev/null 2>&1; rc2=$?; set -e
[ $rc1 -eq 2 ] && [ $rc2 -eq 2 ] || fail "usage errors should exit 2 ($rc1, $rc2)"
set +e; "$SI" runs/junk.h5 > /dev/null 2> junk.err; rc=$?; set -e
[ $rc -eq 1 ] && [ "$(wc -l < junk.err)" -eq 1 ] && grep -q "runs/junk.h5: not an HDF5 file" junk.err || fail "junk input"
ok "usage and bad input errors"
echo "PASS test_inspect"
