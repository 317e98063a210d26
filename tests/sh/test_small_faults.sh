#!/usr/bin/env bash
# Smaller things that went silently wrong: an h5py fixed-length (NULLPAD) model name kept whole; an experiment name
# too long for the phases' paths refused before phase 1; more than 64 --set options all taken; an output that is a
# symbolic link written through, not replaced by a file.
source "$(dirname "$0")/lib.sh"
TOOLS=${SWAP_TOOLS:-$SRC/build/tools}
cd "$T"

# NULLPAD fixed-length string attribute (h5py's fixed-length strings): 'cnn', not 'cn'
if /usr/bin/python3 -c "import h5py" 2>/dev/null; then
  "$TOOLS/make_ckpt" np.h5 --model cnn > /dev/null
  /usr/bin/python3 - np.h5 <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    g = f["model"]; del g.attrs["model"]
    g.attrs.create("model", np.bytes_("cnn"), dtype=h5py.string_dtype("ascii", 3))
    assert h5py.h5a.open(g.id, b"model").get_type().get_strpad() == h5py.h5t.STR_NULLPAD
PY
  "$BIN/swap-inspect" verify np.h5 > np.log 2>&1 || { cat np.log; fail "NULLPAD model name misread"; }
  grep -q "OK cnn" np.log || { cat np.log; fail "model name not 'cnn'"; }
  ok "a NULLPAD fixed-length model name is read whole"
else
  echo "SKIP (part): NULLPAD: h5py not installed (Debian package python3-h5py)"
fi

# an experiment name too long for the paths, and 70 --set options (the last one decides)
tiny_experiment exp.lua small
long=$(printf 'n%.0s' $(seq 1 1000))
SETS=(); for i in $(seq 1 70); do SETS+=(--set seed=$i); done
for prog in swap-run swap-train; do
  set +e; "$BIN/$prog" exp.lua "${SETS[@]}" --set name=x/$long > long.log 2>&1; rc=$?; set -e
  [ $rc = 1 ] || { cat long.log; fail "$prog: long name: exit $rc"; }
  grep -q "error: name: '.*' is too long for the files the phases write under it" long.log || { cat long.log; fail "$prog: long-name message"; }
  ! grep -q "usage" long.log || fail "$prog: 71 --set options gave a usage line"
  [ ! -e results/x ] || fail "$prog: created results/x before refusing"
done
ok "a name too long for the phases' paths is refused up front; 71 --set options are accepted"

# an output that is a symbolic link is written through
mkdir keep && "$TOOLS/make_ckpt" keep/real.h5 --model mlp --seed 1 > /dev/null
ln -s keep/real.h5 link.h5
"$TOOLS/make_ckpt" link.h5 --model mlp --seed 2 > /dev/null
[ -L link.h5 ] || fail "the symbolic link was replaced by a file"
"$BIN/swap-inspect" link.h5 --json > l.json && json_get l.json 'd["seed"]' | grep -qx 2 || { cat l.json | head -c 600; fail "the link's target was not rewritten"; }
[ -z "$(ls -A keep | grep tmp)" ] && [ -z "$(ls -A . | grep '\.tmp')" ] || fail "temporary left"
ok "a checkpoint written to a symbolic link lands in its target"
