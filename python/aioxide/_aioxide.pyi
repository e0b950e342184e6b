"""Types of the engine extension (crates/aioxide-py)."""

from asyncio import Future
from typing import Any, Callable, Sequence, final

__all__ = [
    "Bridge",
    "Session",
    "Options",
    "Response",
    "Head",
    "BodyWriter",
    "BodyReader",
    "ResolveToken",
    "SocketToken",
    "RewindToken",
    "TlsConfig",
    "CookieStore",
    "WebSocket",
    "ws_request",
    "ws_check",
    "body_channel",
    "redirect_step",
    "is_redirect",
    "ACCEPT_ENCODING",
    "DEFAULT_ACCEPT",
    "hop_auth",
    "live_tasks",
    "json_loads",
    "events_posted",
    "LoadGen",
    "__version__",
]

__version__: str

@final
class Bridge:
    """One event loop's link to the engine (see aioxide._bridge)."""

    def __init__(self) -> None: ...
    @property
    def fd(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def drain(self) -> None: ...
    def abort(self, id: int) -> None: ...
    def ping(self, fut: Future[Any]) -> int: ...
    def pending_count(self) -> int: ...
    def outstanding(self) -> int: ...
    def queued(self) -> int: ...
    def wakeups(self) -> int: ...
    def close(self) -> None: ...

@final
class Head:
    """A response's status line and headers, and the request behind it."""

    @property
    def status(self) -> int: ...
    @property
    def reason(self) -> str: ...
    @property
    def version(self) -> tuple[int, int]: ...
    @property
    def url(self) -> str: ...
    def headers(self) -> list[tuple[str, str]]: ...
    def header(self, name: str) -> str | None: ...
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]: ...
    @property
    def request_method(self) -> str: ...
    @property
    def request_url(self) -> str: ...
    def request_headers(self) -> list[tuple[str, str]]: ...
    def conn_info(
        self,
    ) -> tuple[Any, Any, tuple[str, str, int, bool, tuple[bytes, ...]] | None] | None: ...

@final
class Response:
    """An engine response: head, history and the body still to read."""

    @property
    def head(self) -> Head: ...
    @property
    def body(self) -> bytes | None: ...
    def history(self) -> list[Head]: ...
    def read_all(self, bridge: Bridge, fut: Future[Any]) -> int: ...
    def chunk(self, bridge: Bridge, fut: Future[Any], max: int) -> int: ...
    def take_ready(self) -> tuple[bytes, bool]: ...
    def at_eof(self) -> bool: ...
    def raw_bytes(self) -> int: ...
    def chunk_ends(self, upto: int) -> list[int]: ...
    @property
    def chunked(self) -> bool: ...
    def websocket(
        self,
        max_msg_size: int,
        deflate: tuple[int, bool, int, bool] | None = None,
        direct: bool = False,
    ) -> WebSocket: ...
    def close(self) -> None: ...

@final
class Options:
    """A request's options (all but method, URL, headers and body): built
    once per session, derived per request with ``replace``."""

    def __new__(cls, **kw: Any) -> Options: ...
    def replace(self, **kw: Any) -> Options: ...
    @property
    def total(self) -> float | None: ...

