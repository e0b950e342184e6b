"""A keep-alive connection the server closes just as the next request goes out.

The server answers one request per connection with a keep-alive answer, then
ends the connection in turn: at once or a few loop turns later (its FIN races
the client's next request), after the next request arrived (that request is
lost on a connection found dead), or with a reset after it arrived.  An
idempotent request is retried once on a new connection, so every GET succeeds;
a POST found on a dead connection raises ServerDisconnectedError or
ClientOSError (never retried, as aiohttp).
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import pytest

from .harness import TARGET, run_in_loop, settle_fds, steady_fds
from .servers import GOOD, Conn

ENDINGS = ("close_at_once", "close_a_moment_later", "close_after_next", "reset_after_next")


class RacingServer:
    def __init__(self) -> None:
        self.endings: collections.Counter[str] = collections.Counter()
        self.server: Any = None
        self.accepted = 0

    async def start(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Conn(reader, writer)
        self.accepted += 1
        ending = ENDINGS[self.accepted % len(ENDINGS)]
        self.endings[ending] += 1
        try:
            conn.head = await reader.readuntil(b"\r\n\r\n")
            await conn.read_body()
            await conn.send(GOOD)
            if ending == "close_a_moment_later":
                # A few loop turns: the client's next request is on its way.
                for _ in range(self.accepted % 5):
                    await asyncio.sleep(0)
            elif ending != "close_at_once":
                await reader.readuntil(b"\r\n\r\n")
                if ending == "reset_after_next":
                    conn.reset()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def one(aiohttp: Any, s: Any, method: str, url: str) -> str:
    kw = {"data": b"x"} if method == "POST" else {}
    try:
        async with s.request(method, url + "/", **kw) as resp:
            assert await resp.read() == b"good"
            return "ok"
    except aiohttp.ClientError as e:
        return type(e).__name__


async def race(aiohttp: Any, method: str, n: int) -> collections.Counter[str]:
    srv = RacingServer()
    url = await srv.start()
    outcomes: collections.Counter[str] = collections.Counter()
    try:
        before = await steady_fds()
        s = aiohttp.ClientSession()
        try:
            async with asyncio.timeout(30):
                for _ in range(n):
                    outcomes[await one(aiohttp, s, method, url)] += 1
            if TARGET == "aioxide":
                from aioxide._bridge import bridge_for

                assert bridge_for(asyncio.get_running_loop()).bridge.outstanding() == 0
        finally:
            await s.close()
        del s
        after = await settle_fds(before)
        assert after == before, f"fd leak: {before} open before, {after} after"
    finally:
        await srv.close()
    return outcomes


@pytest.mark.parametrize(("loop", "n"), [("asyncio", 1000), ("uvloop", 300)])
def test_idempotent_requests_survive_the_race(aiohttp: Any, loop: str, n: int) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    outcomes = run_in_loop(lambda: race(aiohttp, "GET", n), loop)
    assert outcomes == {"ok": n}


def test_post_on_a_dead_connection_is_not_retried(aiohttp: Any) -> None:
    n = 150
    outcomes = run_in_loop(lambda: race(aiohttp, "POST", n), "asyncio")
    assert sum(outcomes.values()) == n
    assert set(outcomes) <= {"ok", "ServerDisconnectedError", "ClientOSError"}
    # Half the connections die after taking the next request.
    assert outcomes["ok"] < n
