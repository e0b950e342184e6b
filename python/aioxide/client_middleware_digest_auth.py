"""Digest authentication client middleware (``aiohttp.client_middleware_digest_auth``).

A port of aiohttp 3.14's ``DigestAuthMiddleware`` (RFC 7616): MD5, SHA, SHA-256
and SHA-512 with their ``-sess`` variants, qop ``auth`` and ``auth-int``, nonce
counting, opaque, preemptive reuse inside the protection space (the ``domain``
directive, or the challenging origin), and credentials scoped to the origin of
the first request.  The challenge parsing, header layout and error messages are
aiohttp's, so a server sees the same ``Authorization`` header from both.

Usage, as with aiohttp::

    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession(middlewares=(mw,)) as session:
        ...
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Final, Literal, TypedDict

from yarl import URL

from . import hdrs
from .client_exceptions import ClientError
from .payload import Payload

if TYPE_CHECKING:
    from .client_reqrep import ClientResponse

__all__ = ("DigestAuthMiddleware",)

# The request is aiohttp's ClientRequest (attributes used: method, url, headers,
# body); typed as Any so that the module does not depend on its class.
ClientHandlerType = Callable[[Any], Awaitable["ClientResponse"]]


class DigestAuthChallenge(TypedDict, total=False):
    realm: str
    nonce: str
    qop: str
    algorithm: str
    opaque: str
    domain: str
    stale: str


DigestFunctions: dict[str, Callable[[bytes], hashlib._Hash]] = {
    "MD5": hashlib.md5,
    "MD5-SESS": hashlib.md5,
    "SHA": hashlib.sha1,
    "SHA-SESS": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA256-SESS": hashlib.sha256,
    "SHA-256": hashlib.sha256,
    "SHA-256-SESS": hashlib.sha256,
    "SHA512": hashlib.sha512,
    "SHA512-SESS": hashlib.sha512,
    "SHA-512": hashlib.sha512,
    "SHA-512-SESS": hashlib.sha512,
}

# key, then an optional "=" value (quoted with escapes, or a token); a bare key is
# an auth-scheme name.  The atomic group (3.11+) limits backtracking.
_HEADER_PAIRS_PATTERN = re.compile(
    r'(?:^|\s|,\s*)(\w+)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+)))?'
    if sys.version_info < (3, 11)
    else r'(?:^|\s|,\s*)((?>\w+))(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+)))?'
)

# RFC 7616: challenge parameters to extract.
CHALLENGE_FIELDS: Final[
    tuple[Literal["realm", "nonce", "qop", "algorithm", "opaque", "domain", "stale"], ...]
] = ("realm", "nonce", "qop", "algorithm", "opaque", "domain", "stale")

# Sorted, for predictable error messages.
SUPPORTED_ALGORITHMS: Final[tuple[str, ...]] = tuple(sorted(DigestFunctions.keys()))

# RFC 7616: fields quoted in the Authorization header (algorithm, qop, nc never are).
QUOTED_AUTH_FIELDS: Final[frozenset[str]] = frozenset(
    {"username", "realm", "nonce", "uri", "response", "opaque", "cnonce"}
)


def escape_quotes(value: str) -> str:
    """Escape backslashes and double quotes for HTTP quoted-strings."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def unescape_quotes(value: str) -> str:
    """Unescape backslashes and double quotes in HTTP quoted-strings."""
    return value.replace('\\"', '"').replace("\\\\", "\\")


def parse_header_pairs(header: str) -> dict[str, str]:
    """Parse the parameters of the first challenge of a WWW-Authenticate value.

    Quoted (with escapes and commas) and token values are accepted, with any
    whitespace around ``=`` and ``,``.  A leading scheme token is skipped; a later
    one starts the next challenge (RFC 7235 section 4.1), where parsing stops.
    """
    pairs: dict[str, str] = {}
    for match in _HEADER_PAIRS_PATTERN.finditer(header):
        key = match.group(1)
        quoted_val, unquoted_val = match.group(2), match.group(3)
        if quoted_val is None and unquoted_val is None:
            if pairs:
                break
            continue
        pairs[key] = unescape_quotes(quoted_val) if quoted_val is not None else unquoted_val
    return pairs


def _realm_and_nonce(challenge: DigestAuthChallenge) -> tuple[str, str]:
    """The challenge's realm and nonce; ClientError when either is missing or
    the nonce is empty."""
    if "realm" not in challenge:
        raise ClientError("Malformed Digest auth challenge: Missing 'realm' parameter")

    if "nonce" not in challenge:
        raise ClientError("Malformed Digest auth challenge: Missing 'nonce' parameter")

    # An empty realm is allowed (RFC 7616: SHOULD contain the host name).
    realm = challenge["realm"]
    nonce = challenge["nonce"]

    # An empty nonce would defeat replay protection.
    if not nonce:
        raise ClientError("Security issue: Digest auth challenge contains empty 'nonce' value")
    return realm, nonce


