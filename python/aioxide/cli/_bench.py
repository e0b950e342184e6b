"""``aioxide bench URL``: a load generator in the spirit of oha / wrk.  The load loop
runs in the engine (``_aioxide.LoadGen``, its own thread and runtime); Python only
polls its progress every 100 ms and prints the report."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from typing import Any

from .. import _aioxide
from . import _items
from ._term import bench_bar, console_for

POLL = 0.1
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """``30s``, ``500ms``, ``2m``, ``1h`` or plain seconds, as seconds (> 0)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*", text)
    if m is None or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 30s, 500ms, 2m)")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"not a header: {text!r} (Name: value)")
    return name.strip(), value.strip()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", metavar="URL")
    p.add_argument("-c", "--concurrency", type=int, default=50, help="requests in flight")
    limit = p.add_mutually_exclusive_group()
    limit.add_argument(
        "-n",
        "--requests",
        type=int,
        metavar="N",
        help="number of requests (default 200 without -d)",
    )
    limit.add_argument(
        "-d",
        "--duration",
        type=parse_duration,
        metavar="TIME",
        help="run for this long: 30s, 500ms, 2m",
    )
    p.add_argument("-m", "--method", default="GET", type=str.upper)
    p.add_argument(
        "-H", "--header", type=_header, action="append", default=[], metavar="'NAME: VALUE'"
    )
    body = p.add_mutually_exclusive_group()
    body.add_argument("-b", "--body", help="request body (text)")
    body.add_argument("--body-file", metavar="FILE", help="request body from FILE")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="per-request total timeout")
    h2 = p.add_mutually_exclusive_group()
    h2.add_argument("--http2", action="store_true", help="HTTP/2 by ALPN (https://)")
    h2.add_argument("--h2c", action="store_true", help="HTTP/2 with prior knowledge")
    p.add_argument("-k", "--insecure", action="store_true")
    p.add_argument("--threads", type=int, default=1, help="engine threads for the load")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _start(args: argparse.Namespace) -> tuple[Any, int | None]:
    count = args.requests if args.requests is not None or args.duration else 200
    body: bytes | None = None
    if args.body is not None:
        body = args.body.encode()
    elif args.body_file:
        with open(args.body_file, "rb") as f:
            body = f.read()
    loadgen = _aioxide.LoadGen(
        _items.normalise_url(args.url),
        method=args.method,
        headers=args.header,
        body=body,
        concurrency=args.concurrency,
        count=count,
        duration=args.duration,
        timeout=args.timeout,
        http2="alpn" if args.http2 else "prior_knowledge" if args.h2c else "off",
        verify_ssl=not args.insecure,
        threads=args.threads,
    )
    return loadgen, count


def _watch(loadgen: Any, count: int | None, duration: float | None) -> bool:
    """Poll until the end, drawing the bar; False when interrupted (Ctrl-C)."""
    start = time.monotonic()
    total = float(count) if count is not None else duration
    with bench_bar(total, "bench") as bar:
        try:
            while not loadgen.wait(POLL):
                done, elapsed = loadgen.completed(), time.monotonic() - start
                failed = loadgen.failed()
                bar.update(
                    done if count is not None else min(elapsed, duration or 0.0),
                    rate=f"{done / elapsed:,.0f} req/s" if elapsed else "",
                    extra=f"{failed} errors" if failed else "",
                )
        except KeyboardInterrupt:
            loadgen.stop()
            loadgen.wait(5.0)
            return False
        bar.update(loadgen.completed() if count is not None else duration or 0.0)
    return True


def run(args: argparse.Namespace) -> int:
    if args.concurrency < 1 or args.requests is not None and args.requests < 1:
        raise _items.ItemError("-c and -n take a number >= 1")
    loadgen, count = _start(args)
    finished = _watch(loadgen, count, args.duration)
    while not loadgen.wait(1.0):  # after Ctrl-C: in-flight requests are dropped
        pass
    report: dict[str, Any] = loadgen.result()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    if not finished:
        return 130
    return 0 if report["answered"] else 1


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def format_report(r: dict[str, Any]) -> list[str]:
    lat = r["latency"]
    lines = [
        "Summary:",
        f"  Requests:    {r['requests']} ({r['failed']} failed) in {r['elapsed']:.3f} s",
        f"  Requests/s:  {r['rps']:.1f}",
        f"  Body bytes:  {r['body_bytes']}",
        "",
        "Latency:",
        f"  min {_ms(lat['min'])}  mean {_ms(lat['mean'])}  max {_ms(lat['max'])}"
        f"  stdev {_ms(lat['stdev'])}",
    ]
    lines += [f"  {q:<6} {_ms(lat[q])}" for q in ("p50", "p90", "p99", "p99.9")]
    hist = r["histogram"]
    if hist:
        most = max(c for _, c in hist) or 1
        lines += ["", "Histogram:"]
        lines += [f"  {_ms(u):>14} [{c:>8}] {'#' * round(40 * c / most)}" for u, c in hist]
    lines += ["", "Status codes:"]
    lines += [f"  [{code}] {n}" for code, n in sorted(r["status"].items())] or ["  (none)"]
    if r["errors"]:
        lines += ["", "Errors:"]
        lines += [f"  {kind}: {n}" for kind, n in sorted(r["errors"].items())]
    return lines


def print_report(r: dict[str, Any]) -> None:
    console = console_for(sys.stdout)
    for line in format_report(r):
        if console is not None and line.endswith(":") and not line.startswith(" "):
            console.print(line, style="bold")
        else:
            print(line, flush=console is not None)