@final
class Session:
    """A connector's engine: the connection pool and its settings."""

    def __new__(
        cls,
        *,
        limit: int = 100,
        limit_per_host: int = 0,
        force_close: bool = False,
        keepalive_timeout: float | None = ...,
        user_agent: str | None = None,
        max_headers: int = 128,
        family: int = 0,
        local_addr: tuple[str, int] | None = None,
        happy_eyeballs_delay: float | None = ...,
        interleave: int | None = None,
        use_dns_cache: bool = True,
        ttl_dns_cache: float | None = ...,
        dns_cache_max_size: int = 1000,
        bridge: Bridge | None = None,
        resolver: Callable[..., None] | None = None,
        socket_factory: Callable[..., None] | None = None,
        unix_path: str | None = None,
        # HTTP/2: "off" (aiohttp's behaviour), "alpn" (https:// origins
        # offered h2 and http/1.1 by ALPN), "prior_knowledge" (also h2c to
        # http:// origins).  TCPConnector(http2=False|True|"prior_knowledge").
        http2: str = "off",
    ) -> Session: ...
    def request(
        self,
        bridge: Bridge,
        fut: Future[Any],
        options: Options,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes | None = None,
        content_type: str | None = None,
        body_stream: BodyReader | None = None,
        body_rewind: Callable[..., None] | None = None,
        on_send: Callable[..., None] | None = None,
        total: float | None = None,
    ) -> int: ...
    def clear_dns_cache(self, host: str | None = None, port: int | None = None) -> None: ...
    def cached_hosts(self) -> list[tuple[tuple[str, int], list[str]]]: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def idle_count(self) -> int: ...
    def lease_count(self) -> int: ...
    def shared_count(self) -> int: ...
    # Connection events to hook(kind, message) on the bridge's loop
    # (kind: "open", "reuse", "close", "retry"); both None: off.
    def log_events(
        self, bridge: Bridge | None = None, hook: Callable[[str, str], None] | None = None
    ) -> None: ...
    @property
    def logs_events(self) -> bool: ...

def events_posted() -> int: ...

@final
class BodyWriter:
    """The feeding end of a streamed request body."""

    def try_send(self, data: bytes) -> bool: ...
    def send(self, bridge: Bridge, fut: Future[Any], data: bytes) -> int: ...
    def close(self) -> None: ...
    def abort(self, reason: str) -> None: ...

@final
class BodyReader:
    """The end of a streamed request body that a request takes."""

def body_channel(capacity: int, length: int | None = None) -> tuple[BodyWriter, BodyReader]: ...

@final
class ResolveToken:
    """Completes one resolution the engine asked Python for."""

    def set(self, addrs: list[tuple[str, int]]) -> None: ...
    def fail(self, message: str, errno: int | None = None) -> None: ...

@final
class SocketToken:
    """Completes one socket_factory call the engine asked Python for."""

    def set(self, fd: int) -> None: ...
    def fail(self, message: str, errno: int | None = None) -> None: ...

def redirect_step(
    status: int, method: str, url: str, location: str, requote: bool = True
) -> tuple[str, bool, str, bool, list[str]]: ...
def is_redirect(status: int) -> bool: ...

ACCEPT_ENCODING: str
DEFAULT_ACCEPT: str

@final
class CookieStore:
    """The engine's RFC 6265 cookie jar (behind aioxide.cookiejar.CookieJar).

    Items are (name, value, coded_value, Morsel attributes, host_only).
    """

    def __new__(
        cls,
        *,
        unsafe_: bool = False,
        quote_cookie: bool = True,
        treat_as_secure_origin: list[tuple[str, str, int]] = ...,
    ) -> CookieStore: ...
    @property
    def unsafe_(self) -> bool: ...
    @property
    def quote_cookie(self) -> bool: ...
    def empty_copy(self) -> CookieStore: ...
    def update_from_headers(self, url: str, set_cookie: list[str]) -> int: ...
    def insert(
        self,
        origin_url: str | None,
        name: str,
        value: str,
        *,
        domain: str | None = None,
        path: str | None = None,
        expires: str | None = None,
        max_age: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        partitioned: bool = False,
        samesite: str | None = None,
        comment: str | None = None,
        version: str | None = None,
    ) -> bool: ...
    def filter(self, url: str) -> list[tuple[str, str, str]]: ...
    def matching(self, url: str) -> list[tuple[str, str, str, dict[str, Any], bool]]: ...
    def cookie_header(self, url: str) -> str | None: ...
    def items(self) -> list[tuple[str, str, str, dict[str, Any], bool]]: ...
    def __len__(self) -> int: ...
    def clear_where(self, keys: list[tuple[str, str, str]]) -> int: ...
    def clear_all(self) -> None: ...
    def clear_domain(self, domain: str) -> int: ...
    def clear_expired(self) -> int: ...
    def to_json(self) -> str: ...
    def load_json(self, json: str) -> None: ...
    def take_from(self, other: CookieStore) -> None: ...

