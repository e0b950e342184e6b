"""The ``aioxide`` command line: ``python -m aioxide`` run in a subprocess against a
local aiohttp.web server (and under a pseudo-terminal for the progress bar)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from aioxide.cli import _bench, _items

Serve = Callable[..., Awaitable[str]]
BLOB = bytes(range(256)) * 1024  # 256 KiB
SLOW_PIECES, SLOW_PIECE = 16, 32 * 1024


async def _echo(req: web.Request) -> web.Response:
    body = await req.read()
    return web.json_response(
        {
            "method": req.method,
            "query": dict(req.query),
            "headers": dict(req.headers),
            "body": body.decode("latin-1"),
            "form": dict(await req.post()) if req.content_type.endswith("urlencoded") else None,
        },
        headers={"X-Served": "yes"},
    )


async def _upload(req: web.Request) -> web.Response:
    digest, n = hashlib.sha256(), 0
    async for chunk in req.content.iter_any():
        digest.update(chunk)
        n += len(chunk)
    return web.json_response({"size": n, "sha256": digest.hexdigest()})


async def _slow(req: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Length": str(SLOW_PIECES * SLOW_PIECE)})
    await resp.prepare(req)
    for _ in range(SLOW_PIECES):
        await resp.write(b"x" * SLOW_PIECE)
        await asyncio.sleep(0.04)
    return resp


async def _status(req: web.Request) -> web.Response:
    return web.Response(status=int(req.match_info["code"]), text="status")


async def _delay(req: web.Request) -> web.Response:
    await asyncio.sleep(1.5)
    return web.Response(text="late")


async def _loop(req: web.Request) -> web.Response:
    raise web.HTTPFound("/loop")


@pytest.fixture
async def base(serve: Serve) -> str:
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_route("*", "/anything", _echo)
    app.router.add_put("/upload", _upload)
    app.router.add_get("/bytes", _blob)
    app.router.add_get("/slow", _slow)
    app.router.add_get("/status/{code}", _status)
    app.router.add_get("/delay", _delay)
    app.router.add_get("/loop", _loop)
    return await serve(app)


async def _blob(req: web.Request) -> web.Response:
    return web.Response(body=BLOB, content_type="application/octet-stream")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(extra)
    return env


async def cli(*args: str, timeout: float = 20.0) -> tuple[int, str, str]:
    """Run ``python -m aioxide ARGS``: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aioxide",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_get_sends_headers_and_query(base: str) -> None:
    code, out, err = await cli("get", f"{base}/anything", "X-Test:one two", "q==a b", "n==2")
    assert code == 0, err
    echo = json.loads(out)
    assert echo["method"] == "GET"
    assert echo["headers"]["X-Test"] == "one two"
    assert echo["query"] == {"q": "a b", "n": "2"}
    assert echo["body"] == ""


async def test_post_json_items(base: str) -> None:
    code, out, err = await cli("post", f"{base}/anything", "name=x", "n:=3", "tags:=[1, true]")
    assert code == 0, err
    echo = json.loads(out)
    assert echo["headers"]["Content-Type"] == "application/json"
    assert json.loads(echo["body"]) == {"name": "x", "n": 3, "tags": [1, True]}


