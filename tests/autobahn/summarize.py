"""Summarise Autobahn|Testsuite's reports/clients/index.json.

    summarize.py INDEX EXPECTED [--groups A-B] [--write-expected]

Prints, per case group (1.* ... 13.*), how many cases ended with each
behavior, and the totals; lists the cases that are not plainly OK; ends with
"autobahn: N passed, N failed" (passed: as expected and not FAILED); fails
(exit 1) on any FAILED behavior or close behavior, and on any difference
from the expected results (EXPECTED, a JSON object case -> behavior;
tests/autobahn/expected-python.json for the Python client,
expected-engine.json for the engine's example). --groups A-B: only groups A
to B were run (`make autobahn-core`: 1-10), so only those of EXPECTED are
compared. EXPECTED "-": no comparison (a run of real aiohttp, for
comparison). With --write-expected, records this run as EXPECTED instead.
"""

import json
import sys
from collections import Counter, defaultdict


def case_key(case):
    return tuple(int(p) for p in case.split("."))


def parse_groups(argv):
    if "--groups" not in argv:
        return None
    first, last = argv[argv.index("--groups") + 1].split("-")
    return range(int(first), int(last) + 1)


def main(argv):
    index_path, expected_path = argv[1], argv[2]
    write = "--write-expected" in argv[3:]
    groups_run = parse_groups(argv[3:])
    with open(index_path) as f:
        index = json.load(f)
    if not index:
        print("autobahn: FAILED (no agent in the reports)")
        return 1
    failed = False
    bad_cases = set()
    n_cases = 0
    for agent, cases in sorted(index.items()):
        results = {c: cases[c]["behavior"] for c in sorted(cases, key=case_key)}
        closes = {c: cases[c]["behaviorClose"] for c in cases}
        groups = defaultdict(Counter)
        for case, behavior in results.items():
            groups[case.split(".")[0]][behavior] += 1
        print(f"agent {agent}: {len(results)} cases")
        for group in sorted(groups, key=int):
            counts = ", ".join(f"{b} {n}" for b, n in sorted(groups[group].items()))
            print(f"  {group}.*: {counts}")
        total = Counter(results.values())
        print("  total: " + ", ".join(f"{b} {n}" for b, n in sorted(total.items())))
        for case, behavior in results.items():
            if behavior != "OK" or closes[case] not in ("OK", "INFORMATIONAL"):
                print(f"  {case}: {behavior} (close: {closes[case]})")
            if "FAILED" in (behavior, closes[case]):
                failed = True
                bad_cases.add((agent, case))
        n_cases += len(results)
        if write:
            with open(expected_path, "w") as f:
                json.dump(results, f, indent=1)
                f.write("\n")
            print(f"wrote {expected_path}")
            continue
        if expected_path == "-":
            continue
        try:
            with open(expected_path) as f:
                expected = json.load(f)
        except FileNotFoundError:
            print(f"no {expected_path}: run with --write-expected once clean")
            failed = True
            continue
        if groups_run is not None:
            expected = {c: b for c, b in expected.items() if case_key(c)[0] in groups_run}
        diff = sorted(
            set(expected) ^ set(results)
            | {c for c in results if c in expected and expected[c] != results[c]},
            key=case_key,
        )
        for case in diff:
            print(f"  DIFF {case}: expected {expected.get(case)}, got {results.get(case)}")
        bad_cases |= {(agent, c) for c in diff}
        failed = failed or bool(diff)
    # (A case passes when it is not FAILED and as expected: OK, NON-STRICT,
    # INFORMATIONAL or UNIMPLEMENTED.)
    n_bad = len(bad_cases)
    print(f"autobahn: {max(n_cases - n_bad, 0)} passed, {n_bad} failed")
    if failed:
        print("autobahn: FAILED")
        return 1
    print("autobahn: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
