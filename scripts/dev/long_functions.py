#!/usr/bin/env python3
"""Length of every function in src/ (signature to closing brace), longest first.

    scripts/dev/long_functions.py [--max N] [--top K] [DIR...]

Exits 1 if a function is longer than N lines (default 80). A brace counter, not a parser: it expects the
house style (a function's closing brace alone in column 0; strings and comments with balanced braces)."""
import argparse
import pathlib
import re
import sys

SIG = re.compile(r"^[A-Za-z_][\w\s\*\(\),\[\]]*?\b(\w+)\s*\(")


def functions(path):
    lines = path.read_text(errors="replace").split("\n")
    depth, start, name, in_comment = 0, None, None, False
    for i, line in enumerate(lines):
        code = re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'|//.*$', "", line)
        code = re.sub(r"/\*.*?\*/", "", code)
        if in_comment:
            if "*/" not in code:
                continue
            code, in_comment = code.split("*/", 1)[1], False
        if "/*" in code:
            code, in_comment = code.split("/*", 1)[0], True
        if depth == 0 and start is None and not line.startswith(("typedef", "struct", "enum", "union", "#", " ")):
            m = SIG.match(line)
            if m and "=" not in line.split("(")[0]:
                start, name = i, m.group(1)
        depth += code.count("{") - code.count("}")
        if start is not None and depth == 0:
            if "}" in code:
                yield name, start + 1, i - start + 1
                start = None
            elif code.rstrip().endswith(";"):
                start = None  # a prototype


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=80)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("dirs", nargs="*", default=["src"])
    a = ap.parse_args()
    found = []
    for d in a.dirs:
        for f in sorted(pathlib.Path(d).rglob("*.c")):
            found += [(n, name, f"{f}:{line}") for name, line, n in functions(f)]
    if not found:
        print(f"no C functions found under {' '.join(a.dirs)}", file=sys.stderr)
        return 1
    found.sort(reverse=True)
    for n, name, where in found[:a.top]:
        print(f"{n:5d}  {name:32s} {where}")
    over = [x for x in found if x[0] > a.max]
    if over:
        print(f"{len(over)} function(s) longer than {a.max} lines", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
