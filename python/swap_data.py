#!/usr/bin/python3
"""swap_data.py: make the HDF5 dataset file that `dataset = "hdf5", data_file = "PATH"` trains on (docs/data.md).

  python3 python/swap_data.py folder ROOT -o data.h5 [--size HxW] [--channels 1|3]
      ROOT/train/<class>/*.png|jpg|jpeg, ROOT/test/<class>/... (torchvision's ImageFolder layout); classes are
      the sorted folder names under ROOT/train. Images of another size are an error unless --size resizes all.
      Training images are stored in a fixed random order (--no-shuffle: folder order), test images in folder order.
  python3 python/swap_data.py cifar DIR -o data.h5     CIFAR-10 or CIFAR-100 binary version (.bin files)
  python3 python/swap_data.py idx DIR -o data.h5       MNIST / Fashion-MNIST IDX files (.gz or raw)
  python3 python/swap_data.py hash data.h5             the content hash checkpoints record for a data file

The file: /train/images uint8 [N][H][W][C], /train/labels [N] (int16, int32 above 32767 classes), the same under
/test, /classes (K names) and per-channel mean/std attributes on /train/images (pixel scale 0-255, exact). It is
written under a temporary name and renamed when complete, so an interrupted run leaves no half file. At the end
it prints the images per class, the file's size and its content hash (XXH3-128 of its bytes, as swap-inspect
shows and checkpoints record). Needs python3-h5py, python3-numpy, python3-pil and libxxhash (Debian)."""
import argparse
import ctypes
import ctypes.util
import gzip
import os
import sys

import h5py
import numpy as np

EXTS = (".png", ".jpg", ".jpeg")
BLOCK = 1024


class Fail(Exception):
    pass


# ---- content hash: XXH3-128 of the file's bytes through libxxhash (Debian ships no Python xxhash) ----
class _XXH128(ctypes.Structure):
    _fields_ = [("low64", ctypes.c_uint64), ("high64", ctypes.c_uint64)]


def file_hash(path):
    name = ctypes.util.find_library("xxhash")
    if not name:
        raise Fail("libxxhash not found (apt-get install libxxhash0): cannot compute the content hash")
    lib = ctypes.CDLL(name)
    lib.XXH3_createState.restype = ctypes.c_void_p
    lib.XXH3_128bits_reset.argtypes = [ctypes.c_void_p]
    lib.XXH3_128bits_update.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.XXH3_128bits_digest.argtypes = [ctypes.c_void_p]
    lib.XXH3_128bits_digest.restype = _XXH128
    lib.XXH3_freeState.argtypes = [ctypes.c_void_p]
    st = lib.XXH3_createState()
    lib.XXH3_128bits_reset(st)
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            lib.XXH3_128bits_update(st, b, len(b))
    h = lib.XXH3_128bits_digest(st)
    lib.XXH3_freeState(st)
    return "%016x%016x" % (h.high64, h.low64)  # canonical (big-endian) form, as the C side prints it


