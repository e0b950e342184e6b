"""Programs that adopt aioxide while aiohttp is still installed: libraries
(OpenTelemetry's instrumentation, SDKs) build aiohttp's own objects and hand
them to the session.  A session accepts aiohttp's ClientTimeout, BasicAuth,
FormData, payloads, MultipartWriter, TraceConfig and Fingerprint as if they
were the module's own.  On the aiohttp target these are aiohttp's own objects
(the tests then describe aiohttp's behaviour)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import ssl
import subprocess
import sys
import textwrap
from typing import Any

import aiohttp as real_aiohttp
import pytest
import trustme
from aiohttp import web


@pytest.fixture
async def echo(serve: Any) -> str:
    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {
                "headers": dict(request.headers),
                "body": body.decode("latin-1"),
                "sha": hashlib.sha256(body).hexdigest(),
            }
        )

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_route("*", "/echo", handler)
    app.router.add_get("/slow", slow)
    return str(await serve(app))


def test_client_timeout_compares_equal_to_aiohttps(aiohttp: Any) -> None:
    mine = aiohttp.ClientTimeout(total=3, sock_read=1)
    theirs = real_aiohttp.ClientTimeout(total=3, sock_read=1)
    assert mine == theirs and theirs == mine
    assert mine != real_aiohttp.ClientTimeout(total=4, sock_read=1)


async def test_aiohttp_client_timeout_is_honoured(aiohttp: Any, echo: str) -> None:
    timeout = real_aiohttp.ClientTimeout(total=0.3)
    async with aiohttp.ClientSession(timeout=timeout) as s:
        assert s.timeout == timeout
        with pytest.raises(asyncio.TimeoutError):
            await s.get(echo + "/slow")
    async with aiohttp.ClientSession() as s:
        with pytest.raises(asyncio.TimeoutError):
            await s.get(echo + "/slow", timeout=timeout)


async def test_aiohttp_basic_auth(aiohttp: Any, echo: str) -> None:
    # aiohttp 3.14 deprecates BasicAuth (on 3.9 the suite has aiohttp 3.13).
    old = tuple(int(p) for p in real_aiohttp.__version__.split(".")[:2]) < (3, 14)
    with contextlib.nullcontext() if old else pytest.warns(DeprecationWarning):
        auth = real_aiohttp.BasicAuth("user", "pass")
    with pytest.warns(DeprecationWarning):
        async with aiohttp.ClientSession() as s, s.get(echo + "/echo", auth=auth) as resp:
            got = await resp.json()
    assert got["headers"]["Authorization"] == auth.encode()


async def test_aiohttp_form_data_payload_and_multipart(
    aiohttp: Any, echo: str, session_kw: dict[str, Any]
) -> None:
    form = real_aiohttp.FormData()
    form.add_field("a", "1")
    form.add_field("b", "two words")
    async with aiohttp.ClientSession(**session_kw) as s:
        async with s.post(echo + "/echo", data=form) as resp:
            got = await resp.json()
        assert got["body"] == "a=1&b=two+words"
        assert got["headers"]["Content-Type"] == "application/x-www-form-urlencoded"

        payload = real_aiohttp.payload.BytesPayload(b"raw bytes", content_type="x/y")
        async with s.post(echo + "/echo", data=payload) as resp:
            got = await resp.json()
        assert got["body"] == "raw bytes"
        assert got["headers"]["Content-Type"] == "x/y"

        with real_aiohttp.MultipartWriter("form-data", boundary="bnd") as mp:
            part = mp.append("hello")
            part.set_content_disposition("form-data", name="f")
        async with s.post(echo + "/echo", data=mp) as resp:
            got = await resp.json()
        assert got["headers"]["Content-Type"] == "multipart/form-data; boundary=bnd"
        assert "hello" in got["body"] and 'name="f"' in got["body"]


async def test_a_users_subclass_of_aiohttps_classes(aiohttp: Any, echo: str) -> None:
    # Defined here, outside the aiohttp package: still aiohttp's payload
    # and timeout, as isinstance says.
    class Tagged(real_aiohttp.payload.BytesPayload):
        pass

    class Short(real_aiohttp.ClientTimeout):
        pass

    async with aiohttp.ClientSession(timeout=Short(total=30)) as s:
        async with s.post(echo + "/echo", data=Tagged(b"tagged", content_type="x/t")) as resp:
            got = await resp.json()
    assert got["body"] == "tagged"
    assert got["headers"]["Content-Type"] == "x/t"


async def test_aiohttp_trace_config_gets_its_signals(aiohttp: Any, echo: str) -> None:
    seen: list[tuple[str, Any]] = []
    tc = real_aiohttp.TraceConfig()

    async def on_start(session: Any, ctx: Any, params: Any) -> None:
        seen.append(("start", (params.method, str(params.url))))

    async def on_headers(session: Any, ctx: Any, params: Any) -> None:
        seen.append(("headers", params.headers.get("Host") is not None))

    async def on_end(session: Any, ctx: Any, params: Any) -> None:
        seen.append(("end", params.response.status))

    tc.on_request_start.append(on_start)
    tc.on_request_headers_sent.append(on_headers)
    tc.on_request_end.append(on_end)
    async with aiohttp.ClientSession(trace_configs=[tc]) as s:
        async with s.get(echo + "/echo") as resp:
            await resp.read()
    assert seen == [("start", ("GET", echo + "/echo")), ("headers", True), ("end", 200)]


async def test_aiohttp_fingerprint(aiohttp: Any, serve: Any) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    app = web.Application()

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/", ok)
    url = await serve(app, ssl_context=server_ctx) + "/"
    der = ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())
    right = real_aiohttp.Fingerprint(hashlib.sha256(der).digest())
    wrong = real_aiohttp.Fingerprint(hashlib.sha256(b"x").digest())
    async with aiohttp.ClientSession() as s:
        async with s.get(url, ssl=right) as resp:
            assert await resp.text() == "ok"
        with pytest.raises(aiohttp.ServerFingerprintMismatch):
            await s.get(url, ssl=wrong)
    conn = aiohttp.TCPConnector(ssl=right)
    async with aiohttp.ClientSession(connector=conn) as s, s.get(url) as resp:
        assert resp.status == 200


def test_aioxide_does_not_import_aiohttp() -> None:
    code = textwrap.dedent(
        """
        import sys, json
        import aioxide
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "aiohttp")))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(out.stdout) == []
