"""Connectors (``aiohttp.connector``): the pool lives in the engine; these
classes carry aiohttp's parameters to it."""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import warnings
import weakref
from typing import Any, Callable, NamedTuple

from . import _interop
from ._aioxide import Session as _EngineSession
from ._bridge import bridge_for
from ._events import EventLog
from ._tls import connector_ssl_from_args
from .helpers import _SENTINEL, sentinel
from .http import SERVER_SOFTWARE
from .resolver import ThreadedResolver, _make_socket, _start_resolve

__all__ = (
    "AddrInfoType",
    "BaseConnector",
    "Connection",
    "ConnectionKey",
    "NamedPipeConnector",
    "SocketFactoryType",
    "TCPConnector",
    "UnixConnector",
)

#: What socket_factory is called with: (family, type, proto, canonname, sockaddr).
AddrInfoType = tuple[int, int, int, str, "tuple[str, int] | tuple[str, int, int, int]"]
SocketFactoryType = Callable[[AddrInfoType], socket.socket]


class ConnectionKey(NamedTuple):
    host: str
    port: int | None
    is_ssl: bool
    ssl: Any
    proxy: Any
    proxy_auth: Any
    proxy_headers_hash: int | None
    server_hostname: str | None = None


def _not_supported(name: str) -> NotImplementedError:
    return NotImplementedError(f"aioxide does not support {name} yet; see docs/COMPATIBILITY.md")


class BaseConnector:
    """Connection pool settings (aiohttp's BaseConnector)."""

    allowed_protocol_schema_set: frozenset[str] = frozenset({"", "http", "https"})

    def __init__(
        self,
        *,
        keepalive_timeout: float | None | _SENTINEL = sentinel,
        force_close: bool = False,
        limit: int = 100,
        limit_per_host: int = 0,
        enable_cleanup_closed: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
        timeout_ceil_threshold: float = 5,
        _engine_options: dict[str, Any] | None = None,
    ) -> None:
        if force_close:
            if keepalive_timeout is not None and keepalive_timeout is not sentinel:
                raise ValueError("keepalive_timeout cannot be set if force_close is True")
            keepalive_timeout = None
        elif keepalive_timeout is sentinel:
            keepalive_timeout = 15.0
        self._loop = loop or asyncio.get_running_loop()
        self._keepalive_timeout = keepalive_timeout
        self._force_close = force_close
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._cleanup_closed_disabled = not enable_cleanup_closed
        self._timeout_ceil_threshold = timeout_ceil_threshold
        self._closed = False
        # Open WebSockets: closing the connector closes them, as aiohttp's
        # closes their transports.
        self._websockets: weakref.WeakSet[Any] = weakref.WeakSet()
        self._engine = _EngineSession(
            limit=limit,
            limit_per_host=limit_per_host,
            force_close=force_close,
            keepalive_timeout=keepalive_timeout,
            user_agent=SERVER_SOFTWARE,
            **(_engine_options or {}),
        )
        # The engine's connection events: on when aioxide.client logs DEBUG now.
        self._event_log = EventLog(self._engine, self._loop)

    # The connector's ssl= (True, False, an SSLContext or a Fingerprint).
    _ssl: Any = True
    # aioxide.testing: ``await answer(req, payload, hop)`` answers a hop in
    # Python (an engine-like response, or None: the engine sends it).
    _testing_answer: Any = None

    @property
    def closed(self) -> bool:
        """Is the connector closed."""
        return self._closed

    @property
    def force_close(self) -> bool:
        """Ultimately close connection on releasing if True."""
        return self._force_close

    @property
    def limit(self) -> int:
        """The total number of simultaneous connections (0: no limit)."""
        return self._limit

    @property
    def limit_per_host(self) -> int:
        """The limit for simultaneous connections to the same endpoint (0: no limit)."""
        return self._limit_per_host

    def log_connection_events(self, enabled: bool = True) -> None:
        """aioxide's addition: log the engine's connection events (opened,
        reused, closed, retried) at DEBUG on the ``aioxide.client`` logger,
        or stop.  A connector turns them on by itself when it is created
        while that logger is enabled for DEBUG; this is for later."""
        if self._closed:
            return
        if enabled:
            self._event_log.enable()
        else:
            self._event_log.disable()

    async def close(self, *, abort_ssl: bool = False) -> None:
        """Close all opened transports."""
        self._close()

    async def connect(self, req: Any, traces: Any = None, timeout: Any = None) -> "Connection":
        """aiohttp hands out a raw connection here; aioxide's connections live
        in the engine and carry requests only."""
        raise NotImplementedError(
            "aioxide's connections live in its engine: BaseConnector.connect() does not "
            "hand one out; see docs/COMPATIBILITY.md"
        )

    def _connect_error(self, e: Exception) -> Exception:
        """The exception a failed connection raises for this connector."""
        return e

    _hooks_bridge: Any = None

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            for ws in list(self._websockets):
                ws._close_response()
            self._engine.close()
            # (After the close: its "connector closed" events are queued first.)
            self._event_log.disable()
            if self._hooks_bridge is not None:
                self._hooks_bridge.release()
                self._hooks_bridge = None

    def __del__(self) -> None:
        # (No engine when __init__ raised before making it.)
        if not getattr(self, "_closed", True) and hasattr(self, "_engine"):
            self._engine.close()

    async def __aenter__(self) -> "BaseConnector":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def _http2_mode(value: bool | str) -> str:
    """The engine's name for TCPConnector's ``http2=``."""
    if value is False:
        return "off"
    if value is True:
        return "alpn"
    if value == "prior_knowledge":
        return "prior_knowledge"
    raise ValueError(f'http2 must be False, True or "prior_knowledge", not {value!r}')


