"""Closing a session under outstanding waits: every one finishes.

* A request still waiting for its response fails with ClientConnectionError
  ("Connector is closed."), as aiohttp's.
* A body read waiting for data fails with ClientConnectionError("Connection
  closed"); aiohttp hangs there (the read waits forever), aioxide does better.
* Closing never blocks the loop, even while the engine thread has work to
  finish (a slow getaddrinfo in its blocking pool).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conftest import TARGET, read_request_head


async def _stall_after(head_sent: asyncio.Event, body: bool) -> Any:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        if body:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc\n")
            await writer.drain()
        head_sent.set()
        await reader.read()  # until the client closes

    return handler


async def test_request_waiting_for_head_fails_on_session_close(
    aiohttp: Any, raw_server: Any
) -> None:
    got = asyncio.Event()
    url = await raw_server(await _stall_after(got, body=False))
    s = aiohttp.ClientSession()
    task = asyncio.ensure_future(s.get(url))
    await asyncio.wait_for(got.wait(), 5)
    await asyncio.wait_for(s.close(), 5)
    with pytest.raises(aiohttp.ClientConnectionError) as info:
        await asyncio.wait_for(task, 5)
    assert type(info.value) is aiohttp.ClientConnectionError


@pytest.mark.skipif(TARGET == "aiohttp", reason="aiohttp's read waits forever here")
@pytest.mark.parametrize("how", ["read", "content.read", "readline", "readany"])
async def test_body_read_waiting_fails_on_session_close(
    aiohttp: Any, raw_server: Any, how: str
) -> None:
    got = asyncio.Event()
    url = await raw_server(await _stall_after(got, body=True))
    s = aiohttp.ClientSession()
    resp = await asyncio.wait_for(s.get(url), 5)
    await asyncio.wait_for(got.wait(), 5)
    assert await asyncio.wait_for(resp.content.readline(), 5) == b"abc\n"
    waits = {
        "read": resp.read,
        "content.read": resp.content.read,
        "readline": resp.content.readline,
        "readany": resp.content.readany,
    }
    task = asyncio.ensure_future(waits[how]())
    await asyncio.sleep(0.1)
    assert not task.done()
    await asyncio.wait_for(s.close(), 5)
    with pytest.raises(aiohttp.ClientConnectionError) as info:
        await asyncio.wait_for(task, 5)
    assert str(info.value) == "Connection closed"


async def test_session_close_with_a_second_session_open(aiohttp: Any, raw_server: Any) -> None:
    # The bridge outlives the first session; the other session works on.
    # The first request is never answered: only the session's close can end it.
    got = asyncio.Event()
    conns: list[int] = []

    async def first_never_answers(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        conns.append(1)
        await read_request_head(reader)
        if len(conns) == 1:
            got.set()
            await asyncio.wait_for(reader.read(), 10)  # until the client hangs up
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    url = await raw_server(first_never_answers)
    async with aiohttp.ClientSession() as other:
        s = aiohttp.ClientSession()
        task = asyncio.ensure_future(s.get(url))
        await asyncio.wait_for(got.wait(), 5)
        await asyncio.wait_for(s.close(), 5)
        # The closed session's request ends, as aiohttp's does ("Connector
        # is closed."); before, it waited for an answer that never comes.
        with pytest.raises(aiohttp.ClientConnectionError):
            await asyncio.wait_for(task, 5)
        async with other.get(url) as r:
            assert await r.read() == b"ok"


SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>

/* getaddrinfo, slow (2 s) for one name: an engine thread with blocking work. */
int getaddrinfo(const char *node, const char *service,
                const struct addrinfo *hints, struct addrinfo **res) {
    static int (*real)(const char *, const char *, const struct addrinfo *,
                       struct addrinfo **);
    if (!real) real = dlsym(RTLD_NEXT, "getaddrinfo");
    if (node && strcmp(node, "slow.aioxide.test") == 0) {
        sleep(2);
        node = "127.0.0.1";
    }
    return real(node, service, hints, res);
}
"""

CLOSE_SCRIPT = textwrap.dedent(
    """
    import asyncio, importlib, os, sys, time
    client = importlib.import_module(os.environ["AIOXIDE_TEST_TARGET"])

    async def main():
        s = client.ClientSession()
        task = asyncio.ensure_future(s.get("http://slow.aioxide.test:9/"))
        await asyncio.sleep(0.3)  # the lookup is under way
        t0 = time.monotonic()
        await s.close()
        took = time.monotonic() - t0
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        print(f"{took:.3f}", flush=True)

    asyncio.run(main())
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="LD_PRELOAD shim")
def test_close_does_not_wait_for_the_engine_thread(tmp_path: Path) -> None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("needs a C compiler for the getaddrinfo shim")
    src = tmp_path / "slowdns.c"
    src.write_text(SHIM)
    lib = tmp_path / "slowdns.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(src), "-ldl"], check=True)
    env = dict(os.environ, AIOXIDE_TEST_TARGET=TARGET, LD_PRELOAD=str(lib))
    proc = subprocess.run(
        [sys.executable, "-c", CLOSE_SCRIPT],
        capture_output=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    took = float(proc.stdout.decode().strip())
    assert took < 0.5, f"session.close() blocked the loop for {took:.2f} s"