@final
class TlsConfig:
    """An engine TLS configuration (an SSLContext's or a Fingerprint's), built once."""

    def __new__(
        cls,
        *,
        verify: bool = True,
        check_hostname: bool = True,
        system_roots: bool = True,
        ca_ders: Sequence[bytes] | None = None,
        client_cert: bytes | None = None,
        client_key: bytes | None = None,
        client_origin: str | None = None,
        client_key_password: bool = False,
        fingerprint: bytes | None = None,
        min_version: int | None = None,
        max_version: int | None = None,
        cipher_suites: Sequence[int] | None = None,
        keylog_filename: str | None = None,
        resumption: bool = True,
    ) -> TlsConfig: ...
    @property
    def id(self) -> int: ...
    @property
    def fingerprint(self) -> bytes | None: ...
    @property
    def verify(self) -> bool: ...
    @property
    def check_hostname(self) -> bool: ...

@final
class RewindToken:
    """Completes one request-body rewind the engine asked Python for."""

    def set(self, reader: BodyReader | None = None) -> None: ...

def hop_auth(
    auth: str | None,
    url_auth: str | None,
    redirected: bool,
    default: str | None,
    default_in_scope: bool,
    has_header: bool,
) -> str | None: ...

@final
class WebSocket:
    """An open WebSocket: the engine's codec over a 101 answer's connection."""

    def recv(self, bridge: Bridge, fut: Future[Any]) -> int: ...
    def send(
        self,
        bridge: Bridge,
        fut: Future[Any],
        opcode: int,
        data: bytes,
        compress: int | None = None,
    ) -> int: ...
    def close(self, bridge: Bridge, fut: Future[Any], code: int, message: str) -> int: ...
    def received(self) -> int: ...
    def take_now(self) -> list[Any] | None: ...
    def send_now(self, opcode: int, data: Any, compress: int | None = None) -> bool | None: ...
    def flush(self, bridge: Bridge, fut: Future[Any]) -> int: ...
    def start(self, bridge: Bridge) -> None: ...
    def abort(self, bridge: Bridge) -> None: ...
    def fileno(self) -> int | None: ...
    def read_now(self) -> list[Any] | None: ...
    def write_pending(self) -> bool: ...
    def close_now(self, code: int, message: str) -> bool: ...

def ws_request(
    protocols: list[str], compress: int, origin: str | None = None
) -> tuple[str, list[tuple[str, str]]]: ...
def ws_check(
    status: int, headers: list[tuple[str, str]], key: str, protocols: list[str], compress: int
) -> tuple[str | None, str | None, tuple[int, bool, int, bool] | None]: ...
def live_tasks() -> int | None: ...
def json_loads(body: bytes) -> Any: ...

@final
class LoadGen:
    """The engine's load generator (``aioxide bench``), running on its own thread
    and runtime from construction until the count or duration is reached or
    ``stop()`` is called."""

    def __new__(
        cls,
        url: str,
        *,
        method: str = ...,
        headers: Sequence[tuple[str, str]] = ...,
        body: bytes | None = None,
        concurrency: int = 50,
        count: int | None = None,
        duration: float | None = None,
        timeout: float | None = None,
        http2: str = "off",
        verify_ssl: bool = True,
        threads: int = 1,
    ) -> LoadGen: ...
    def completed(self) -> int: ...
    def failed(self) -> int: ...
    def stop(self) -> None: ...
    def wait(self, timeout: float) -> bool: ...
    def result(self) -> dict[str, Any]: ...
