"""Local stand-ins for the servers the documentation's examples talk to.

- ``make_app()``: an aiohttp.web app shaped like httpbin.org (``/get``, ``/post``,
  ``/put``, ``/delete``, ``/anything``, ``/json``, ``/status/{code}``,
  ``/headers``, ``/cookies``, ``/cookies/set?k=v``, ``/bytes/{n}``,
  ``/stream/{n}``, ``/delay/{s}``, ``/redirect/{n}``,
  ``/basic-auth/{user}/{pw}``, ``/digest-auth/auth/{user}/{pw}``, ``/ws`` as
  an echo WebSocket), answering httpbin's JSON shapes;
- ``h2_app``: a small ASGI app (``/get``) for hypercorn, over h2c (prior
  knowledge) and over TLS with ALPN h2;
- ``DocsServers``: all of them on 127.0.0.1 (ports picked by the system) on a
  loop in a thread of their own, plus an HTTP and SOCKS5 proxy (pproxy), with
  the placeholders the docs use (``PLACEHOLDERS``) mapped to their URLs.

``python tests/docs_server.py`` serves them until interrupted and prints the
URLs.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import re
import socket
import tempfile
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

# What the docs write, and which server stands in for it.
HTTPBIN = "https://httpbin.org"
H2C = "http://localhost:8000"
H2_TLS = "https://localhost:8443"
HTTP_PROXY = "http://localhost:3128"
SOCKS_PROXY = "socks5://localhost:1080"
PLACEHOLDERS = (HTTPBIN, H2C, H2_TLS, HTTP_PROXY, SOCKS_PROXY)

_MAX_DELAY = 10.0
_MAX_BYTES = 10 * 1024 * 1024
_MAX_STREAM = 100
_MAX_REDIRECTS = 20


def _headers(request: web.Request) -> dict[str, str]:
    return {k.title(): v for k, v in request.headers.items()}


def _args(request: web.Request) -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    for key in request.query.keys():
        values = request.query.getall(key)
        out[key] = values[0] if len(values) == 1 else list(values)
    return out


def _basics(request: web.Request) -> dict[str, Any]:
    return {
        "args": _args(request),
        "headers": _headers(request),
        "origin": request.remote or "",
        "url": str(request.url),
    }


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


async def _with_body(request: web.Request) -> dict[str, Any]:
    """httpbin's answer to a request with a body: data, form, files, json."""
    form: dict[str, Any] = {}
    files: dict[str, str] = {}
    data = b""
    if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                files[key] = value.file.read().decode("utf-8", "replace")
            else:
                form[key] = value
    else:
        data = await request.read()
    return {
        **_basics(request),
        "data": data.decode("utf-8", "replace"),
        "files": files,
        "form": form,
        "json": _json_or_none(data),
        "method": request.method,
    }


async def get(request: web.Request) -> web.Response:
    return web.json_response(_basics(request))


async def with_body(request: web.Request) -> web.Response:
    return web.json_response(await _with_body(request))


async def slideshow(request: web.Request) -> web.Response:
    slides = [
        {"title": "Wake up to WonderWidgets!", "type": "all"},
        {"items": ["Why WonderWidgets are great", "Who buys WonderWidgets"], "title": "Overview"},
    ]
    show = {"author": "Yours Truly", "date": "date of publication", "slides": slides}
    return web.json_response({"slideshow": {**show, "title": "Sample Slide Show"}})


async def status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    if not 100 <= code < 600:
        raise web.HTTPBadRequest(text="invalid status code")
    return web.Response(status=code)


async def headers(request: web.Request) -> web.Response:
    return web.json_response({"headers": _headers(request)})


async def cookies(request: web.Request) -> web.Response:
    return web.json_response({"cookies": dict(request.cookies)})


async def cookies_set(request: web.Request) -> web.Response:
    resp = web.HTTPFound("/cookies")
    for key, value in request.query.items():
        resp.set_cookie(key, value, path="/")
    raise resp