class TCPConnector(BaseConnector):
    """TCP connector (aiohttp's TCPConnector)."""

    def __init__(
        self,
        *,
        verify_ssl: bool = True,
        fingerprint: bytes | None = None,
        use_dns_cache: bool = True,
        ttl_dns_cache: int | None = 10,
        dns_cache_max_size: int = 1000,
        family: socket.AddressFamily = socket.AddressFamily.AF_UNSPEC,
        ssl_context: Any = None,
        ssl: Any = True,
        local_addr: tuple[str, int] | None = None,
        resolver: Any = None,
        keepalive_timeout: None | float | _SENTINEL = sentinel,
        force_close: bool = False,
        limit: int = 100,
        limit_per_host: int = 0,
        enable_cleanup_closed: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
        timeout_ceil_threshold: float = 5,
        happy_eyeballs_delay: float | None = 0.25,
        interleave: int | None = None,
        socket_factory: Any = None,
        ssl_shutdown_timeout: Any = sentinel,
        http2: bool | str = False,
        http2_ping_interval: float | None = None,
        http2_ping_timeout: float = 20.0,
    ) -> None:
        """aioxide's addition: ``http2`` (default False, aiohttp's behaviour).

        ``http2=True`` offers h2 and http/1.1 by ALPN to https:// origins and
        uses what the server picks; ``http2="prior_knowledge"`` also speaks
        HTTP/2 without TLS (h2c) to http:// origins.  Requests to one origin
        share one HTTP/2 connection, up to the server's concurrent stream limit.

        ``http2_ping_interval`` (seconds; default None: off): an HTTP/2
        connection that has had no frame from the server for that long (busy
        or idle) sends a PING; one not answered within ``http2_ping_timeout``
        seconds closes the connection, and its requests fail with
        ServerDisconnectedError (ClientPayloadError in a body). After the
        server's GOAWAY, ``http2_ping_timeout`` seconds without a byte from
        it end the streams still waiting there the same way.
        """
        http2_mode = _http2_mode(http2)
        self._ssl = connector_ssl_from_args(
            verify_ssl, fingerprint, ssl_context, _interop.ssl_value(ssl)
        )
        if ssl_shutdown_timeout is not sentinel:
            warnings.warn(
                "The ssl_shutdown_timeout parameter is deprecated "
                "and will be removed in aiohttp 4.0",
                DeprecationWarning,
                stacklevel=2,
            )
        if family not in (socket.AF_UNSPEC, socket.AF_INET, socket.AF_INET6):
            raise ValueError(f"family must be AF_UNSPEC, AF_INET or AF_INET6, not {family!r}")
        hooks: dict[str, Any] = {}
        if resolver is not None and type(resolver) is not ThreadedResolver:
            hooks["resolver"] = functools.partial(_start_resolve, resolver)
        if socket_factory is not None:
            hooks["socket_factory"] = functools.partial(_make_socket, socket_factory)
        lb = None
        if hooks:
            # The engine calls these on this loop: keep its bridge open.
            lb = bridge_for(loop or asyncio.get_running_loop())
            lb.acquire()
            hooks["bridge"] = lb.bridge
        try:
            super().__init__(
                keepalive_timeout=keepalive_timeout,
                force_close=force_close,
                limit=limit,
                limit_per_host=limit_per_host,
                enable_cleanup_closed=enable_cleanup_closed,
                loop=loop,
                timeout_ceil_threshold=timeout_ceil_threshold,
                _engine_options={
                    "family": int(family),
                    "local_addr": None
                    if local_addr is None
                    else (local_addr[0], int(local_addr[1])),
                    "happy_eyeballs_delay": happy_eyeballs_delay,
                    "interleave": interleave,
                    "use_dns_cache": use_dns_cache,
                    "ttl_dns_cache": ttl_dns_cache,
                    "dns_cache_max_size": dns_cache_max_size,
                    "http2": http2_mode,
                    "http2_ping_interval": http2_ping_interval,
                    "http2_ping_timeout": http2_ping_timeout,
                    **hooks,
                },
            )
        except BaseException:
            # The engine refused an option: the bridge is not kept open.
            if lb is not None:
                lb.release()
            raise
        self._hooks_bridge = lb
        self._resolver = resolver
        self._socket_factory = socket_factory
        self._local_addr = local_addr
        self._use_dns_cache = use_dns_cache
        self._ttl_dns_cache = ttl_dns_cache
        self._family = family
        self._happy_eyeballs_delay = happy_eyeballs_delay
        self._interleave = interleave
        self._http2 = http2

    @property
    def family(self) -> int:
        """Socket family like AF_INET."""
        return self._family

    @property
    def use_dns_cache(self) -> bool:
        """True if local DNS caching is enabled."""
        return self._use_dns_cache

    def clear_dns_cache(self, host: str | None = None, port: int | None = None) -> None:
        """Remove specified host/port or clear all dns local cache."""
        if host is not None and port is not None:
            self._engine.clear_dns_cache(host, port)
        elif host is not None or port is not None:
            raise ValueError("either both host and port or none of them are allowed")
        else:
            self._engine.clear_dns_cache()

    @property
    def dns_cache(self) -> bool:
        """True if local DNS caching is enabled (older name of use_dns_cache)."""
        return self._use_dns_cache

    @property
    def cached_hosts(self) -> dict[tuple[str, int], list[dict[str, Any]]]:
        """The DNS cache now: {(host, port): [ResolveResult, ...]} (a snapshot)."""
        out: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for (host, port), ips in self._engine.cached_hosts():
            out[(host, port)] = [
                {
                    "hostname": host,
                    "host": ip,
                    "port": port,
                    "family": socket.AF_INET6 if ":" in ip else socket.AF_INET,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
                for ip in ips
            ]
        return out

    @property
    def _cached_hosts_snapshot(self) -> dict[tuple[str, int], list[str]]:
        """The DNS cache as {(host, port): [ip, ...]} (for tests and debugging)."""
        return {k: v for k, v in self._engine.cached_hosts()}


class UnixConnector(BaseConnector):
    """Every request goes to one Unix domain socket (aiohttp's UnixConnector)."""

    allowed_protocol_schema_set: frozenset[str] = frozenset({"", "http", "https", "unix"})

    def __init__(
        self,
        path: str,
        force_close: bool = False,
        keepalive_timeout: float | None | _SENTINEL = sentinel,
        limit: int = 100,
        limit_per_host: int = 0,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(
            force_close=force_close,
            keepalive_timeout=keepalive_timeout,
            limit=limit,
            limit_per_host=limit_per_host,
            loop=loop,
            _engine_options={"unix_path": os.fspath(path)},
        )
        self._path = path

    @property
    def path(self) -> str:
        """Path to unix socket."""
        return self._path

    def _connect_error(self, e: Exception) -> Exception:
        from .client_exceptions import ClientConnectorError, UnixClientConnectorError

        if isinstance(e, ClientConnectorError) and not isinstance(e, UnixClientConnectorError):
            err = UnixClientConnectorError(self._path, e._conn_key, e._os_error)
            err.__cause__ = e.__cause__
            return err
        return e


class NamedPipeConnector(BaseConnector):
    """aiohttp's Windows named-pipe connector: only the proactor event loop
    has named pipes, which aioxide's engine does not use, so creating one
    raises aiohttp's RuntimeError for any other loop."""

    allowed_protocol_schema_set: frozenset[str] = frozenset({"", "http", "https", "npipe"})
    _path: str

    def __init__(
        self,
        path: str,
        force_close: bool = False,
        keepalive_timeout: float | None | _SENTINEL = sentinel,
        limit: int = 100,
        limit_per_host: int = 0,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        raise RuntimeError("Named Pipes only available in proactor loop under windows")

    @property
    def path(self) -> str:
        """Path to the named pipe."""
        return self._path


_DEFAULT_CONTEXTS: dict[bool, Any] = {}


def _default_context(verified: bool) -> Any:
    """aioxide's stand-in for the SSLContext a connection was made with when
    the user gave none (``ssl=True``: a default verifying context; ``False``
    or a Fingerprint: one that does not verify), made once."""
    import ssl

    ctx = _DEFAULT_CONTEXTS.get(verified)
    if ctx is None:
        if verified:
            ctx = ssl.create_default_context()
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        _DEFAULT_CONTEXTS[verified] = ctx
    return ctx


def _decode_cert(der: bytes) -> dict[str, Any]:
    """The dict ``ssl.SSLSocket.getpeercert()`` gives for a DER certificate:
    CPython's own decoder (``_ssl._test_decode_cert``, on a temporary PEM
    file), else what the ``cryptography`` package reads (subject, issuer,
    validity, serial number, subjectAltName), else {}."""
    import ssl

    decode = getattr(ssl._ssl, "_test_decode_cert", None)  # type: ignore[attr-defined]
    if decode is not None:
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as f:
            f.write(ssl.DER_cert_to_PEM_cert(der))
        try:
            return dict(decode(f.name))
        except (ssl.SSLError, OSError, ValueError):
            return {}
        finally:
            os.unlink(f.name)
    try:
        return _decode_cert_cryptography(der)
    except Exception:  # noqa: BLE001 - no cryptography, or a certificate it cannot read
        return {}


def _decode_cert_cryptography(der: bytes) -> dict[str, Any]:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    names = {
        NameOID.COMMON_NAME: "commonName",
        NameOID.COUNTRY_NAME: "countryName",
        NameOID.LOCALITY_NAME: "localityName",
        NameOID.STATE_OR_PROVINCE_NAME: "stateOrProvinceName",
        NameOID.ORGANIZATION_NAME: "organizationName",
        NameOID.ORGANIZATIONAL_UNIT_NAME: "organizationalUnitName",
        NameOID.EMAIL_ADDRESS: "emailAddress",
    }

    def name(n: Any) -> tuple[Any, ...]:
        return tuple(
            tuple((names.get(a.oid, a.oid.dotted_string), a.value) for a in rdn) for rdn in n.rdns
        )

    def when(d: Any) -> str:
        text: str = d.strftime("%b %e %H:%M:%S %Y GMT")
        return text

    cert = x509.load_der_x509_certificate(der)
    out: dict[str, Any] = {
        "subject": name(cert.subject),
        "issuer": name(cert.issuer),
        "version": cert.version.value + 1,
        "serialNumber": "%02X" % cert.serial_number,
        "notBefore": when(cert.not_valid_before_utc),
        "notAfter": when(cert.not_valid_after_utc),
    }
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return out
    alt: list[tuple[str, str]] = []
    for g in san:
        if isinstance(g, x509.DNSName):
            alt.append(("DNS", g.value))
        elif isinstance(g, x509.IPAddress):
            alt.append(("IP Address", str(g.value).upper()))
        elif isinstance(g, x509.RFC822Name):
            alt.append(("email", g.value))
        elif isinstance(g, x509.UniformResourceIdentifier):
            alt.append(("URI", g.value))
    out["subjectAltName"] = tuple(alt)
    return out


class _EngineSocket:
    """What ``get_extra_info("socket")`` gives: the engine owns the real
    socket, so this stand-in only answers for its addresses
    (``fileno()`` is -1)."""

    __slots__ = ("family", "type", "proto", "_peer", "_local")

    def __init__(self, family: int, peer: Any, local: Any) -> None:
        self.family = family
        self.type = socket.SOCK_STREAM
        self.proto = 0 if family == socket.AF_UNIX else socket.IPPROTO_TCP
        self._peer = peer
        self._local = local

    def getpeername(self) -> Any:
        return self._peer

    def getsockname(self) -> Any:
        return self._local

    def fileno(self) -> int:
        return -1

    def __repr__(self) -> str:
        return (
            f"<aioxide._EngineSocket fd=-1, family={int(self.family)}, type={int(self.type)}, "
            f"proto={self.proto}, laddr={self._local!r}, raddr={self._peer!r}>"
        )


class _EngineProtocol:
    """``Connection.protocol`` while the connection is held: the engine
    speaks HTTP/1.1 itself, so there is no asyncio protocol behind it."""

    __slots__ = ("_connection",)

    def __init__(self, connection: "Connection") -> None:
        self._connection = connection

    @property
    def transport(self) -> "_EngineTransport | None":
        return self._connection.transport

    @property
    def connected(self) -> bool:
        return not self._connection.closed

    @property
    def upgraded(self) -> bool:
        return False

    def is_connected(self) -> bool:
        return self.connected


class _EngineTransport:
    """``Connection.transport``: asyncio's ``get_extra_info()`` for the
    engine's connection (peername, sockname, socket; sslcontext, peercert,
    cipher, compression over TLS; ssl_object is None: the TLS is rustls)."""

    __slots__ = ("_connection", "_extra")

    def __init__(self, connection: "Connection") -> None:
        self._connection = connection
        self._extra: dict[str, Any] | None = None

    def _info(self) -> dict[str, Any]:
        extra = self._extra
        if extra is None:
            extra = self._extra = self._connection._extra_info()
        return extra

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        extra = self._info()
        if name == "peercert" and "peercert" in extra:
            # Decoded when first asked for (as ssl decodes it per call).
            value = extra["peercert"]
            if isinstance(value, bytes):
                value = extra["peercert"] = _decode_cert(value)
            return value
        return extra.get(name, default)

    def is_closing(self) -> bool:
        return self._connection.closed

    def is_reading(self) -> bool:
        return not self._connection.closed

    def __repr__(self) -> str:
        return f"<aioxide._EngineTransport {self._connection!r}>"


def _no_response() -> None:
    return None


class Connection:
    """The connection behind a response (aiohttp's Connection).

    The socket lives in the engine: while the response holds it,
    ``transport`` answers ``get_extra_info()`` from what the engine read when
    the connection was made, and ``protocol`` is a placeholder; both are None
    once it is released or closed, as in aiohttp.  ``release()`` and
    ``close()`` act on the response that holds it.
    """

    def __init__(self, connector: BaseConnector, key: Any, response: Any) -> None:
        self._connector = connector
        self._key = key
        # (Weakly: the response caches this connection, and the cycle would
        # keep both, with the engine's objects, until a collection.)
        self._response_ref: Callable[[], Any] = weakref.ref(response)
        self._loop = connector._loop
        self._callbacks: list[Any] = []

    def __repr__(self) -> str:
        return f"Connection<{self._key}>"

    @property
    def _response(self) -> Any:
        return self._response_ref()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        warnings.warn("connector.loop property is deprecated", DeprecationWarning, stacklevel=2)
        return self._loop

    @property
    def transport(self) -> _EngineTransport | None:
        if self.closed:
            return None
        t = self.__dict__.get("_transport")
        if t is None:
            t = self.__dict__["_transport"] = _EngineTransport(self)
        return t

    @property
    def protocol(self) -> _EngineProtocol | None:
        if self.closed:
            return None
        p = self.__dict__.get("_protocol")
        if p is None:
            p = self.__dict__["_protocol"] = _EngineProtocol(self)
        return p

    def _extra_info(self) -> dict[str, Any]:
        """``get_extra_info()``'s answers, from the engine's ConnMeta."""
        r = self._response
        head = getattr(r, "_head", None)
        info = head.conn_info() if head is not None else None
        extra: dict[str, Any] = {}
        path = getattr(self._connector, "_path", None)
        if isinstance(self._connector, UnixConnector) and path is not None:
            # As an AF_UNIX client socket: the server's path, no own name.
            peer, local = os.fspath(path), ""
            extra["socket"] = _EngineSocket(socket.AF_UNIX, peer, local)
            extra["peername"], extra["sockname"] = peer, local
            return extra
        if info is None:
            return extra
        peer, local, tls = info
        if peer is not None:
            extra["peername"] = peer
        if local is not None:
            extra["sockname"] = local
        addr = peer if peer is not None else local
        if addr is not None:
            family = socket.AF_INET6 if len(addr) == 4 else socket.AF_INET
            extra["socket"] = _EngineSocket(family, peer, local)
        if tls is not None:
            cipher, version, bits, verified, certs = tls
            # (The request's own context, where the response kept it.)
            ssl_value = getattr(r, "_ssl_context", None) or self._connector._ssl
            import ssl

            if isinstance(ssl_value, ssl.SSLContext):
                extra["sslcontext"] = ssl_value
            else:
                extra["sslcontext"] = _default_context(verified)
            extra["ssl_object"] = None
            extra["cipher"] = (cipher, version, bits)
            extra["compression"] = None
            # ssl gives a verified peer's certificate only (else {}).
            extra["peercert"] = certs[0] if verified and certs else {}
        return extra

    @property
    def closed(self) -> bool:
        """Whether the connection was released or closed."""
        r = self._response
        return r is None or r._released or r._closed

    def add_callback(self, callback: Any) -> None:
        """Call callback() once the connection is released or closed."""
        if callback is not None:
            self._callbacks.append(callback)

    def _notify(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            try:
                cb()
            except Exception:  # noqa: BLE001 - as aiohttp: callbacks must not break release
                pass

    def close(self) -> None:
        """Close the connection (and the response that holds it)."""
        r, self._response_ref = self._response, _no_response
        if r is not None:
            r.close()
        self._notify()

    def release(self) -> None:
        """Release the connection (and the response that holds it)."""
        r, self._response_ref = self._response, _no_response
        if r is not None:
            r.release()
        self._notify()


class ProxyConnector(TCPConnector):
    """aiohttp-socks' ``ProxyConnector`` as a drop-in: every request of a
    session using this connector goes through its proxy (socks4, socks4a,
    socks5, socks5h, http or https URL; ``rdns=True`` makes socks5 socks5h),
    unless a request names a proxy of its own.  ``from aiohttp_socks import
    ProxyConnector`` becomes ``from aioxide import ProxyConnector``."""

    def __init__(self, *, proxy_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._proxy_url = proxy_url

    @classmethod
    def from_url(cls, url: str, *, rdns: bool | None = None, **kwargs: Any) -> "ProxyConnector":
        """A connector for the proxy at url; rdns=True lets a SOCKS proxy resolve names."""
        if rdns and url.startswith("socks5://"):
            url = "socks5h://" + url[len("socks5://") :]
        elif rdns and url.startswith("socks4://"):
            url = "socks4a://" + url[len("socks4://") :]
        return cls(proxy_url=url, **kwargs)

    @property
    def proxy_url(self) -> str:
        """The proxy's URL."""
        return self._proxy_url
