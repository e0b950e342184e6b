"""Measure aioxide beside aiohttp, httpx and pyreqwest against local servers (bench/run.sh).

    bench.py --url http://127.0.0.1:PORT [--tls-url https://...] [--ws-url ws://...]
             [--ws-z-url ws://...] [--clients aiohttp,aioxide,httpx,pyreqwest]
             [--loops asyncio,uvloop] [--scenarios seq,conc,...] [--ws-compress 15]
             [--quick] [--repeat 3] [--json OUT.json] [--png CHART.png]
    bench.py --write-docroot DIR      # the files the server must serve (run.sh does this)

HTTP scenarios (against nginx; fixed counts; --quick divides them by 10; each is timed
in --repeat rounds, default 3, and the median wall time and median CPU time are reported):
  seq   3000 GETs of /small (100 B), one at a time
  conc  20000 GETs of /small, 64 in flight
  dl    200 GETs of /1m (1 MiB), the whole body read, one at a time
  up    200 POSTs of a 1 MiB bytes body to /upload, one at a time
  up_file  the same from a 1 MiB file (a temporary file, in the page cache): aiohttp and
        aioxide get the open file (data=f: read in the default executor, 64 KiB at a
        time, as aiohttp does); httpx and pyreqwest, which take no file, an async
        generator reading it so (asyncio.to_thread), with its Content-Length
  json  5000 GETs of /json (~2 KB) parsed by the client's own json(), one at a time
  tls_seq   3000 GETs of /small over HTTPS (certificate not verified), one at a time
  tls_conc  20000 GETs of /small over HTTPS (certificate not verified), 64 in flight
  tls_dl    200 GETs of /1m over HTTPS (certificate not verified), one at a time
  h2_conc   as tls_conc over HTTP/2 (nginx's `listen ... ssl http2`, ALPN): aioxide's
            TCPConnector(http2=True), httpx's AsyncClient(http2=True), pyreqwest's
            .http2(True); aiohttp has none.  64 in flight on one connection (nginx allows
            128 streams); the answers are checked to be HTTP/2
  h2_dl     200 GETs of /1m over HTTP/2, 16 in flight on one connection (compare
            with tls_dl16: the same over HTTP/1.1, 16 connections)
  tls_dl16  200 GETs of /1m over HTTPS/1.1, 16 in flight
  dl16m 10 GETs of /16m (16 MiB), the whole body read, one at a time; also the peak RSS:
        how far the process's resident memory rose above what it held with its client
        open and no request made yet (VmHWM, reset through /proc/self/clear_refs)
  mw    as conc, through one trivial pass-through middleware (its cost: compare with conc)
  trace as conc, with one no-op request-start hook (aiohttp's TraceConfig)
  proxy_conc  as conc, through a forward HTTP proxy (a second nginx server, --proxy-url,
        relaying to the first over kept-alive connections): the session's proxy=

WebSocket scenarios (against bench/ws_echo.py; aiohttp and aioxide only, as httpx and
pyreqwest have no WebSocket client; one "message" is one round trip: sent, echoed, received):
  ws_echo_small  20000 round trips of a 64-byte text message on one connection
  ws_echo_1m     200 round trips of a 1 MiB binary message on one connection
  ws_fanout      64 connections, each doing 1000 round trips of 64-byte text, all at once
  ws_*_z         the same with permessage-deflate (compress=--ws-compress, default 15)
                 against the echo server's deflate port; ws_echo_1m_z does 50 round trips

How each client is set up (one client object per scenario, reused for every request):
  aiohttp, aioxide  ClientSession(connector=TCPConnector(limit=64)); `async with
                    session.get(url) as resp: await resp.read()` (or .json()); ssl=False
                    for HTTPS; ws_connect(url, compress=...), send_str/send_bytes, receive()
  httpx      AsyncClient(limits=Limits(max_connections=64, max_keepalive_connections=64)),
             HTTP/1.1 (its default); `resp = await client.get(url)` (reads the whole body),
             resp.content / resp.json(); verify=False for HTTPS; mw: a pass-through
             AsyncBaseTransport around AsyncHTTPTransport; trace: event_hooks={"request": [f]}
  pyreqwest  ClientBuilder().max_connections(64).build() (HTTP/1.1, its default runtime);
             `resp = await client.get(url).build().send()`, await resp.bytes() / resp.json();
             danger_accept_invalid_certs(True) for HTTPS; mw: .with_middleware(f);
             trace: n/a (no such hook)
A scenario a client cannot do is shown as n/a.

Each round runs the scenarios group by group (GROUPS: scenarios compared with each other
stay together), and each group for every (client, loop) pair in turn, in a fresh
subprocess with a fresh event loop, the clients' order rotated from round to round: one
client's threads or caches never count in the other's figures, where the system placed
one process's threads (on this VM a ping-pong's rate can differ 3x from one process to
the next, for every client) sways one round, not the median, and the clients measure a
scenario within seconds of each other (this VM's speed drifts by up to 2x over minutes:
with one process per pair for all scenarios, aioxide's h2_dl was 0.64-0.85 of
pyreqwest's rate in full runs and 0.89-1.18 in runs of the download scenarios alone).
Each scenario uses its own client object, warms up, then measures wall time and the CPU
time (user+sys, all threads: pyreqwest's and aioxide's Rust threads included) of the
whole worker process from getrusage deltas. nginx and the echo server are separate
processes and are not counted there; their own CPU time in the same runs (from /proc,
given their pids by run.sh) is shown in a table of its own, per client: nginx runs one
worker, so a row whose server CPU per operation is high is bounded by the server, not by
the client. A last table gives the client's minor page faults per MiB in the downloads
and uploads: a client that reuses its buffers has next to none; one that gets a new
zeroed page from the kernel for every 4 KiB of every body has 256, and pays for each in
CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from statistics import median
from typing import Any, NoReturn

MIB = 1 << 20
SMALL_SIZE = 100
JSON_ITEMS = 20
CONCURRENCY = 64
WS_FANOUT = 64  # connections of ws_fanout
# 64 bytes of text, as a small real-time message might be
WS_SMALL_MSG = '{"seq":1024,"op":"quote","sym":"ABCD","px":101.25,"qty":700}    '
assert len(WS_SMALL_MSG) == 64
# name: (operations measured, warm-up operations); --quick divides both by 10
SCENARIOS = {
    "seq": (3000, 200),
    "conc": (20000, 640),
    "dl": (200, 20),
    "up": (200, 20),
    "up_file": (200, 20),
    "json": (5000, 200),
    "tls_seq": (3000, 200),
    "tls_conc": (20000, 640),
    "tls_dl": (200, 20),
    "h2_conc": (20000, 640),
    "h2_dl": (200, 32),
    "tls_dl16": (200, 32),
    "dl16m": (10, 2),
    "mw": (20000, 640),
    "trace": (20000, 640),
    "proxy_conc": (20000, 640),
    "ws_echo_small": (20000, 1000),
    "ws_echo_1m": (200, 20),
    "ws_fanout": (WS_FANOUT * 1000, WS_FANOUT * 50),
    "ws_echo_small_z": (20000, 1000),
    "ws_echo_1m_z": (50, 5),  # zlib on 1 MiB both ways: ~30 round trips/s
    "ws_fanout_z": (WS_FANOUT * 1000, WS_FANOUT * 50),
}
# Scenarios run together, each group in a process of its own per (client, loop); any
# other scenario is a group of its own.
GROUPS = (
    ("seq", "conc", "json"),
    ("dl", "up", "up_file"),
    ("tls_seq", "tls_conc", "h2_conc"),
    ("tls_dl", "tls_dl16", "h2_dl"),
    ("mw", "trace", "proxy_conc"),
    ("ws_echo_small", "ws_echo_1m", "ws_fanout"),
    ("ws_echo_small_z", "ws_echo_1m_z", "ws_fanout_z"),
)
CONCURRENT = ("conc", "tls_conc", "h2_conc", "mw", "trace", "proxy_conc")
TLS_SCENARIOS = ("tls_seq", "tls_conc", "tls_dl", "h2_conc", "h2_dl", "tls_dl16")
H2_SCENARIOS = ("h2_conc", "h2_dl")
# Requests in flight, where not CONCURRENCY (CONCURRENT) or 1.
IN_FLIGHT = {"h2_dl": 16, "tls_dl16": 16}
# The forward proxy of proxy_conc (set by the worker from --proxy-url).
PROXY_URL: str | None = None
BYTES_SCENARIOS = ("dl", "up", "up_file", "tls_dl", "h2_dl", "tls_dl16", "dl16m")
# Scenarios whose peak RSS is measured (each runs in a process of its own).
RSS_SCENARIOS = ("dl16m",)
BIG_SIZE = 16 * MIB
# The file up_file sends (written by the worker that runs it, removed after).
UPLOAD_FILE: str | None = None
FILE_CHUNK = 2**16  # what aiohttp's file payload reads at a time
# Figures a row has only when they could be read (the server's CPU needs its pid).
OPTIONAL_FIGURES = ("page_faults", "server_cpu_s", "rss_growth")
WS_SCENARIOS = tuple(n for n in SCENARIOS if n.startswith("ws_"))
CLIENTS = ("aiohttp", "aioxide", "httpx", "pyreqwest")
AIOHTTP_API = ("aiohttp", "aioxide")
PEERS = ("aiohttp", "httpx", "pyreqwest")  # what aioxide is to lead
LOOPS = ("asyncio", "uvloop")
# httpx is 5-40x slower than the others here (at 64 in flight its connection pool scans
# every connection on each request: ~3 ms of CPU per request on this 2-core machine), so to
# keep `make bench` near 10 minutes it runs fewer operations: its counts are divided by this.
# Its rates and CPU per request are per operation, so only their noise grows.
SLOW_CLIENTS = {"httpx": 20}
TIMEOUT = 120  # seconds for one scenario, warm-up and repeats included
WORKER_TIMEOUT = 900  # seconds for one (group, client, loop) subprocess


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
        "16m": bytes(range(256)) * (BIG_SIZE // 256),
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


def page_faults() -> int:
    """Minor page faults of this process so far (every thread): pages the kernel had to
    give it, each zeroed, as when a big buffer is allocated anew instead of reused."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def vm_kib(field: str) -> int:
    """A figure of /proc/self/status in KiB (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def reset_peak_rss() -> None:
    """Make VmHWM start again from the present RSS (Linux 4.0+)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def proc_stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command's name (state, ppid, ...)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def server_pids(env: str) -> list[int]:
    """The server run.sh named in `env` (its pid) and its children (nginx's worker)."""
    root = os.environ.get(env, "")
    if not root.isdigit():
        return []
    pids = [int(root)]
    for d in os.listdir("/proc"):
        try:
            if d.isdigit() and int(proc_stat(int(d))[1]) == pids[0]:
                pids.append(int(d))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def server_cpu_seconds(pids: list[int]) -> float | None:
    """Seconds the server's processes (all their threads) ran on a CPU so far, from the
    scheduler's nanosecond count (/proc/PID/task/TID/schedstat); None when unknown."""
    if not pids:
        return None
    total = 0
    try:
        for pid in pids:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total / 1e9