# ---- progress ----
class Progress:
    def __init__(self, what, total):
        self.what, self.total, self.done, self.tty = what, total, 0, sys.stderr.isatty()
        self.last = -1

    def add(self, n):
        self.done += n
        pct = 100 * self.done // max(1, self.total)
        if pct == self.last:
            return
        self.last = pct
        if self.tty:
            bar = "#" * (pct // 4) + "." * (25 - pct // 4)
            sys.stderr.write(f"\r{self.what:6s} [{bar}] {self.done}/{self.total}")
            if self.done >= self.total:
                sys.stderr.write("\n")
        elif self.done >= self.total or pct % 25 == 0:
            sys.stderr.write(f"{self.what}: {self.done}/{self.total} images\n")
        sys.stderr.flush()


# ---- writer ----
class Writer:
    """Writes splits block by block into a temporary file next to OUT; finish() adds the statistics and renames."""

    def __init__(self, out, h, w, c, classes):
        self.out, self.h, self.w, self.c, self.classes = out, h, w, c, list(classes)
        d = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(d):
            raise Fail(f"{out}: directory {d} does not exist")
        self.tmp = os.path.join(d, f".{os.path.basename(out)}.tmp-{os.getpid()}")
        self.f = h5py.File(self.tmp, "w")
        self.hist = np.zeros((c, 256), np.int64)
        self.counts = {}
        self.ldtype = np.int16 if len(self.classes) <= 32767 else np.int32

    def split(self, name, n):
        if n == 0:
            raise Fail(f"{name}: no images")
        self.cur = name
        self.x = self.f.create_dataset(f"{name}/images", (n, self.h, self.w, self.c), np.uint8,
                                       chunks=(min(n, 256), self.h, self.w, self.c))
        self.y = self.f.create_dataset(f"{name}/labels", (n,), self.ldtype)
        self.at = 0
        self.counts[name] = np.zeros(len(self.classes), np.int64)
        self.prog = Progress(name, n)

    def put(self, x, y):
        """x uint8 [k][H][W][C], y int [k]"""
        k = len(y)
        self.x[self.at:self.at + k] = x
        self.y[self.at:self.at + k] = y
        self.at += k
        self.counts[self.cur] += np.bincount(y, minlength=len(self.classes))
        if self.cur == "train":
            for ch in range(self.c):
                self.hist[ch] += np.bincount(x[..., ch].ravel(), minlength=256)
        self.prog.add(k)

    def finish(self):
        # exact per-channel statistics from the histograms (what the C side would compute without them)
        v = np.arange(256, dtype=np.float64)
        cnt = self.hist.sum(axis=1).astype(np.float64)
        mean = (self.hist * v).sum(axis=1) / cnt
        var = (self.hist * v * v).sum(axis=1) / cnt - mean * mean
        std = np.where(var > 1e-12 * 255 * 255, np.sqrt(np.maximum(var, 0)), 255.0)
        self.f["train/images"].attrs["mean"] = mean
        self.f["train/images"].attrs["std"] = std
        self.f["classes"] = np.array(self.classes, dtype=h5py.string_dtype("utf-8"))
        self.f.close()
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp, self.out)
        dfd = os.open(os.path.dirname(os.path.abspath(self.out)), os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
        self.report(mean, std)

    def abort(self):
        try:
            self.f.close()
        except Exception:
            pass
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)

    def report(self, mean, std):
        w = max(10, max(len(c) for c in self.classes))
        print(f"{'class':{w}s} {'train':>8s} {'test':>8s}")
        for k, name in enumerate(self.classes):
            print(f"{name:{w}s} {self.counts['train'][k]:8d} {self.counts['test'][k]:8d}")
        print(f"{'total':{w}s} {self.counts['train'].sum():8d} {self.counts['test'].sum():8d}")
        print(f"images {self.h}x{self.w}x{self.c} (HxWxC), {len(self.classes)} classes; "
              f"mean {' '.join('%.3f' % m for m in mean)}  std {' '.join('%.3f' % s for s in std)} (0-255)")
        print(f"wrote {self.out}: {os.path.getsize(self.out)} bytes, content hash {file_hash(self.out)}")


# ---- image folders ----
def scan_folder(root, split, classes=None):
    base = os.path.join(root, split)
    if not os.path.isdir(base):
        raise Fail(f"{base}: missing (expected {root}/train/<class>/*.png and {root}/test/<class>/...)")
    names = sorted(d for d in os.listdir(base) if os.path.isdir(os.path.join(base, d)))
    if not names:
        raise Fail(f"{base}: no class folders")
    if classes is None:
        classes = names
    extra = [n for n in names if n not in classes]
    if extra:
        raise Fail(f"{base}/{extra[0]}: class folder not in {root}/train (classes come from the training folders)")
    items = []
    for k, name in enumerate(classes):
        d = os.path.join(base, name)
        if not os.path.isdir(d):
            continue
        for fn in sorted(os.listdir(d)):
            if fn.lower().endswith(EXTS):
                items.append((os.path.join(d, fn), k))
    return classes, items


