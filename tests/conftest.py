"""Shared fixtures: real loopback servers and the client module under test.

The suite is written against aiohttp's client API.  By default it tests aioxide;
``AIOXIDE_TEST_TARGET=aiohttp pytest`` runs the same tests against aiohttp itself,
which is how a test is checked to describe aiohttp's real behaviour.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import socket
import sys
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import pytest
from aiohttp import web
from h2front import H2Front

if sys.version_info < (3, 11):  # pragma: no cover (make test-matrix)
    # The tests bound their waits with asyncio.timeout (3.11+); on 3.9 and 3.10
    # async-timeout (aiohttp's own dependency there) does the same, and its
    # expiry is raised as the builtin TimeoutError, as 3.11's.
    import async_timeout

    class _Timeout:
        def __init__(self, delay: float | None) -> None:
            self._cm = async_timeout.timeout(delay)

        async def __aenter__(self) -> _Timeout:
            await self._cm.__aenter__()
            return self

        async def __aexit__(self, *exc: Any) -> Any:
            try:
                return await self._cm.__aexit__(*exc)
            except asyncio.TimeoutError as e:
                if self._cm.expired:
                    raise TimeoutError() from e
                raise

        def expired(self) -> bool:
            return bool(self._cm.expired)

    asyncio.timeout = _Timeout  # type: ignore[attr-defined,assignment]

TARGET = os.environ.get("AIOXIDE_TEST_TARGET", "aioxide")
client: Any = importlib.import_module(TARGET)

# ``AIOXIDE_TEST_PROTO=h2``: ``serve()`` answers over HTTP/2 (h2c, prior knowledge)
# through tests/h2front.py, and every TCPConnector made in a test defaults to
# ``http2="prior_knowledge"``.  Tests marked ``h1_only`` (and those on the raw
# HTTP/1.1 server) are skipped in that mode.
PROTO = os.environ.get("AIOXIDE_TEST_PROTO", "h1")
if PROTO not in ("h1", "h2"):
    raise pytest.UsageError(f"AIOXIDE_TEST_PROTO must be h1 or h2, not {PROTO!r}")
if PROTO == "h2" and TARGET != "aioxide":
    raise pytest.UsageError("AIOXIDE_TEST_PROTO=h2 needs AIOXIDE_TEST_TARGET=aioxide")
H2 = PROTO == "h2"


# aiohttp 3.14 is the reference; on Python 3.9 the suite has aiohttp 3.13 (its
# servers serve the same), so a test that compares with aiohttp 3.14's own
# modules ("[aiohttp." in its id, or marked aiohttp_reference) is skipped there.
_REFERENCE = importlib.import_module("aiohttp").__version__.startswith("3.14.")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if H2:
        _skip_h1_only(items)
    if _REFERENCE:
        return
    skip = pytest.mark.skip(reason="compares with aiohttp 3.14, which needs Python 3.10")
    for item in items:
        if "[aiohttp." in item.nodeid or item.get_closest_marker("aiohttp_reference"):
            item.add_marker(skip)


_H1_ONLY = {"marked": 0, "raw_server": 0}


def _skip_h1_only(items: list[Any]) -> None:
    raw = pytest.mark.skip(reason="h1_only: a raw HTTP/1.1 server (raw_server), not serve()")
    for item in items:
        marker = item.get_closest_marker("h1_only")
        if marker is not None:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(reason=f"h1_only: {reason}"))
            _H1_ONLY["marked"] += 1
        elif "raw_server" in getattr(item, "fixturenames", ()):
            item.add_marker(raw)
            _H1_ONLY["raw_server"] += 1


# h2 mode: the tests that had at least one stream relayed by an H2Front.
_OVER_H2: set[str] = set()


@pytest.fixture(autouse=True)
def _h2_default(request: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In h2 mode, ``TCPConnector()`` means ``TCPConnector(http2="prior_knowledge")``
    (the default of the keyword, so a test's own ``http2=`` still wins)."""
    if not H2:
        yield
        return
    kwdefaults = client.TCPConnector.__init__.__kwdefaults__
    monkeypatch.setitem(kwdefaults, "http2", "prior_knowledge")
    before = H2Front.total_relayed
    yield
    if H2Front.total_relayed > before:
        _OVER_H2.add(request.node.nodeid)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if H2:
        passed = {r.nodeid for r in terminalreporter.stats.get("passed", ())}
        n = len(passed & _OVER_H2)
        terminalreporter.write_line(
            f"AIOXIDE_TEST_PROTO=h2: {n} passed tests sent requests over h2; skipped as "
            f"h1_only: {_H1_ONLY['marked']} marked, {_H1_ONLY['raw_server']} on raw_server"
        )


