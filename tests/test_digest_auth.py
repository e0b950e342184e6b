"""DigestAuthMiddleware (RFC 7616) as aiohttp 3.14's.

Two layers:

- against a real aiohttp.web server that issues Digest challenges and checks
  every response hash with hashlib (``ClientSession(middlewares=(mw,))``);
- unit tests that drive the middleware directly with a fake request and a fake
  handler (``<target>.client_middleware_digest_auth``), pinning the exact
  ``Authorization`` header, nonce counting, protection space and error messages.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import secrets
from types import SimpleNamespace
from typing import Any, Callable

import pytest
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from conftest import TARGET

digest_mod: Any = importlib.import_module(f"{TARGET}.client_middleware_digest_auth")
payload_mod: Any = importlib.import_module(f"{TARGET}.payload")

pytestmark = pytest.mark.timeout(30)

_HASHES: dict[str, Callable[[bytes], Any]] = {
    "MD5": hashlib.md5,
    "SHA": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA-256": hashlib.sha256,
    "SHA512": hashlib.sha512,
    "SHA-512": hashlib.sha512,
}

_AUTH_PARAM = re.compile(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_UNQUOTED = {"algorithm", "qop", "nc"}

SUPPORTED = (
    "MD5, MD5-SESS, SHA, SHA-256, SHA-256-SESS, SHA-512, SHA-512-SESS, SHA-SESS, "
    "SHA256, SHA256-SESS, SHA512, SHA512-SESS"
)

BAD_CHALLENGES = [
    ('Digest nonce="n"', "Malformed Digest auth challenge: Missing 'realm' parameter"),
    ('Digest realm="r"', "Malformed Digest auth challenge: Missing 'nonce' parameter"),
    (
        'Digest realm="r", nonce=""',
        "Security issue: Digest auth challenge contains empty 'nonce' value",
    ),
    (
        'Digest realm="r", nonce="n", qop="auth-conf"',
        "Digest auth error: Unsupported Quality of Protection (qop) value(s): auth-conf",
    ),
    (
        'Digest realm="r", nonce="n", algorithm=SHA-1024',
        f"Digest auth error: Unsupported hash algorithm: SHA-1024. Supported algorithms: "
        f"{SUPPORTED}",
    ),
]


def parse_authorization(value: str) -> dict[str, str]:
    """The parameters of a ``Digest ...`` Authorization header, quoting checked."""
    assert value.startswith("Digest "), value
    fields: dict[str, str] = {}
    for m in _AUTH_PARAM.finditer(value[len("Digest ") :]):
        key, quoted, token = m.group(1), m.group(2), m.group(3)
        if key in _UNQUOTED:
            assert token is not None, f"{key} must not be quoted: {value}"
            fields[key] = token
        else:
            assert quoted is not None, f"{key} must be quoted: {value}"
            fields[key] = quoted.replace('\\"', '"').replace("\\\\", "\\")
    return fields


def expected_response(
    fields: dict[str, str], *, method: str, password: str, realm: str, body: bytes = b""
) -> str:
    """RFC 7616 section 3.4.1: the response a client must send for these fields."""
    algorithm = fields.get("algorithm", "MD5").upper()
    sess = algorithm.endswith("-SESS")
    hash_fn = _HASHES[algorithm[: -len("-SESS")] if sess else algorithm]

    def H(data: str | bytes) -> str:
        return str(hash_fn(data.encode() if isinstance(data, str) else data).hexdigest())

    ha1 = H(f"{fields['username']}:{realm}:{password}")
    if sess:
        ha1 = H(f"{ha1}:{fields['nonce']}:{fields['cnonce']}")
    a2 = f"{method}:{fields['uri']}"
    if fields.get("qop") == "auth-int":
        a2 += ":" + H(body)
    ha2 = H(a2)
    if "qop" in fields:
        return H(f"{ha1}:{fields['nonce']}:{fields['nc']}:{fields['cnonce']}:{fields['qop']}:{ha2}")
    return H(f"{ha1}:{fields['nonce']}:{ha2}")


class DigestServer:
    """A Digest-protected aiohttp.web handler for every path.

    Issues ``WWW-Authenticate`` with realm / fresh nonce / qop / algorithm /
    opaque / domain, checks the response hash, the echoed fields, the uri (the
    raw request-target) and that nc grows per nonce.  A nonce used ``stale_after``
    times turns stale: the next use is answered with ``stale=true`` and a new one.
    """

    def __init__(
        self,
        *,
        realm: str = "test@example.org",
        algorithm: str | None = "MD5",
        qop: str | None = "auth",
        opaque: str | None = "0paque",
        domain: str | None = None,
        password: str = "pass",
        stale_after: int | None = None,
        challenge: str | None = None,
        unprotected: tuple[str, ...] = (),
    ) -> None:
        self.realm = realm
        self.algorithm = algorithm
        self.qop = qop
        self.opaque = opaque
        self.domain = domain
        self.password = password
        self.stale_after = stale_after
        self.fixed_challenge = challenge
        self.unprotected = unprotected
        self.nonce_nc: dict[str, int] = {}
        self.nonce_uses: dict[str, int] = {}
        self.stale: set[str] = set()
        # (method, raw request-target, Authorization or None) of every request.
        self.seen: list[tuple[str, str, str | None]] = []
        self.failures: list[str] = []

    def _challenge(self, stale: bool = False) -> str:
        if self.fixed_challenge is not None:
            return self.fixed_challenge
        nonce = secrets.token_hex(16)
        self.nonce_nc[nonce] = 0
        self.nonce_uses[nonce] = 0
        escaped_realm = self.realm.replace("\\", "\\\\").replace('"', '\\"')
        parts = [f'realm="{escaped_realm}"', f'nonce="{nonce}"']
        if self.qop is not None:
            parts.append(f'qop="{self.qop}"')
        if self.algorithm is not None:
            parts.append(f"algorithm={self.algorithm}")
        if self.opaque is not None:
            parts.append(f'opaque="{self.opaque}"')
        if self.domain is not None:
            parts.append(f'domain="{self.domain}"')
        if stale:
            parts.append("stale=true")
        return "Digest " + ", ".join(parts)

    def _unauthorized(self, stale: bool = False) -> web.Response:
        return web.Response(
            status=401, text="unauthorized", headers={"WWW-Authenticate": self._challenge(stale)}
        )

    def _check(self, request: web.Request, fields: dict[str, str], body: bytes) -> str | None:
        """None when the Authorization fields are right, else why not."""
        if fields.get("username") != "user":
            return "username"
        if fields.get("realm") != self.realm:
            return "realm"
        if fields.get("uri") != request.raw_path:
            return f"uri {fields.get('uri')!r} != {request.raw_path!r}"
        if fields.get("algorithm") != (self.algorithm or "MD5"):
            return "algorithm"
        if self.opaque is not None and fields.get("opaque") != self.opaque:
            return "opaque"
        if self.qop is None:
            if {"qop", "nc", "cnonce"} & fields.keys():
                return "qop fields without qop"
        else:
            offered = {q.strip() for q in self.qop.split(",")}
            if fields.get("qop") not in offered:
                return "qop"
            if not re.fullmatch(r"[0-9a-f]{8}", fields.get("nc", "")):
                return "nc"
            if not re.fullmatch(r"[0-9a-f]{16}", fields.get("cnonce", "")):
                return "cnonce"
        want = expected_response(
            fields, method=request.method, password=self.password, realm=self.realm, body=body
        )
        if fields.get("response") != want:
            return "response"
        return None

    async def handler(self, request: web.Request) -> web.Response:
        body = await request.read()
        auth = request.headers.get("Authorization")
        self.seen.append((request.method, request.raw_path, auth))
        if request.path in self.unprotected:
            raise web.HTTPFound("/protected")
        if auth is None:
            return self._unauthorized()
        fields = parse_authorization(auth)
        nonce = fields.get("nonce", "")
        if nonce not in self.nonce_nc:
            return self._unauthorized()
        if nonce in self.stale:
            return self._unauthorized(stale=True)
        problem = self._check(request, fields, body)
        if problem is not None:
            self.failures.append(problem)
            return self._unauthorized()
        if self.qop is not None:
            nc = int(fields["nc"], 16)
            if nc <= self.nonce_nc[nonce]:
                self.failures.append("nc replay")
                return self._unauthorized()
            self.nonce_nc[nonce] = nc
        self.nonce_uses[nonce] += 1
        if self.stale_after is not None and self.nonce_uses[nonce] >= self.stale_after:
            self.stale.add(nonce)
        return web.Response(text=f"ok {request.method} {request.raw_path} {len(body)}")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handler)
        return app


async def start(serve: Any, **kw: Any) -> tuple[DigestServer, str]:
    server = DigestServer(**kw)
    return server, str(await serve(server.app()))


# --- against a real server ---------------------------------------------------------


@pytest.mark.parametrize(
    "algorithm",
    [
        "MD5",
        "MD5-sess",
        "SHA",
        "SHA-sess",
        "SHA-256",
        "SHA-256-sess",
        "SHA256",
        "SHA-512",
        "SHA-512-sess",
        "SHA512-SESS",
        "sha-256",
    ],
)
async def test_handshake_per_algorithm(aiohttp: Any, serve: Any, algorithm: str) -> None:
    server, base = await start(serve, algorithm=algorithm)
    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        async with s.get(f"{base}/protected?x=1") as resp:
            assert resp.status == 200
            assert await resp.text() == "ok GET /protected?x=1 0"
    assert server.failures == []
    assert [a is None for _, _, a in server.seen] == [True, False]
    auth = server.seen[1][2]
    assert auth is not None
    fields = parse_authorization(auth)
    # The algorithm is echoed as the server spelled it.
    assert fields["algorithm"] == algorithm
    assert fields["username"] == "user"
    assert fields["realm"] == "test@example.org"
    assert fields["uri"] == "/protected?x=1"
    assert fields["opaque"] == "0paque"
    assert fields["qop"] == "auth"
    assert fields["nc"] == "00000001"
    assert list(fields) == [
        "username",
        "realm",
        "nonce",
        "uri",
        "response",
        "algorithm",
        "opaque",
        "qop",
        "nc",
        "cnonce",
    ]


async def test_no_algorithm_means_md5(aiohttp: Any, serve: Any) -> None:
    server, base = await start(serve, algorithm=None, opaque=None)
    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        async with s.get(f"{base}/p") as resp:
            assert resp.status == 200
    assert server.failures == []
    auth = server.seen[-1][2]
    assert auth is not None
    fields = parse_authorization(auth)
    assert fields["algorithm"] == "MD5"
    assert "opaque" not in fields


async def test_without_qop_rfc2069(aiohttp: Any, serve: Any) -> None:
    server, base = await start(serve, qop=None)
    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        async with s.get(f"{base}/p") as resp:
            assert resp.status == 200
    assert server.failures == []
    auth = server.seen[-1][2]
    assert auth is not None
    assert not {"qop", "nc", "cnonce"} & parse_authorization(auth).keys()


@pytest.mark.parametrize("qop", ["auth-int", "auth,auth-int", "auth-int, auth"])
async def test_auth_int_hashes_the_body(aiohttp: Any, serve: Any, qop: str) -> None:
    server, base = await start(serve, qop=qop)
    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        async with s.post(f"{base}/upload", data=b"entity body") as resp:
            assert resp.status == 200
            assert await resp.text() == "ok POST /upload 11"
        # An empty body hashes b"".
        async with s.get(f"{base}/empty") as resp:
            assert resp.status == 200
    assert server.failures == []
    auth = server.seen[1][2]
    assert auth is not None
    assert parse_authorization(auth)["qop"] == "auth-int"


async def test_preemptive_reuses_the_nonce_and_counts(aiohttp: Any, serve: Any) -> None:
    server, base = await start(serve)
    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        for path in ("/a", "/b", "/c/d"):
            async with s.get(base + path) as resp:
                assert resp.status == 200
    assert server.failures == []
    # One challenge; then every request carries the header from the start.
    assert [(p, a is None) for _, p, a in server.seen] == [
        ("/a", True),
        ("/a", False),
        ("/b", False),
        ("/c/d", False),
    ]
    fields = [parse_authorization(a) for _, _, a in server.seen[1:] if a]
    assert [f["nc"] for f in fields] == ["00000001", "00000002", "00000003"]
    assert len({f["nonce"] for f in fields}) == 1
    assert len({f["cnonce"] for f in fields}) == 3


async def test_not_preemptive(aiohttp: Any, serve: Any) -> None:
    server, base = await start(serve)
    mw = aiohttp.DigestAuthMiddleware("user", "pass", preemptive=False)
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        for path in ("/a", "/b"):
            async with s.get(base + path) as resp:
                assert resp.status == 200
    assert server.failures == []
    assert [(p, a is None) for _, p, a in server.seen] == [
        ("/a", True),
        ("/a", False),
        ("/b", True),
        ("/b", False),
    ]


async def test_stale_nonce_is_replaced(aiohttp: Any, serve: Any) -> None:
    server, base = await start(serve, stale_after=1)
    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        for path in ("/a", "/b"):
            async with s.get(base + path) as resp:
                assert resp.status == 200
    assert server.failures == []
    assert [(p, a is None) for _, p, a in server.seen] == [
        ("/a", True),
        ("/a", False),
        ("/b", False),  # preemptive with the now stale nonce: 401 stale=true
        ("/b", False),  # the new nonce, counted from 1
    ]
    f1, f2, f3 = (parse_authorization(a) for _, _, a in server.seen[1:] if a)
    assert f1["nonce"] == f2["nonce"] != f3["nonce"]
    assert [f1["nc"], f2["nc"], f3["nc"]] == ["00000001", "00000002", "00000001"]


async def test_wrong_password_returns_the_401(aiohttp: Any, serve: Any) -> None:
    server, base = await start(serve)
    mw = aiohttp.DigestAuthMiddleware("user", "wrong")
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        async with s.get(f"{base}/p") as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"].startswith("Digest ")
    # One retry only.
    assert len(server.seen) == 2
    assert server.failures == ["response"]


@pytest.mark.parametrize("challenge", ['Basic realm="x"', "Digest", "Digest ", "Bearer"])
async def test_other_challenges_pass_through(aiohttp: Any, serve: Any, challenge: str) -> None:
    server, base = await start(serve, challenge=challenge)
    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        async with s.get(f"{base}/p") as resp:
            assert resp.status == 401
    assert len(server.seen) == 1


async def test_401_without_challenge_and_other_statuses(aiohttp: Any, serve: Any) -> None:
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        status = 401 if request.path == "/401" else 403
        return web.Response(status=status)

    app = web.Application()
    app.router.add_get("/{p}", handler)
    base = await serve(app)
    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        for path, status in (("/401", 401), ("/403", 403)):
            async with s.get(base + path) as resp:
                assert resp.status == status
    assert seen == [None, None]


@pytest.mark.parametrize("challenge,message", BAD_CHALLENGES)
async def test_bad_challenges_raise(aiohttp: Any, serve: Any, challenge: str, message: str) -> None:
    server, base = await start(serve, challenge=challenge)
    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        with pytest.raises(aiohttp.ClientError) as excinfo:
            async with s.get(f"{base}/p"):
                pass
    assert type(excinfo.value) is aiohttp.ClientError
    assert str(excinfo.value) == message
    assert len(server.seen) == 1


async def test_quoted_strings_in_challenge(aiohttp: Any, serve: Any) -> None:
    server, base = await start(serve, realm='say "hi", \\ there', opaque="a,b c")
    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        async with s.get(f"{base}/p") as resp:
            assert resp.status == 200
    assert server.failures == []
    auth = server.seen[-1][2]
    assert auth is not None
    assert 'realm="say \\"hi\\", \\\\ there"' in auth
    assert 'opaque="a,b c"' in auth


async def test_first_of_several_challenges_is_used(aiohttp: Any, serve: Any) -> None:
    server, base = await start(serve)
    # The same header, followed by another scheme's challenge.
    real = server._challenge
    server._challenge = lambda stale=False: real(stale) + ', Basic realm="other"'  # type: ignore[method-assign]
    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        async with s.get(f"{base}/p") as resp:
            assert resp.status == 200
    assert server.failures == []


async def test_uri_is_the_encoded_request_target(aiohttp: Any, serve: Any) -> None:
    server, base = await start(serve)
    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        async with s.get(URL(f"{base}/a%2Fb/c%20d?q=x%26y&z=%C3%A9", encoded=True)) as resp:
            assert resp.status == 200
    assert server.failures == []
    auth = server.seen[-1][2]
    assert auth is not None
    assert parse_authorization(auth)["uri"] == "/a%2Fb/c%20d?q=x%26y&z=%C3%A9"


async def test_domain_limits_preemptive_auth(aiohttp: Any, serve: Any) -> None:
    server, base = await start(serve, domain="/api")
    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        for path in ("/api/a", "/api", "/api/b/c", "/apix", "/other"):
            async with s.get(base + path) as resp:
                assert resp.status == 200
    assert server.failures == []
    assert [(p, a is None) for _, p, a in server.seen] == [
        ("/api/a", True),
        ("/api/a", False),
        ("/api", False),
        ("/api/b/c", False),
        ("/apix", True),  # not under /api (path boundary)
        ("/apix", False),
        ("/other", True),
        ("/other", False),
    ]


async def test_credentials_stay_on_the_first_origin(aiohttp: Any, serve: Any) -> None:
    server_a, base_a = await start(serve)
    server_b, base_b = await start(serve)
    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        async with s.get(f"{base_a}/p") as resp:
            assert resp.status == 200
        # Another origin: passed through untouched, its challenge not answered.
        async with s.get(f"{base_b}/p") as resp:
            assert resp.status == 401
        async with s.get(f"{base_a}/q") as resp:
            assert resp.status == 200
    assert [a is None for _, _, a in server_b.seen] == [True]
    assert [(p, a is None) for _, p, a in server_a.seen] == [
        ("/p", True),
        ("/p", False),
        ("/q", False),
    ]


async def test_domain_can_name_another_origin(aiohttp: Any, serve: Any) -> None:
    server_b, base_b = await start(serve)
    server_a, base_a = await start(serve, domain=f"/ {base_b}/")
    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        async with s.get(f"{base_a}/p") as resp:
            assert resp.status == 200
        async with s.get(f"{base_b}/p") as resp:
            assert resp.status == 200
    # B is in A's protection space: sent preemptively (A's nonce, refused), then
    # B's own challenge is answered.
    assert [a is None for _, _, a in server_b.seen] == [False, False]
    assert server_b.failures == []


async def test_middleware_runs_on_each_redirect_hop(aiohttp: Any, serve: Any) -> None:
    server, base = await start(serve, unprotected=("/start",))
    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession(middlewares=(mw,)) as s:
        async with s.get(f"{base}/start") as resp:
            assert resp.status == 200
            assert str(resp.url) == f"{base}/protected"
            assert [r.status for r in resp.history] == [302]
    assert server.failures == []
    assert [(p, a is None) for _, p, a in server.seen] == [
        ("/start", True),
        ("/protected", True),
        ("/protected", False),
    ]


async def test_per_request_middlewares(aiohttp: Any, serve: Any) -> None:
    server, base = await start(serve)
    mw = aiohttp.DigestAuthMiddleware("user", "pass")
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{base}/p", middlewares=(mw,)) as resp:
            assert resp.status == 200
        async with s.get(f"{base}/p") as resp:
            assert resp.status == 401
    assert server.failures == []


def test_constructor_validation(aiohttp: Any) -> None:
    with pytest.raises(ValueError, match="^None is not allowed as login value$"):
        aiohttp.DigestAuthMiddleware(None, "p")
    with pytest.raises(ValueError, match="^None is not allowed as password value$"):
        aiohttp.DigestAuthMiddleware("u", None)
    with pytest.raises(ValueError) as excinfo:
        aiohttp.DigestAuthMiddleware("u:v", "p")
    assert str(excinfo.value) == 'A ":" is not allowed in username (RFC 1945#section-11.1)'
    # Empty credentials are allowed.
    aiohttp.DigestAuthMiddleware("", "")


# --- unit level: the middleware with a fake handler --------------------------------


def fake_request(url: str, method: str = "GET", body: Any = b"") -> SimpleNamespace:
    return SimpleNamespace(method=method, url=URL(url), headers=CIMultiDict(), body=body)


def fake_response(url: str, status: int = 200, challenge: str | None = None) -> Any:
    headers: CIMultiDict[str] = CIMultiDict()
    if challenge is not None:
        headers["WWW-Authenticate"] = challenge
    return SimpleNamespace(status=status, headers=headers, url=URL(url))


class FakeHandler:
    """Answers like DigestServer, recording the Authorization of each call."""

    def __init__(self, challenges: list[str | None]) -> None:
        # What to answer per call: a challenge (401) or None (200).
        self.challenges = challenges
        self.auths: list[str | None] = []
        self.urls: list[str] = []

    async def __call__(self, request: Any) -> Any:
        self.auths.append(request.headers.get("Authorization"))
        self.urls.append(str(request.url))
        challenge = self.challenges.pop(0)
        if challenge is None:
            return fake_response(str(request.url))
        return fake_response(str(request.url), 401, challenge)


async def test_unit_exact_header() -> None:
    mw = digest_mod.DigestAuthMiddleware("user", "pass")
    challenge = 'Digest realm="r@x", nonce="abc123", qop="auth", algorithm=SHA-256, opaque="op"'
    handler = FakeHandler([challenge, None])
    resp = await mw(fake_request("http://h.test/p/a%2Fb?q=1"), handler)
    assert resp.status == 200
    assert handler.auths[0] is None
    auth = handler.auths[1]
    assert auth is not None
    m = re.fullmatch(
        r'Digest username="user", realm="r@x", nonce="abc123", uri="/p/a%2Fb\?q=1", '
        r'response="([0-9a-f]{64})", algorithm=SHA-256, opaque="op", qop=auth, '
        r'nc=00000001, cnonce="([0-9a-f]{16})"',
        auth,
    )
    assert m is not None, auth
    fields = parse_authorization(auth)
    assert m.group(1) == expected_response(fields, method="GET", password="pass", realm="r@x")


async def test_unit_without_qop_and_opaque() -> None:
    mw = digest_mod.DigestAuthMiddleware("user", "pass")
    handler = FakeHandler(['Digest realm="r", nonce="n1"', None])
    await mw(fake_request("http://h.test/"), handler)
    auth = handler.auths[1]
    assert auth is not None
    fields = parse_authorization(auth)
    assert auth == (
        f'Digest username="user", realm="r", nonce="n1", uri="/", '
        f'response="{fields["response"]}", algorithm=MD5'
    )
    assert fields["response"] == expected_response(fields, method="GET", password="pass", realm="r")


@pytest.mark.parametrize("algorithm", ["MD5-SESS", "sha-512-sess", "SHA", "SHA256"])
@pytest.mark.parametrize("qop", ["auth", "auth-int"])
async def test_unit_algorithms_and_auth_int(algorithm: str, qop: str) -> None:
    mw = digest_mod.DigestAuthMiddleware("user", "pässwörd")
    challenge = f'Digest realm="r", nonce="n", qop="{qop}", algorithm={algorithm}'
    handler = FakeHandler([challenge, None])
    body = payload_mod.BytesPayload(b"the entity")
    await mw(fake_request("http://h.test/x", "put", body), handler)
    auth = handler.auths[1]
    assert auth is not None
    fields = parse_authorization(auth)
    assert fields["algorithm"] == algorithm
    assert fields["qop"] == qop
    assert fields["response"] == expected_response(
        fields, method="PUT", password="pässwörd", realm="r", body=b"the entity"
    )


async def test_unit_nonce_count_and_preemptive() -> None:
    mw = digest_mod.DigestAuthMiddleware("user", "pass")
    c1 = 'Digest realm="r", nonce="n1", qop="auth"'
    handler = FakeHandler([c1, None, None, None])
    for path in ("/a", "/b", "/c"):
        await mw(fake_request(f"http://h.test{path}"), handler)
    assert handler.auths[0] is None
    ncs = [parse_authorization(a)["nc"] for a in handler.auths[1:] if a]
    assert ncs == ["00000001", "00000002", "00000003"]
    # A new nonce (stale) restarts the count.
    handler = FakeHandler(['Digest realm="r", nonce="n2", qop="auth", stale=true', None])
    await mw(fake_request("http://h.test/d"), handler)
    f1, f2 = (parse_authorization(a) for a in handler.auths if a)
    assert (f1["nonce"], f1["nc"]) == ("n1", "00000004")
    assert (f2["nonce"], f2["nc"]) == ("n2", "00000001")


async def test_unit_not_preemptive() -> None:
    mw = digest_mod.DigestAuthMiddleware("user", "pass", preemptive=False)
    c1 = 'Digest realm="r", nonce="n1", qop="auth"'
    handler = FakeHandler([c1, None, c1, None])
    await mw(fake_request("http://h.test/a"), handler)
    await mw(fake_request("http://h.test/b"), handler)
    assert [a is None for a in handler.auths] == [True, False, True, False]
    # The same nonce keeps counting.
    assert [parse_authorization(a)["nc"] for a in handler.auths if a] == [
        "00000001",
        "00000002",
    ]


@pytest.mark.parametrize("challenge,message", BAD_CHALLENGES)
async def test_unit_bad_challenge_messages(challenge: str, message: str) -> None:
    mw = digest_mod.DigestAuthMiddleware("user", "pass")
    handler = FakeHandler([challenge])
    errors = importlib.import_module(f"{TARGET}.client_exceptions")
    with pytest.raises(errors.ClientError) as excinfo:
        await mw(fake_request("http://h.test/"), handler)
    assert type(excinfo.value) is errors.ClientError
    assert str(excinfo.value) == message


async def test_unit_protection_space_and_origin() -> None:
    mw = digest_mod.DigestAuthMiddleware("user", "pass")
    challenge = 'Digest realm="r", nonce="n", domain="/api http://other.test/x/"'
    handler = FakeHandler([challenge, None, None, None, None, None])
    await mw(fake_request("http://h.test/api/1"), handler)
    await mw(fake_request("http://h.test/api/2"), handler)  # preemptive
    await mw(fake_request("http://h.test/apiary"), handler)  # outside /api
    await mw(fake_request("http://other.test/x/y"), handler)  # named by domain
    await mw(fake_request("http://third.test/api/1"), handler)  # another origin
    assert [a is None for a in handler.auths] == [True, False, False, True, False, True]


async def test_unit_other_origin_is_untouched() -> None:
    mw = digest_mod.DigestAuthMiddleware("user", "pass")
    handler = FakeHandler([None, 'Digest realm="r", nonce="n"'])
    await mw(fake_request("http://h.test/"), handler)  # pins the origin
    resp = await mw(fake_request("http://h.test:8080/"), handler)
    assert resp.status == 401
    assert handler.auths == [None, None]


@pytest.mark.parametrize(
    "header,pairs",
    [
        ('realm="a", nonce="b"', {"realm": "a", "nonce": "b"}),
        ('realm = "a, b" ,nonce=tok', {"realm": "a, b", "nonce": "tok"}),
        ('realm="q\\"uote\\\\", qop=auth', {"realm": 'q"uote\\', "qop": "auth"}),
        ('Digest realm="a", nonce="b"', {"realm": "a", "nonce": "b"}),
        ('realm="a", nonce="b", Basic realm="c"', {"realm": "a", "nonce": "b"}),
        ('realm="", nonce=""', {"realm": "", "nonce": ""}),
        ("", {}),
    ],
)
def test_unit_parse_header_pairs(header: str, pairs: dict[str, str]) -> None:
    assert digest_mod.parse_header_pairs(header) == pairs
