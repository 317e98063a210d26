"""The docs cannot drift from the code: in every fenced block (and inline code span) of README.md and docs/*.md,
every repository path named exists, every project command named exists, every --flag given to a project command
is one that command's source knows, every `make` target is in the Makefile, and every `--set key=value` key is a
configuration key. Every relative Markdown link in those files and in results/**/*.md points at a file git
tracks (results/ is git-ignored but for what keep_run.sh adds: a link to an untracked file works in the tree that
wrote it and is broken in every clone). Each problem is reported as FILE:LINE: what is wrong.

Written to be robust against edits by others: it only looks at tokens with a clear meaning (paths under the
repository's top-level directories, bin/<exe> or known executable names, --flags after them, make targets, --set
keys); prose, output samples and placeholders (<...>, $VAR, *, ...) are ignored."""
import glob, os, re, subprocess, sys, tempfile

SRC = os.environ.get("SWAP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
TOP = ("bin", "lua", "scripts", "datasets", "slurm", "docs", "tests", "src", "results", ".ci")
PATH_RE = re.compile(r"(?<![\w./-])((?:%s)/[\w./@=+-]*[\w])" % "|".join(re.escape(t) for t in TOP))
FLAG_RE = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")

def rel(*p):
    return os.path.join(SRC, *p)

def exe_sources(exe):
    """Source files whose text defines exe's options (C program, its subcommand modules, or the Lua tool)."""
    c = rel("src", "apps", exe.replace("-", "_") + ".c")
    if os.path.exists(c):
        files = [c]
        if exe == "swap-inspect":  # its verbs live in src/inspect (one file each), its plots in src/report
            files += glob.glob(rel("src", "inspect", "*.c")) + glob.glob(rel("src", "report", "*.c"))
        if exe in ("swap-train", "swap-refine", "swap-average", "swap-run"):  # shared phase options
            files += glob.glob(rel("src", "phases", "*.c"))
        return files
    lua = rel("lua", "bin", exe)
    if os.path.exists(lua):
        return [lua] + glob.glob(rel("lua", "swap", "**", "*.lua"), recursive=True)
    return []

def config_keys():
    text = open(rel("docs", "config.md")).read()
    return set(re.findall(r"^\| `([\w.]+)` \|", text, re.M))

def make_targets():
    text = open(rel("Makefile")).read()
    return set(re.findall(r"^([\w-]+)\s*:", text, re.M))

def blocks(path):
    """(line number, text, in_fence) for every line; inline code spans of prose lines come as their own text."""
    fence, held, held_n = False, "", 0
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        s = line.rstrip("\n")
        if s.lstrip().startswith("```"):
            fence, held = not fence, ""
            continue
        if fence:
            if s.endswith("\\"):  # a command continued on the next line
                held, held_n = held + s[:-1] + " ", held_n or n
                continue
            yield (held_n or n), held + s, True
            held, held_n = "", 0
        else:
            for span in re.findall(r"`([^`]+)`", s):
                yield n, span, False

def placeholder(tok):
    return any(ch in tok for ch in "<>*${}[]") or "..." in tok

def check_path(tok):
    p = tok.rstrip(".,:;)")
    if p.startswith("results/") or placeholder(p):
        return True  # outputs of runs, or placeholders
    if p.startswith("bin/"):
        return bool(exe_sources(p[4:])) or os.path.exists(rel(p))
    return os.path.exists(rel(p))

LINK_RE = re.compile(r"\]\(([^)#\s]+)(?:#[^)\s]*)?\)")

def tracked():
    """The files git tracks, and every directory holding one; None outside a git checkout (a tarball)."""
    r = subprocess.run(["git", "-C", SRC, "ls-files", "-z"], capture_output=True, text=True)
    if r.returncode != 0 or not r.stdout:
        return None
    files = set(r.stdout.rstrip("\0").split("\0"))
    dirs = {os.path.dirname(f) for f in files}
    for d in list(dirs):
        while d:
            d = os.path.dirname(d)
            dirs.add(d)
    return files | dirs

def check_links(docs, have, problems, checked):
    for doc in docs:
        name = os.path.relpath(doc, SRC)
        for n, line in enumerate(open(doc, encoding="utf-8"), 1):
            for target in LINK_RE.findall(line):
                if re.match(r"[a-z]+:", target):
                    continue  # http:, https:, mailto:
                checked["links"] = checked.get("links", 0) + 1
                path = os.path.normpath(os.path.join(os.path.dirname(name), target))
                ok = path in have if have is not None else os.path.exists(rel(path))
                if not ok:
                    problems.append(f"{name}:{n}: link to {target}: "
                                    + ("not tracked by git" if os.path.exists(rel(path)) else "no such file"))

def main():
    keys, targets = config_keys(), make_targets()
    docs = [rel("README.md")] + sorted(glob.glob(rel("docs", "*.md")))
    problems, checked = [], {"paths": 0, "commands": 0, "flags": 0, "make": 0, "keys": 0}
    for doc in docs:
        name = os.path.relpath(doc, SRC)
        for n, text, fenced in blocks(doc):
            where = f"{name}:{n}"
            line = text[2:] if text.startswith("$ ") else text
            for tok in PATH_RE.findall(line):
                checked["paths"] += 1
                if not check_path(tok):
                    problems.append(f"{where}: {tok} does not exist")
            if not fenced:
                continue
            # commands and their flags: a project command, then flags up to the next pipe/;/&&/comment
            for seg in re.split(r"\|\||&&|;|\s\|\s|\s#\s", line):
                m = re.match(r"\s*(?:\$ )?(?:bin/)?(swap-[a-z-]+)\b", seg)  # a command line, not a diagram
                if m:
                    exe = m.group(1)
                    srcs = exe_sources(exe)
                    checked["commands"] += 1
                    if not srcs:
                        problems.append(f"{where}: no program {exe} (no src/apps/{exe.replace('-', '_')}.c or lua/bin/{exe})")
                        continue
                    text_src = "\n".join(open(f, encoding="utf-8", errors="replace").read() for f in srcs)
                    for flag in FLAG_RE.findall(seg[m.end():]):
                        checked["flags"] += 1
                        if f'"{flag}' not in text_src and f"'{flag}" not in text_src and f"{flag} " not in text_src:
                            problems.append(f"{where}: {exe} has no option {flag}")
                    for key in re.findall(r"--set\s+([\w.]+)=", seg):
                        checked["keys"] += 1
                        if key not in keys and key not in ("k", "key") and not key.startswith("baselines."):
                            problems.append(f"{where}: --set {key}: not a configuration key (docs/config.md)")
                mk = re.match(r"\s*(?:\$ )?make\s+([\w-]+(?:=\S*)?(?:\s+[\w-]+(?:=\S*)?)*)", seg)
                if mk:
                    for t in mk.group(1).split():
                        if "=" in t:
                            continue
                        checked["make"] += 1
                        if t not in targets:
                            problems.append(f"{where}: make {t}: no such target in the Makefile")
    # every experiment file the docs name is a valid experiment: swap-slurm plans it (validating every sweep
    # combination) without submitting anything
    named = sorted({m for doc in docs for m in re.findall(r"lua/experiments/[\w.-]+\.lua", open(doc).read())})
    tmp_root = os.environ.get("SWAP_TEST_TMP", "/tmp")
    os.makedirs(tmp_root, exist_ok=True)  # ctest alone (not make check) runs before anything made it
    tmp = tempfile.mkdtemp(dir=tmp_root, prefix="docs.")
    for exp in named:
        if not os.path.exists(rel(exp)):
            continue  # reported above
        r = subprocess.run(["lua5.4", rel("lua", "bin", "swap-slurm"), "plan", rel(exp)], cwd=tmp,
                           capture_output=True, text=True)
        checked["experiments"] = checked.get("experiments", 0) + 1
        if r.returncode != 0:
            problems.append(f"{exp}: swap-slurm plan fails: {(r.stderr or r.stdout).strip()[:300]}")
    subprocess.run(["rm", "-rf", tmp])
    have = tracked()
    md = [d for d in docs + sorted(glob.glob(rel("results", "**", "*.md"), recursive=True))
          if have is None or os.path.relpath(d, SRC) in have]
    check_links(md, have, problems, checked)
    for p in problems:
        print("FAIL:", p)
    print("checked " + ", ".join(f"{v} {k}" for k, v in checked.items()) + f" in {len(docs)} files")
    assert checked["paths"] > 20 and checked["commands"] > 10 and checked["flags"] > 5, "the doc scan found too little"
    return 1 if problems else 0

if __name__ == "__main__":
    sys.exit(main())
