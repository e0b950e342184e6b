"""Exceptions raised by the aioxide client.

The class tree, constructor signatures, attributes and ``str``/``repr`` output
mirror ``aiohttp.client_exceptions`` (aiohttp 3.14), so code written against
aiohttp can catch the same exception types.
"""

from __future__ import annotations

import asyncio
import warnings
from typing import TYPE_CHECKING, Any, Union

from multidict import MultiMapping

if TYPE_CHECKING:
    import ssl

    from yarl import URL

    from .client_reqrep import ClientResponse, RequestInfo
    from .connector import ConnectionKey

    SSLContext = ssl.SSLContext
    StrOrURL = Union[str, URL]
else:
    try:
        import ssl

        SSLContext = ssl.SSLContext
    except ImportError:  # pragma: no cover - interpreters built without ssl
        ssl = SSLContext = None

__all__ = (
    "ClientConnectionError",
    "ClientConnectionResetError",
    "ClientConnectorCertificateError",
    "ClientConnectorDNSError",
    "ClientConnectorError",
    "ClientConnectorSSLError",
    "ClientError",
    "ClientHttpProxyError",
    "ClientOSError",
    "ClientPayloadError",
    "ClientProxyConnectionError",
    "ClientResponseError",
    "ClientSSLError",
    "ConnectionTimeoutError",
    "ContentTypeError",
    "InvalidURL",
    "InvalidUrlClientError",
    "InvalidUrlRedirectClientError",
    "NonHttpUrlClientError",
    "NonHttpUrlRedirectClientError",
    "RedirectClientError",
    "ServerConnectionError",
    "ServerDisconnectedError",
    "ServerFingerprintMismatch",
    "ServerTimeoutError",
    "SocketTimeoutError",
    "UploadAbortedError",
    "WSMessageTypeError",
    "WSServerHandshakeError",
)

_CODE_DEPRECATED = "code property is deprecated, use status instead"


class ClientError(Exception):
    """Root of every client-side error."""


# ---------------------------------------------------------------------------
# Errors carrying a response (status line already received)
# ---------------------------------------------------------------------------


class ClientResponseError(ClientError):
    """An error detected after the response head arrived.

    Attributes: ``request_info`` (the request's RequestInfo), ``history``
    (responses of followed redirects), ``status`` (HTTP status, 0 if unknown),
    ``message`` (reason / explanation) and ``headers`` (response headers).
    """

    def __init__(
        self,
        request_info: RequestInfo,
        history: tuple[ClientResponse, ...],
        *,
        code: int | None = None,
        status: int | None = None,
        message: str = "",
        headers: MultiMapping[str] | None = None,
    ) -> None:
        self.request_info = request_info
        if code is not None:
            if status is not None:
                raise ValueError(
                    "Both code and status arguments are provided; "
                    "code is deprecated, use status instead"
                )
            warnings.warn(
                "code argument is deprecated, use status instead",
                DeprecationWarning,
                stacklevel=2,
            )
            status = code
        self.status = 0 if status is None else status
        self.message = message
        self.headers = headers
        self.history = history
        self.args = (request_info, history)

    def __str__(self) -> str:
        url = str(self.request_info.real_url)
        return f"{self.status}, message={self.message!r}, url={url!r}"

    def __repr__(self) -> str:
        parts = [repr(self.request_info), repr(self.history)]
        if self.status != 0:
            parts.append(f"status={self.status!r}")
        if self.message != "":
            parts.append(f"message={self.message!r}")
        if self.headers is not None:
            parts.append(f"headers={self.headers!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    @property
    def code(self) -> int:
        """Deprecated alias of :attr:`status`."""
        warnings.warn(_CODE_DEPRECATED, DeprecationWarning, stacklevel=2)
        return self.status

    @code.setter
    def code(self, value: int) -> None:
        warnings.warn(_CODE_DEPRECATED, DeprecationWarning, stacklevel=2)
        self.status = value


class ContentTypeError(ClientResponseError):
    """The response's Content-Type did not match what the caller expected."""


class WSServerHandshakeError(ClientResponseError):
    """The server rejected or botched the websocket handshake."""


class ClientHttpProxyError(ClientResponseError):
    """An HTTP proxy answered a ``CONNECT`` request with something other than 200."""


class TooManyRedirects(ClientResponseError):
    """The redirect limit was exceeded."""


# ---------------------------------------------------------------------------
# Connection-level errors
# ---------------------------------------------------------------------------


class ClientConnectionError(ClientError):
    """Root of errors about the underlying connection."""


class ClientConnectionResetError(ClientConnectionError, ConnectionResetError):
    """The peer reset the connection."""


class ClientOSError(ClientConnectionError, OSError):
    """An OS-level socket error."""


class ClientConnectorError(ClientOSError):
    """A connection to the target host could not be opened.

    ``connection_key`` is any object exposing ``host``, ``port`` and ``ssl``;
    ``errno``/``strerror`` are copied from ``os_error``.
    """

    def __init__(self, connection_key: ConnectionKey, os_error: OSError) -> None:
        self._conn_key = connection_key
        self._os_error = os_error
        super().__init__(os_error.errno, os_error.strerror)
        self.args = (connection_key, os_error)

    @property
    def os_error(self) -> OSError:
        return self._os_error

    @property
    def host(self) -> str:
        return self._conn_key.host

    @property
    def port(self) -> int | None:
        return self._conn_key.port

    @property
    def ssl(self) -> Any:
        """The connection key's ``ssl`` value (SSLContext, bool or Fingerprint)."""
        return self._conn_key.ssl

    def __str__(self) -> str:
        ssl_text = "default" if self.ssl is True else self.ssl
        return f"Cannot connect to host {self.host}:{self.port} ssl:{ssl_text} [{self.strerror}]"

    # OSError's own __reduce__ rebuilds the instance from (errno, strerror),
    # which would not round-trip our (connection_key, os_error) constructor.
    __reduce__ = BaseException.__reduce__


class ClientConnectorDNSError(ClientConnectorError):
    """Resolving the target host name failed."""


class ClientProxyConnectionError(ClientConnectorError):
    """A connection to the proxy could not be opened."""


class UnixClientConnectorError(ClientConnectorError):
    """A connection to a unix domain socket could not be opened."""

    def __init__(self, path: str, connection_key: ConnectionKey, os_error: OSError) -> None:
        self._path = path
        super().__init__(connection_key, os_error)

    @property
    def path(self) -> str:
        return self._path

    def __str__(self) -> str:
        ssl_text = "default" if self.ssl is True else self.ssl
        return f"Cannot connect to unix socket {self.path} ssl:{ssl_text} [{self.strerror}]"


class ServerConnectionError(ClientConnectionError):
    """Root of errors reported while talking to an established server."""


class ServerDisconnectedError(ServerConnectionError):
    """The server closed the connection before the response was complete."""

    def __init__(self, message: Any = None) -> None:
        if message is None:
            message = "Server disconnected"
        self.args = (message,)
        self.message = message


class ServerTimeoutError(ServerConnectionError, asyncio.TimeoutError):
    """A timeout expired while waiting on the server."""


class ConnectionTimeoutError(ServerTimeoutError):
    """Opening the connection took too long."""


class SocketTimeoutError(ServerTimeoutError):
    """Reading from the socket took too long."""


class ServerFingerprintMismatch(ServerConnectionError):
    """The server's certificate does not have the pinned fingerprint."""

    def __init__(self, expected: bytes, got: bytes, host: str, port: int) -> None:
        self.expected = expected
        self.got = got
        self.host = host
        self.port = port
        self.args = (expected, got, host, port)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} expected={self.expected!r} got={self.got!r} "
            f"host={self.host!r} port={self.port!r}>"
        )


