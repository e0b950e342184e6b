"""Soak: a long run of mixed requests, watching memory and file descriptors.

    BENCH_SCRIPT=bench/soak.py bench/run.sh PYTHON --requests 1000000   (make soak)
    soak.py --url http://127.0.0.1:PORT [--requests N] [--concurrency 64]
            [--client aioxide|aiohttp] [--loop asyncio|uvloop] [--seed S]

One session (TCPConnector(limit=concurrency)) makes --requests requests from
--concurrency workers against the private nginx (bench/run.sh): GET /small (100 B),
/json (~2 KB), /1m (1 MiB, rarely) and POST /upload (1 MiB, rarely); 5% go to a fault
server (its own process: reset, short body, stall under sock_read=0.2, a non-HTTP reply,
close without answer, or a refused port) and must raise a ClientError or TimeoutError;
5% are cancelled after a random 0-3 ms (asyncio.timeout or wait_for).  Every 100,000
requests (or a tenth of the run, if smaller) it prints RSS and the fd count.  At the end:
RSS growth from the warm-up (the first 100,000 requests, or a fifth of the run) to the end,
both measured with nothing in flight, and the fd count before the session was opened and
after it was closed.  Exit status 1 if RSS grew by
5 MiB or more, the fd count changed, or any request ended in an unexpected way.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import importlib
import os
import random
import socket
import struct
import subprocess
import sys
import time
from collections import Counter
from typing import Any

MIB = 1 << 20
RSS_GOAL = 5 * MIB
FAULTS = ("reset", "short", "stall", "garbage", "close", "refused")
UPLOAD = b"u" * MIB


def rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def settled_rss() -> int:
    """RSS once garbage is collected and freed memory given back (glibc)."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return rss()


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# ---------------------------------------------------------------------------
# the fault server (run as its own process: `soak.py --fault-server`)
# ---------------------------------------------------------------------------


async def fault_handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await r.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            path = head.split(b" ", 2)[1]
            if path == b"/reset":
                sock = w.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                w.transport.abort()
                return
            if path == b"/short":
                w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
                await w.drain()
                return
            if path == b"/stall":
                while await r.read(65536):
                    pass
                return
            if path == b"/garbage":
                w.write(b"HELLO THERE\r\n\r\n")
                await w.drain()
                return
            if path == b"/close":
                return
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood")
            await w.drain()
    except OSError:
        pass
    finally:
        w.transport.abort()


async def fault_server() -> None:
    srv = await asyncio.start_server(fault_handler, "127.0.0.1", 0, backlog=1024)
    print(srv.sockets[0].getsockname()[1], flush=True)
    # Until the parent closes our stdin.
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


# ---------------------------------------------------------------------------
# the load
# ---------------------------------------------------------------------------