async def test_post_form_items(base: str) -> None:
    code, out, err = await cli("post", "--form", f"{base}/anything", "a=1", "b=two words")
    assert code == 0, err
    echo = json.loads(out)
    assert echo["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert echo["form"] == {"a": "1", "b": "two words"}


async def test_output_file_gets_the_body(base: str, tmp_path: Path) -> None:
    target = tmp_path / "blob.bin"
    code, out, err = await cli("get", f"{base}/bytes", "-o", str(target))
    assert code == 0, err
    assert out == ""
    assert target.read_bytes() == BLOB


async def test_upload_streams_a_file(base: str, tmp_path: Path) -> None:
    source = tmp_path / "up.bin"
    source.write_bytes(BLOB * 3)
    code, out, err = await cli("put", f"{base}/upload", "-T", str(source))
    assert code == 0, err
    digest = hashlib.sha256(BLOB * 3).hexdigest()
    assert json.loads(out) == {"size": len(BLOB) * 3, "sha256": digest}


async def test_verbose_prints_both_heads(base: str) -> None:
    code, out, err = await cli("-v", "post", f"{base}/anything", "X-Test:1", "a=b", "x==1")
    assert code == 0, err
    head, _, rest = out.partition("\n\n")
    assert head.splitlines()[0] == "POST /anything?x=1 HTTP/1.1"
    assert "X-Test: 1" in head.splitlines()
    assert '{"a": "b"}' in rest
    assert "HTTP/1.1 200 OK" in rest.splitlines()
    assert "X-Served: yes" in rest.splitlines()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["get", "{base}/delay", "--timeout", "0.3"], 2),
        (["get", "{base}/loop", "--max-redirects", "2"], 3),
        (["get", "{base}/status/404", "--check-status"], 4),
        (["get", "{base}/status/503", "--check-status"], 5),
        (["get", "{base}/status/404"], 0),
        (["get", "http://127.0.0.1:{port}/"], 6),
        (["get", "{base}/anything", "no-separator"], 64),
        (["fetch", "{base}/anything"], 64),
    ],
)
async def test_exit_codes(base: str, unused_port: int, args: list[str], expected: int) -> None:
    code, out, err = await cli(*(a.format(base=base, port=unused_port) for a in args))
    assert code == expected, (out, err)
    if expected:
        assert err.strip()


