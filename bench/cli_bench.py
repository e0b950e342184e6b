"""`make bench-cli`: `aioxide bench` (the engine's load generator) against wrk, both
against the bench's private nginx (started by bench/run.sh, which passes --url).

Each tool loads GET /small (100 bytes) with the same connections for the same time,
one after the other; prints each one's requests per second and aioxide's share of
wrk's.  Options: --duration (seconds, default 10), --connections (64), --threads
(wrk's -t and aioxide's --threads, default 2).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys


def run_wrk(url: str, conns: int, threads: int, seconds: int) -> float:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m is None:
        raise SystemExit(f"cli_bench: no Requests/sec in wrk's output:\n{out}")
    return float(m.group(1))


def run_aioxide(url: str, conns: int, threads: int, seconds: int) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "aioxide",
            "bench",
            url,
            "-c",
            str(conns),
            "-d",
            f"{seconds}s",
            "--threads",
            str(threads),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    return json.loads(out)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    args, _ = p.parse_known_args()  # run.sh also passes --tls-url, --ws-url...
    url = f"{args.url}/small"
    if shutil.which("wrk") is None:
        print("cli_bench: wrk is missing (apt-get install wrk)", file=sys.stderr)
        return 1
    c, t, d = args.connections, args.threads, args.duration
    wrk = run_wrk(url, c, t, d)
    print(f"wrk            -t{t} -c{c} -d{d}s  {wrk:10.0f} req/s")
    for threads in sorted({1, t}):
        r = run_aioxide(url, c, threads, d)
        share = 100 * r["rps"] / wrk if wrk else 0.0
        lat = r["latency"]
        print(
            f"aioxide bench  --threads {threads} -c{c} -d{d}s  {r['rps']:10.0f} req/s"
            f"  ({share:.0f}% of wrk; p50 {lat['p50'] * 1e3:.2f} ms, p99 {lat['p99'] * 1e3:.2f} ms,"
            f" {r['failed']} failed)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
