#!/usr/bin/env bash
# Streaming against in-memory training (dataset = "hdf5", data.in_memory = false/true): images/s of phase 1
# (1 rank x 2 threads, batch 128, pad-4 crop + flip) for cnn and resnet9 width 16, alternating the two modes,
# with each run's peak RSS (/usr/bin/time); then one streamed epoch over the whole generated file, which is at
# least 4x the streamed run's peak RSS. Run it under `flock /work/.bench.lock` on a shared machine.
#   scripts/bench/bench_stream.sh [IMAGES=450000] [REPEATS=2] [SUBSET_CNN=20000] [SUBSET_RESNET=10000] [OUT=results/stream] [WHOLE=1]
# SUBSET_*: the images each timed epoch visits (train_subset: the streamed runs read only those rows; the in-memory
# runs load the whole file first). WHOLE=0 skips the epoch over the whole file.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-450000}; REPEATS=${2:-2}; S_CNN=${3:-20000}; S_RES=${4:-10000}; OUT=${5:-results/stream}; WHOLE=${6:-1}
BIN=$PWD/bin
W=${BENCH_DIR:-/tmp/bench_stream}
mkdir -p "$W" "$OUT"
rm -rf "$W/results" # no run may resume an earlier one
FILE=$W/big-$N.h5
if [ ! -s "$FILE" ]; then
  /usr/bin/python3 - "$N" "$FILE.tmp" <<'PY'
import h5py, numpy as np, sys
n, path = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
with h5py.File(path, "w") as f:
    for split, m in (("train", n), ("test", 1000)):
        x = f.create_dataset(f"{split}/images", (m, 32, 32, 3), np.uint8)
        y = f.create_dataset(f"{split}/labels", (m,), np.int16)
        for i in range(0, m, 10000):
            k = min(10000, m - i)
            lab = rng.integers(0, 10, k)
            img = rng.integers(0, 120, (k, 32, 32, 3), dtype=np.uint8)
            for c in range(10):  # a learnable bright patch per class
                img[lab == c, (c * 3) % 24:(c * 3) % 24 + 8, (c * 7) % 24:(c * 7) % 24 + 8, :] += 120
            x[i:i + k] = img
            y[i:i + k] = lab
PY
  mv "$FILE.tmp" "$FILE"
fi
cat > "$W/exp.lua" <<LUA
return { name = "b", dataset = "hdf5", data_file = "$FILE", width = 16, results = "$W/results", seed = 1,
  augment = { crop_pad = 4, flip = true }, test_subset = 1000,
  phase1 = { ranks = 1, threads = 2, batch = 128, lr = 0.05, max_epochs = 1, eval_every = 0 } }
LUA
# run NAME MODEL IN_MEMORY SUBSET: one epoch; prints "img/s peak_rss_kb"
run() {
  /usr/bin/time -f "%M" -o "$W/$1.rss" "$BIN/swap-train" "$W/exp.lua" --set name="$1" --set model="$2" \
    --set data.in_memory="$3" --set train_subset="$4" > "$W/$1.log" 2>&1
  local ips
  ips=$(tail -n 1 "$W/results/$1/phase1/log.jsonl" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')
  echo "$ips $(tail -n 1 "$W/$1.rss")"
}
RAW=$OUT/bench-stream.raw.txt
{ echo "# $(date -u +%FT%TZ) $(uname -n) file $FILE $(stat -c %s "$FILE") bytes, $N images; load: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# model mode subset img/s peak_rss_kb"; } > "$RAW"
for model in cnn resnet9; do
  s=$S_CNN; [ $model = resnet9 ] && s=$S_RES
  for r in $(seq "$REPEATS"); do
    for mode in true false; do  # alternate: in memory, then streamed
      echo "$model $([ $mode = true ] && echo memory || echo stream) $s $(run "${model}_${mode}_$r" "$model" "$mode" "$s")" | tee -a "$RAW"
    done
  done
done
[ "$WHOLE" = 0 ] || echo "cnn stream-whole-file $N $(run cnn_whole cnn false 0)" | tee -a "$RAW"
echo "# done $(date -u +%FT%TZ); load: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RAW"
/usr/bin/python3 - "$RAW" "$(stat -c %s "$FILE")" <<'PY' | tee "$OUT/bench-stream.md"
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if not l.startswith("#")]
size = int(sys.argv[2])
print(f"file: {size / 2**20:.0f} MiB of training images (32x32x3 uint8)\n")
print("| model | in memory img/s | streamed img/s | streamed / in memory | peak RSS in memory | peak RSS streamed | file / streamed RSS |")
print("|---|---|---|---|---|---|---|")
for m in ("cnn", "resnet9"):
    mem = [float(r[3]) for r in rows if r[0] == m and r[1] == "memory"]
    st = [float(r[3]) for r in rows if r[0] == m and r[1] == "stream"]
    rm = max(int(r[4]) for r in rows if r[0] == m and r[1] == "memory")
    rs = max(int(r[4]) for r in rows if r[0] == m and r[1] == "stream")
    name = "resnet9 width 16" if m == "resnet9" else m
    print(f"| {name} | {statistics.median(mem):.0f} | {statistics.median(st):.0f} | {statistics.median(st) / statistics.median(mem):.2f} "
          f"| {rm / 1024:.0f} MiB | {rs / 1024:.0f} MiB | {size / 1024 / rs:.1f}x |")
w = [r for r in rows if r[1] == "stream-whole-file"]
if w:
    print(f"\nwhole file streamed (cnn, one epoch over all {w[0][2]} images): {float(w[0][3]):.0f} img/s, peak RSS "
          f"{int(w[0][4]) / 1024:.0f} MiB = file / {size / 1024 / int(w[0][4]):.1f}")
PY