async def random_bytes(request: web.Request) -> web.Response:
    n = min(int(request.match_info["n"]), _MAX_BYTES)
    seed = request.query.get("seed")
    rng = random.Random(int(seed) if seed is not None else None)
    return web.Response(body=rng.randbytes(n), content_type="application/octet-stream")


async def stream(request: web.Request) -> web.StreamResponse:
    n = min(int(request.match_info["n"]), _MAX_STREAM)
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    for i in range(n):
        await resp.write(json.dumps({"id": i, **_basics(request)}).encode() + b"\n")
    await resp.write_eof()
    return resp


async def delay(request: web.Request) -> web.Response:
    await asyncio.sleep(min(float(request.match_info["s"]), _MAX_DELAY))
    return web.json_response(_basics(request))


async def redirect(request: web.Request) -> web.Response:
    n = min(int(request.match_info["n"]), _MAX_REDIRECTS)
    raise web.HTTPFound("/get" if n <= 1 else f"/redirect/{n - 1}")


async def basic_auth(request: web.Request) -> web.Response:
    user, pw = request.match_info["user"], request.match_info["pw"]
    given = request.headers.get("Authorization", "")
    expected = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
    if given != expected:
        challenge = {"WWW-Authenticate": 'Basic realm="Fake Realm"'}
        return web.Response(status=401, headers=challenge)
    return web.json_response({"authenticated": True, "user": user})


_DIGEST_PARAM = re.compile(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def _digest_ok(header: str, method: str, user: str, pw: str, nonce: str) -> bool:
    """An MD5, qop=auth Digest answer checked as RFC 7616 computes it."""
    if not header.startswith("Digest "):
        return False
    p = {m[1]: m[2] or m[3] for m in _DIGEST_PARAM.finditer(header[7:])}
    if p.get("username") != user or p.get("nonce") != nonce or p.get("qop") != "auth":
        return False

    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()

    ha1 = md5(f"{user}:{p.get('realm')}:{pw}")
    ha2 = md5(f"{method}:{p.get('uri')}")
    want = md5(f"{ha1}:{nonce}:{p.get('nc')}:{p.get('cnonce')}:auth:{ha2}")
    return p.get("response") == want


async def digest_auth(request: web.Request) -> web.Response:
    user, pw = request.match_info["user"], request.match_info["pw"]
    nonce = hashlib.sha256(b"docs" + user.encode()).hexdigest()
    header = request.headers.get("Authorization", "")
    if not _digest_ok(header, request.method, user, pw, nonce):
        challenge = f'Digest realm="me@kennethreitz.com", nonce="{nonce}", qop="auth"'
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})
    return web.json_response({"authenticated": True, "user": user})


async def ws_echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == web.WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == web.WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


def make_app() -> web.Application:
    """The httpbin-like app."""
    app = web.Application()
    r = app.router
    r.add_get("/get", get)
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r.add_route(method, f"/{method.lower()}", with_body)
    r.add_route("*", "/anything", with_body)
    r.add_route("*", "/anything/{rest:.*}", with_body)
    r.add_get("/json", slideshow)
    r.add_route("*", "/status/{code:\\d+}", status)
    r.add_get("/headers", headers)
    r.add_get("/cookies", cookies)
    r.add_get("/cookies/set", cookies_set)
    r.add_get("/bytes/{n:\\d+}", random_bytes)
    r.add_get("/stream/{n:\\d+}", stream)
    r.add_route("*", "/delay/{s:[0-9.]+}", delay)
    r.add_get("/redirect/{n:\\d+}", redirect)
    r.add_get("/basic-auth/{user}/{pw}", basic_auth)
    r.add_get("/digest-auth/auth/{user}/{pw}", digest_auth)
    r.add_get("/ws", ws_echo)
    return app


