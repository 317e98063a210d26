#!/usr/bin/env bash
# python/swap_data.py, the converter: an image-folder tree (PNG and JPEG, one odd-sized image) becomes a data file
# that trains; an odd size without --size is refused naming the image; it prints counts per class, size and the
# content hash checkpoints record; CIFAR binary and IDX files convert to the same pixels and labels.
source "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c "import h5py, numpy, PIL" 2>/dev/null || skip "python3-h5py / numpy / pil not installed (make deps-test)"
cd "$T"
CONV="/usr/bin/python3 $SRC/python/swap_data.py"
/usr/bin/python3 - <<'PY'
import numpy as np, os
from PIL import Image
rng = np.random.default_rng(1)
for split, n in (("train", 60), ("test", 16)):
    for k, name in enumerate(["ant", "bee", "cow", "dog"]):
        os.makedirs(f"imgs/{split}/{name}", exist_ok=True)
        for i in range(n):
            x = rng.integers(0, 80, (32, 32, 3)).astype(np.uint8)
            x[k * 7:k * 7 + 10, k * 7:k * 7 + 10] += 150
            Image.fromarray(x).save(f"imgs/{split}/{name}/{i}.{'png' if i % 2 else 'jpg'}", quality=95)
x = rng.integers(0, 80, (45, 21, 3)).astype(np.uint8)
x[:, :] += 150 * (np.arange(21) < 10)[None, :, None].astype(np.uint8)
Image.fromarray(x).save("imgs/train/bee/odd.png")
open("imgs/train/bee/notes.txt", "w").write("not an image")
PY
set +e; $CONV folder imgs -o data.h5 > out.txt 2> err.txt; rc=$?; set -e
[ $rc -ne 0 ] && grep -q "imgs/train/bee/odd.png: 45x21 pixels .*--size" err.txt || { cat err.txt; fail "odd size without --size"; }
[ ! -e data.h5 ] && [ -z "$(ls -A . | grep '^\.data')" ] || fail "a refused conversion left a file"
$CONV folder imgs -o data.h5 --size 32x32 > conv.txt 2> progress.txt || { cat conv.txt progress.txt; fail "convert"; }
cat conv.txt
grep -Eq "^bee +61 +16$" conv.txt && grep -Eq "^total +241 +64$" conv.txt || fail "per-class counts"
hash=$(sed -n 's/.*content hash \([0-9a-f]\{32\}\)$/\1/p' conv.txt)
[ -n "$hash" ] && [ "$hash" = "$($CONV hash data.h5)" ] || fail "printed hash"
grep -q "test: 64/64 images" progress.txt || { cat progress.txt; fail "progress"; }
/usr/bin/python3 - <<'PY' || fail "file contents"
import h5py, numpy as np
from PIL import Image
f = h5py.File("data.h5", "r")
assert f["train/images"].shape == (241, 32, 32, 3) and f["train/images"].dtype == np.uint8
assert f["test/images"].shape == (64, 32, 32, 3)
assert [c.decode() if isinstance(c, bytes) else c for c in f["classes"][()]] == ["ant", "bee", "cow", "dog"]
y = f["train/labels"][()]
assert y.dtype == np.int16 and list(np.bincount(y)) == [60, 61, 60, 60]
# test images in folder order (ant/0.jpg, ant/1.png, ...): a PNG is stored exactly; training images shuffled
png = np.asarray(Image.open("imgs/test/ant/1.png"))
assert (f["test/images"][1] == png).all()
assert (f["test/labels"][()] == np.repeat(np.arange(4), 16)).all()
assert (y[:60] != 0).any(), "training images not shuffled"
x = f["train/images"][()].reshape(-1, 3).astype(np.float64)
assert np.allclose(f["train/images"].attrs["mean"], x.mean(0)) and np.allclose(f["train/images"].attrs["std"], x.std(0))
PY
ok "image folder converted (PNG + JPEG, odd image resized), counts, hash, contents"

cat > exp.lua <<LUA
return { name = "conv", dataset = "hdf5", data_file = "data.h5", model = "cnn", seed = 2, results = "$T/results",
         threads = 1, phase1 = { ranks = 1, batch = 32, lr = 0.05, max_epochs = 4, stop_train_acc = 1 } }
