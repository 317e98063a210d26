#!/usr/bin/env bash
# Checkpoints written before networks became data (format 1.1, tests/fixtures/README.md) load, verify and
# evaluate exactly as the build that wrote them did: same tensors, same content hash, the same test loss and
# accuracy to the last printed digit (with and without BN recompute). Their presets come from lua/swap/models.lua
# now, so this pins the presets' tensor names, shapes and layer order to the old C builders'.
source "$(dirname "$0")/lib.sh"
SI="$BIN/swap-inspect"
FX="$SRC/tests/fixtures"
cd "$T"
cp "$FX"/ckpt-1.1-*.h5 .

for f in ckpt-1.1-cnn.h5 ckpt-1.1-resnet9-w2.h5; do "$SI" verify "$f"; done > verify.out
diff -u "$FX/verify.expected" verify.out || fail "verify differs from the old build's"
ok "verify: same models and content hashes as the old build"

for f in ckpt-1.1-cnn.h5 ckpt-1.1-resnet9-w2.h5; do
  "$SI" "$f" --json | /usr/bin/python3 -c "
import json,sys; d=json.load(sys.stdin)
for t in d['tensors']: print(t['name'], t['shape'])"
done > tensors.out
diff -u "$FX/tensors.expected" tensors.out || fail "tensor names or shapes differ from the old build's"
ok "tensor names and shapes as the old build's"

# the architecture the reader derived, and its table
"$SI" ckpt-1.1-resnet9-w2.h5 > summary.out
grep -q "^layer1.add  *residual  *4x8x8 " summary.out || fail "no residual row in the layer table: $(grep -A3 '^layer ' summary.out)"
grep -q "^total  *6762 " summary.out || fail "layer table total is not 6762 parameters"
ok "layer table of an old file"

have_fmnist || skip "eval part: Fashion-MNIST is not in /usr/share/datasets/fashion-mnist (verify and tensors passed)"
"$SI" eval ckpt-1.1-cnn.h5 --subset 500 --json > eval.out
"$SI" eval ckpt-1.1-cnn.h5 --subset 500 --bn-recompute 4 --json >> eval.out
diff -u "$FX/eval-cnn.expected" eval.out || fail "evaluation differs from the old build's"
ok "eval identical to the old build's (plain and with BN recompute)"
rm -rf "$T"
