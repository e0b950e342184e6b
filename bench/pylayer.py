"""The Python layer's cost of one request, in instructions (no network, no noise).

`make bench-py` runs this under valgrind's callgrind: a session whose engine is
replaced by a stand-in that answers at once, so what is counted is only the
Python code between the caller and the engine (``session.get``, the context
manager, ``_request``, ``_send``, the response object, ``read``, ``release``),
against the floor of the same engine call made by hand. Instruction counts do
not move with this VM's phases as times do: a change to the request path is
judged by them (docs/MEASUREMENTS.md).

    python bench/pylayer.py            # callgrind: instructions per request, each mode
    python bench/pylayer.py MODE N     # MODE: full | direct | floor | mw | trace

`mw` and `trace` are `full` through the path a middleware or a trace config
takes (`_hooked.HookedRequest`), as in make bench's scenarios of those names.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from typing import Any

import aioxide
from aioxide.client_reqrep import ClientResponse

URL = "http://127.0.0.1:1/small"


class _Head:
    request_method = "GET"
    url = URL
    status = 200
    reason = "OK"
    version = (1, 1)

    def header(self, name: str) -> None:
        return None


class _Raw:
    """An answered request as the engine hands it over: head, body read ahead."""

    head = _Head()
    chunked = False

    def __init__(self) -> None:
        self.body = b"x" * 100

    def history(self) -> list[Any]:
        return []

    def close(self) -> None:
        pass


class _Engine:
    """Answers every request at once."""

    def request(self, bridge: Any, loop: asyncio.AbstractEventLoop, *args: Any) -> Any:
        fut = loop.create_future()
        fut.set_result(_Raw())
        return fut

    def close(self) -> None:
        pass


async def _passthrough(req: Any, handler: Any) -> Any:
    return await handler(req)


async def _on_start(session: Any, ctx: Any, params: Any) -> None:
    return None


def _session(mode: str) -> aioxide.ClientSession:
    if mode == "mw":
        return aioxide.ClientSession(middlewares=(_passthrough,))
    if mode == "trace":
        tc = aioxide.TraceConfig()
        tc.on_request_start.append(_on_start)
        return aioxide.ClientSession(trace_configs=[tc])
    return aioxide.ClientSession()


async def main(mode: str, n: int) -> None:
    s = _session(mode)
    real = s._connector._engine  # type: ignore[union-attr]
    s._connector._engine = _Engine()  # type: ignore[union-attr]
    loop, bridge, opts = asyncio.get_running_loop(), s._lb.bridge, s._opts

    async def full() -> None:  # what a user writes
        async with s.get(URL) as r:
            await r.read()

    async def direct() -> None:  # without get() and its context manager
        r = await s._request("GET", URL)
        await r.read()
        r.release()

    async def floor() -> None:  # the engine call and the response, by hand
        fut = s._connector._engine.request(  # type: ignore[union-attr]
            bridge, loop, opts, "GET", URL, [], None, None, None, None, None, None, None
        )
        raw = await fut
        r = ClientResponse._from_engine(raw, raw.head, loop, bridge, s, ())
        await r.read()
        r.release()

    one = {"full": full, "direct": direct, "floor": floor, "mw": full, "trace": full}[mode]
    for _ in range(n):
        await one()
    s._connector._engine = real  # type: ignore[union-attr]
    await s.close()


def instructions(mode: str, n: int) -> int:
    """Instructions callgrind counts for a run of ``n`` requests in ``mode``."""
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
        + [sys.executable, __file__, mode, str(n)],
        env=dict(os.environ, PYTHONHASHSEED="0"),
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stderr
    found = re.search(r"Collected : (\d+)", out)
    if found is None:
        raise SystemExit("pylayer: no instruction count in valgrind's output:\n" + out)
    return int(found.group(1))


def report(n: int = 5000) -> None:
    """Instructions per request of each mode: a run of n minus a run of none."""
    if shutil.which("valgrind") is None:
        raise SystemExit("pylayer: valgrind is missing (apt-get install valgrind)")
    for mode in ("full", "direct", "floor", "mw", "trace"):
        per = (instructions(mode, n) - instructions(mode, 0)) / n
        print(f"{mode:7} {per:9,.0f} instructions per request", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 1:
        report()
    else:
        asyncio.run(main(sys.argv[1], int(sys.argv[2])))
        sys.stdout.flush()
        os._exit(0)
