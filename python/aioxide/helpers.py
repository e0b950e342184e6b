"""Small helpers shared by the aioxide client (subset of ``aiohttp.helpers``)."""

from __future__ import annotations

import base64
import dataclasses
import binascii
import enum
import warnings
from collections import namedtuple
from email.message import EmailMessage
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

from multidict import MultiDict, MultiDictProxy
from yarl import URL

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = (
    "BasicAuth",
    "MimeType",
    "encode_basic_auth",
    "parse_content_type",
    "parse_mimetype",
    "sentinel",
    "strip_auth_from_url",
)


class _SENTINEL(enum.Enum):
    """Type of :data:`sentinel`; usable in annotations as ``int | _SENTINEL``."""

    sentinel = 1


#: Default value meaning "argument not given" where ``None`` is a meaningful value.
sentinel = _SENTINEL.sentinel


def encode_basic_auth(login: str, password: str = "", encoding: str = "utf-8") -> str:
    """Build an ``Authorization`` header value (``"Basic <base64>"``) for the credentials."""
    if ":" in login:
        raise ValueError('A ":" is not allowed in login (RFC 7617#section-2)')
    raw = f"{login}:{password}".encode(encoding)
    return "Basic " + base64.b64encode(raw).decode(encoding)


class BasicAuth(namedtuple("BasicAuth", ["login", "password", "encoding"])):
    """HTTP Basic credentials: a ``(login, password, encoding)`` named tuple.

    Constructing one directly is deprecated in aiohttp 3.14 (it warns with
    DeprecationWarning); ``decode``/``from_url`` build instances silently.
    """

    def __new__(cls, login: str, password: str = "", encoding: str = "latin1") -> Self:
        if login is None:
            raise ValueError("None is not allowed as login value")
        if password is None:
            raise ValueError("None is not allowed as password value")
        if ":" in login:
            raise ValueError('A ":" is not allowed in login (RFC 1945#section-11.1)')
        warnings.warn(
            "BasicAuth is deprecated and will be removed in aiohttp 4.0; "
            "use aiohttp.encode_basic_auth() with "
            "headers={'Authorization': ...} instead",
            DeprecationWarning,
            stacklevel=2,
        )
        return super().__new__(cls, login, password, encoding)

    @classmethod
    def decode(cls, auth_header: str, encoding: str = "latin1") -> BasicAuth:
        """Parse an ``Authorization: Basic ...`` header value."""
        try:
            scheme, b64_creds = auth_header.split(" ", 1)
        except ValueError:
            raise ValueError("Could not parse authorization header.")  # noqa: B904 (as aiohttp)
        if scheme.lower() != "basic":
            raise ValueError(f"Unknown authorization method {scheme}")
        try:
            creds = base64.b64decode(b64_creds.encode("ascii"), validate=True).decode(encoding)
        except binascii.Error:
            raise ValueError("Invalid base64 encoding.")  # noqa: B904 (as aiohttp)
        # RFC 2617: the colon is mandatory; either side may be empty.
        try:
            login, password = creds.split(":", 1)
        except ValueError:
            raise ValueError("Invalid credentials.")  # noqa: B904 (as aiohttp)
        return _basic_auth_no_warn(login, password, encoding)

    @classmethod
    def from_url(cls, url: URL, *, encoding: str = "latin1") -> BasicAuth | None:
        """Return the credentials embedded in ``url``, or None if it has none."""
        if not isinstance(url, URL):
            raise TypeError("url should be yarl.URL instance")
        # raw_user/raw_password are cheap: yarl has them from the netloc already.
        if url.raw_user is None and url.raw_password is None:
            return None
        return _basic_auth_no_warn(url.user or "", url.password or "", encoding)

    def encode(self) -> str:
        """Return the ``Authorization`` header value for these credentials."""
        return encode_basic_auth(self.login, self.password, self.encoding)


def _basic_auth_no_warn(login: str, password: str = "", encoding: str = "latin1") -> BasicAuth:
    """Make a BasicAuth without validation or the deprecation warning (internal use)."""
    return tuple.__new__(BasicAuth, (login, password, encoding))


def strip_auth_from_url(url: URL) -> tuple[URL, BasicAuth | None]:
    """Split ``url`` into (url without user:password, BasicAuth or None)."""
    if url.raw_user is None and url.raw_password is None:
        return url, None
    return url.with_user(None), _basic_auth_no_warn(url.user or "", url.password or "")


class MimeType(NamedTuple):
    type: str
    subtype: str
    suffix: str
    parameters: "MultiDictProxy[str]"


def parse_mimetype(mimetype: str) -> MimeType:
    """Split a MIME type into type, subtype, suffix and parameters (as aiohttp)."""
    if not mimetype:
        return MimeType("", "", "", MultiDictProxy(MultiDict()))
    parts = mimetype.split(";")
    params: MultiDict[str] = MultiDict()
    for item in parts[1:]:
        if not item.strip():
            continue
        key, _, value = item.partition("=")
        params.add(key.lower().strip(), value.strip(' "'))
    fulltype = parts[0].strip().lower()
    if fulltype == "*":
        fulltype = "*/*"
    mtype, _, stype = fulltype.partition("/")
    stype, _, suffix = stype.partition("+")
    return MimeType(mtype, stype, suffix, MultiDictProxy(params))


def parse_content_type(raw: str) -> tuple[str, "MappingProxyType[str, str]"]:
    """Content type and parameters of a Content-Type value, as email.message reads it."""
    msg = _EnsureOctetStream()
    msg["content-type"] = raw
    params = msg.get_params() or [("", "")]
    return msg.get_content_type(), MappingProxyType(dict(params[1:]))


class _EnsureOctetStream(EmailMessage):
    def __init__(self) -> None:
        super().__init__()
        # https://www.rfc-editor.org/rfc/rfc9110#section-8.3-5
        self.set_default_type("application/octet-stream")

    def get_content_type(self) -> str:
        value = self.get("content-type", "").lower()
        ctype = value.partition(";")[0].strip()
        if ctype.count("/") != 1:
            return self.get_default_type()
        return ctype


@dataclasses.dataclass(frozen=True)
class ETag:
    """An entity tag (placeholder; see the response-extras work)."""

    value: str
    is_weak: bool = False
