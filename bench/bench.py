"""Measure aioxide beside aiohttp against a local HTTP server (bench/run.sh starts nginx).

    bench.py --url http://127.0.0.1:PORT [--clients aiohttp,aioxide] [--loops asyncio,uvloop]
             [--scenarios seq,conc,dl,up,json] [--quick] [--repeat 3] [--json OUT.json]
    bench.py --write-docroot DIR      # the files the server must serve (run.sh does this)

Scenarios (fixed counts; --quick divides them by 10; each is timed --repeat times, default 3,
and the median wall time and median CPU time are reported):
  seq   3000 GETs of /small (100 B), one at a time
  conc  20000 GETs of /small, 64 in flight
  dl    200 GETs of /1m (1 MiB) read with `await resp.read()`, one at a time
  up    200 POSTs of a 1 MiB bytes body to /upload, one at a time
  json  5000 GETs of /json (~2 KB) parsed with `await resp.json()`, one at a time
  tls_conc  20000 GETs of /small over HTTPS (ssl=False), 64 in flight
  tls_dl    200 GETs of /1m over HTTPS (ssl=False), one at a time
  mw    as conc, through one trivial client middleware (its cost: compare with conc)
  trace as conc, with one TraceConfig (a no-op on_request_start handler)

Each (client, loop) pair runs in a fresh subprocess with a fresh event loop, so one
client's threads or caches never count in the other's figures.  Each scenario uses its own
ClientSession (TCPConnector(limit=64)), warms up, then measures wall time and the CPU time
(user+sys, all threads) of the whole worker process from getrusage deltas.  nginx is a
separate process and is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from statistics import median
from typing import Any, NoReturn

MIB = 1 << 20
SMALL_SIZE = 100
JSON_ITEMS = 20
CONCURRENCY = 64
# name: (requests measured, warm-up requests); --quick divides both by 10
SCENARIOS = {
    "seq": (3000, 200),
    "conc": (20000, 640),
    "dl": (200, 20),
    "up": (200, 20),
    "json": (5000, 200),
    "tls_conc": (20000, 640),
    "tls_dl": (200, 20),
    "mw": (20000, 640),
    "trace": (20000, 640),
}
CONCURRENT = ("conc", "tls_conc", "mw", "trace")
BYTES_SCENARIOS = ("dl", "up", "tls_dl")
CLIENTS = ("aiohttp", "aioxide")
LOOPS = ("asyncio", "uvloop")
TIMEOUT = 120  # seconds for one scenario, warm-up and repeats included
WORKER_TIMEOUT = 600  # seconds for one (client, loop) subprocess


def json_doc() -> dict[str, Any]:
    items = [
        {
            "id": i,
            "name": f"item-{i:03d}",
            "price": round(i * 1.25, 2),
            "qty": i * 7 % 13,
            "tags": ["alpha", "beta"][: 1 + i % 2],
            "active": i % 3 != 0,
        }
        for i in range(JSON_ITEMS)
    ]
    return {"page": 1, "total": JSON_ITEMS, "items": items}


def write_docroot(root: str) -> None:
    os.makedirs(root, exist_ok=True)
    files = {
        "small": b"x" * SMALL_SIZE,
        "json": json.dumps(json_doc()).encode(),
        "1m": bytes(range(256)) * (MIB // 256),
    }
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    # A certificate for the HTTPS server (next to the docroot, not in it).
    import trustme

    cert = trustme.CA().issue_cert("127.0.0.1")
    parent = os.path.dirname(os.path.abspath(root))
    cert.cert_chain_pems[0].write_to_path(os.path.join(parent, "cert.pem"))
    cert.private_key_pem.write_to_path(os.path.join(parent, "key.pem"))


# ---------------------------------------------------------------- worker (one client, one loop)


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def fail(what: str, status: int, got: object) -> NoReturn:
    raise RuntimeError(f"{what}: unexpected answer (status {status}, {got!r:.60})")


def request_fn(name: str, session: Any, base: str) -> tuple[Callable[[], Awaitable[None]], int]:
    """One request of scenario `name`, which checks its answer; and the bytes it moves."""
    small, big, doc = base + "/small", base + "/1m", base + "/json"
    extra: dict[str, Any] = {}
    if name.startswith("tls_"):
        extra["ssl"] = False
    payload = b"u" * MIB

    async def get_small() -> None:
        async with session.get(small, **extra) as resp:
            body = await resp.read()
            if resp.status != 200 or len(body) != SMALL_SIZE:
                fail("GET /small", resp.status, body)

    async def download() -> None:
        async with session.get(big, **extra) as resp:
            body = await resp.read()
            if resp.status != 200 or len(body) != MIB:
                fail("GET /1m", resp.status, len(body))

    async def upload() -> None:
        async with session.post(base + "/upload", data=payload) as resp:
            body = await resp.read()
            if resp.status != 200 or body != b"ok":
                fail("POST /upload", resp.status, body)

    async def get_json() -> None:
        async with session.get(doc) as resp:
            data = await resp.json()
            if resp.status != 200 or len(data["items"]) != JSON_ITEMS:
                fail("GET /json", resp.status, data)

    return {
        "seq": (get_small, SMALL_SIZE),
        "conc": (get_small, SMALL_SIZE),
        "dl": (download, MIB),
        "up": (upload, MIB),
        "json": (get_json, len(json.dumps(json_doc()))),
        "tls_conc": (get_small, SMALL_SIZE),
        "tls_dl": (download, MIB),
        "mw": (get_small, SMALL_SIZE),
        "trace": (get_small, SMALL_SIZE),
    }[name]


def session_options(http: Any, name: str) -> dict[str, Any]:
    """What the scenario adds to the session: a middleware or a trace config."""
    if name == "mw":

        async def passthrough(req: Any, handler: Any) -> Any:
            return await handler(req)

        return {"middlewares": (passthrough,)}
    if name == "trace":

        async def on_start(session: Any, ctx: Any, params: Any) -> None:
            return None

        tc = http.TraceConfig()
        tc.on_request_start.append(on_start)
        return {"trace_configs": [tc]}
    return {}


async def drive(one: Callable[[], Awaitable[None]], n: int, concurrency: int) -> None:
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await one()

    tasks = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, n))]
    try:
        await asyncio.gather(*tasks)
    finally:  # on a failure, stop the other workers too
        for t in tasks:
            t.cancel()


def counts(name: str, scale: int) -> tuple[int, int]:
    """(requests measured, warm-up requests) of scenario `name`, divided by `scale`."""
    n, warmup = SCENARIOS[name]
    return max(1, n // scale), max(1, warmup // scale)


async def measure(
    http: Any, name: str, base: str, n: int, warmup: int, repeat: int
) -> dict[str, Any]:
    """Warm up, then time `n` requests `repeat` times; keep the median wall and CPU time."""
    concurrency = CONCURRENCY if name in CONCURRENT else 1
    walls, cpus = [], []
    connector = http.TCPConnector(limit=CONCURRENCY)
    options = session_options(http, name)
    async with http.ClientSession(connector=connector, **options) as session:
        one, size = request_fn(name, session, base)
        await drive(one, warmup, concurrency)
        for _ in range(repeat):
            gc.collect()
            wall0, cpu0 = time.perf_counter(), cpu_seconds()
            await drive(one, n, concurrency)
            walls.append(time.perf_counter() - wall0)
            cpus.append(cpu_seconds() - cpu0)
    return {
        "scenario": name,
        "requests": n,
        "bytes": n * size,
        "wall_s": median(walls),
        "cpu_s": median(cpus),
        "walls_s": walls,
        "cpus_s": cpus,
    }


def worker_main(
    client: str,
    loop_name: str,
    base: str,
    names: list[str],
    scale: int,
    repeat: int,
    tls_base: str | None = None,
) -> None:
    http = importlib.import_module(client)
    if loop_name == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    results = []
    for name in names:
        url = base
        if name.startswith("tls_"):
            if not tls_base:
                results.append({"scenario": name, "error": "no --tls-url given"})
                continue
            url = tls_base
        run = asyncio.wait_for(measure(http, name, url, *counts(name, scale), repeat), TIMEOUT)
        try:
            results.append(loop.run_until_complete(run))
        except Exception as e:  # noqa: BLE001 - any failure is reported, then the next runs
            results.append({"scenario": name, "error": f"{type(e).__name__}: {e}"})
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    version = getattr(http, "__version__", "?")
    print(json.dumps({"client": client, "version": version, "loop": loop_name, "results": results}))


# ---------------------------------------------------------------- parent: run pairs, report


def importable(module: str) -> str | None:
    """None if `module` imports in a fresh interpreter, else the error's last line."""
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        check=False,
        cwd=here,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if r.returncode == 0:
        return None
    return (r.stderr.strip().splitlines() or [f"exit status {r.returncode}"])[-1]


