#!/usr/bin/env bash
# WASH and PAPA as phase-2 modes over MPI (3 members): shuffles are permutations with exact byte counts,
# p = 0 and PAPA alpha = 1 reproduce independent training bit for bit, the same seed gives the same run, and
# phase 3 averages the members.
source "$(dirname "$0")/lib.sh"
have_fmnist || skip "Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"
TOOLS=${SWAP_TOOLS:?SWAP_TOOLS not set (run through ctest)}
cd "$T"
hash_of() { /usr/bin/python3 -c "import h5py,sys; v=h5py.File(sys.argv[1],'r').attrs['content_hash']; print(v.decode() if isinstance(v,bytes) else v)" "$1"; }
tiny_experiment exp.lua ind 'phase1 = { ranks = 1, batch = 256, lr = 0.2, max_epochs = 1 },'
SETS=(--set phase2.workers=3 --set train_subset=1024)

mpiexec -n 3 "$TOOLS/wash_check" exp.lua "${SETS[@]}" --set phase2.wash.p=0.05 --set phase2.papa.alpha=0 > check.log 2>&1 \
  || { cat check.log; fail "wash_check"; }
ok "$(grep '^wash_check: W=' check.log)"
# the layer-position decay has its own switch: off, every tensor is picked at rate p (wash_check expects that)
mpiexec -n 3 "$TOOLS/wash_check" exp.lua "${SETS[@]}" --set phase2.wash.p=0.05 --set phase2.papa.alpha=0 \
  --set phase2.wash.layer_decay=false > check-flat.log 2>&1 || { cat check-flat.log; fail "wash_check, layer_decay=false"; }
ok "layer_decay=false: $(grep '^wash_check: W=' check-flat.log)"

"$BIN/swap-train" exp.lua "${SETS[@]}" > p1.log 2>&1 || { cat p1.log; fail "phase 1"; }
for i in 0 1 2; do "$BIN/swap-refine" exp.lua --worker $i "${SETS[@]}" > w$i.log 2>&1 || { cat w$i.log; fail "worker $i"; }; done
run_mode() { # run_mode NAME MODE [--set ...]: phase 2 as one 3-rank MPI job under results/NAME
  local name=$1 mode=$2; shift 2
  mkdir -p results/$name && cp -r results/ind/phase1 results/$name/
  mpiexec -n 3 "$BIN/swap-refine" exp.lua --mode $mode "${SETS[@]}" --set name=$name "$@" > $name.log 2>&1 \
    || { cat $name.log; fail "$mode run $name"; }
}
# Exact comparisons on purpose: with p = 0 WASH picks nothing and with alpha = 1 PAPA leaves every weight as it is,
# so each member runs the independent worker's computation (same seed streams; the engine's results do not depend
# on the process layout or the thread count); and two runs with one seed repeat the same computation.
run_mode wash0 wash --set phase2.wash.p=0
run_mode papa1 papa --set phase2.papa.alpha=1
for i in 0 1 2; do
  h=$(hash_of results/ind/phase2/worker-$i.h5)
  [ "$(hash_of results/wash0/phase2/worker-$i.h5)" = "$h" ] || fail "WASH p=0 member $i differs from independent worker $i"
  [ "$(hash_of results/papa1/phase2/worker-$i.h5)" = "$h" ] || fail "PAPA alpha=1 member $i differs from independent worker $i"
done
ok "p = 0 and alpha = 1 reproduce independent training exactly"

run_mode washA wash --set phase2.wash.p=0.02
run_mode washB wash --set phase2.wash.p=0.02
for i in 0 1 2; do
  [ "$(hash_of results/washA/phase2/worker-$i.h5)" = "$(hash_of results/washB/phase2/worker-$i.h5)" ] || fail "WASH not reproducible"
  [ "$(hash_of results/washA/phase2/worker-$i.h5)" != "$(hash_of results/ind/phase2/worker-$i.h5)" ] || fail "WASH p=0.02 changed nothing"
done
grep -q "wash: communication per member: [0-9]* bytes" washA.log || fail "no communication report"
ok "WASH is reproducible and reports its traffic: $(grep -o 'ratio [0-9.]*' washA.log)"

run_mode papa papa
"$BIN/swap-average" exp.lua "${SETS[@]}" --set name=washA --set phase2.wash.p=0.02 > avg.log 2>&1 || { cat avg.log; fail "average of WASH members"; }
[ "$(json_get results/washA/summary.json 'len(d["workers"])')" = 3 ] || fail "summary does not list 3 members"
/usr/bin/python3 - results/washA/phase2/worker-0.h5 <<'PY' || fail "member checkpoint does not carry the mode"
import h5py, sys
f = h5py.File(sys.argv[1], "r")
phase = f.attrs["phase"]; phase = phase.decode() if isinstance(phase, bytes) else phase
assert phase == "wash", phase
cfg = f["config/resolved"][()]; cfg = cfg.decode() if isinstance(cfg, bytes) else cfg
assert 'phase2.wash.p = 0.02' in cfg, cfg
PY
ok "phase 3 averages WASH members; member checkpoints carry the mode and its settings"

# the communication figures are in summary.json (from the members' checkpoints), for WASH and PAPA
"$BIN/swap-average" exp.lua "${SETS[@]}" --set name=papa > avg-papa.log 2>&1 || { cat avg-papa.log; fail "average of PAPA members"; }
/usr/bin/python3 - results/washA results/papa <<'PY' || fail "summary.json communication figures"
import h5py, json, sys
for d, mode in zip(sys.argv[1:], ("wash", "papa")):
    s = json.load(open(f"{d}/summary.json"))
    c = s["communication"]
    members = []
    for i in range(3):
        with h5py.File(f"{d}/phase2/worker-{i}.h5", "r") as f:
            members.append(f["state/extra/comm_bytes"][()])  # bytes sent, steps, picks
    assert c["bytes_sent"] == [m[0] for m in members], (mode, c, members)
    assert all(m[0] > 0 for m in members) and c["steps"] == max(m[1] for m in members) > 0, (mode, c)
    assert c["bytes_sent_mean"] == round(sum(m[0] for m in members) / 3), (mode, c)
    assert abs(c["ratio"] - c["bytes_sent_mean"] / c["every_step_average_bytes"]) <= 1e-5 * c["ratio"], (mode, c)
    assert 0 < c["ratio"] < (1 if mode == "wash" else 2), (mode, c)
    if mode == "papa":  # an all-reduce of every parameter in double every `every` (10) steps
        per = c["every_step_average_bytes"] / c["steps"] / 4  # parameters
        assert all(m[0] == per * 8 * (c["steps"] // 10) for m in members), (c, per)
    print(f"{mode}: {c['bytes_sent_mean']:.0f} bytes per member in {c['steps']:.0f} steps, ratio {c['ratio']:.5f}")
PY
ok "summary.json holds each member's bytes sent, the steps, the every-step cost and the ratio (WASH and PAPA)"
rm -rf "$T"