def fail(what: str, status: int, got: object) -> NoReturn:
    raise RuntimeError(f"{what}: unexpected answer (status {status}, {got!r:.60})")


def unsupported(client: str, name: str) -> str | None:
    """Why `client` cannot do scenario `name`, or None if it can."""
    if name in WS_SCENARIOS and client not in AIOHTTP_API:
        return f"{client} has no WebSocket client"
    if name == "trace" and client == "pyreqwest":
        return "pyreqwest has no request hooks"
    if name in H2_SCENARIOS and client == "aiohttp":
        return "aiohttp has no HTTP/2 client"
    return None


def session_options(http: Any, name: str) -> dict[str, Any]:
    """What the scenario adds to an aiohttp-API session: a middleware or a trace config."""
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
    if name == "proxy_conc":
        return {"proxy": PROXY_URL}
    return {}


@contextlib.asynccontextmanager
async def open_client(client: str, http: Any, name: str) -> AsyncIterator[Any]:
    """The client's own session object for scenario `name`, pooled like the others (64)."""
    tls = name in TLS_SCENARIOS
    h2 = name in H2_SCENARIOS
    if client in AIOHTTP_API:
        connector = http.TCPConnector(limit=CONCURRENCY, **({"http2": True} if h2 else {}))
        async with http.ClientSession(connector=connector, **session_options(http, name)) as s:
            yield s
    elif client == "httpx":
        limits = http.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        options: dict[str, Any] = {"limits": limits, "verify": not tls, "http2": h2}
        if name == "mw":  # httpx's way to wrap every request: a transport around the transport

            class Passthrough(http.AsyncBaseTransport):  # type: ignore[name-defined,misc]
                def __init__(self, inner: Any) -> None:
                    self.inner = inner

                async def handle_async_request(self, request: Any) -> Any:
                    return await self.inner.handle_async_request(request)

                async def aclose(self) -> None:
                    await self.inner.aclose()

            options = {"transport": Passthrough(http.AsyncHTTPTransport(**options))}
        elif name == "trace":

            async def on_request(request: Any) -> None:
                return None

            options["event_hooks"] = {"request": [on_request]}
        elif name == "proxy_conc":
            options["proxy"] = PROXY_URL
        async with http.AsyncClient(**options) as s:
            yield s
    elif client == "pyreqwest":
        from pyreqwest.client import ClientBuilder

        builder = ClientBuilder().max_connections(CONCURRENCY)
        if tls:
            builder = builder.danger_accept_invalid_certs(True)
        if h2:
            builder = builder.http2(True)
        if name == "mw":

            async def passthrough(request: Any, next_handler: Any) -> Any:
                return await next_handler.run(request)

            builder = builder.with_middleware(passthrough)
        if name == "proxy_conc":
            from pyreqwest.proxy import ProxyBuilder

            builder = builder.proxy(ProxyBuilder.http(PROXY_URL))
        async with builder.build() as s:
            yield s
    else:
        raise ValueError(client)