class Soak:
    def __init__(self, args: argparse.Namespace, client: Any, fault_url: str) -> None:
        self.args = args
        self.client = client
        self.url = args.url.rstrip("/")
        self.fault_url = fault_url
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.refused = f"http://127.0.0.1:{s.getsockname()[1]}"
        self.rng = random.Random(args.seed)
        self.next = 0
        self.done = 0
        self.outcomes: Counter[str] = Counter()
        self.unexpected: list[str] = []
        self.every = min(100_000, max(1, args.requests // 10))
        self.marks: list[tuple[int, int, int]] = []
        self.fault_timeout = client.ClientTimeout(sock_read=0.2, sock_connect=1)
        self.t0 = time.monotonic()
        # The warm-up: the pool filled, caches and allocator arenas grown.
        self.warm_at = min(100_000, args.requests // 5)
        self.warm: int | None = None
        self.waiting = 0
        self.resume = asyncio.Event()

    async def normal(self, s: Any) -> None:
        x = self.rng.random()
        if x < 0.005:
            async with s.post(self.url + "/upload", data=UPLOAD) as resp:
                assert resp.status == 200 and await resp.read() == b"ok", resp.status
        elif x < 0.01:
            async with s.get(self.url + "/1m") as resp:
                assert resp.status == 200 and len(await resp.read()) == MIB
        elif x < 0.3:
            async with s.get(self.url + "/json") as resp:
                assert resp.status == 200
                await resp.json()
        else:
            async with s.get(self.url + "/small") as resp:
                assert resp.status == 200 and len(await resp.read()) == 100

    async def fault(self, s: Any) -> str:
        kind = self.rng.choice(FAULTS)
        base = self.refused if kind == "refused" else self.fault_url
        try:
            async with s.get(f"{base}/{kind}", timeout=self.fault_timeout) as resp:
                await resp.read()
        except (self.client.ClientError, asyncio.TimeoutError) as e:
            return f"fault {kind}: {type(e).__name__}"
        return f"fault {kind}: no error"

    async def cancelled(self, s: Any) -> str:
        d = self.rng.uniform(0, 0.003)
        try:
            if self.rng.random() < 0.5:
                async with asyncio.timeout(d):
                    await self.normal(s)
            else:
                await asyncio.wait_for(self.normal(s), d)
        except asyncio.TimeoutError:
            return "cancelled"
        return "finished before its cancellation"

    async def one(self, s: Any) -> None:
        x = self.rng.random()
        try:
            if x < 0.05:
                how = await self.fault(s)
            elif x < 0.10:
                how = await self.cancelled(s)
            else:
                await self.normal(s)
                how = "ok"
        except Exception as e:
            how = f"unexpected {type(e).__name__}"
            if len(self.unexpected) < 20:
                self.unexpected.append(f"{type(e).__name__}: {e}")
        self.outcomes[how] += 1
        if how.endswith("no error") and len(self.unexpected) < 20:
            self.unexpected.append(how)

    async def worker(self, s: Any) -> None:
        while self.next < self.args.requests:
            if self.next >= self.warm_at and self.warm is None:
                await self.quiesce()
                continue
            self.next += 1
            await self.one(s)
            self.done += 1
            if self.done % self.every == 0:
                self.checkpoint()
        self.waiting += 1

    async def quiesce(self) -> None:
        """The warm-up is over: the last worker to go idle measures the
        baseline with nothing in flight, then all go on."""
        self.waiting += 1
        if self.waiting == self.args.concurrency:
            self.warm = settled_rss()
            print(f"soak: warm-up done at {self.done:,} requests: RSS {self.warm / MIB:.1f} MiB")
            self.waiting = 0
            self.resume.set()
        else:
            await self.resume.wait()

    def checkpoint(self) -> None:
        gc.collect()
        r, n = rss(), fds()
        self.marks.append((self.done, r, n))
        rate = self.done / (time.monotonic() - self.t0)
        print(
            f"soak: {self.done:>9,} requests  RSS {r / MIB:7.1f} MiB  fds {n:4d}  "
            f"{rate:,.0f} req/s",
            flush=True,
        )

    async def run(self) -> int:
        gc.collect()
        fds_before = fds()
        rss_start = rss()
        s = self.client.ClientSession(
            connector=self.client.TCPConnector(limit=self.args.concurrency)
        )
        try:
            await asyncio.gather(*(self.worker(s) for _ in range(self.args.concurrency)))
            # Nothing in flight, the session still open: as at the warm-up.
            end = settled_rss()
        finally:
            await s.close()
        del s
        # A closed session's loop bridge goes a moment later (aioxide).
        for _ in range(200):
            gc.collect()
            if fds() == fds_before:
                break
            await asyncio.sleep(0.01)
        fds_after = fds()
        wall = time.monotonic() - self.t0
        warm = rss_start if self.warm is None else self.warm
        growth = end - warm
        print(f"soak: {self.done:,} requests in {wall:.0f} s ({self.done / wall:,.0f} req/s)")
        for how, n in sorted(self.outcomes.items()):
            print(f"soak:   {n:>9,}  {how}")
        print(
            f"soak: RSS {rss_start / MIB:.1f} MiB at start, {warm / MIB:.1f} MiB after warm-up "
            f"({self.warm_at:,} requests), {end / MIB:.1f} MiB at the end (both with nothing "
            f"in flight): growth {growth / MIB:+.2f} MiB (goal < {RSS_GOAL / MIB:.0f} MiB)"
        )
        print(
            f"soak: fds {fds_before} before the session, {fds_after} after it closed: "
            f"change {fds_after - fds_before:+d} (goal 0)"
        )
        failed = []
        if growth >= RSS_GOAL:
            failed.append("RSS growth")
        if fds_after != fds_before:
            failed.append("fd count")
        if self.unexpected:
            failed.append("unexpected outcomes: " + "; ".join(self.unexpected[:5]))
        if failed:
            print("soak: FAILED: " + ", ".join(failed))
            return 1
        print("soak: passed")
        return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url")
    p.add_argument("--requests", type=int, default=int(os.environ.get("SOAK_REQUESTS", 1_000_000)))
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--client", default="aioxide")
    p.add_argument("--loop", default="asyncio", choices=("asyncio", "uvloop"))
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--fault-server", action="store_true", help=argparse.SUPPRESS)
    # bench/run.sh passes the bench's other servers (TLS, proxy, WebSocket): unused here.
    args, _ = p.parse_known_args()
    if args.fault_server:
        asyncio.run(fault_server())
        return 0
    if not args.url:
        p.error("--url is required")
    if args.seed is None:
        args.seed = random.randrange(1 << 32)
    client = importlib.import_module(args.client)
    print(
        f"soak: {args.requests:,} requests, {args.concurrency} at once, {args.client} on "
        f"{args.loop}, seed {args.seed}",
        flush=True,
    )
    server = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--fault-server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        fault_url = f"http://127.0.0.1:{int(server.stdout.readline())}"

        async def go() -> int:
            return await Soak(args, client, fault_url).run()

        if args.loop == "uvloop":
            import uvloop

            return uvloop.run(go())
        return asyncio.run(go())
    finally:
        if server.stdin is not None:
            server.stdin.close()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout is not None:
            server.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
