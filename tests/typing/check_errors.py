"""Mistakes the public types must catch, type-checked and never run.

Each line below is an error that mypy --strict and basedpyright must
report; its ``type: ignore`` silences it.  Were a public type to turn into
``Any``, the error would vanish, the ignore would be unused, and `make lint`
(mypy's warn_unused_ignores, basedpyright's reportUnnecessaryTypeIgnoreComment)
would fail.
"""

from __future__ import annotations

import aioxide as aiohttp


async def mistakes(session: aiohttp.ClientSession) -> None:
    await session.get("http://example.com/", timeout=5)  # type: ignore[arg-type]
    await session.get("http://example.com/", no_such_option=1)  # type: ignore[call-arg]
    await session.get(123)  # type: ignore[arg-type]
    resp = await session.get("http://example.com/")
    resp.status + "x"  # type: ignore[operator]
    (await resp.read()).encode()  # type: ignore[attr-defined]
    aiohttp.ClientSession(cookie_jar=object())  # type: ignore[arg-type]
    aiohttp.ClientTimeout(total="10")  # type: ignore[arg-type]
    ws = await session.ws_connect("ws://example.com/")
    (await ws.receive_str()).decode()  # type: ignore[attr-defined]
    await ws.send_str(b"bytes")  # type: ignore[arg-type]
