"""HTTPS through rustls, verifying against the system's trust store."""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
import textwrap
from asyncio.subprocess import PIPE
from typing import Any

import pytest
import trustme
from aiohttp import web


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def https_base(ca: trustme.CA, serve: Any) -> str:
    """An aiohttp.web HTTPS server whose certificate names 127.0.0.1 and localhost."""
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="secure " + request.scheme)

    app = web.Application()
    app.router.add_get("/", hello)
    return str(await serve(app, ssl_context=ctx))


async def test_untrusted_certificate_is_rejected(aiohttp: Any, https_base: str) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientConnectorCertificateError) as info:
            await s.get(https_base + "/")
    e = info.value
    assert isinstance(e, ssl.CertificateError)
    assert isinstance(e, aiohttp.ClientSSLError)
    assert e.host == "127.0.0.1"
    assert e.port == int(https_base.rsplit(":", 1)[1])
    assert isinstance(e.certificate_error, ssl.SSLError)


async def test_an_empty_server_hostname_is_the_urls_host(
    aiohttp: Any, https_base: str, ca: trustme.CA
) -> None:
    """``server_hostname=""``: the URL's host is verified, as aiohttp's
    ``req.server_hostname or host``."""
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    async with aiohttp.ClientSession() as s:
        async with s.get(https_base + "/", ssl=ctx, server_hostname="") as resp:
            assert await resp.text() == "secure https"


async def test_ssl_false_skips_verification(aiohttp: Any, https_base: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(https_base + "/", ssl=False) as resp:
            assert resp.status == 200
            assert await resp.text() == "secure https"
    conn = aiohttp.TCPConnector(ssl=False)
    async with aiohttp.ClientSession(connector=conn) as s:
        async with s.get(https_base + "/") as resp:
            assert await resp.text() == "secure https"


async def _run_client(url: str, ca_file: str, **options: str) -> tuple[int, str, str]:
    """Fetch url in a fresh interpreter whose system trust store is ca_file
    (``options``: the request's other keyword arguments)."""
    target = os.environ.get("AIOXIDE_TEST_TARGET", "aioxide")
    code = textwrap.dedent(
        f"""
        import asyncio, ssl, {target} as client
        async def main():
            ctx = None
            if client.__name__ == "aiohttp":
                ctx = ssl.create_default_context(cafile={ca_file!r})
            async with client.ClientSession() as s:
                try:
                    kw = {{"ssl": ctx}} if ctx else {{}}
                    kw.update({options!r})
                    async with s.get({url!r}, **kw) as r:
                        print("OK", r.status, await r.text())
                except client.ClientConnectorCertificateError as e:
                    print("CERT", e.host)
        asyncio.run(main())
        """
    )
    env = dict(os.environ, SSL_CERT_FILE=ca_file)
    env.pop("SSL_CERT_DIR", None)
    # Asynchronously: the server runs on this test's event loop.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_trusted_through_system_store(https_base: str, ca: trustme.CA, tmp_path: Any) -> None:
    ca_file = str(tmp_path / "ca.pem")
    ca.cert_pem.write_to_path(ca_file)
    rc, out, err = await _run_client(https_base + "/", ca_file)
    assert rc == 0, err
    assert out.strip() == "OK 200 secure https"


async def _other_name_server(ca: trustme.CA, tmp_path: Any, serve: Any) -> tuple[str, str]:
    """A server on 127.0.0.1 with a certificate for other.example (answering
    "x"), and the CA's file."""
    cert = ca.issue_cert("other.example")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    app = web.Application()

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="x")

    app.router.add_get("/", hello)
    base = await serve(app, ssl_context=ctx)
    ca_file = str(tmp_path / "ca.pem")
    ca.cert_pem.write_to_path(ca_file)
    return base + "/", ca_file


async def test_wrong_host_is_rejected(ca: trustme.CA, tmp_path: Any, serve: Any) -> None:
    url, ca_file = await _other_name_server(ca, tmp_path, serve)
    rc, out, err = await _run_client(url, ca_file)
    assert rc == 0, err
    assert out.strip() == "CERT 127.0.0.1"


async def test_server_hostname_with_the_default_verification(
    ca: trustme.CA, tmp_path: Any, serve: Any
) -> None:
    # The server above, named by server_hostname=: verified (and SNI sent)
    # for that name, with the session's default ssl.
    url, ca_file = await _other_name_server(ca, tmp_path, serve)
    rc, out, err = await _run_client(url, ca_file, server_hostname="other.example")
    assert rc == 0, err
    assert out.strip() == "OK 200 x"