def _select_qop(qop_raw: str) -> str:
    """The qop to answer with: auth-int when offered, else auth; "" when the
    challenge has none.  ClientError when it offers neither."""
    if not qop_raw:
        return ""
    valid_qops = {"auth", "auth-int"}.intersection(
        {q.strip() for q in qop_raw.split(",") if q.strip()}
    )
    if not valid_qops:
        raise ClientError(
            f"Digest auth error: Unsupported Quality of Protection (qop) value(s): {qop_raw}"
        )
    return "auth-int" if "auth-int" in valid_qops else "auth"


def _hash_function(algorithm: str) -> Callable[[bytes], hashlib._Hash]:
    """The hash of an (upper-cased) algorithm name; ClientError for an
    unsupported one."""
    if algorithm not in DigestFunctions:
        raise ClientError(
            f"Digest auth error: Unsupported hash algorithm: {algorithm}. "
            f"Supported algorithms: {', '.join(SUPPORTED_ALGORITHMS)}"
        )
    return DigestFunctions[algorithm]


def _H(hash_fn: Callable[[bytes], hashlib._Hash], x: bytes) -> bytes:
    """RFC 7616 section 3: H(data) = hex(hash(data))."""
    return hash_fn(x).hexdigest().encode()


def _KD(hash_fn: Callable[[bytes], hashlib._Hash], s: bytes, d: bytes) -> bytes:
    """RFC 7616 section 3: KD(secret, data) = H(secret ":" data)."""
    return _H(hash_fn, b":".join((s, d)))


async def _a2(
    hash_fn: Callable[[bytes], hashlib._Hash], method: str, path: str, qop: str, body: Any
) -> bytes:
    """RFC 7616 A2: method and request-target, with H(entity-body) for auth-int."""
    A2 = f"{method.upper()}:{path}".encode()
    if qop == "auth-int":
        if isinstance(body, Payload):
            entity_bytes = await body.as_bytes()
        elif isinstance(body, (bytes, bytearray, memoryview)):
            entity_bytes = bytes(body)
        else:
            # aiohttp hashes b"" for anything that is not a Payload.
            entity_bytes = b""
        A2 = b":".join((A2, _H(hash_fn, entity_bytes)))
    return A2


def _make_cnonce(nonce_count: int, nonce_bytes: bytes) -> str:
    """A client nonce: 16 hex digits of a hash of the count, the nonce, the
    time and random bytes."""
    return hashlib.sha1(
        b"".join(
            [
                str(nonce_count).encode("utf-8"),
                nonce_bytes,
                time.ctime().encode("utf-8"),
                os.urandom(8),
            ]
        )
    ).hexdigest()[:16]


def _response_digest(
    hash_fn: Callable[[bytes], hashlib._Hash],
    HA1: bytes,
    HA2: bytes,
    nonce_bytes: bytes,
    qop: str,
    ncvalue: str,
    cnonce: str,
) -> bytes:
    """RFC 7616 section 3.4.1: the ``response`` value, with nc, cnonce and
    qop in the digest when a qop is used."""
    if qop:
        noncebit = b":".join(
            (
                nonce_bytes,
                ncvalue.encode("utf-8"),
                cnonce.encode("utf-8"),
                qop.encode("utf-8"),
                HA2,
            )
        )
        return _KD(hash_fn, HA1, noncebit)
    return _KD(hash_fn, HA1, b":".join((nonce_bytes, HA2)))


def _format_digest_header(header_fields: dict[str, str]) -> str:
    """The ``Digest ...`` header value; the RFC's quoted fields are quoted."""
    pairs: list[str] = []
    for field, value in header_fields.items():
        if field in QUOTED_AUTH_FIELDS:
            pairs.append(f'{field}="{value}"')
        else:
            pairs.append(f"{field}={value}")

    return f"Digest {', '.join(pairs)}"


