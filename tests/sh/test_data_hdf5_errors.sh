#!/usr/bin/env bash
# dataset = "hdf5": every way a data file can be wrong is one line on stderr naming the file and the HDF5 path,
# a non-zero exit before any training, and nothing written under results/.
source "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c "import h5py, numpy" 2>/dev/null || skip "python3-h5py / python3-numpy not installed (make deps-test)"
cd "$T"
MAKE="/usr/bin/python3 $SRC/tests/sh/lib/make_h5data.py"
cat > exp.lua <<LUA
return {
  name = "bad", dataset = "hdf5", data_file = "bad.h5", model = "cnn", seed = 1, results = "$T/results", threads = 1,
  phase1 = { ranks = 1, batch = 32, lr = 0.05, max_epochs = 1 },
}
LUA
# expect CASE PATTERN [swap-train options]: the file as the case left it fails with PATTERN, naming the file
expect() {
  local case=$1 pat=$2; shift 2
  set +e; "$BIN/swap-train" exp.lua "$@" > out.txt 2> err.txt; local rc=$?; set -e
  [ $rc -ne 0 ] || fail "$case: swap-train succeeded"
  [ "$(wc -l < err.txt)" = 1 ] || { cat err.txt; fail "$case: error is not one line"; }
  grep -q "bad.h5: " err.txt || { cat err.txt; fail "$case: error does not name the file"; }
  grep -q -- "$pat" err.txt || { cat err.txt; fail "$case: error does not say '$pat'"; }
  [ -z "$(find results -type f 2>/dev/null)" ] || { find results; fail "$case: something was written"; }
  ok "$case: $(cat err.txt)"
}
small() { $MAKE bad.h5 --hw 8x8 --train 64 --test 32 --class-names "$@"; }
small --break missing-group;      expect "missing group" "/test: missing group"
small --break missing-dataset;    expect "missing dataset" "/train/labels: missing dataset"
small --break float-images;       expect "wrong image dtype" "/train/images: dtype float32, expected uint8"
small --break float-labels;       expect "wrong label dtype" "/train/labels: dtype float64, expected an integer"
small --break rank3-images;       expect "wrong rank" "/test/images: rank 3, expected 4"
small --break bad-channels;       expect "wrong channel count" "/train/images: 2 channels"
small --break n-mismatch;         expect "N mismatch" "/train/labels: 61 labels but /train/images has 64"
small --break negative-label;     expect "negative label" "/train/labels: label -1 of sample 5 is negative"
small --break label-out-of-range; expect "label out of range" "/test/labels: label 7 of sample 2 is out of range \[0, 7)"
small --break zero-images;        expect "zero images" "/test/images: zero images"
$MAKE bad.h5 --hw 3x3 --train 64 --test 32  # cnn pools twice by 2: 3x3 -> 1x1, and the second pool cannot
expect "images too small for cnn" "/train/images: 3x3x3 images (HxWxC) do not fit model 'cnn'"
$MAKE bad.h5 --hw 4x4 --train 64 --test 32  # resnet9 pools three times by 2: 4 -> 2 -> 1, then cannot
expect "images too small for resnet9" "/train/images: 4x4x3 images (HxWxC) do not fit model 'resnet9'" --set model=resnet9
small; head -c 20000 bad.h5 > cut.h5; mv cut.h5 bad.h5
expect "truncated file" "/: not a readable HDF5 file (truncated file"
small; /usr/bin/python3 -c "import sys; d = bytearray(open('bad.h5','rb').read()); d[0:8] = b'garbage!'; open('bad.h5','wb').write(d)"
expect "corrupt file" "/: not a readable HDF5 file (file signature not found"
rm -f bad.h5; mkdir bad.h5
expect "a directory" "/: is a directory"
rmdir bad.h5
expect "missing file" "/: cannot open the data file (No such file"
# the same checks run before swap-run starts anything: no phase directory appears
small --break negative-label
set +e; "$BIN/swap-run" exp.lua > run.txt 2>&1; rc=$?; set -e
[ $rc -ne 0 ] || fail "swap-run succeeded on a bad file"
grep -q "bad.h5: /train/labels: label -1" run.txt || { cat run.txt; fail "swap-run does not show the data error"; }
[ -z "$(find results -name '*.h5' 2>/dev/null)" ] || fail "swap-run wrote a checkpoint"
ok "swap-run stops at the data error, nothing written"
rm -rf "$T"
