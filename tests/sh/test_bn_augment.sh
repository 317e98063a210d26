#!/usr/bin/env bash
# Phase 3 recomputes BN statistics on training batches augmented as in training (phase3.bn_augment, default
# true) or on plain images (false); the two give different statistics, the summary says which was used, and
# `swap-inspect eval --bn-recompute` reads the setting from the file and reproduces phase 3's figures either way.
# The model trains with label smoothing, so the equal test losses also show phase 3 reports plain cross-entropy,
# as swap-inspect does.
source "$(dirname "$0")/lib.sh"
have_fmnist || skip "Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"
cd "$T"
PY=/usr/bin/python3
tiny_experiment exp.lua bnaug 'augment = { crop_pad = 3, flip = true, cutout = 8 }, label_smoothing = 0.1,'
sed -i 's/bn_batches = 8/bn_batches = 6, bn_batch = 50/' exp.lua
"$BIN/swap-run" exp.lua > run.log 2>&1 || { cat run.log; fail "pipeline"; }
R=results/bnaug
mkdir -p results/plain && cp -r $R/phase1 $R/phase2 results/plain/
"$BIN/swap-average" exp.lua --set name=plain --set phase3.bn_augment=false > plain.log 2>&1 \
  || { cat plain.log; fail "swap-average with phase3.bn_augment=false"; }
# the same evaluation phase 3 ran: its BN batches (seed, size, count, subset) and its eval batch
ev() { "$BIN/swap-inspect" eval "$1/phase3/model.h5" --subset 500 --batch 250 --bn-recompute 6 --bn-batch 50 \
         --train-subset 2048 --json; }
ev $R > aug.json || fail "eval of the augmented-BN average"
ev results/plain > plain.json || fail "eval of the plain-BN average"
$PY - "$R/summary.json" results/plain/summary.json aug.json plain.json <<'PYEOF' || fail "BN recompute results"
import json, sys
sa, sp, ea, ep = (json.load(open(f)) for f in sys.argv[1:])
a, p = sa["average"], sp["average"]
assert a["bn_augment"] is True and p["bn_augment"] is False, (a, p)
# same weights (the average of the same workers), different BN statistics
assert a["test_acc_before_bn"] == p["test_acc_before_bn"], (a, p)
assert abs(a["test_loss"] - p["test_loss"]) > 1e-4, ("augmentation did not change the BN statistics", a, p)
# swap-inspect recomputes from the file's recorded settings: the same numbers as phase 3 (summary rounds to 6)
for s, e, what in ((a, ea, "augmented"), (p, ep, "plain")):
    assert abs(s["test_loss"] - e["test_loss"]) < 2e-6 and abs(s["test_acc"] - e["test_acc"]) < 2e-6, (what, s, e)
print("ok: test loss after BN recompute: augmented %.4f, plain %.4f" % (a["test_loss"], p["test_loss"]))
PYEOF
ok "phase3.bn_augment on and off, reproduced by swap-inspect eval"
rm -rf "$T"