def cmd_folder(a):
    from PIL import Image
    classes, train = scan_folder(a.root, "train")
    _, test = scan_folder(a.root, "test", classes)
    if not a.no_shuffle:  # class by class in the file would make streamed windows (docs/data.md) nearly one class
        order = np.random.default_rng(0).permutation(len(train))
        train = [train[i] for i in order]
    if len(classes) < 2:
        raise Fail(f"{a.root}/train: {len(classes)} class folder(s); a classifier needs at least 2")
    # headers only (PIL opens lazily): sizes and modes, so a problem is found before anything is written
    sizes, gray = {}, True
    for path, _ in train + test:
        try:
            with Image.open(path) as im:
                sizes.setdefault(im.size, path)
                gray &= im.mode in ("1", "L", "I", "I;16", "LA")
        except Exception as e:
            raise Fail(f"{path}: not a readable image ({e})")
    if a.size:
        h, w = a.size
    else:
        if len(sizes) > 1:
            (s0, p0), (s1, p1) = list(sizes.items())[:2]
            raise Fail(f"{p1}: {s1[1]}x{s1[0]} pixels but {p0} is {s0[1]}x{s0[0]}; pass --size HxW to resize every image")
        w, h = next(iter(sizes))
    c = a.channels or (1 if gray else 3)
    mode = "L" if c == 1 else "RGB"
    wr = Writer(a.out, h, w, c, classes)
    try:
        for split, items in (("train", train), ("test", test)):
            wr.split(split, len(items))
            for i in range(0, len(items), BLOCK):
                part = items[i:i + BLOCK]
                x = np.empty((len(part), h, w, c), np.uint8)
                for j, (path, _) in enumerate(part):
                    with Image.open(path) as im:
                        im = im.convert(mode)
                        if im.size != (w, h):
                            im = im.resize((w, h), Image.BILINEAR)
                        x[j] = np.asarray(im, np.uint8).reshape(h, w, c)
                wr.put(x, np.array([k for _, k in part], np.int64))
        wr.finish()
    except BaseException:
        wr.abort()
        raise