# A child process (python -c) gets no fixture: its ClientSession takes these
# arguments, formatted into its code, to speak as the suite does.
CHILD_SESSION_ARGS = 'connector=client.TCPConnector(http2="prior_knowledge")' if H2 else ""


def http_version() -> Any:
    """The version the suite's servers answer with: HTTP/2 in h2 mode."""
    return client.HttpVersion(2, 0) if H2 else client.HttpVersion11


@pytest.fixture
def aiohttp() -> Any:
    """The client module under test (aioxide, or aiohttp as the reference)."""
    return client


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """Start an aiohttp.web app on 127.0.0.1:<free port>; returns its base URL
    (https:// when an ``ssl_context`` is given: the server's TLS settings)."""
    runners: list[web.AppRunner] = []
    fronts: list[H2Front] = []

    async def start(app: web.Application, ssl_context: Any = None) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        if H2 and ssl_context is None:
            fronts.append(H2Front("127.0.0.1", port))
            return await fronts[-1].start()
        scheme = "http" if ssl_context is None else "https"
        return f"{scheme}://127.0.0.1:{port}"

    yield start
    for f in fronts:
        await f.close()
    for r in runners:
        await r.cleanup()


async def start_app(app: web.Application) -> tuple[web.AppRunner, str]:
    """An aiohttp.web app on 127.0.0.1:<free port> of the running loop (for
    tests that run their own loop, e.g. uvloop's, where ``serve`` cannot):
    its runner (to clean up) and base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[RawHandler], Awaitable[str]]]:
    """Start a raw asyncio socket server (for misbehaving peers); returns its base URL.

    The handler gets (reader, writer); the writer is closed after the handler returns.
    """
    servers: list[asyncio.AbstractServer] = []

    async def start(handler: RawHandler) -> str:
        async def wrapped(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                await handler(r, w)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                w.close()

        srv = await asyncio.start_server(wrapped, "127.0.0.1", 0)
        servers.append(srv)
        port = srv.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    yield start
    for s in servers:
        s.close()
        await s.wait_closed()


async def read_request_head(reader: asyncio.StreamReader) -> bytes:
    """Read one request head (up to the blank line) from a raw connection."""
    return await reader.readuntil(b"\r\n\r\n")


def answers(data: bytes, *, after: float = 0.0, hold: float = 0.0) -> RawHandler:
    """A raw_server handler: a request's head read, ``data`` written ``after``
    seconds later, then the connection held ``hold`` seconds."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request_head(r)
        await asyncio.sleep(after)
        w.write(data)
        await w.drain()
        await asyncio.sleep(hold)

    return handler


class DropsItsSecondRequest:
    """A raw_server handler: the first connection answers one request, then
    drops the next one unanswered (as a server that timed the connection
    out at that moment would); later connections answer.  ``connections``
    counts them."""

    OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    def __init__(self) -> None:
        self.connections = 0

    async def __call__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.connections += 1
        first = self.connections == 1
        await read_request_head(r)
        w.write(self.OK)
        await w.drain()
        if first:
            await read_request_head(r)
            w.transport.abort()  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.5)


def resolved(host: str, port: int, ip: str = "127.0.0.1") -> dict[str, Any]:
    """One address of a user resolver's answer (aiohttp's ResolveResult)."""
    return {
        "hostname": host,
        "host": ip,
        "port": port,
        "family": socket.AF_INET6 if ":" in ip else socket.AF_INET,
        "proto": 0,
        "flags": socket.AI_NUMERICHOST,
    }


@pytest.fixture
def unused_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PATHS = ("fast", "middleware", "trace")


@pytest.fixture(params=PATHS)
def session_kw(request: Any, aiohttp: Any) -> dict[str, Any]:
    """ClientSession arguments that put requests on one of the request paths:
    the engine alone (fast), around a middleware, or traced."""
    if request.param == "middleware":

        async def noop(req: Any, handler: Any) -> Any:
            return await handler(req)

        return {"middlewares": (noop,)}
    if request.param == "trace":
        tc = aiohttp.TraceConfig()

        async def on_start(*args: Any) -> None:
            pass

        tc.on_request_start.append(on_start)
        return {"trace_configs": [tc]}
    return {}


def self_signed_cert(common_name: str, basic_constraints: bool) -> tuple[bytes, bytes]:
    """A self-signed certificate for 127.0.0.1 that is no CA (with or without
    a BasicConstraints extension saying so): (certificate, key) PEM."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    )
    if basic_constraints:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=False, path_length=None), critical=True
        )
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem
