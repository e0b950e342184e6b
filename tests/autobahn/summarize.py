"""Summarise Autobahn|Testsuite's reports/clients/index.json.

Prints, per case group (1.* ... 13.*), how many cases ended with each
behavior; lists the cases that are not plainly OK; fails (exit 1) on any
FAILED behavior or close behavior, and on any difference from the expected
results (tests/autobahn/expected.json, case -> behavior). With
--write-expected, records this run as the expected results instead.
"""

import json
import sys
from collections import Counter, defaultdict


def case_key(case):
    return tuple(int(p) for p in case.split("."))


def main(argv):
    index_path, expected_path = argv[1], argv[2]
    write = "--write-expected" in argv[3:]
    with open(index_path) as f:
        index = json.load(f)
    failed = False
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
        for case, behavior in results.items():
            if behavior != "OK" or closes[case] not in ("OK", "INFORMATIONAL"):
                print(f"  {case}: {behavior} (close: {closes[case]})")
            if "FAILED" in (behavior, closes[case]):
                failed = True
        if write:
            with open(expected_path, "w") as f:
                json.dump(results, f, indent=1)
                f.write("\n")
            print(f"wrote {expected_path}")
            continue
        try:
            with open(expected_path) as f:
                expected = json.load(f)
        except FileNotFoundError:
            print(f"no {expected_path}: run with --write-expected once clean")
            failed = True
            continue
        diff = sorted(
            set(expected) ^ set(results)
            | {c for c in results if c in expected and expected[c] != results[c]},
            key=case_key,
        )
        for case in diff:
            print(f"  DIFF {case}: expected {expected.get(case)}, got {results.get(case)}")
        failed = failed or bool(diff)
    if failed:
        print("autobahn: FAILED")
        return 1
    print("autobahn: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