# ---- CIFAR binary ----
def cmd_cifar(a):
    d = a.root
    for sub in ("cifar-10-batches-bin", "cifar-100-binary"):
        if os.path.isdir(os.path.join(d, sub)):
            d = os.path.join(d, sub)
    if os.path.exists(os.path.join(d, "data_batch_1.bin")):
        splits = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}
        lb, names_file, k = 1, "batches.meta.txt", 10
    elif os.path.exists(os.path.join(d, "train.bin")):
        splits = {"train": ["train.bin"], "test": ["test.bin"]}
        lb, names_file, k = 2, "fine_label_names.txt", 100  # fine labels; the coarse ones are kept apart
    else:
        raise Fail(f"{a.root}: no CIFAR binary files (data_batch_1.bin or train.bin)")
    names = [f"{i}" for i in range(k)]
    p = os.path.join(d, names_file)
    if os.path.exists(p):
        got = [s.strip() for s in open(p) if s.strip()]
        if len(got) == k:
            names = got
    rec = lb + 3072
    wr = Writer(a.out, 32, 32, 3, names)
    try:
        for split, files in splits.items():
            raw = []
            for fn in files:
                path = os.path.join(d, fn)
                if not os.path.exists(path):
                    raise Fail(f"{path}: missing")
                b = np.fromfile(path, np.uint8)
                if b.size == 0 or b.size % rec:
                    raise Fail(f"{path}: size {b.size} is not a multiple of the {rec}-byte record (truncated?)")
                raw.append(b.reshape(-1, rec))
            r = np.concatenate(raw)
            y = r[:, lb - 1].astype(np.int64)
            if y.max() >= k:
                raise Fail(f"{d}: {split} label {y.max()} out of range [0, {k})")
            x = r[:, lb:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            wr.split(split, len(y))
            for i in range(0, len(y), BLOCK):
                wr.put(np.ascontiguousarray(x[i:i + BLOCK]), y[i:i + BLOCK])
            if lb == 2:
                wr.f[f"{split}/coarse_labels"] = r[:, 0].astype(np.int16)
        wr.finish()
    except BaseException:
        wr.abort()
        raise


# ---- IDX ----
def read_idx(d, base, magic):
    for name in (base + ".gz", base):
        path = os.path.join(d, name)
        if os.path.exists(path):
            op = gzip.open if name.endswith(".gz") else open
            with op(path, "rb") as f:
                b = f.read()
            if len(b) < 8 or int.from_bytes(b[:4], "big") != magic:
                raise Fail(f"{path}: bad magic (not an IDX file of this kind)")
            nd = b[3]
            dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
            data = np.frombuffer(b, np.uint8, offset=4 + 4 * nd)
            if data.size != int(np.prod(dims)):
                raise Fail(f"{path}: {data.size} bytes of data, the header says {int(np.prod(dims))}")
            return data.reshape(dims)
    raise Fail(f"{os.path.join(d, base)}[.gz]: missing")


def cmd_idx(a):
    out = {}
    for split, pre in (("train", "train"), ("test", "t10k")):
        x = read_idx(a.root, f"{pre}-images-idx3-ubyte", 2051)
        y = read_idx(a.root, f"{pre}-labels-idx1-ubyte", 2049).astype(np.int64)
        if len(x) != len(y):
            raise Fail(f"{a.root}: {split}: {len(x)} images but {len(y)} labels")
        out[split] = (x, y)
    k = int(max(out["train"][1].max(), out["test"][1].max())) + 1
    h, w = out["train"][0].shape[1:]
    wr = Writer(a.out, h, w, 1, [str(i) for i in range(k)])
    try:
        for split, (x, y) in out.items():
            wr.split(split, len(y))
            for i in range(0, len(y), BLOCK):
                wr.put(x[i:i + BLOCK, :, :, None], y[i:i + BLOCK])
        wr.finish()
    except BaseException:
        wr.abort()
        raise


def size_arg(s):
    try:
        h, w = (int(v) for v in s.lower().split("x"))
        assert 1 <= h <= 1024 and 1 <= w <= 1024
        return h, w
    except Exception:
        raise argparse.ArgumentTypeError(f"expected HxW with sides 1..1024, got {s!r}")


def main(argv=None):
    p = argparse.ArgumentParser(prog="swap_data.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("folder", help="image folders ROOT/{train,test}/<class>/*.png|jpg")
    f.add_argument("root")
    f.add_argument("-o", "--out", required=True)
    f.add_argument("--size", type=size_arg, help="resize every image to HxW (bilinear)")
    f.add_argument("--channels", type=int, choices=(1, 3), help="1 = grayscale, 3 = RGB (default: 1 only if every image is grayscale)")
    f.add_argument("--no-shuffle", action="store_true",
                   help="keep the training images in folder order (default: a fixed random order, seed 0)")
    for name, hlp in (("cifar", "CIFAR-10/100 binary version"), ("idx", "MNIST/Fashion-MNIST IDX files")):
        s = sub.add_parser(name, help=hlp)
        s.add_argument("root")
        s.add_argument("-o", "--out", required=True)
    h = sub.add_parser("hash", help="print a data file's content hash")
    h.add_argument("file")
    a = p.parse_args(argv)
    try:
        if a.cmd == "hash":
            print(file_hash(a.file))
        else:
            {"folder": cmd_folder, "cifar": cmd_cifar, "idx": cmd_idx}[a.cmd](a)
    except Fail as e:
        print(f"swap_data.py: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
