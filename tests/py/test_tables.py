"""The tables the README's figures come from read summary.json the way swap-average writes it:
  * sweep_table.py: one row per sweep point over the seeds given, mean +- sample sd of the best member, the
    average and the ensemble, and the bytes each member sent (WASH/PAPA's communication; 0 for independent
    workers); a directory that is not a finished sweep is refused in one line;
  * swap_table.py: the SWAP average and the baselines of two seeds as mean +- sample sd.
The summaries are written here with known numbers, so a wrong mean, a swapped column or a lost row fails."""
import json, os, statistics, subprocess, tempfile

SRC = os.environ.get("SWAP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
TMP = os.environ.get("SWAP_TEST_TMP", "/tmp")


def summary(p1, workers, avg, ens, sent=None, small=None):
    s = {"phase1": {"test_acc": p1, "test_loss": 1.0, "time_s": 100.0},
         "workers": [{"worker": i, "test_acc": a, "test_loss": 1.0, "time_s": 50.0} for i, a in enumerate(workers)],
         "average": {"test_acc": avg, "test_loss": 0.9, "test_acc_before_bn": avg, "test_loss_before_bn": 0.9},
         "ensemble": {"test_acc": ens, "test_loss": 0.5}, "critical_path_s": 160.0, "phase3": {"time_s": 10.0}}
    if sent is not None:
        s["communication"] = {"bytes_sent_mean": sent, "ratio": 0.01}
    if small is not None:
        s["baselines"] = {"small": {"test_acc": small, "test_loss": 1.0, "wall_s": 120.0, "epochs": 8}}
    return s


def write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f)


def run(script, args):
    return subprocess.run(["/usr/bin/python3", os.path.join(SRC, "scripts/analysis", script)] + args,
                          capture_output=True, text=True)


def row(out, label):
    rows = [l for l in out.splitlines() if l.startswith(f"| {label} |")]
    assert len(rows) == 1, f"no single row '{label}' in:\n{out}"
    return [c.strip() for c in rows[0].strip("|").split("|")]


def main():
    d = tempfile.mkdtemp(dir=TMP)
    seeds = []
    for k, (p1, off) in enumerate(((0.90, 0.0), (0.92, 0.02))):
        run_dir = os.path.join(d, f"seed{k + 1}")
        write(f"{run_dir}/phase2.mode=independent/summary.json",
              summary(p1, [0.91 + off, 0.93 + off], 0.94 + off, 0.95 + off))
        write(f"{run_dir}/phase2.mode=wash/summary.json",
              summary(p1, [0.92 + off, 0.90 + off], 0.93 + off, 0.96 + off, sent=1000 + 1000 * k))
        seeds.append(run_dir)
    # a point only one seed has
    write(f"{seeds[0]}/phase2.mode=papa/summary.json", summary(0.90, [0.80, 0.85], 0.86, 0.87, sent=500))

    r = run("sweep_table.py", seeds)
    assert r.returncode == 0, r.stderr
    sd = statistics.stdev([100 * 0.94, 100 * 0.96])
    # best members 93 and 95, averages 94 and 96, ensembles 95 and 97: every pair 2 points apart
    assert row(r.stdout, "phase2.mode=independent") == ["phase2.mode=independent", "2", f"94.00 ± {sd:.2f}",
                                                        f"95.00 ± {sd:.2f}", f"96.00 ± {sd:.2f}", "0 ± 0"], r.stdout
    wash = row(r.stdout, "phase2.mode=wash")
    assert wash[2].startswith("93.00 ± ") and wash[3].startswith("94.00 ± ") and wash[4].startswith("97.00 ± "), r.stdout
    assert wash[5] == f"1500 ± {statistics.stdev([1000, 2000]):.0f}", r.stdout
    assert row(r.stdout, "phase2.mode=papa")[1:] == ["1", "85.00", "86.00", "87.00", "500"], r.stdout
    assert "91.00 ± 1.41 %" in r.stdout, f"shared phase 1 is not the mean of the seeds':\n{r.stdout}"

    bad = run("sweep_table.py", [d])
    assert bad.returncode != 0 and "no KEY=VALUE/summary.json" in bad.stderr and bad.stderr.count("\n") == 1, bad

    # swap_table.py: two seeds of one pipeline with a small-batch baseline row
    for k, acc in enumerate((0.90, 0.92)):
        write(f"{d}/swap{k}/summary.json", summary(0.88, [0.89], acc, acc + 0.01, small=acc + 0.005))
    r = run("swap_table.py", ["--swap", f"{d}/swap0", "--swap", f"{d}/swap1"])
    assert r.returncode == 0, r.stderr
    avg = [c for c in r.stdout.splitlines() if "SWAP average" in c and "BN statistics" not in c]
    assert avg and f"91.00 ± {statistics.stdev([90.0, 92.0]):.2f}" in avg[0], r.stdout
    small = [c for c in r.stdout.splitlines() if c.startswith("| small-batch")]
    assert small and "91.50 ± 1.41" in small[0], r.stdout
    print("ok: sweep_table.py and swap_table.py aggregate seeds and points as written")


if __name__ == "__main__":
    main()
