#!/usr/bin/env python3
"""Summarize the tests ctest skipped (exit 77 = SKIP_RETURN_CODE) from its JUnit reports, with each test's own
reason (its "SKIP: ..." line). usage: ctest_skips.py REPORT.xml...

Exits 1 if a test was skipped while SWAP_REQUIRE_ALL_TESTS=1 (CI: ../shared and every test package are present,
so nothing may skip), else 0. A missing report (ctest did not get that far) is reported, not an error."""
import os, sys
import xml.etree.ElementTree as ET

def reason(case):
    out = case.findtext("system-out") or ""
    lines = [l.strip() for l in out.splitlines() if l.strip().startswith("SKIP")]
    if lines:
        return "; ".join(lines)
    sk = case.find("skipped")
    msg = sk.get("message", "") if sk is not None else ""
    return f"no reason printed ({msg})" if msg else "no reason printed"

def main(paths):
    skipped, total = [], 0
    for p in paths:
        if not os.path.exists(p):
            print(f"ctest_skips: {p}: no report (ctest did not run there)")
            continue
        for case in ET.parse(p).getroot().iter("testcase"):
            total += 1
            if case.get("status") == "notrun" and case.find("skipped") is not None:
                skipped.append((os.path.basename(os.path.dirname(os.path.abspath(p))), case.get("name"), reason(case)))
    print(f"\n== {len(skipped)} of {total} tests skipped" + (":" if skipped else ""))
    for build, name, why in skipped:
        print(f"   {build}/{name}: {why}")
    if skipped and os.environ.get("SWAP_REQUIRE_ALL_TESTS") == "1":
        print("ctest_skips: SWAP_REQUIRE_ALL_TESTS=1 and tests were skipped: install what they name "
              "(scripts/dev/deps.sh --test) and provide ../shared")
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