class DigestAuthMiddleware:
    """HTTP Digest authentication client middleware, as aiohttp's.

    On a 401 with a Digest challenge the request is sent once more with the
    computed ``Authorization`` header.  With ``preemptive=True`` (the default)
    later requests inside the protection space carry the header from the start
    (RFC 7616 section 3.6), counting ``nc`` up for the same nonce.

    The credentials are scoped to the origin of the first request through the
    middleware: a request to another origin passes through untouched unless that
    origin is in a protection space the anchor origin advertised with ``domain``.
    """

    def __init__(self, login: str, password: str, preemptive: bool = True) -> None:
        if login is None:
            raise ValueError("None is not allowed as login value")

        if password is None:
            raise ValueError("None is not allowed as password value")

        if ":" in login:
            raise ValueError('A ":" is not allowed in username (RFC 1945#section-11.1)')

        self._login_str: Final[str] = login
        self._login_bytes: Final[bytes] = login.encode("utf-8")
        self._password_bytes: Final[bytes] = password.encode("utf-8")

        self._last_nonce_bytes = b""
        self._nonce_count = 0
        self._challenge: DigestAuthChallenge = {}
        self._preemptive: bool = preemptive
        # URLs (strings) defining the protection space.
        self._protection_space: list[str] = []
        # Origin the credentials are scoped to; set on the first request.
        self._origin: URL | None = None

    async def _encode(self, method: str, url: URL, body: Any) -> str:
        """Build the Authorization header value for the current challenge.

        ``body`` is the request's ``body`` (a Payload, or ``b""``); it is read
        only for qop=auth-int.  Raises ClientError for a challenge that lacks
        realm or nonce, has an empty nonce, or names no supported qop or
        algorithm.
        """
        challenge = self._challenge
        realm, nonce = _realm_and_nonce(challenge)
        # The algorithm is echoed as given; matched in upper case.
        algorithm_original = challenge.get("algorithm", "MD5")
        algorithm = algorithm_original.upper()
        opaque = challenge.get("opaque", "")
        nonce_bytes = nonce.encode("utf-8")
        realm_bytes = realm.encode("utf-8")
        # The encoded request-target, as sent on the wire and signed by the server.
        path = URL(url).raw_path_qs
        qop = _select_qop(challenge.get("qop", ""))
        hash_fn: Final = _hash_function(algorithm)

        A1 = b":".join((self._login_bytes, realm_bytes, self._password_bytes))
        A2 = await _a2(hash_fn, method, path, qop, body)
        HA1 = _H(hash_fn, A1)
        HA2 = _H(hash_fn, A2)

        ncvalue = self._count_nonce(nonce_bytes)
        cnonce = _make_cnonce(self._nonce_count, nonce_bytes)
        if algorithm.endswith("-SESS"):
            HA1 = _H(hash_fn, b":".join((HA1, nonce_bytes, cnonce.encode("utf-8"))))
        response_digest = _response_digest(hash_fn, HA1, HA2, nonce_bytes, qop, ncvalue, cnonce)

        header_fields = {
            "username": escape_quotes(self._login_str),
            "realm": escape_quotes(realm),
            "nonce": escape_quotes(nonce),
            "uri": path,
            "response": response_digest.decode(),
            "algorithm": algorithm_original,
        }
        if opaque:
            header_fields["opaque"] = escape_quotes(opaque)
        if qop:
            header_fields["qop"] = qop
            header_fields["nc"] = ncvalue
            header_fields["cnonce"] = cnonce
        return _format_digest_header(header_fields)

    def _count_nonce(self, nonce_bytes: bytes) -> str:
        """Count one more use of the nonce (1 for a new one); its ``nc`` value."""
        if nonce_bytes == self._last_nonce_bytes:
            self._nonce_count += 1
        else:
            self._nonce_count = 1

        self._last_nonce_bytes = nonce_bytes
        return f"{self._nonce_count:08x}"

    def _in_protection_space(self, url: URL) -> bool:
        """Whether ``url`` is in the protection space.

        RFC 7616: a URI is in it when one of the space's URIs is a prefix of it,
        at a path boundary.
        """
        request_str = str(url)
        for space_str in self._protection_space:
            if not request_str.startswith(space_str):
                continue
            if len(request_str) == len(space_str) or space_str[-1] == "/":
                return True
            if request_str[len(space_str)] == "/":
                return True
        return False

    def _authenticate(self, response: ClientResponse) -> bool:
        """Take the challenge of a 401 response; True when the request must be resent."""
        if response.status != 401:
            return False

        auth_header = response.headers.get("www-authenticate", "")
        if not auth_header:
            return False

        method, sep, headers = auth_header.partition(" ")
        if not sep:
            return False

        if method.lower() != "digest":
            return False

        if not headers:
            return False

        if not (header_pairs := parse_header_pairs(headers)):
            return False

        self._challenge = {}
        for field in CHALLENGE_FIELDS:
            if (value := header_pairs.get(field)) is not None:
                self._challenge[field] = value

        # The protection space: the domain directive, or the origin.
        origin = response.url.origin()
        self._protection_space = []

        if domain := self._challenge.get("domain"):
            for uri in domain.split():
                uri = uri.strip('"')
                if not uri:
                    continue
                try:
                    space = origin.join(URL(uri)) if uri.startswith("/") else URL(uri)
                except ValueError:
                    # A URI yarl cannot parse (aiohttp raises ValueError out
                    # of the request): it names no space, so it is skipped.
                    continue
                self._protection_space.append(str(space))

        if not self._protection_space:
            self._protection_space = [str(origin)]

        return bool(self._challenge)

    async def __call__(self, request: Any, handler: ClientHandlerType) -> ClientResponse:
        """Run the middleware: send, and once more with credentials on a Digest 401."""
        origin = request.url.origin()
        if self._origin is None:
            self._origin = origin
        elif origin != self._origin and not self._in_protection_space(request.url):
            return await handler(request)

        response = None
        for retry_count in range(2):
            # The header goes on a retry after a 401, or preemptively when a
            # challenge is known and the URL is in its protection space.
            if retry_count > 0 or (
                self._preemptive and self._challenge and self._in_protection_space(request.url)
            ):
                request.headers[hdrs.AUTHORIZATION] = await self._encode(
                    request.method, request.url, request.body
                )

            response = await handler(request)

            if not self._authenticate(response):
                break

        assert response is not None
        return response
