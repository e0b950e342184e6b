"""Certificate and TLS errors read as aiohttp's (OpenSSL's) do.

``ClientConnectorCertificateError.certificate_error`` is an
``ssl.SSLCertVerificationError`` with OpenSSL's ``verify_code`` and
``verify_message`` for the same failure, and the message says "Cannot connect
to host" once.  Runs against aiohttp too (``AIOXIDE_TEST_TARGET=aiohttp``);
the one deliberate difference: aioxide's text has no ``(_ssl.c:LINE)``
suffix, a place in CPython's source that is not where the error came from.
"""

from __future__ import annotations

import datetime
import os
import re
import ssl
import tempfile
from typing import Any, Awaitable, Callable

import pytest
import trustme
from aiohttp import web

from conftest import self_signed_cert

Start = Callable[[bytes], Awaitable[int]]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def https(serve: Any) -> Start:
    """Serve HTTPS with a PEM of key, certificate and chain; returns the port."""

    async def start(pem: bytes) -> int:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "server.pem")
            with open(path, "wb") as f:
                f.write(pem)
            ctx.load_cert_chain(path)

        async def hello(request: web.Request) -> web.Response:
            return web.Response(text="secure")

        app = web.Application()
        app.router.add_get("/", hello)
        base = await serve(app, ssl_context=ctx)
        return int(base.rsplit(":", 1)[1])

    return start


def pem_of(leaf: trustme.LeafCert, *extra: bytes) -> bytes:
    chain = b"".join(b.bytes() for b in leaf.cert_chain_pems)
    return leaf.private_key_pem.bytes() + chain + b"".join(extra)


def self_signed() -> bytes:
    """A self-signed certificate for 127.0.0.1 (no CA), key first, PEM."""
    cert, key = self_signed_cert("self", basic_constraints=False)
    return key + cert


NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)

# case: (server PEM, client trusts the CA, server_hostname, code, message)
CASES: dict[str, Callable[[trustme.CA], tuple[bytes, bool, str | None, int, str]]] = {
    "unknown issuer": lambda ca: (
        pem_of(ca.issue_cert("127.0.0.1")),
        False,
        None,
        20,
        "unable to get local issuer certificate",
    ),
    "expired": lambda ca: (
        pem_of(ca.issue_cert("127.0.0.1", not_before=NOW - 30 * DAY, not_after=NOW - DAY)),
        True,
        None,
        10,
        "certificate has expired",
    ),
    "not yet valid": lambda ca: (
        pem_of(ca.issue_cert("127.0.0.1", not_before=NOW + DAY, not_after=NOW + 30 * DAY)),
        True,
        None,
        9,
        "certificate is not yet valid",
    ),
    "IP address mismatch": lambda ca: (
        pem_of(ca.issue_cert("other.example")),
        True,
        None,
        64,
        "IP address mismatch, certificate is not valid for '127.0.0.1'.",
    ),
    "host name mismatch": lambda ca: (
        pem_of(ca.issue_cert("other.example")),
        True,
        "svc.example",
        62,
        "Hostname mismatch, certificate is not valid for 'svc.example'.",
    ),
    "self-signed": lambda ca: (self_signed(), False, None, 18, "self-signed certificate"),
    "self-signed in chain": lambda ca: (
        pem_of(ca.issue_cert("127.0.0.1"), ca.cert_pem.bytes()),
        False,
        None,
        19,
        "self-signed certificate in certificate chain",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("how", ["context", "default"])
async def test_certificate_error_details(
    aiohttp: Any, https: Start, ca: trustme.CA, case: str, how: str
) -> None:
    pem, trust, server_hostname, code, message = CASES[case](ca)
    if how == "default" and trust:
        pytest.skip("ssl=True cannot trust a test CA")
    port = await https(pem)
    kw: dict[str, Any] = {}
    if how == "context":
        ctx = ssl.create_default_context()
        if trust:
            ca.configure_trust(ctx)
        kw["ssl"] = ctx
    if server_hostname is not None:
        kw["server_hostname"] = server_hostname
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientConnectorCertificateError) as info:
            await s.get(f"https://127.0.0.1:{port}/", **kw)
    e = info.value
    err = e.certificate_error
    assert type(err) is ssl.SSLCertVerificationError
    assert (err.verify_code, err.verify_message) == (code, message)
    assert (err.errno, err.reason, err.library) == (1, "CERTIFICATE_VERIFY_FAILED", "SSL")
    text = f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message}"
    assert re.fullmatch(re.escape(text) + r"( \(_ssl\.c:\d+\))?", err.strerror)
    assert err.args == (1, err.strerror)
    assert str(e) == (
        f"Cannot connect to host 127.0.0.1:{port} ssl:True [SSLCertVerificationError: {err.args}]"
    )
    assert (e.host, e.port, e.ssl) == ("127.0.0.1", port, True)


async def test_tls_error_message_once(aiohttp: Any, serve: Any) -> None:
    """TLS to a plain-HTTP server: ClientConnectorSSLError, said once, with
    aiohttp's ``ssl:default`` for ssl=True."""
    app = web.Application()
    base = await serve(app)
    port = int(base.rsplit(":", 1)[1])
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientConnectorSSLError) as info:
            await s.get(f"https://127.0.0.1:{port}/")
    text = str(info.value)
    assert text.startswith(f"Cannot connect to host 127.0.0.1:{port} ssl:default [")
    assert text.count("Cannot connect to host") == 1
    assert text.count("127.0.0.1") == 1
    assert isinstance(info.value.os_error, ssl.SSLError)