# ---------------------------------------------------------------------------
# Body / URL errors
# ---------------------------------------------------------------------------


class ClientPayloadError(ClientError):
    """The response body could not be read or decoded."""


class UploadAbortedError(ClientError):
    """The request body was never completely sent."""


class InvalidURL(ClientError, ValueError):
    """The URL is unusable (e.g. it has no host).

    Subclasses ValueError for backward compatibility.  ``url`` is kept as given
    (a str or a yarl.URL), since parsing it may be what failed.
    """

    def __init__(self, url: StrOrURL, description: str | None = None) -> None:
        self._url = url
        self._description = description
        if description:
            super().__init__(url, description)
        else:
            super().__init__(url)

    @property
    def url(self) -> StrOrURL:
        return self._url

    @property
    def description(self) -> str | None:
        return self._description

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self}>"

    def __str__(self) -> str:
        if not self._description:
            return str(self._url)
        return f"{self._url} - {self._description}"


class InvalidUrlClientError(InvalidURL):
    """The request URL is invalid."""


class RedirectClientError(ClientError):
    """A redirect could not be followed."""


class NonHttpUrlClientError(ClientError):
    """The request URL's scheme is not http(s)/ws(s)."""


class InvalidUrlRedirectClientError(InvalidUrlClientError, RedirectClientError):
    """A redirect pointed at an invalid URL."""


class NonHttpUrlRedirectClientError(NonHttpUrlClientError, RedirectClientError):
    """A redirect pointed at a non-HTTP URL."""


# ---------------------------------------------------------------------------
# TLS errors
# ---------------------------------------------------------------------------


class ClientSSLError(ClientConnectorError):
    """Root of TLS-related connection errors."""


if ssl is not None:
    cert_errors: tuple[type[Exception], ...] = (ssl.CertificateError,)
    cert_errors_bases: tuple[type[Exception], ...] = (ClientSSLError, ssl.CertificateError)
    ssl_errors: tuple[type[Exception], ...] = (ssl.SSLError,)
    ssl_error_bases: tuple[type[Exception], ...] = (ClientSSLError, ssl.SSLError)
else:  # pragma: no cover - interpreters built without ssl
    cert_errors = ()
    cert_errors_bases = (ClientSSLError, ValueError)
    ssl_errors = ()
    ssl_error_bases = (ClientSSLError,)


class ClientConnectorSSLError(*ssl_error_bases):  # type: ignore[misc]
    """The TLS handshake failed."""


class ClientConnectorCertificateError(*cert_errors_bases):  # type: ignore[misc]
    """The server certificate failed verification.

    Unlike its parent, ``ssl`` reports the connection key's ``is_ssl`` flag.
    """

    _conn_key: ConnectionKey

    def __init__(self, connection_key: ConnectionKey, certificate_error: Exception) -> None:
        if isinstance(certificate_error, cert_errors + (OSError,)):
            # ssl.CertificateError is an OSError, so errno/strerror exist.
            os_error = certificate_error
        else:
            os_error = OSError()
        super().__init__(connection_key, os_error)
        self._certificate_error = certificate_error
        self.args = (connection_key, certificate_error)

    @property
    def certificate_error(self) -> Exception:
        return self._certificate_error

    @property
    def host(self) -> str:
        return self._conn_key.host

    @property
    def port(self) -> int | None:
        return self._conn_key.port

    @property
    def ssl(self) -> bool:
        return self._conn_key.is_ssl

    def __str__(self) -> str:
        err = self.certificate_error
        return (
            f"Cannot connect to host {self.host}:{self.port} ssl:{self.ssl} "
            f"[{type(err).__name__}: {err.args}]"
        )


class WSMessageTypeError(TypeError):
    """A websocket message had an unexpected type."""