async def test_bench_json_counts_every_request(base: str) -> None:
    code, out, err = await cli("bench", f"{base}/anything", "-n", "200", "-c", "4", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert (r["requests"], r["answered"], r["failed"]) == (200, 200, 0)
    assert r["status"] == {"200": 200}
    lat = r["latency"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"] <= lat["max"]
    assert sum(c for _, c in r["histogram"]) == 200
    assert r["rps"] > 0 and r["elapsed"] > 0


async def test_bench_text_report_for_a_duration(base: str) -> None:
    code, out, err = await cli("bench", f"{base}/anything", "-d", "300ms", "-c", "2")
    assert code == 0, err
    assert "Requests/s:" in out and "p99.9" in out
    n = int(re.search(r"Requests:\s+(\d+) \(0 failed\) in ([\d.]+) s", out).group(1))  # type: ignore[union-attr]
    assert n > 0
    assert re.search(rf"\[200\] {n}\b", out)


async def test_bench_counts_connection_errors(unused_port: int) -> None:
    code, out, err = await cli("bench", f"http://127.0.0.1:{unused_port}/", "-n", "10", "--json")
    assert code == 1, err
    r = json.loads(out)
    assert r["errors"] == {"Connect": 10}
    assert r["answered"] == 0


async def _under_pty(
    args: list[str], env: dict[str, str], interrupt_on: str | None = None
) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal: (exit code, output);
    with ``interrupt_on``, SIGINT (Ctrl-C) is sent once that text has been shown."""
    master, slave = os.openpty()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aioxide",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    chunks: list[bytes] = []

    def read_all() -> bytes:
        nonlocal interrupt_on
        for _ in range(100_000):  # bounded: EOF (EIO) comes when the child exits
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
            if interrupt_on and interrupt_on.encode() in b"".join(chunks[-2:]):
                os.kill(proc.pid, signal.SIGINT)
                interrupt_on = None  # once
        return b"".join(chunks)

    reader = asyncio.ensure_future(asyncio.to_thread(read_all))
    try:
        try:
            output = await asyncio.wait_for(asyncio.shield(reader), 30)
        except asyncio.TimeoutError:
            proc.kill()  # (the reader then sees the end)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader), 10)
            shown = b"".join(chunks).decode(errors="replace")
            raise AssertionError(f"no end in 30 s; the terminal showed:\n{shown}") from None
        code = await asyncio.wait_for(proc.wait(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        os.close(master)
    return code, output.decode(errors="replace")


async def test_progress_bar_on_a_terminal(base: str, tmp_path: Path) -> None:
    pytest.importorskip("rich")
    target = tmp_path / "slow.bin"
    env = _env(TERM="xterm-256color", COLUMNS="120")
    code, output = await _under_pty(["get", f"{base}/slow", "-o", str(target)], env)
    assert code == 0, output
    assert target.stat().st_size == SLOW_PIECES * SLOW_PIECE
    assert "\x1b[" in output  # drawn with terminal controls
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)
    done = {float(m) for m in re.findall(r"([\d.]+)/524\.3 kB", text)}
    assert 524.3 in done and len(done - {0.0, 524.3}) >= 1, text  # bytes, as they came
    assert re.search(r"\d+(\.\d+)? [kM]B/s", text), text  # the rate


async def test_upload_progress_bar_on_a_terminal(base: str, tmp_path: Path) -> None:
    pytest.importorskip("rich")
    source = tmp_path / "up.bin"
    source.write_bytes(BLOB * 3)
    env = _env(TERM="xterm-256color", COLUMNS="120")
    code, output = await _under_pty(["put", f"{base}/upload", "-T", str(source)], env)
    assert code == 0, output
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)
    assert re.search(r"upload .*786\.4/786\.4 kB", text), text
    assert f'"size": {len(BLOB) * 3}' in text


async def test_colour_only_on_a_terminal(base: str) -> None:
    pytest.importorskip("rich")
    env = _env(TERM="xterm-256color", COLUMNS="200")
    code, output = await _under_pty(["-v", "get", f"{base}/anything"], env)
    assert code == 0, output
    assert re.search(r"\x1b\[[0-9;]*m(\x1b\[[0-9;]*m)*HTTP/1\.1 200 OK", output), output
    code, out, err = await cli("-v", "get", f"{base}/anything")  # a pipe: no colour
    assert code == 0 and "\x1b[" not in out, err


async def test_plain_output_without_rich(base: str, tmp_path: Path) -> None:
    blocker = tmp_path / "norich" / "rich"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('rich is blocked for this test')\n")
    env = _env(TERM="xterm-256color", PYTHONPATH=str(blocker.parent))
    target = tmp_path / "slow.bin"
    code, output = await _under_pty(["get", f"{base}/slow", "-o", str(target)], env)
    assert code == 0, output
    assert target.stat().st_size == SLOW_PIECES * SLOW_PIECE
    assert "\x1b[" not in output and "MB" not in output


def test_items_parsing() -> None:
    items = _items.parse_items(["A:b:c", "q==x=y", "f=v:w", "j:=[1]", r"a\=b=c", "E:"])
    assert items.headers == [("A", "b:c"), ("E", "")]
    assert items.query == [("q", "x=y")]
    assert items.data == [("f", "v:w"), ("j", [1]), ("a=b", "c")]
    for bad in ("nothing", "=v", "j:={"):
        with pytest.raises(_items.ItemError):
            _items.parse_items([bad])
    with pytest.raises(_items.ItemError):
        _items.form_fields([("j", [1])])


def test_url_and_duration_shorthands() -> None:
    assert _items.normalise_url(":8080/x") == "http://localhost:8080/x"
    assert _items.normalise_url(":/x") == "http://localhost/x"
    assert _items.normalise_url("example.org/a") == "http://example.org/a"
    assert _items.normalise_url("https://h/") == "https://h/"
    parse: Any = _bench.parse_duration
    assert [parse(t) for t in ("30s", "500ms", "2m", "1h", "1.5")] == [30, 0.5, 120, 3600, 1.5]
    for bad in ("", "0s", "5x", "-1s"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(bad)


async def test_bench_live_bar_on_a_terminal(base: str) -> None:
    pytest.importorskip("rich")
    env = _env(TERM="xterm-256color", COLUMNS="120")
    code, output = await _under_pty(["bench", f"{base}/anything", "-d", "600ms", "-c", "2"], env)
    assert code == 0, output
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)
    rates = re.findall(r"([\d,]+) req/s", text)
    assert len(rates) >= 2 and any(int(r.replace(",", "")) > 0 for r in rates), text
    assert "Requests/s:" in text


async def test_bench_ctrl_c_stops_and_reports(base: str) -> None:
    pytest.importorskip("rich")
    env = _env(TERM="xterm-256color", COLUMNS="120")
    args = ["bench", f"{base}/anything", "-d", "30s", "-c", "2"]
    code, output = await _under_pty(args, env, interrupt_on=" req/s")
    assert code == 130, output
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)
    m = re.search(r"Requests:\s+(\d+) \(0 failed\) in ([\d.]+) s", text)
    assert m is not None, text
    assert int(m.group(1)) > 0 and float(m.group(2)) < 10


async def test_forward_proxy(base: str) -> None:
    # An http:// target through an http:// proxy goes in absolute-form to the proxy
    # (here the echo server itself, which answers for any host).
    code, out, err = await cli("get", "http://example.invalid/anything", "--proxy", base)
    assert code == 0, err
    assert json.loads(out)["headers"]["Host"] == "example.invalid"


async def _h2_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    body = json.dumps({"version": scope["http_version"]}).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def h2_server(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """hypercorn on 127.0.0.1: (an h2c URL, an https URL with a self-signed certificate)."""
    trustme = pytest.importorskip("trustme")
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    cert = trustme.CA().issue_cert("127.0.0.1")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    chain.write_bytes(b"".join(p.bytes() for p in cert.cert_chain_pems))
    key.write_bytes(cert.private_key_pem.bytes())
    stop = asyncio.Event()
    tasks, urls = [], []
    for tls in (False, True):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        port = sock.getsockname()[1]
        cfg = Config()
        cfg.bind = [f"fd://{sock.detach()}"]
        cfg.accesslog = cfg.errorlog = None
        cfg.graceful_timeout = 1
        if tls:
            cfg.certfile, cfg.keyfile = str(chain), str(key)
        serving = serve(_h2_app, cfg, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
        tasks.append(asyncio.create_task(serving))
        urls.append(f"{'https' if tls else 'http'}://127.0.0.1:{port}")
    yield urls[0], urls[1]
    stop.set()
    await asyncio.wait(tasks, timeout=10)


async def test_http2_requests(h2_server: tuple[str, str]) -> None:
    h2c, https = h2_server
    code, out, err = await cli("-v", "get", f"{h2c}/x", "--h2c")
    assert code == 0, err
    assert "HTTP/2.0 200 OK" in out.splitlines()
    code, out, err = await cli("get", f"{https}/x", "--http2", "-k")
    assert (code, json.loads(out)) == (0, {"version": "2"}), err
    code, out, err = await cli("get", f"{https}/x")  # not -k: the certificate is refused
    assert code == 6, (out, err)


async def test_http2_bench(h2_server: tuple[str, str]) -> None:
    h2c, https = h2_server
    for args in ([h2c, "--h2c"], [https, "--http2", "-k"]):
        code, out, err = await cli("bench", *args, "-n", "100", "-c", "8", "--json")
        assert code == 0, err
        r = json.loads(out)
        assert (r["answered"], r["status"]) == (100, {"200": 100}), r


def test_the_load_generators_wait_takes_any_number_of_seconds() -> None:
    """NaN (no wait) once panicked converting to a duration."""
    from aioxide._aioxide import LoadGen

    lg = LoadGen("http://127.0.0.1:1/", count=1)
    try:
        for t in (float("nan"), -1.0, 0.0):
            assert lg.wait(t) in (True, False)
        assert lg.wait(10.0)  # (port 1 refuses at once)
    finally:
        lg.stop()
