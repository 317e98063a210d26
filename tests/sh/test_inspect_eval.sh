#!/usr/bin/env bash
# swap-inspect eval (the part of test_inspect that needs Fashion-MNIST): accuracy on the recorded dataset, with
# and without BN recompute, and on a read-only file in a read-only directory, which stays unchanged.
source "$(dirname "$0")/lib.sh"
have_fmnist || skip "swap-inspect eval: Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"
TOOLS=${SWAP_TOOLS:-$SRC/build/tools}
MK="$TOOLS/make_ckpt"
SI="$BIN/swap-inspect"
[ -x "$MK" ] || fail "make_ckpt missing in $TOOLS"
[ -x "$SI" ] || fail "swap-inspect missing in $BIN"
PY=/usr/bin/python3
cd "$T"
OMP_NUM_THREADS=1 "$MK" trained.h5 --train 30 --lr 0.05 > /dev/null
"$SI" eval trained.h5 --subset 500 --json > ev.json || fail "eval"
"$SI" eval trained.h5 --subset 500 --bn-recompute 4 --batch 100 --json > ev_bn.json || fail "eval --bn-recompute"
$PY -c "
import json; a=json.load(open('ev.json')); b=json.load(open('ev_bn.json'))
assert a['n'] == 500 and a['dataset'] == 'fashion-mnist' and 0.3 < a['test_acc'] <= 1, a
assert b['bn_recompute'] == 4 and 0 < b['test_acc'] <= 1 and b['test_loss'] != a['test_loss'], (a, b)
print('eval acc', a['test_acc'], 'after BN recompute', b['test_acc'])
" || fail "eval results"
ok "eval on the recorded dataset, with and without BN recompute"

mkdir ro && cp trained.h5 ro/ && chmod 0444 ro/trained.h5 && chmod 0555 ro
state() { (cd ro && sha256sum trained.h5 && stat -c '%n %y %s' trained.h5); }
before=$(state)
"$SI" eval ro/trained.h5 --subset 100 > /dev/null || fail "eval on a read-only file"
[ "$before" = "$(state)" ] || fail "eval changed a read-only file (hash or mtime)"
[ "$(ls -A ro | wc -l)" -eq 1 ] || fail "eval created something in the read-only directory"
chmod 0755 ro
ok "eval on a read-only file in a read-only directory leaves it unchanged"
rm -rf "$T"