def request_fn(
    client: str, name: str, session: Any, base: str
) -> tuple[Callable[[], Awaitable[None]], int]:
    """One request of scenario `name`, which checks its answer; and the bytes it moves."""
    small, doc, upload_url = base + "/small", base + "/json", base + "/upload"
    big, big_size = (base + "/16m", BIG_SIZE) if name == "dl16m" else (base + "/1m", MIB)
    payload = b"u" * MIB
    get_small: Callable[[], Awaitable[None]]
    download: Callable[[], Awaitable[None]]
    upload: Callable[[], Awaitable[None]]
    upload_file: Callable[[], Awaitable[None]]
    get_json: Callable[[], Awaitable[None]]
    file_headers = {"Content-Length": str(MIB)}

    if client in AIOHTTP_API:
        extra: dict[str, Any] = {}
        if name in TLS_SCENARIOS:
            extra["ssl"] = False
        major = 2 if name in H2_SCENARIOS else 1

        async def get_small() -> None:
            async with session.get(small, **extra) as resp:
                body = await resp.read()
                if resp.status != 200 or len(body) != SMALL_SIZE or resp.version[0] != major:
                    fail("GET /small", resp.status, (resp.version, body))

        async def download() -> None:
            async with session.get(big, **extra) as resp:
                body = await resp.read()
                if resp.status != 200 or len(body) != big_size or resp.version[0] != major:
                    fail("GET " + big, resp.status, (resp.version, len(body)))

        async def upload() -> None:
            async with session.post(upload_url, data=payload) as resp:
                body = await resp.read()
                if resp.status != 200 or body != b"ok":
                    fail("POST /upload", resp.status, body)

        async def upload_file() -> None:
            # The session closes the file once it is sent (as aiohttp does).
            async with session.post(upload_url, data=open(upload_path(), "rb")) as resp:  # noqa: SIM115
                body = await resp.read()
                if resp.status != 200 or body != b"ok":
                    fail("POST /upload (file)", resp.status, body)

        async def get_json() -> None:
            async with session.get(doc) as resp:
                data = await resp.json()
                if resp.status != 200 or len(data["items"]) != JSON_ITEMS:
                    fail("GET /json", resp.status, data)

    elif client == "httpx":  # client.get/post read the whole body before returning
        version = "HTTP/2" if name in H2_SCENARIOS else "HTTP/1.1"

        async def get_small() -> None:
            resp = await session.get(small)
            body = resp.content
            if resp.status_code != 200 or len(body) != SMALL_SIZE or resp.http_version != version:
                fail("GET /small", resp.status_code, (resp.http_version, body))

        async def download() -> None:
            resp = await session.get(big)
            body = resp.content
            if resp.status_code != 200 or len(body) != big_size or resp.http_version != version:
                fail("GET " + big, resp.status_code, (resp.http_version, len(body)))

        async def upload() -> None:
            resp = await session.post(upload_url, content=payload)
            body = resp.content
            if resp.status_code != 200 or body != b"ok":
                fail("POST /upload", resp.status_code, body)

        async def upload_file() -> None:
            resp = await session.post(upload_url, content=file_chunks(), headers=file_headers)
            body = resp.content
            if resp.status_code != 200 or body != b"ok":
                fail("POST /upload (file)", resp.status_code, body)

        async def get_json() -> None:
            resp = await session.get(doc)
            data = resp.json()
            if resp.status_code != 200 or len(data["items"]) != JSON_ITEMS:
                fail("GET /json", resp.status_code, data)

    else:  # pyreqwest: build().send() buffers the body; bytes()/json() hand it over
        h2 = name in H2_SCENARIOS

        async def get_small() -> None:
            resp = await session.get(small).build().send()
            body = await resp.bytes()
            if resp.status != 200 or len(body) != SMALL_SIZE or (resp.version == "HTTP/2.0") != h2:
                fail("GET /small", resp.status, (resp.version, body))

        async def download() -> None:
            resp = await session.get(big).build().send()
            body = await resp.bytes()
            if resp.status != 200 or len(body) != big_size or (resp.version == "HTTP/2.0") != h2:
                fail("GET " + big, resp.status, (resp.version, len(body)))

        async def upload() -> None:
            resp = await session.post(upload_url).body_bytes(payload).build().send()
            body = await resp.bytes()
            if resp.status != 200 or body != b"ok":
                fail("POST /upload", resp.status, body)

        async def upload_file() -> None:
            req = session.post(upload_url).headers(file_headers).body_stream(file_chunks())
            resp = await req.build().send()
            body = await resp.bytes()
            if resp.status != 200 or body != b"ok":
                fail("POST /upload (file)", resp.status, body)

        async def get_json() -> None:
            resp = await session.get(doc).build().send()
            data = await resp.json()
            if resp.status != 200 or len(data["items"]) != JSON_ITEMS:
                fail("GET /json", resp.status, data)

    return {
        "seq": (get_small, SMALL_SIZE),
        "conc": (get_small, SMALL_SIZE),
        "dl": (download, MIB),
        "up": (upload, MIB),
        "up_file": (upload_file, MIB),
        "json": (get_json, len(json.dumps(json_doc()))),
        "tls_seq": (get_small, SMALL_SIZE),
        "tls_conc": (get_small, SMALL_SIZE),
        "tls_dl": (download, MIB),
        "h2_conc": (get_small, SMALL_SIZE),
        "h2_dl": (download, MIB),
        "tls_dl16": (download, MIB),
        "dl16m": (download, BIG_SIZE),
        "mw": (get_small, SMALL_SIZE),
        "trace": (get_small, SMALL_SIZE),
        "proxy_conc": (get_small, SMALL_SIZE),
    }[name]


