"""Autobahn|Testsuite fuzzingserver client written against aiohttp's API.

    python tests/autobahn/client.py [--target aioxide|aiohttp] [--agent NAME]
        [--compress auto|0|15] [--case-timeout S] [HOST:PORT]

With ``--target aioxide`` (the default) it runs ``import aioxide as
aiohttp``; with ``--target aiohttp`` the very same code runs on real aiohttp,
for comparison.  For every case the server has: ``ws_connect`` to
``/runCase?case=N&agent=A`` with ``autoclose=True, autoping=True``,
``max_msg_size=0`` (9.* sends messages of up to 16 MiB) and echo every TEXT
and BINARY message back (``send_str``/``send_bytes``) until CLOSE, CLOSED or
ERROR; then ``/updateReports?agent=A``.

``--compress auto`` (the default) offers permessage-deflate
(``compress=15``) in the compression cases (12.* and 13.*, told by
``/getCaseInfo``) and nothing (``compress=0``) in the others; ``0`` or
``15`` use that value for every case.

Every case is bounded by ``--case-timeout`` seconds: one that doesn't end by
then is abandoned (the report then says what the server saw).  Exits 1 when
a case timed out or failed with an exception, 0 otherwise: the verdicts
themselves are the server's, read by summarize.py.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
import time
from typing import Any


async def get_case_count(aiohttp: Any, session: Any, base: str) -> int:
    async with session.ws_connect(base + "/getCaseCount") as ws:
        msg = await ws.receive()
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"getCaseCount: unexpected {msg!r}")
        return int(msg.data)


async def get_case_id(aiohttp: Any, session: Any, base: str, case: int) -> str:
    async with session.ws_connect(f"{base}/getCaseInfo?case={case}") as ws:
        msg = await ws.receive()
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"getCaseInfo {case}: unexpected {msg!r}")
        return str(json.loads(msg.data)["id"])


async def run_case(
    aiohttp: Any, session: Any, base: str, case: int, agent: str, compress: int
) -> str:
    """Echo until the end; the type of the message that ended it."""
    url = f"{base}/runCase?case={case}&agent={agent}"
    async with session.ws_connect(
        url, compress=compress, max_msg_size=0, autoclose=True, autoping=True
    ) as ws:
        while True:
            msg = await ws.receive()
            if msg.type is aiohttp.WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type is aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
            else:
                # CLOSE (autoclose answered it), CLOSED or ERROR (the
                # client closed with the error's code).
                return msg.type.name


async def update_reports(session: Any, base: str, agent: str) -> None:
    async with session.ws_connect(f"{base}/updateReports?agent={agent}") as ws:
        await ws.receive()


async def main(args: argparse.Namespace) -> int:
    aiohttp = importlib.import_module(args.target)
    agent = args.agent or args.target
    base = f"ws://{args.server}"
    problems = 0
    ends: dict[str, int] = {}
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        count = await get_case_count(aiohttp, session, base)
        print(f"{args.target} ({agent}): {count} cases from {base}", flush=True)
        for case in range(1, count + 1):
            case_id = str(case)
            try:
                if args.compress == "auto":
                    case_id = await get_case_id(aiohttp, session, base, case)
                    compress = 15 if case_id.split(".")[0] in ("12", "13") else 0
                else:
                    compress = int(args.compress)
                end = await asyncio.wait_for(
                    run_case(aiohttp, session, base, case, agent, compress),
                    args.case_timeout,
                )
                ends[end] = ends.get(end, 0) + 1
            except asyncio.TimeoutError:
                problems += 1
                print(f"case {case} ({case_id}): timed out after {args.case_timeout} s", flush=True)
            except Exception as exc:
                problems += 1
                print(f"case {case} ({case_id}): {type(exc).__name__}: {exc}", flush=True)
            if args.verbose:
                print(f"case {case} ({case_id}) done", flush=True)
        await update_reports(session, base, agent)
    took = time.monotonic() - started
    summary = ", ".join(f"{k} {v}" for k, v in sorted(ends.items()))
    print(f"{count} cases in {took:.0f} s; ended by: {summary}; {problems} timed out or raised")
    return 1 if problems else 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("server", nargs="?", default="127.0.0.1:9001", help="HOST:PORT")
    p.add_argument("--target", choices=("aioxide", "aiohttp"), default="aioxide")
    p.add_argument("--agent", help="agent name in the reports (default: the target)")
    p.add_argument("--compress", choices=("auto", "0", "15"), default="auto")
    p.add_argument("--case-timeout", type=float, default=120.0)
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args(sys.argv[1:]))))
