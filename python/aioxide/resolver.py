"""Resolvers (``aiohttp.resolver``).

By default names are resolved in the engine (getaddrinfo in its blocking
pool, with the connector's DNS cache): ``ThreadedResolver`` and
``DefaultResolver`` given to a TCPConnector select that same path.  Any other
AbstractResolver (AsyncResolver, or a user's subclass) is called on the event
loop by the engine for each name it needs.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from .abc import AbstractResolver, ResolveResult

__all__ = ("AsyncResolver", "DefaultResolver", "ThreadedResolver")

_NUMERIC_SOCKET_FLAGS = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
_NAME_SOCKET_FLAGS = socket.NI_NUMERICHOST | socket.NI_NUMERICSERV
_AI_ADDRCONFIG = socket.AI_ADDRCONFIG


def _results(host: str, infos: Any) -> list[ResolveResult]:
    hosts: list[ResolveResult] = []
    for family, _, proto, _, address in infos:
        if family == socket.AF_INET6 and len(address) < 3:
            continue
        hosts.append(
            ResolveResult(
                hostname=host,
                host=address[0],
                port=address[1],
                family=family,
                proto=proto,
                flags=_NUMERIC_SOCKET_FLAGS,
            )
        )
    return hosts


class ThreadedResolver(AbstractResolver):
    """getaddrinfo() in the loop's executor (aiohttp's ThreadedResolver)."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        infos = await self._loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, family=family, flags=_AI_ADDRCONFIG
        )
        return _results(host, infos)

    async def close(self) -> None:
        pass


try:
    import aiodns  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the environment
    aiodns = None


class AsyncResolver(AbstractResolver):
    """Asynchronous lookups with the ``aiodns`` package (when installed)."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop | None = None, *args: Any, **kwargs: Any
    ) -> None:
        if aiodns is None:
            raise RuntimeError("Resolver requires aiodns library")
        self._loop = loop or asyncio.get_running_loop()
        self._resolver = aiodns.DNSResolver(*args, **kwargs)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            resp = await self._resolver.getaddrinfo(
                host, port=port, type=socket.SOCK_STREAM, family=family, flags=_AI_ADDRCONFIG
            )
        except aiodns.error.DNSError as exc:
            msg = exc.args[1] if len(exc.args) >= 1 else "DNS lookup failed"
            raise OSError(None, msg) from exc
        hosts: list[ResolveResult] = []
        for node in resp.nodes:
            address: Any = node.addr
            ip = address[0]
            hosts.append(
                ResolveResult(
                    hostname=host,
                    host=ip.decode("ascii") if isinstance(ip, bytes) else ip,
                    port=address[1],
                    family=node.family,
                    proto=0,
                    flags=_NUMERIC_SOCKET_FLAGS,
                )
            )
        if not hosts:
            raise OSError(None, "DNS lookup failed")
        return hosts

    async def close(self) -> None:
        self._resolver.cancel()


DefaultResolver = ThreadedResolver


# -- the engine's calls into Python ---------------------------------------------------

_tasks: set[asyncio.Task[None]] = set()


def _start_resolve(resolver: Any, host: str, port: int, family: int, token: Any) -> None:
    """Run ``resolver.resolve`` for the engine; the answer goes to ``token``."""

    async def run() -> None:
        try:
            infos = await resolver.resolve(host, port, socket.AddressFamily(family))
            addrs = [(str(i["host"]), _port(i["port"]) or port) for i in infos]
        except asyncio.CancelledError:
            token.fail("resolution cancelled")
            raise
        except OSError as e:
            token.fail(str(e.strerror or e), e.errno if isinstance(e.errno, int) else None)
        except BaseException as e:  # noqa: BLE001 - raised by the request, as aiohttp
            token.fail(repr(e), None, e)
        else:
            token.set(addrs)

    task = asyncio.get_running_loop().create_task(run())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def _port(value: Any) -> int:
    """A port a resolver returned: aiohttp's connect() refuses one out of range."""
    port = int(value)
    if not 0 <= port <= 65535:
        raise OverflowError("connect(): port must be 0-65535.")
    return port


def _make_socket(factory: Any, family: int, ip: str, port: int, token: Any) -> None:
    """Call ``socket_factory`` for the engine; the descriptor goes to ``token``."""
    sockaddr: tuple[Any, ...] = (ip, port) if family == socket.AF_INET else (ip, port, 0, 0)
    addr_info = (socket.AddressFamily(family), socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)
    try:
        sock = factory(addr_info)
    except OSError as e:
        token.fail(str(e), e.errno if isinstance(e.errno, int) else None)
        return
    except BaseException as e:  # noqa: BLE001 - raised by the request, as aiohttp
        token.fail(repr(e), None, e)
        return
    token.set(sock.detach())
