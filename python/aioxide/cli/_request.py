"""``aioxide METHOD URL [items]``: one request, HTTPie style."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator
from typing import IO, Any

import aioxide

from . import _items
from ._term import console_for, transfer_bar

METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
CHUNK = 64 * 1024

# Exit codes (docs/guide/cli.md).
OK, ERROR, TIMEOUT, TOO_MANY_REDIRECTS, HTTP_4XX, HTTP_5XX, CONNECTION = 0, 1, 2, 3, 4, 5, 6


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "method",
        type=str.lower,
        choices=METHODS,
        metavar="METHOD",
        help="get, post, put, patch, delete, head or options",
    )
    p.add_argument("url", metavar="URL", help="http(s)://host/path (':8080/x' means localhost)")
    p.add_argument(
        "items",
        nargs="*",
        metavar="ITEM",
        help="Header:value, name==query, field=string, field:=json",
    )
    body = p.add_mutually_exclusive_group()
    body.add_argument(
        "-j", "--json", action="store_true", help="send data items as a JSON object (the default)"
    )
    body.add_argument(
        "-f", "--form", action="store_true", help="send data items as a urlencoded form"
    )
    p.add_argument("-T", "--upload", metavar="FILE", help="send FILE as the body, streamed")
    p.add_argument("-o", "--output", metavar="FILE", help="save the body to FILE")
    p.add_argument(
        "-v", "--verbose", action="store_true", help="print the request and response heads"
    )
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="total timeout")
    p.add_argument("--proxy", metavar="URL", help="an http:// or socks5:// proxy")
    h2 = p.add_mutually_exclusive_group()
    h2.add_argument("--http2", action="store_true", help="offer HTTP/2 to https:// servers")
    h2.add_argument("--h2c", action="store_true", help="HTTP/2 with prior knowledge")
    p.add_argument("--max-redirects", type=int, default=10, metavar="N")
    p.add_argument("--no-follow", action="store_true", help="do not follow redirects")
    p.add_argument(
        "-k", "--insecure", action="store_true", help="do not verify the server's certificate"
    )
    p.add_argument(
        "--check-status",
        action="store_true",
        help="exit with 4 on a 4xx answer and 5 on a 5xx answer",
    )


def build_kwargs(args: argparse.Namespace, items: _items.Items) -> dict[str, Any]:
    """The ``session.request`` arguments from the command line."""
    kw: dict[str, Any] = {
        "headers": items.headers,
        "params": items.query or None,
        "proxy": args.proxy,
        "allow_redirects": not args.no_follow,
        "max_redirects": args.max_redirects,
    }
    names = {k.lower() for k, _ in items.headers}
    if args.upload:
        if items.data:
            raise _items.ItemError("--upload and data items cannot be combined")
        kw["data"] = None  # set by the caller, with its progress bar
    elif items.data and args.form:
        kw["data"] = _items.form_fields(items.data)
    elif items.data:
        kw["data"] = _items.json_body(items.data)
        if "content-type" not in names:
            items.headers.append(("Content-Type", "application/json"))
    if (args.json or items.data and not args.form) and "accept" not in names:
        items.headers.append(("Accept", "application/json, */*;q=0.5"))
    return kw


async def _file_chunks(path: str, total: int) -> AsyncIterator[bytes]:
    with transfer_bar(total, "upload") as bar, open(path, "rb") as f:
        sent = 0
        while chunk := f.read(CHUNK):
            sent += len(chunk)
            bar.update(sent)
            yield chunk


def _print_heads(out: IO[str], resp: aioxide.ClientResponse, body: Any) -> None:
    console = console_for(out)
    info = resp.request_info
    url = info.url
    target = url.raw_path_qs if hasattr(url, "raw_path_qs") else str(url)
    v = resp.version
    version = f"HTTP/{v.major}.{v.minor}" if v is not None else "HTTP/1.1"
    lines = [f"{info.method} {target} {version}"]
    lines += [f"{k}: {v}" for k, v in info.headers.items()]
    status = f"{version} {resp.status} {resp.reason or ''}".rstrip()
    answer = [f"{k.decode('latin-1')}: {v.decode('latin-1')}" for k, v in resp.raw_headers]
    request_body = body.decode("utf-8", "replace") if isinstance(body, bytes) else None
    if console is None:
        text = "\n".join(lines) + "\n\n"
        if request_body:
            text += request_body + "\n\n"
        out.write(text + status + "\n" + "".join(a + "\n" for a in answer) + "\n")
        out.flush()
        return
    colour = "green" if resp.status < 400 else "red"
    console.print(lines[0], style="bold cyan")
    for line in lines[1:]:
        console.print(line, style="cyan")
    console.print()
    if request_body:
        console.print(request_body)
        console.print()
    console.print(status, style=f"bold {colour}")
    for line in answer:
        console.print(line, style="blue")
    console.print()


async def _save(resp: aioxide.ClientResponse, path: str) -> None:
    with transfer_bar(resp.content_length, os.path.basename(path)) as bar, open(path, "wb") as f:
        got = 0
        async for chunk in resp.content.iter_chunked(CHUNK):
            f.write(chunk)
            got += len(chunk)
            bar.update(got)


async def _print_body(resp: aioxide.ClientResponse) -> None:
    data = await resp.read()
    console = console_for(sys.stdout)
    if console is not None and "json" in resp.content_type:
        try:
            console.print_json(data.decode(resp.charset or "utf-8"))
            return
        except ValueError:
            pass
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    if data and console is not None and not data.endswith(b"\n"):
        sys.stdout.buffer.write(b"\n")
    sys.stdout.buffer.flush()


async def run(args: argparse.Namespace) -> int:
    items = _items.parse_items(args.items)
    url = _items.normalise_url(args.url)
    kw = build_kwargs(args, items)
    if args.upload:
        size = os.path.getsize(args.upload)
        kw["data"] = _file_chunks(args.upload, size)
        if "content-length" not in {k.lower() for k, _ in items.headers}:
            items.headers.append(("Content-Length", str(size)))
    http2: bool | str = "prior_knowledge" if args.h2c else args.http2
    connector = aioxide.TCPConnector(http2=http2, ssl=not args.insecure)
    options: dict[str, Any] = {"connector": connector}
    if args.timeout is not None:
        options["timeout"] = aioxide.ClientTimeout(total=args.timeout)
    async with aioxide.ClientSession(**options) as session:
        async with session.request(args.method.upper(), url, **kw) as resp:
            if args.verbose:
                _print_heads(sys.stdout, resp, kw.get("data"))
            if args.output:
                await _save(resp, args.output)
            elif args.method != "head":
                await _print_body(resp)
            if args.check_status and resp.status >= 400:
                print(f"aioxide: HTTP {resp.status} {resp.reason or ''}", file=sys.stderr)
                return HTTP_5XX if resp.status >= 500 else HTTP_4XX
    return OK


def exit_code(exc: BaseException) -> int:
    """The exit code for a failed request, by the exception's class."""
    if isinstance(exc, asyncio.TimeoutError):  # ServerTimeoutError too
        return TIMEOUT
    if isinstance(exc, aioxide.TooManyRedirects):
        return TOO_MANY_REDIRECTS
    if isinstance(exc, aioxide.ClientConnectionError):
        return CONNECTION
    return ERROR