async def h2_app(
    scope: Mapping[str, Any],
    receive: Callable[[], Awaitable[Any]],
    send: Callable[[Any], Awaitable[None]],
) -> None:
    """ASGI: every path answers its HTTP version and headers as JSON."""
    if scope["type"] != "http":
        return
    heads = {k.decode().title(): v.decode() for k, v in scope["headers"]}
    body = json.dumps({"http_version": scope["http_version"], "headers": heads}).encode()
    start = {"type": "http.response.start", "status": 200}
    await send({**start, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def _listen() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DocsServers:
    """Every docs server on one loop in a thread; ``start()`` then ``stop()``.

    ``urls`` maps each placeholder of ``PLACEHOLDERS`` to its local server;
    ``ca_file`` is the CA (PEM) that signed the TLS server's certificate.
    """

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.ca_file = ""
        self._tmp = tempfile.TemporaryDirectory(prefix="aioxide-docs-")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._cleanups: list[Callable[[], Awaitable[None]]] = []

    def start(self, timeout: float = 20.0) -> DocsServers:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout)
        return self

    def stop(self, timeout: float = 20.0) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self._loop.close()
            self._tmp.cleanup()

    async def _start(self) -> None:
        self.urls[HTTPBIN] = await self._httpbin()
        self.urls[H2C] = await self._hypercorn(tls=None)
        self.urls[H2_TLS] = await self._hypercorn(tls=self._certificate())
        port = await self._pproxy()
        self.urls[HTTP_PROXY] = f"http://127.0.0.1:{port}"
        self.urls[SOCKS_PROXY] = f"socks5://127.0.0.1:{port}"

    async def _stop(self) -> None:
        for cleanup in reversed(self._cleanups):
            try:
                await asyncio.wait_for(cleanup(), 10)
            except (asyncio.TimeoutError, OSError):
                pass

    async def _httpbin(self) -> str:
        runner = web.AppRunner(make_app(), access_log=None)
        await runner.setup()
        sock = _listen()
        await web.SockSite(runner, sock).start()
        self._cleanups.append(runner.cleanup)
        # By name: a CookieJar keeps no cookies of IP-address hosts (unsafe=False).
        return f"http://localhost:{sock.getsockname()[1]}"

    def _certificate(self) -> tuple[str, str]:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        tmp = Path(self._tmp.name)
        chain, key, ca_file = tmp / "chain.pem", tmp / "key.pem", tmp / "ca.pem"
        chain.write_bytes(b"".join(p.bytes() for p in cert.cert_chain_pems))
        key.write_bytes(cert.private_key_pem.bytes())
        ca.cert_pem.write_to_path(str(ca_file))
        self.ca_file = str(ca_file)
        return str(chain), str(key)

    async def _hypercorn(self, tls: tuple[str, str] | None) -> str:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        sock = _listen()
        port = sock.getsockname()[1]
        cfg = Config()
        cfg.bind = [f"fd://{sock.detach()}"]
        cfg.accesslog = None
        cfg.errorlog = None
        cfg.graceful_timeout = 1
        if tls is not None:
            cfg.certfile, cfg.keyfile = tls
        stop = asyncio.Event()
        task = asyncio.ensure_future(serve(h2_app, cfg, shutdown_trigger=stop.wait))

        async def cleanup() -> None:
            stop.set()
            await task

        self._cleanups.append(cleanup)
        return f"{'https' if tls else 'http'}://127.0.0.1:{port}"

    async def _pproxy(self) -> int:
        import pproxy  # type: ignore[import-untyped]

        port = _free_port()
        server = pproxy.Server(f"http+socks5://127.0.0.1:{port}")
        handle = await server.start_server({"rserver": [], "verbose": lambda *a: None})

        async def cleanup() -> None:
            handle.close()

        self._cleanups.append(cleanup)
        return port


def _main() -> None:
    servers = DocsServers().start()
    for placeholder, url in servers.urls.items():
        print(f"{placeholder:28} {url}")
    print(f"{'CA for ' + H2_TLS:28} {servers.ca_file}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        servers.stop()


if __name__ == "__main__":
    _main()