def upload_path() -> str:
    """The file up_file sends: 1 MiB, written once per worker process."""
    global UPLOAD_FILE
    if UPLOAD_FILE is None:
        fd, path = tempfile.mkstemp(prefix="aioxide-bench-", suffix=".bin")
        with os.fdopen(fd, "wb") as f:
            f.write(bytes(range(256)) * (MIB // 256))
        UPLOAD_FILE = path
    return UPLOAD_FILE


async def file_chunks() -> AsyncIterator[bytes]:
    """The upload file as the peers without a file body take it: read in a thread."""
    with open(upload_path(), "rb") as f:
        while chunk := await asyncio.to_thread(f.read, FILE_CHUNK):
            yield chunk


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
    """(operations measured, warm-up operations) of scenario `name`, divided by `scale`."""
    n, warmup = SCENARIOS[name]
    if name.startswith("ws_fanout"):  # whole round trips on every connection
        per_conn = max(1, n // WS_FANOUT // scale), max(1, warmup // WS_FANOUT // scale)
        return WS_FANOUT * per_conn[0], WS_FANOUT * per_conn[1]
    n, warmup = max(1, n // scale), max(1, warmup // scale)
    if name in CONCURRENT:  # the warm-up opens every pooled connection
        n, warmup = max(n, CONCURRENCY), max(warmup, CONCURRENCY)
    return n, warmup


def timed_result(
    name: str,
    n: int,
    size: int,
    walls: list,
    cpus: list,
    servers: list,
    faults: list,
    rss_growth: float | None = None,
) -> dict[str, Any]:
    row = {
        "scenario": name,
        "requests": n,
        "bytes": n * size,
        "wall_s": median(walls),
        "cpu_s": median(cpus),
        "walls_s": walls,
        "cpus_s": cpus,
    }
    if faults:
        row["page_faults"] = median(faults)
    if rss_growth is not None:
        row["rss_growth"] = rss_growth
    if servers and None not in servers:
        row["server_cpu_s"] = median(servers)
    return row


class Timer:
    """Times one run: wall and CPU time of this process, and the server's CPU time
    (read around the client's own figures, so that reading it costs the client nothing)."""

    def __init__(self, server_env: str) -> None:
        self.pids = server_pids(server_env)
        self.walls: list[float] = []
        self.cpus: list[float] = []
        self.servers: list[float | None] = []
        self.faults: list[int] = []
        # Peak RSS above the RSS before the first request, MiB (RSS_SCENARIOS only).
        self.rss_base: int | None = None

    def watch_rss(self) -> None:
        """From now on, note how far the RSS rises above what it is now."""
        reset_peak_rss()
        self.rss_base = vm_kib("VmRSS")

    def start(self) -> None:
        self._srv = server_cpu_seconds(self.pids)
        self._faults = page_faults()
        self._wall, self._cpu = time.perf_counter(), cpu_seconds()

    def stop(self) -> None:
        self.walls.append(time.perf_counter() - self._wall)
        self.cpus.append(cpu_seconds() - self._cpu)
        self.faults.append(page_faults() - self._faults)
        end = server_cpu_seconds(self.pids)
        self.servers.append(None if end is None or self._srv is None else end - self._srv)

    def result(self, name: str, n: int, size: int) -> dict[str, Any]:
        rss = None if self.rss_base is None else (vm_kib("VmHWM") - self.rss_base) / 1024
        return timed_result(name, n, size, self.walls, self.cpus, self.servers, self.faults, rss)


async def measure(
    client: str, http: Any, name: str, base: str, n: int, warmup: int, repeat: int
) -> dict[str, Any]:
    """Warm up, then time `n` requests `repeat` times; keep the median wall and CPU time."""
    concurrency = CONCURRENCY if name in CONCURRENT else IN_FLIGHT.get(name, 1)
    timer = Timer("BENCH_NGINX_PID")
    async with open_client(client, http, name) as session:
        one, size = request_fn(client, name, session, base)
        if name in RSS_SCENARIOS:
            gc.collect()
            timer.watch_rss()
        await drive(one, warmup, concurrency)
        for _ in range(repeat):
            gc.collect()
            timer.start()
            await drive(one, n, concurrency)
            timer.stop()
    return timer.result(name, n, size)


async def measure_ws(
    http: Any, name: str, url: str, n: int, warmup: int, repeat: int, compress: int
) -> dict[str, Any]:
    """Open the connection(s) (not timed), warm up, then time `n` round trips `repeat` times."""
    conns = WS_FANOUT if name.startswith("ws_fanout") else 1
    big = name.startswith("ws_echo_1m")
    text, data = WS_SMALL_MSG, bytes(range(256)) * (MIB // 256)
    size = MIB if big else len(WS_SMALL_MSG)
    want = http.WSMsgType.BINARY if big else http.WSMsgType.TEXT

    async def rounds(ws: Any, k: int) -> None:
        for _ in range(k):
            if big:
                await ws.send_bytes(data)
            else:
                await ws.send_str(text)
            msg = await ws.receive()
            if msg.type != want or (len(msg.data) != MIB if big else msg.data != text):
                fail("WebSocket echo", 0, (msg.type, msg.data))

    async def drive_ws(k: int) -> None:
        await asyncio.gather(*(rounds(ws, k) for ws in wss))

    timer = Timer("BENCH_WS_PID")
    connector = http.TCPConnector(limit=conns)
    async with http.ClientSession(connector=connector) as session:
        async with contextlib.AsyncExitStack() as stack:
            wss = []
            for _ in range(conns):
                ws = session.ws_connect(url, compress=compress)
                wss.append(await stack.enter_async_context(ws))
            if compress and not wss[0].compress:
                raise RuntimeError("the server did not accept permessage-deflate")
            await drive_ws(max(1, warmup // conns))
            for _ in range(repeat):
                gc.collect()
                timer.start()
                await drive_ws(n // conns)
                timer.stop()
    return timer.result(name, n, size)


def worker_main(client: str, loop_name: str, args: argparse.Namespace, names: list[str]) -> None:
    http = importlib.import_module(client)
    if loop_name == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    scale = (10 if args.quick else 1) * SLOW_CLIENTS.get(client, 1)
    global PROXY_URL
    PROXY_URL = args.proxy_url
    results: list[dict[str, Any]] = []
    for name in names:
        why = unsupported(client, name)
        if why:
            results.append({"scenario": name, "skipped": why})
            continue
        run: Awaitable[dict[str, Any]]
        if name in WS_SCENARIOS:
            z = name.endswith("_z")
            url = args.ws_z_url if z else args.ws_url
            if not url:
                results.append({"scenario": name, "error": "no --ws-url/--ws-z-url given"})
                continue
            compress = args.ws_compress if z else 0
            run = measure_ws(http, name, url, *counts(name, scale), args.repeat, compress)
        else:
            url = args.url.rstrip("/")
            if name == "proxy_conc" and not args.proxy_url:
                results.append({"scenario": name, "error": "no --proxy-url given"})
                continue
            if name in TLS_SCENARIOS:
                if not args.tls_url:
                    results.append({"scenario": name, "error": "no --tls-url given"})
                    continue
                url = args.tls_url.rstrip("/")
            run = measure(client, http, name, url, *counts(name, scale), args.repeat)
        try:
            results.append(loop.run_until_complete(asyncio.wait_for(run, TIMEOUT)))
        except Exception as e:  # noqa: BLE001 - any failure is reported, then the next runs
            results.append({"scenario": name, "error": f"{type(e).__name__}: {e}"})
    # As asyncio.run ends: what is still going (an upload body the server
    # answered before reading, its source still being read) is cancelled
    # first; otherwise its generator cannot be closed ("already running").
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    if UPLOAD_FILE is not None:
        os.unlink(UPLOAD_FILE)
    version = getattr(http, "__version__", "?")
    # flushed now: pyreqwest 0.15.1 can abort at interpreter exit, after its figures are in
    out = {"client": client, "version": version, "loop": loop_name, "results": results}
    print(json.dumps(out), flush=True)


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


def reported(stdout: str) -> dict | None:
    """A worker's results: its last line of output, when that is its JSON report."""
    lines = stdout.strip().splitlines()
    try:
        out = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    return out if isinstance(out, dict) and "results" in out else None


def run_pair(client: str, loop: str, args: argparse.Namespace, names: list[str]) -> list[dict]:
    """Run one worker subprocess (one round: each scenario timed once); its stderr goes
    straight to ours."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--url", args.url]
    for opt in ("tls_url", "ws_url", "ws_z_url", "proxy_url"):
        if getattr(args, opt):
            cmd += ["--" + opt.replace("_", "-"), getattr(args, opt)]
    cmd += ["--clients", client, "--loops", loop, "--scenarios", ",".join(names)]
    cmd += ["--repeat", "1", "--ws-compress", str(args.ws_compress)]
    cmd += ["--quick"] if args.quick else []
    try:
        r = subprocess.run(
            cmd, check=False, stdout=subprocess.PIPE, text=True, timeout=WORKER_TIMEOUT
        )
        out = reported(r.stdout)
        err = f"worker exited with status {r.returncode} (its stderr is above)"
        if out is not None and r.returncode != 0:
            # Its figures were all measured and reported: keep them, say how it ended.
            print(f"NOTE: {client} on {loop} exited with status {r.returncode} after reporting")
    except subprocess.TimeoutExpired:
        out, err = None, f"worker timed out after {WORKER_TIMEOUT} s"
    if out is None:
        return [{"client": client, "loop": loop, "scenario": s, "error": err} for s in names]
    rows = []
    for res in out["results"]:
        rows.append({"client": client, "version": out["version"], "loop": loop, **res})
    return rows


def grouped(names: list[str]) -> list[list[str]]:
    """`names` in GROUPS, in the order of each group's first scenario in `names`."""
    group_of = {n: g for g in GROUPS for n in g}
    out: dict[tuple[str, ...], list[str]] = {}
    for n in names:
        out.setdefault(group_of.get(n, (n,)), []).append(n)
    return list(out.values())


def merge_rounds(rounds: list[list[dict]]) -> list[dict]:
    """One row per (client, loop, scenario): the median wall and CPU time of the rounds;
    a scenario that failed (or was skipped) in a round is shown so."""
    by_key: dict[tuple, list[dict]] = {}
    for rows in rounds:
        for row in rows:
            by_key.setdefault((row["client"], row["loop"], row["scenario"]), []).append(row)
    merged = []
    for rows in by_key.values():
        bad = next((r for r in rows if "error" in r or "skipped" in r), None)
        if bad is not None:
            merged.append(bad)
            continue
        row = dict(rows[0])
        row["wall_s"] = median(r["wall_s"] for r in rows)
        row["cpu_s"] = median(r["cpu_s"] for r in rows)
        row["walls_s"] = [w for r in rows for w in r["walls_s"]]
        row["cpus_s"] = [c for r in rows for c in r["cpus_s"]]
        for key in OPTIONAL_FIGURES:  # (a figure one round lacks is not shown)
            row.pop(key, None)
            if all(key in r for r in rows):
                row[key] = median(r[key] for r in rows)
        merged.append(row)
    return merged


def unit(name: str) -> str:
    if name in BYTES_SCENARIOS:
        return "MiB/s"
    return "msg/s" if name in WS_SCENARIOS else "req/s"


def figures(row: dict) -> tuple[float, float] | None:
    """(rate, CPU µs per operation); rate is MiB/s for dl/up, round trips/s for ws_*,
    requests/s otherwise."""
    if "error" in row or "skipped" in row:
        return None
    per_s = row["bytes"] / MIB if row["scenario"] in BYTES_SCENARIOS else row["requests"]
    return per_s / row["wall_s"], row["cpu_s"] * 1e6 / row["requests"]


def per_round(row: dict) -> list[tuple[float, float]]:
    """(rate, CPU µs per op) of each round, in the order the rounds ran."""
    per_s = row["bytes"] / MIB if row["scenario"] in BYTES_SCENARIOS else row["requests"]
    return [(per_s / w, c * 1e6 / row["requests"]) for w, c in zip(row["walls_s"], row["cpus_s"])]


def rounds_led(ours: dict, fast: dict, cheap: dict) -> str:
    """In how many rounds aioxide's rate was above the fastest peer's and its CPU per op
    below the cheapest's, each against the same round (the clients run a group in turn,
    within seconds of each other): a row the medians call lost by a hair in one round of
    three is noise, one lost in every round is not."""
    mine, f, c = per_round(ours), per_round(fast), per_round(cheap)
    n = min(len(mine), len(f), len(c))
    rate = sum(mine[i][0] > f[i][0] for i in range(n))
    cpu = sum(mine[i][1] < c[i][1] for i in range(n))
    return f"rate {rate}/{n}, CPU {cpu}/{n} rounds"


def print_table(rows: list[dict], names: list[str], loops: list[str]) -> None:
    head = (
        f"{'scenario':<16}{'loop':<9}{'client':<10}{'rate':>10} {'unit':<6}"
        f"{'CPU µs/op':>10}  {'rate x':>7}{'CPU x':>7}"
    )
    print(head)
    print("-" * len(head))
    for name in names:
        for loop in loops:
            group = [r for r in rows if r["scenario"] == name and r["loop"] == loop]
            base = next((figures(r) for r in group if r["client"] == "aiohttp"), None)
            for r in group:
                lead = f"{name:<16}{loop:<9}{r['client']:<10}"
                fig = figures(r)
                if "skipped" in r:
                    print(f"{lead}{'n/a':>10}   ({r['skipped']})")
                    continue
                if fig is None:
                    print(f"{lead}ERROR {r['error']}")
                    continue
                ratio = ""
                if base and r["client"] != "aiohttp":
                    ratio = f"{fig[0] / base[0]:>7.2f}{fig[1] / base[1]:>7.2f}"
                print(f"{lead}{fig[0]:>10,.1f} {unit(name):<6}{fig[1]:>10.1f}  {ratio}".rstrip())
    print(
        "op = one request, or one WebSocket round trip (msg/s counts round trips).\n"
        "rate x, CPU x: client / aiohttp (rate x > 1 is faster; CPU x < 1 is cheaper)"
    )


def print_best_peer_table(rows: list[dict], names: list[str], loops: list[str]) -> None:
    """aioxide against the best of its peers, per scenario and loop."""
    head = (
        f"{'scenario':<16}{'loop':<9}{'fastest peer':<13}{'rate':>10} {'unit':<6}"
        f"{'aioxide x':>9}  {'cheapest peer':<14}{'CPU µs/op':>10}{'aioxide x':>10}"
    )
    print(f"aioxide against the best peer ({', '.join(PEERS)}) in each row:")
    print(head)
    print("-" * len(head))
    lost = []
    for name in names:
        for loop in loops:
            group = [r for r in rows if r["scenario"] == name and r["loop"] == loop]
            mine = next((r for r in group if r["client"] == "aioxide"), None)
            ours = figures(mine) if mine is not None else None
            peers = [(r, figures(r)) for r in group if r["client"] in PEERS]
            peers = [(r, f) for r, f in peers if f is not None]
            lead = f"{name:<16}{loop:<9}"
            if mine is None or ours is None or not peers:
                print(f"{lead}-  (no aioxide figure or no peer figure)")
                continue
            fast_row, fast = max(peers, key=lambda p: p[1][0])
            cheap_row, cheap = min(peers, key=lambda p: p[1][1])
            rx, cx = ours[0] / fast[0], ours[1] / cheap[1]
            if rx < 1 or cx > 1:
                lost.append(f"{name}/{loop} ({rounds_led(mine, fast_row, cheap_row)})")
            print(
                f"{lead}{fast_row['client']:<13}{fast[0]:>10,.1f} {unit(name):<6}{rx:>9.2f}  "
                f"{cheap_row['client']:<14}{cheap[1]:>10.1f}{cx:>10.2f}"
            )
    print(
        "aioxide x: aioxide's rate / the fastest peer's (> 1 leads), and aioxide's CPU per op\n"
        "/ the cheapest peer's (< 1 leads); both against the best peer of that row only."
    )
    if lost:
        print("aioxide does not lead every peer (by the medians) in:")
        for row in lost:
            print(f"  {row}")


def print_per_client(
    title: str,
    rows: list[dict],
    names: list[str],
    loops: list[str],
    clients: list[str],
    value: Callable[[dict], float | None],
) -> None:
    """One figure per (scenario, loop) and client, "-" where a row has none."""
    by_key = {(r["scenario"], r["loop"], r["client"]): r for r in rows}
    head = f"{'scenario':<16}{'loop':<9}" + "".join(f"{c:>11}" for c in clients)
    print(title)
    print(head)
    print("-" * len(head))
    for name in names:
        for loop in loops:
            cells = ""
            for client in clients:
                v = value(by_key.get((name, loop, client), {}))
                cells += f"{'-':>11}" if v is None else f"{v:>11.1f}"
            print(f"{name:<16}{loop:<9}{cells}")


def server_us_per_op(row: dict) -> float | None:
    return row["server_cpu_s"] * 1e6 / row["requests"] if "server_cpu_s" in row else None


def faults_per_mib(row: dict) -> float | None:
    if "page_faults" not in row or not row.get("bytes"):
        return None
    return row["page_faults"] * MIB / row["bytes"]


def print_server_table(
    rows: list[dict], names: list[str], loops: list[str], clients: list[str]
) -> None:
    """The server's CPU per operation, by client: what each client's requests cost the
    server, and so the rate the server's one core allows (nginx runs one worker)."""
    title = "server CPU µs per op (nginx's one worker; the ws echo server for ws_*):"
    print_per_client(title, rows, names, loops, clients, server_us_per_op)
    print(
        "(1e6 / this is the most ops per second the server's one core allows: the ceiling\n"
        "of a row's rate, whatever the client)"
    )


def print_faults_table(
    rows: list[dict], names: list[str], loops: list[str], clients: list[str]
) -> None:
    """The client's page faults per MiB in the scenarios that move bodies of a MiB."""
    big = [n for n in names if n in BYTES_SCENARIOS]
    title = "client page faults per MiB (pages given anew to the client's process):"
    print_per_client(title, rows, big, loops, clients, faults_per_mib)
    print("(256 per MiB: every page of every body is new; each costs the kernel a fault)")


def write_chart(rows: list[dict], names: list[str], loops: list[str], path: str) -> None:
    """A bar chart (matplotlib) of the rate and the CPU per operation, by scenario
    and client, one column per loop; log scales, as the units differ by scenario."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"NOTE: no chart ({e}); pip install matplotlib", flush=True)
        return
    clients = [c for c in CLIENTS if any(r["client"] == c for r in rows)]
    fig, axes = plt.subplots(2, len(loops), figsize=(9 * len(loops), 9), squeeze=False)
    width = 0.8 / max(len(clients), 1)
    for col, loop in enumerate(loops):
        for k, client in enumerate(clients):
            rates, cpus = [], []
            for name in names:
                key = (name, loop, client)
                r = next((r for r in rows if (r["scenario"], r["loop"], r["client"]) == key), None)
                fig_ = figures(r) if r is not None else None
                rates.append(fig_[0] if fig_ else 0)
                cpus.append(fig_[1] if fig_ else 0)
            xs = [i + (k - (len(clients) - 1) / 2) * width for i in range(len(names))]
            axes[0][col].bar(xs, rates, width, label=client)
            axes[1][col].bar(xs, cpus, width, label=client)
        labels = [f"{n}\n{unit(n)}" for n in names]
        for row, title in ((0, "rate (higher is better)"), (1, "CPU µs per op (lower is better)")):
            ax = axes[row][col]
            ax.set_yscale("log")
            ax.set_xticks(range(len(names)), labels, rotation=60, fontsize=7)
            ax.set_title(f"{title}, {loop}")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"chart written to {path}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", help="base URL of the server, e.g. http://127.0.0.1:8080")
    ap.add_argument("--tls-url", help="base URL of the same server over HTTPS")
    ap.add_argument("--proxy-url", help="a forward HTTP proxy to the server (proxy_conc)")
    ap.add_argument("--ws-url", help="URL of the WebSocket echo server, e.g. ws://127.0.0.1:9000/")
    ap.add_argument("--ws-z-url", help="URL of the echo server that accepts permessage-deflate")
    ap.add_argument(
        "--ws-compress",
        type=int,
        default=15,
        choices=range(9, 16),
        metavar="WBITS",
        help="compress= of the ws_*_z scenarios (9..15, default 15)",
    )
    ap.add_argument("--clients", default=",".join(CLIENTS))
    ap.add_argument("--loops", default=",".join(LOOPS))
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--quick", action="store_true", help="divide every count by 10")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs; the median is shown")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    ap.add_argument("--png", metavar="PATH", help="also draw the results as a bar chart here")
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
        worker_main(clients[0], loops[0], args, names)
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
        f"(load {os.getloadavg()[0]:.2f}); server {args.url}; ws echo {args.ws_url}; "
        f"{'quick' if args.quick else 'full'} counts, median of {args.repeat}",
        flush=True,
    )
    for client, div in SLOW_CLIENTS.items():
        if client in clients:
            print(
                f"NOTE: {client} runs 1/{div} of every count (it is too slow for the full ones "
                "within the time budget); its figures are per operation all the same.",
                flush=True,
            )

    rounds: list[list[dict]] = []
    for rnd in range(args.repeat):
        turn = rnd % len(clients)
        order = clients[turn:] + clients[:turn]
        rows: list[dict] = []
        for group in grouped(names):
            t0 = time.perf_counter()
            for loop in loops:
                for client in order:
                    rows += run_pair(client, loop, args, group)
            print(
                f"  round {rnd + 1}/{args.repeat}: {', '.join(group)} done "
                f"in {time.perf_counter() - t0:.1f} s",
                flush=True,
            )
        if rnd == 0:
            versions = {r["client"]: r.get("version", "?") for r in rows if "version" in r}
            print("  clients: " + ", ".join(f"{c} {v}" for c, v in versions.items()), flush=True)
        rounds.append(rows)
    rows = merge_rounds(rounds)
    print()
    print_table(rows, names, loops)
    if "aioxide" in clients and any(c in PEERS for c in clients):
        print()
        print_best_peer_table(rows, names, loops)
    if any("server_cpu_s" in r for r in rows):
        print()
        print_server_table(rows, names, loops, clients)
    if any(faults_per_mib(r) is not None for r in rows):
        print()
        print_faults_table(rows, names, loops, clients)
    if any("rss_growth" in r for r in rows):
        print()
        title = "peak RSS growth, MiB (above the RSS with the client open, before any request):"
        big = [n for n in names if n in RSS_SCENARIOS]
        print_per_client(title, rows, big, loops, clients, lambda r: r.get("rss_growth"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "python": platform.python_version(),
                    "quick": args.quick,
                    "repeat": args.repeat,
                    "counts": {n: counts(n, scale)[0] for n in names},
                    "counts_divided": {c: d for c, d in SLOW_CLIENTS.items() if c in clients},
                    "results": rows,
                },
                f,
                indent=1,
            )
    if args.png:
        write_chart(rows, names, loops, args.png)
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