def run_pair(client: str, loop: str, args: argparse.Namespace, names: list[str]) -> list[dict]:
    """Run one worker subprocess; its stderr goes straight to ours."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--url", args.url]
    if args.tls_url:
        cmd += ["--tls-url", args.tls_url]
    cmd += ["--clients", client, "--loops", loop, "--scenarios", ",".join(names)]
    cmd += ["--repeat", str(args.repeat)] + (["--quick"] if args.quick else [])
    try:
        r = subprocess.run(
            cmd, check=False, stdout=subprocess.PIPE, text=True, timeout=WORKER_TIMEOUT
        )
        lines = r.stdout.strip().splitlines()
        out = json.loads(lines[-1]) if r.returncode == 0 and lines else None
        err = f"worker exited with status {r.returncode} (its stderr is above)"
    except subprocess.TimeoutExpired:
        out, err = None, f"worker timed out after {WORKER_TIMEOUT} s"
    if out is None:
        return [{"client": client, "loop": loop, "scenario": s, "error": err} for s in names]
    rows = []
    for res in out["results"]:
        rows.append({"client": client, "version": out["version"], "loop": loop, **res})
    return rows


def figures(row: dict) -> tuple[float, float] | None:
    """(rate, CPU µs per request); rate is MiB/s for dl/up, req/s otherwise."""
    if "error" in row:
        return None
    per_s = row["bytes"] / MIB if row["scenario"] in BYTES_SCENARIOS else row["requests"]
    return per_s / row["wall_s"], row["cpu_s"] * 1e6 / row["requests"]


def print_table(rows: list[dict], names: list[str]) -> None:
    head = (
        f"{'scenario':<9}{'loop':<9}{'client':<9}{'rate':>10} {'unit':<6}"
        f"{'CPU µs/req':>11}  {'rate x':>7}{'CPU x':>7}"
    )
    print(head)
    print("-" * len(head))
    for name in names:
        for loop in LOOPS:
            group = [r for r in rows if r["scenario"] == name and r["loop"] == loop]
            base = next((figures(r) for r in group if r["client"] == "aiohttp"), None)
            for r in group:
                lead = f"{name:<9}{loop:<9}{r['client']:<9}"
                fig = figures(r)
                if fig is None:
                    print(f"{lead}ERROR {r['error']}")
                    continue
                unit = "MiB/s" if name in BYTES_SCENARIOS else "req/s"
                ratio = ""
                if base and r["client"] != "aiohttp":
                    ratio = f"{fig[0] / base[0]:>7.2f}{fig[1] / base[1]:>7.2f}"
                print(f"{lead}{fig[0]:>10,.1f} {unit:<6}{fig[1]:>11.1f}  {ratio}".rstrip())
    print("rate x, CPU x: aioxide / aiohttp (rate x > 1 is faster; CPU x < 1 is cheaper)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", help="base URL of the server, e.g. http://127.0.0.1:8080")
    ap.add_argument("--tls-url", help="base URL of the same server over HTTPS")
    ap.add_argument("--clients", default=",".join(CLIENTS))
    ap.add_argument("--loops", default=",".join(LOOPS))
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--quick", action="store_true", help="divide every count by 10")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs; the median is shown")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    ap.add_argument("--write-docroot", metavar="DIR", help="write the served files and exit")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.write_docroot:
        write_docroot(args.write_docroot)
        return 0
    if not args.url:
        ap.error("--url is required")
    clients, loops = args.clients.split(","), args.loops.split(",")
    names = args.scenarios.split(",")
    bad = [x for x in clients if x not in CLIENTS] + [x for x in loops if x not in LOOPS]
    bad += [x for x in names if x not in SCENARIOS]
    if args.repeat < 1:
        bad.append(f"--repeat {args.repeat}")
    if bad:
        ap.error(f"unknown client, loop, scenario or bad count: {', '.join(bad)}")
    scale = 10 if args.quick else 1
    if args.worker:
        tls = args.tls_url.rstrip("/") if args.tls_url else None
        worker_main(clients[0], loops[0], args.url.rstrip("/"), names, scale, args.repeat, tls)
        return 0

    for module in [*clients, *(["uvloop"] if "uvloop" in loops else [])]:
        err = importable(module)
        if err:
            print(f"NOTE: {module} is not importable ({err}); measuring without it.", flush=True)
            (loops if module == "uvloop" else clients).remove(module)
    if not clients:
        print("no client to measure", file=sys.stderr)
        return 1
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs "
        f"(load {os.getloadavg()[0]:.2f}); server {args.url}; "
        f"{'quick' if args.quick else 'full'} counts, median of {args.repeat}",
        flush=True,
    )

    rows: list[dict] = []
    for loop in loops:
        for client in clients:
            t0 = time.perf_counter()
            pair = run_pair(client, loop, args, names)
            rows += pair
            version = pair[0].get("version", "?")
            print(
                f"  done: {client} {version} on {loop} in {time.perf_counter() - t0:.1f} s",
                flush=True,
            )
    print()
    print_table(rows, names)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "python": platform.python_version(),
                    "quick": args.quick,
                    "repeat": args.repeat,
                    "counts": {n: counts(n, scale)[0] for n in names},
                    "results": rows,
                },
                f,
                indent=1,
            )
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
