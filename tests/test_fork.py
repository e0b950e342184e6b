"""The engine after os.fork(): a child builds its own runtime and works."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from asyncio.subprocess import PIPE
from typing import Any

import pytest
from aiohttp import web

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


async def test_child_after_fork_can_make_requests(serve: Any) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/", hello)
    base = await serve(app)
    target = os.environ.get("AIOXIDE_TEST_TARGET", "aioxide")
    code = textwrap.dedent(
        f"""
        import asyncio, os, sys, warnings
        warnings.simplefilter("ignore", DeprecationWarning)
        import {target} as client

        async def fetch():
            async with client.ClientSession() as s:
                async with s.get({base!r} + "/") as r:
                    return await r.text()

        # The parent keeps a loop and a session open across the fork, so its
        # engine thread is running when the child is made.
        loop = asyncio.new_event_loop()
        async def open_session():
            return client.ClientSession()
        session = loop.run_until_complete(open_session())
        async def fetch_with(s):
            async with s.get({base!r} + "/") as r:
                return await r.text()
        assert loop.run_until_complete(fetch_with(session)) == "hi"
        pid = os.fork()
        if pid == 0:
            try:
                ok = asyncio.run(asyncio.wait_for(fetch(), 10)) == "hi"
            except BaseException:
                ok = False
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        assert loop.run_until_complete(fetch_with(session)) == "hi"
        loop.run_until_complete(session.close())
        loop.close()
        print("child", os.waitstatus_to_exitcode(status))
        """
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert out.decode().strip() == "child 0"


@pytest.mark.skipif(
    os.environ.get("AIOXIDE_TEST_TARGET", "aioxide") == "aiohttp",
    reason="aiohttp lets the child use the parent's pooled sockets; aioxide refuses clearly",
)
async def test_inherited_session_fails_clearly_in_child(serve: Any) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/", hello)
    base = await serve(app)
    code = textwrap.dedent(
        f"""
        import asyncio, os, sys, warnings
        warnings.simplefilter("ignore", DeprecationWarning)
        import aioxide as client

        async def fetch_with(s):
            async with s.get({base!r} + "/") as r:
                return await r.text()

        async def fresh():
            async with client.ClientSession() as s:
                return await fetch_with(s)

        loop = asyncio.new_event_loop()
        async def open_session():
            return client.ClientSession()
        session = loop.run_until_complete(open_session())
        assert loop.run_until_complete(fetch_with(session)) == "hi"
        pid = os.fork()
        if pid == 0:
            # (asyncio loops do not survive a fork: the child runs new ones.)
            status = 0
            try:
                asyncio.run(asyncio.wait_for(fetch_with(session), 5))
                status = 3  # the parent's session worked in the child
            except RuntimeError as e:
                if "fork" not in str(e):
                    status = 4  # refused, but not for the fork
            except BaseException:
                status = 5  # a hang (timeout) or another failure
            try:
                if asyncio.run(asyncio.wait_for(fresh(), 10)) != "hi":
                    status = status or 6
                asyncio.run(asyncio.wait_for(session.close(), 5))
            except BaseException:
                status = status or 7
            os._exit(status)
        _, status = os.waitpid(pid, 0)
        # The parent's session is untouched by the child.
        assert loop.run_until_complete(fetch_with(session)) == "hi"
        loop.run_until_complete(session.close())
        loop.close()
        print("child", os.waitstatus_to_exitcode(status))
        """
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert out.decode().strip() == "child 0", err.decode()
