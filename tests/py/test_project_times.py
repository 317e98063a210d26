"""The time projection (scripts/analysis/project_times.py) stays what the docs say and never splits a batch below one
image per rank:
  * forcing the small-batch run (batch 128) onto 256 ranks is refused with a one-line error, and so is an
    uneven split (96 ranks);
  * without forcing, no run in the committed tables uses more ranks than its batch has images, and runs below
    the local-BN threshold are marked SyncBN;
  * regenerating the tables from the committed measurements and lua/experiments/cifar10.lua gives exactly
    results/projection/projection.{md,json};
  * every crossover row of that file appears verbatim in README.md and docs/cluster.md."""
import json, os, subprocess, sys, tempfile

SRC = os.environ.get("SWAP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
TMP = os.environ.get("SWAP_TEST_TMP", "/tmp")
SCRIPT = ["/usr/bin/python3", "scripts/analysis/project_times.py"]


def run(args):
    return subprocess.run(SCRIPT + args, cwd=SRC, capture_output=True, text=True)


def main():
    for ranks, want in ((256, "below one image per rank"), (96, "does not split evenly")):
        r = run(["--cores-per-node", "128", "--ranks", str(ranks)])
        assert r.returncode != 0, f"--ranks {ranks} for a batch of 128 was accepted:\n{r.stdout}"
        assert want in r.stderr and r.stderr.count("\n") == 1, r.stderr
    r = run(["--cores-per-node", "128", "--ranks", "16", "--nodes", "1"])
    assert r.returncode == 0 and "| small (s; ranks) | " in r.stdout and "; 16 |" in r.stdout, r.stdout + r.stderr
    for term in ("compute per step: MEASURED here", "network: ASSUMED", "EXTRAPOLATED"):
        assert term in r.stdout, f"the projection does not say '{term}':\n{r.stdout}"

    os.makedirs(TMP, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=TMP, prefix="projection.") as d:
        r = run(["--tables", d])
        if r.returncode != 0:
            sys.exit(f"FAIL: project_times.py --tables exited {r.returncode}\n{r.stderr[-2000:]}")
        fresh_md = open(os.path.join(d, "projection.md")).read()
        fresh_js = json.load(open(os.path.join(d, "projection.json")))
    committed = os.path.join(SRC, "results", "projection")
    js = json.load(open(os.path.join(committed, "projection.json")))
    md = open(os.path.join(committed, "projection.md")).read()
    if js != fresh_js:
        sys.exit("FAIL: results/projection/projection.json differs from the script's output; rerun "
                 "scripts/analysis/project_times.py --tables results/projection")
    # the command line in the header names the directory it was given
    if md.replace("--tables results/projection", "--tables X") != fresh_md.replace(f"--tables {d}", "--tables X"):
        sys.exit("FAIL: results/projection/projection.md differs from the script's output; rerun it")

    small_b = js["recipe"]["small_batch"]
    large_b = js["recipe"]["p1_batch"]
    for key, rows in js["projections"].items():
        for R, row in rows.items():
            if R == "notes":
                continue
            assert 1 <= row["small_ranks"] <= small_b and small_b % row["small_ranks"] == 0, (key, R, row)
            assert 1 <= row["large_ranks"] <= large_b and large_b % row["large_ranks"] == 0, (key, R, row)
            assert row["small_syncbn"] == (small_b // row["small_ranks"] < js["local_bn_min"] and row["small_ranks"] > 1)
            assert row["k"] <= js["recipe"]["p2_batch"], (key, R, row)

    cross = [l for l in md.splitlines() if l.startswith("| resnet")]
    assert len(cross) == 24, f"{len(cross)} crossover rows"
    for doc in ("README.md", os.path.join("docs", "cluster.md")):
        text = open(os.path.join(SRC, doc)).read()
        missing = [l for l in cross if l not in text]
        if missing:
            sys.exit(f"FAIL: {len(missing)} crossover rows of results/projection/projection.md are not in {doc}, "
                     f"e.g.\n  {missing[0]}")
    print(f"ok: refusals, {len(js['projections'])} tables regenerate identically, {len(cross)} crossover rows in "
          "README.md and docs/cluster.md")


if __name__ == "__main__":
    main()
