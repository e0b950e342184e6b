"""Small helpers shared by the aioxide client (subset of ``aiohttp.helpers``)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import functools
import logging
import re
import warnings
from collections import namedtuple
from email.message import EmailMessage
from email.parser import HeaderParser
from email.policy import HTTP
from http.cookies import CookieError, Morsel
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Sequence

from multidict import MultiDict, MultiDictProxy
from yarl import URL

from ._interop import is_basic_auth

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = (
    "BasicAuth",
    "ETag",
    "MimeType",
    "encode_basic_auth",
    "parse_content_type",
    "parse_mimetype",
    "sentinel",
    "strip_auth_from_url",
)


#: Logger for errors that have no caller to raise to (eof callbacks, cookies).
internal_logger = logging.getLogger("aioxide.internal")

#: aiohttp 3.14's default read buffer size (``read_bufsize``) and chunk limit.
DEFAULT_CHUNK_SIZE = 2**18  # 256 KiB

# https://datatracker.ietf.org/doc/html/rfc9112#section-6.3-2.1
EMPTY_BODY_STATUS_CODES = frozenset((204, 304, *range(100, 200)))
# https://datatracker.ietf.org/doc/html/rfc9112#section-6.3-2.2
EMPTY_BODY_METHODS = frozenset({"HEAD"})

# aiohttp 3.14's DeprecationWarnings for auth= and proxy_auth= (requests and ws_connect).
AUTH_DEPRECATED = (
    "The 'auth' parameter is deprecated and will be removed in v4;"
    " pass headers={'Authorization': "
    "aiohttp.encode_basic_auth(login, password)} instead"
)
PROXY_AUTH_DEPRECATED = (
    "The 'proxy_auth' parameter is deprecated and will be removed in v4;"
    " pass proxy_headers={'Proxy-Authorization': "
    "aiohttp.encode_basic_auth(login, password)} instead"
)

CHAR = {chr(i) for i in range(0, 128)}
CTL = {chr(i) for i in range(0, 32)} | {chr(127)}
SEPARATORS = {
    "(", ")", "<", ">", "@", ",", ";", ":", "\\", '"', "/", "[", "]", "?", "=", "{", "}", " ",
    chr(9),
}  # fmt: skip
TOKEN = CHAR ^ CTL ^ SEPARATORS


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


def basic_auth_header(auth: Any) -> str:
    """The ``Authorization`` value of ``auth=``: a BasicAuth (aioxide's or
    aiohttp's), else aiohttp's TypeError (a plain tuple is not one)."""
    if not isinstance(auth, BasicAuth) and not is_basic_auth(auth):
        raise TypeError("BasicAuth() tuple is required instead")
    return str(auth.encode())


def _basic_auth_no_warn(login: str, password: str = "", encoding: str = "latin1") -> BasicAuth:
    """Make a BasicAuth without validation or the deprecation warning (internal use)."""
    return tuple.__new__(BasicAuth, (login, password, encoding))


def strip_auth_from_url(url: URL) -> tuple[URL, BasicAuth | None]:
    """Split ``url`` into (url without user:password, BasicAuth or None)."""
    if url.raw_user is None and url.raw_password is None:
        return url, None
    return url.with_user(None), _basic_auth_no_warn(url.user or "", url.password or "")


@dataclasses.dataclass(frozen=True, order=True)
class MimeType:
    """A parsed MIME type (aiohttp's frozen attrs class; here a frozen dataclass)."""

    type: str
    subtype: str
    suffix: str
    parameters: "MultiDictProxy[str]"


@functools.lru_cache(maxsize=56)
def parse_mimetype(mimetype: str) -> MimeType:
    """Split a MIME type into type, subtype, suffix and parameters (as aiohttp).

    >>> parse_mimetype('text/html; charset=utf-8')  # doctest: +NORMALIZE_WHITESPACE
    MimeType(type='text', subtype='html', suffix='',
             parameters=<MultiDictProxy('charset': 'utf-8')>)
    """
    if not mimetype:
        return MimeType(type="", subtype="", suffix="", parameters=MultiDictProxy(MultiDict()))
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
    return MimeType(type=mtype, subtype=stype, suffix=suffix, parameters=MultiDictProxy(params))


class EnsureOctetStream(EmailMessage):
    """An email message whose default (and fallback) type is application/octet-stream."""

    def __init__(self) -> None:
        super().__init__()
        # https://www.rfc-editor.org/rfc/rfc9110#section-8.3-5
        self.set_default_type("application/octet-stream")

    def get_content_type(self) -> str:
        """application/octet-stream in place of text/plain when the value is wrong."""
        value = self.get("content-type", "").lower()
        ctype, _, _ = value.partition(";")
        ctype = ctype.strip()
        if ctype.count("/") != 1:
            return self.get_default_type()
        return ctype


_EnsureOctetStream = EnsureOctetStream  # the former private name


@functools.lru_cache(maxsize=56)
def parse_content_type(raw: str) -> tuple[str, "MappingProxyType[str, str]"]:
    """Content type and parameters of a Content-Type value (as aiohttp).

    The default returned type is ``application/octet-stream``.
    """
    msg = HeaderParser(EnsureOctetStream, policy=HTTP).parsestr(f"Content-Type: {raw}")
    content_type = msg.get_content_type()
    params = msg.get_params(())
    content_dict = dict(params[1:])  # the first element is the content type again
    return content_type, MappingProxyType(content_dict)


# ---------------------------------------------------------------------------
# ETag (https://tools.ietf.org/html/rfc7232#section-2.3)

_ETAGC = r"[!\x23-\x7E\x80-\xff]+"
_ETAGC_RE = re.compile(_ETAGC)
_QUOTED_ETAG = rf'(W/)?"({_ETAGC})"'
QUOTED_ETAG_RE = re.compile(_QUOTED_ETAG)
LIST_QUOTED_ETAG_RE = re.compile(rf"({_QUOTED_ETAG})(?:\s*,\s*|$)|(.)")

ETAG_ANY = "*"


@dataclasses.dataclass(frozen=True, order=True)
class ETag:
    """An entity tag: ``value`` (without quotes) and ``is_weak`` (a ``W/`` tag).

    As aiohttp's (a frozen attrs class there): immutable, hashable, ordered,
    compared by ``(value, is_weak)``.
    """

    value: str
    is_weak: bool = False


def validate_etag_value(value: str) -> None:
    """Raise ValueError unless ``value`` is ``*`` or valid etagc characters."""
    if value != ETAG_ANY and not _ETAGC_RE.fullmatch(value):
        raise ValueError(f"Value {value!r} is not a valid etag. Maybe it contains '\"'?")


def parse_etag(quoted_value: str | None) -> ETag | None:
    """An ``ETag`` header value as an ETag (None when absent or malformed), as aiohttp's
    ``web.Response.etag`` reads it."""
    if not quoted_value:
        return None
    if quoted_value == ETAG_ANY:
        return ETag(value=ETAG_ANY)
    match = QUOTED_ETAG_RE.fullmatch(quoted_value)
    if not match:
        return None
    is_weak, value = match.group(1, 2)
    return ETag(is_weak=bool(is_weak), value=value)


def parse_etag_list(etag_header: str | None) -> tuple[ETag, ...] | None:
    """An ``If-Match``/``If-None-Match`` value as ETags, as aiohttp's
    ``web.Request.if_match`` reads it (None when absent)."""
    if not etag_header:
        return None
    if etag_header == ETAG_ANY:
        return (ETag(is_weak=False, value=ETAG_ANY),)
    out = []
    for match in LIST_QUOTED_ETAG_RE.finditer(etag_header):
        is_weak, value, garbage = match.group(2, 3, 4)
        # Any symbol captured by the 4th group means the header is malformed.
        if garbage:
            break
        out.append(ETag(is_weak=bool(is_weak), value=value))
    return tuple(out)


# ---------------------------------------------------------------------------
# Set-Cookie parsing for ClientResponse.cookies (aiohttp._cookie_helpers,
# parse_set_cookie_headers): lenient, at most one cookie per field.

_COOKIE_NAME_RE = re.compile(r"^[!#$%&\'()*+\-./0-9:<=>?@A-Z\[\]^_`a-z{|}~]+$")
_COOKIE_KNOWN_ATTRS = frozenset(
    (
        "path",
        "domain",
        "max-age",
        "expires",
        "secure",
        "httponly",
        "samesite",
        "partitioned",
        "version",
        "comment",
    )
)
_COOKIE_BOOL_ATTRS = frozenset(("secure", "httponly", "partitioned"))
_MAX_COOKIES_PER_RESPONSE = 50
_MAX_COOKIE_PAIR_LENGTH = 4096
_MAX_COOKIE_ATTRIBUTE_VALUE_LENGTH = 1024
_MAX_COOKIE_ATTRIBUTES = 32
_ATTRIBUTE_START_RE = re.compile(r"[^;\s]", re.ASCII)
_COOKIE_FORBIDDEN_CTL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_COOKIE_CTL_RE = re.compile(r"[\x00-\x1f\x7f]")
_COOKIE_PATTERN = re.compile(
    r"""
    \s*
    (?P<key>
    [\w\d!#%&'~_`><@,:/\$\*\+\-\.\^\|\)\(\?\}\{\[\]]+
    )
    (
    \s*=\s*
    (?P<val>
    "(?:[^\\"]|\\.)*"
    |
    "[^";]*
    |
    (\w{3,6}day|\w{3}),\s
    [\w\d\s-]{9,11}\s[\d:]{8}\s
    (GMT|[+-]\d{4})
    |
    \w{3}\s+\w{3}\s+[\s\d]\d\s+\d{2}:\d{2}:\d{2}\s+\d{4}
    |
    [\w\d!#%&'~_`><@,:/\$\*\+\-\.\^\|\)\(\?\}\{\=\[\]]*
    )
    )?
    \s*
    (\s+|;|$)
    """,
    re.VERBOSE | re.ASCII,
)
_unquote_sub = re.compile(r"\\(?:([0-3][0-7][0-7])|(.))").sub


def _unquote_replace(m: "re.Match[str]") -> str:
    if m[1]:
        return chr(int(m[1], 8))
    return str(m[2])


def _cookie_unquote(value: str) -> str:
    """http.cookies._unquote (vendored, as aiohttp)."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    return _unquote_sub(_unquote_replace, value[1:-1])


def _encoded_length(text: str) -> int | None:
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def _apply_cookie_attributes(morsel: "Morsel[str]", attributes: str) -> None:
    index = 0
    end = len(attributes)
    for _ in range(_MAX_COOKIE_ATTRIBUTES):
        if index >= end:
            break
        attribute_match = _COOKIE_PATTERN.match(attributes, index)
        if attribute_match is None:
            next_index = attributes.find(";", index) + 1
            start = _ATTRIBUTE_START_RE.search(attributes, next_index) if next_index else None
            if start is None:
                break
            index = start.start()
            continue
        index = attribute_match.end()
        lower_key = attribute_match.group("key").lower()
        if lower_key not in _COOKIE_KNOWN_ATTRS:
            continue  # RFC 6265 Section 5.2: ignore unknown attributes.
        if lower_key not in morsel._reserved:  # type: ignore[attr-defined]
            continue  # Python before 3.14 has no Partitioned.
        if lower_key in _COOKIE_BOOL_ATTRS:
            dict.__setitem__(morsel, lower_key, True)
            continue
        attr_value = attribute_match.group("val") or ""
        if (
            len(attr_value) <= _MAX_COOKIE_ATTRIBUTE_VALUE_LENGTH
            and attr_value.isascii()
            and attr_value[:1] != '"'
            and "\t" not in attr_value
        ):
            dict.__setitem__(morsel, lower_key, attr_value)
            continue
        attr_value_length = _encoded_length(attr_value)
        if attr_value_length is None or attr_value_length > _MAX_COOKIE_ATTRIBUTE_VALUE_LENGTH:
            continue
        value = _cookie_unquote(attr_value)
        if _COOKIE_CTL_RE.search(value) is None:
            dict.__setitem__(morsel, lower_key, value)


def _parse_quoted_pair(header: str) -> tuple[str, str, int] | None:
    match = _COOKIE_PATTERN.match(header)
    if match is None:
        return None
    value = match.group("val")
    if not value or not (value.startswith('"') and value.endswith('"') and ";" in value):
        return None
    tail = header[match.end("val") :].lstrip(" \t")
    if tail and not tail.startswith(";"):
        return None
    return match.group("key"), value, len(header) - len(tail) + bool(tail)


def parse_set_cookie_headers(headers: Sequence[str]) -> list[tuple[str, "Morsel[str]"]]:
    """Parse Set-Cookie fields into at most one cookie per field (as aiohttp).

    Fields with control characters, oversized or nameless pairs, names outside
    the allowlist, or tabs in the pair are skipped.
    """
    parsed: list[tuple[str, Morsel[str]]] = []
    over_limit = 0
    for position, header in enumerate(headers):
        if len(parsed) >= _MAX_COOKIES_PER_RESPONSE:
            over_limit = len(headers) - position
            break
        if not header or _COOKIE_FORBIDDEN_CTL_RE.search(header) is not None:
            continue
        pair_end = header.find(";")
        if pair_end == -1:
            pair_end = attributes_start = len(header)
        else:
            attributes_start = pair_end + 1
        quoted = _parse_quoted_pair(header) if header.find('"', 0, pair_end) != -1 else None
        if quoted:
            key, coded_value, attributes_start = quoted
        else:
            key, sep, coded_value = header[:pair_end].partition("=")
            if not sep:
                continue
        key = key.strip(" \t")
        coded_value = coded_value.strip(" \t")
        if not key:
            continue
        if not _COOKIE_NAME_RE.match(key):
            internal_logger.warning("Can not load cookies: Illegal cookie name %r", key)
            continue
        pair_length = _encoded_length(key + coded_value)
        if pair_length is None or pair_length > _MAX_COOKIE_PAIR_LENGTH:
            continue
        value = _cookie_unquote(coded_value)
        if _COOKIE_CTL_RE.search(value) is not None:
            continue
        morsel: Morsel[str] = Morsel()
        try:
            morsel.__setstate__(  # type: ignore[attr-defined]
                {"key": key, "value": value, "coded_value": coded_value}
            )
        except CookieError:
            continue
        _apply_cookie_attributes(morsel, header[attributes_start:])
        parsed.append((key, morsel))
    invalid = len(headers) - over_limit - len(parsed)
    if invalid or over_limit:
        internal_logger.debug(
            "Ignored %d invalid Set-Cookie field(s) and %d over the %d-cookie limit",
            invalid,
            over_limit,
            _MAX_COOKIES_PER_RESPONSE,
        )
    return parsed
