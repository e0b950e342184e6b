"""Types of the engine extension (crates/aioxide-py)."""

from asyncio import Future
from typing import Any, Callable, Sequence

__version__: str

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
    def close(self) -> None: ...

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
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]: ...
    @property
    def request_method(self) -> str: ...
    @property
    def request_url(self) -> str: ...
    def request_headers(self) -> list[tuple[str, str]]: ...

class Response:
    """An engine response: head, history and the body still to read."""

    @property
    def head(self) -> Head: ...
    @property
    def body(self) -> bytes | None: ...
    def history(self) -> list[Head]: ...
    def read_all(self, bridge: Bridge, fut: Future[Any]) -> int: ...
    def chunk(self, bridge: Bridge, fut: Future[Any], max: int) -> int: ...
    def at_eof(self) -> bool: ...
    def raw_bytes(self) -> int: ...
    def close(self) -> None: ...

class Session:
    """A connector's engine: the connection pool and its settings."""

    def __init__(
        self,
        *,
        limit: int = 100,
        limit_per_host: int = 0,
        force_close: bool = False,
        keepalive_timeout: float | None = 15.0,
        user_agent: str | None = None,
        max_headers: int = 128,
        family: int = 0,
        local_addr: tuple[str, int] | None = None,
        happy_eyeballs_delay: float | None = 0.25,
        interleave: int | None = None,
        use_dns_cache: bool = True,
        ttl_dns_cache: float | None = 10.0,
        dns_cache_max_size: int = 1000,
        bridge: Bridge | None = None,
        resolver: Callable[..., None] | None = None,
        socket_factory: Callable[..., None] | None = None,
        unix_path: str | None = None,
    ) -> None: ...
    def request(
        self,
        bridge: Bridge,
        fut: Future[Any],
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        content_type: str | None,
        auth: str | None,
        skip_auto_headers: Sequence[str],
        allow_redirects: bool,
        max_redirects: int,
        total: float | None,
        connect: float | None,
        sock_read: float | None,
        sock_connect: float | None,
        auto_decompress: bool,
        verify_ssl: bool,
        max_line_size: int = 8190,
        max_field_size: int = 8190,
        default_auth: str | None = None,
        default_auth_origin: str | None = None,
        body_stream: BodyReader | None = None,
        chunked: bool = False,
        compress: str | None = None,
        expect100: bool = False,
        http10: bool = False,
        read_until_eof: bool = True,
        server_hostname: str | None = None,
        max_headers: int = 128,
        cookies: Sequence[tuple[str, str]] = ...,
        retry: bool = True,
        cookie_jar: CookieStore | None = None,
        tls: TlsConfig | None = None,
        body_rewind: Callable[..., None] | None = None,
        requote: bool = True,
        on_send: Callable[..., None] | None = None,
    ) -> int: ...
    def raise_max_headers(self, n: int) -> None: ...
    def clear_dns_cache(self, host: str | None = None, port: int | None = None) -> None: ...
    def cached_hosts(self) -> list[tuple[tuple[str, int], list[str]]]: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def idle_count(self) -> int: ...

class BodyWriter:
    """The feeding end of a streamed request body."""

    def try_send(self, data: bytes) -> bool: ...
    def send(self, bridge: Bridge, fut: Future[Any], data: bytes) -> int: ...
    def close(self) -> None: ...
    def abort(self, reason: str) -> None: ...

class BodyReader:
    """The end of a streamed request body that a request takes."""

def body_channel(capacity: int, length: int | None = None) -> tuple[BodyWriter, BodyReader]: ...

class ResolveToken:
    """Completes one resolution the engine asked Python for."""

    def set(self, addrs: list[tuple[str, int]]) -> None: ...
    def fail(self, message: str, errno: int | None = None) -> None: ...

class SocketToken:
    """Completes one socket_factory call the engine asked Python for."""

    def set(self, fd: int) -> None: ...
    def fail(self, message: str, errno: int | None = None) -> None: ...

def redirect_step(
    status: int, method: str, url: str, location: str, requote: bool = True
) -> tuple[str, bool, str, bool, list[str]]: ...
def is_redirect(status: int) -> bool: ...

ACCEPT_ENCODING: str

class CookieStore:
    """The engine's RFC 6265 cookie jar (behind aioxide.cookiejar.CookieJar).

    Items are (name, value, coded_value, Morsel attributes, host_only).
    """

    def __init__(
        self,
        *,
        unsafe_: bool = False,
        quote_cookie: bool = True,
        treat_as_secure_origin: list[tuple[str, str, int]] = ...,
    ) -> None: ...
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

class TlsConfig:
    """An engine TLS configuration (an SSLContext's or a Fingerprint's), built once."""

    def __init__(
        self,
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
    ) -> None: ...
    @property
    def id(self) -> int: ...
    @property
    def fingerprint(self) -> bytes | None: ...
    @property
    def verify(self) -> bool: ...
    @property
    def check_hostname(self) -> bool: ...

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