LUA
"$BIN/swap-train" exp.lua > train.log 2>&1 || { cat train.log; fail "training on the converted file"; }
"$BIN/swap-inspect" eval results/conv/phase1/model.h5 --json > ev.json
acc=$(json_get ev.json 'd["test_acc"]')
/usr/bin/python3 -c "import sys; sys.exit(0 if $acc > 0.6 else 1)" || fail "test accuracy $acc on 4 classes"
[ "$(/usr/bin/python3 -c "import h5py; print(h5py.File('results/conv/phase1/model.h5')['model'].attrs['data_hash'].decode())")" = "$hash" ] \
  || fail "the checkpoint records another hash"
ok "the converted file trains (test accuracy $acc) and the checkpoint records its hash"

# built-in formats: synthetic CIFAR-10, CIFAR-100 and IDX files convert to the same pixels and labels
/usr/bin/python3 - <<'PY'
import gzip, numpy as np, os
rng = np.random.default_rng(3)
os.makedirs("c10/cifar-10-batches-bin"); os.makedirs("c100"); os.makedirs("idx")
def rec(n, lb, k):
    r = rng.integers(0, 256, (n, lb + 3072)).astype(np.uint8)
    r[:, :lb] = rng.integers(0, k, (n, lb))
    return r
for i in range(1, 6):
    rec(20, 1, 10).tofile(f"c10/cifar-10-batches-bin/data_batch_{i}.bin")
rec(10, 1, 10).tofile("c10/cifar-10-batches-bin/test_batch.bin")
open("c10/cifar-10-batches-bin/batches.meta.txt", "w").write("\n".join(f"name{i}" for i in range(10)) + "\n\n")
rec(30, 2, 20).tofile("c100/train.bin"); rec(10, 2, 20).tofile("c100/test.bin")
for split, n in (("train", 50), ("t10k", 20)):
    x = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8); y = (np.arange(n) % 10).astype(np.uint8)
    with gzip.open(f"idx/{split}-images-idx3-ubyte.gz", "wb") as f:
        f.write((2051).to_bytes(4, "big") + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + x.tobytes())
    with open(f"idx/{split}-labels-idx1-ubyte", "wb") as f:
        f.write((2049).to_bytes(4, "big") + n.to_bytes(4, "big") + y.tobytes())
PY
$CONV cifar c10 -o c10.h5 > c10.txt && $CONV cifar c100 -o c100.h5 > c100.txt && $CONV idx idx -o idx.h5 > idx.txt \
  || fail "built-in formats"
/usr/bin/python3 - <<'PY' || fail "built-in formats convert exactly"
import gzip, h5py, numpy as np
f = h5py.File("c10.h5", "r")
r = np.concatenate([np.fromfile(f"c10/cifar-10-batches-bin/data_batch_{i}.bin", np.uint8).reshape(-1, 3073) for i in range(1, 6)])
assert (f["train/images"][()] == r[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)).all()
assert (f["train/labels"][()] == r[:, 0]).all() and f["classes"][0].decode() == "name0"
g = h5py.File("c100.h5", "r")
r = np.fromfile("c100/test.bin", np.uint8).reshape(-1, 3074)
assert (g["test/labels"][()] == r[:, 1]).all() and (g["test/coarse_labels"][()] == r[:, 0]).all()
assert len(g["classes"]) == 100
h = h5py.File("idx.h5", "r")
x = np.frombuffer(gzip.open("idx/t10k-images-idx3-ubyte.gz").read()[16:], np.uint8).reshape(-1, 28, 28, 1)
assert h["test/images"].shape == (20, 28, 28, 1) and (h["test/images"][()] == x).all()
PY
"$BIN/swap-train" exp.lua --set data_file=idx.h5 --set name=idx --set phase1.max_epochs=1 > idx.log 2>&1 \
  || { cat idx.log; fail "training on a converted IDX file"; }
ok "CIFAR-10, CIFAR-100 (fine labels, coarse kept) and IDX convert exactly; IDX output trains"
rm -rf "$T"
