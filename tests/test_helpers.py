"""aioxide.helpers (BasicAuth & co) must match aiohttp.helpers.

Every test runs against both modules (the ``helpers`` fixture), so each
assertion is checked to hold for aiohttp 3.14 itself as well as for aioxide.
"""

from __future__ import annotations

import base64
import importlib
import pickle
import warnings
from types import ModuleType
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

MODULES = ["aioxide.helpers", "aiohttp.helpers"]


@pytest.fixture(params=MODULES)
def helpers(request: pytest.FixtureRequest) -> ModuleType:
    return importlib.import_module(request.param)


def make_auth(helpers: ModuleType, *args: Any, **kwargs: Any) -> Any:
    """Construct BasicAuth directly, swallowing its 3.14 deprecation warning."""
    with pytest.warns(DeprecationWarning, match="BasicAuth is deprecated"):
        return helpers.BasicAuth(*args, **kwargs)


# --------------------------------------------------------------------------
# sentinel
# --------------------------------------------------------------------------


def test_sentinel_is_unique_marker(helpers: ModuleType) -> None:
    s = helpers.sentinel
    assert s is helpers.sentinel
    assert s is not None
    assert s != None  # noqa: E711 (the comparison is the test)
    assert bool(s) is True
    assert repr(s) == "<_SENTINEL.sentinel: 1>"
    assert type(s).__name__ == "_SENTINEL"
    assert pickle.loads(pickle.dumps(s)) is s


# --------------------------------------------------------------------------
# BasicAuth construction
# --------------------------------------------------------------------------


def test_basic_auth_is_namedtuple(helpers: ModuleType) -> None:
    auth = make_auth(helpers, "nkim", "pwd", "utf-8")
    assert issubclass(type(auth), tuple)
    assert auth == ("nkim", "pwd", "utf-8")
    assert (auth.login, auth.password, auth.encoding) == ("nkim", "pwd", "utf-8")
    assert auth._fields == ("login", "password", "encoding")
    assert repr(auth) == "BasicAuth(login='nkim', password='pwd', encoding='utf-8')"


def test_basic_auth_defaults(helpers: ModuleType) -> None:
    auth = make_auth(helpers, "nkim")
    assert auth.password == ""
    assert auth.encoding == "latin1"
    assert auth == helpers.BasicAuth.decode("Basic bmtpbTo=")


def test_basic_auth_keywords(helpers: ModuleType) -> None:
    auth = make_auth(helpers, login="a", password="b", encoding="ascii")
    assert auth == ("a", "b", "ascii")


def test_basic_auth_warns_deprecated(helpers: ModuleType) -> None:
    with pytest.warns(DeprecationWarning) as record:
        helpers.BasicAuth("a", "b")
    assert len(record) == 1
    msg = str(record[0].message)
    assert msg.startswith("BasicAuth is deprecated and will be removed in aiohttp 4.0")
    assert "encode_basic_auth()" in msg
    # stacklevel=2: attributed to the caller (this file).
    assert record[0].filename == __file__


def test_basic_auth_none_login(helpers: ModuleType) -> None:
    with pytest.raises(ValueError, match="None is not allowed as login value"):
        helpers.BasicAuth(None)


def test_basic_auth_none_password(helpers: ModuleType) -> None:
    with pytest.raises(ValueError, match="None is not allowed as password value"):
        helpers.BasicAuth("nkim", None)


def test_basic_auth_colon_in_login(helpers: ModuleType) -> None:
    with pytest.raises(ValueError, match=r'A ":" is not allowed in login \(RFC 1945'):
        helpers.BasicAuth("nkim:1", "pwd")


def test_basic_auth_colon_in_password_ok(helpers: ModuleType) -> None:
    auth = make_auth(helpers, "nkim", "p:w:d")
    assert auth.password == "p:w:d"
    assert auth.encode() == "Basic " + base64.b64encode(b"nkim:p:w:d").decode()


def test_basic_auth_pickle(helpers: ModuleType) -> None:
    auth = make_auth(helpers, "nkim", "pwd", "utf-8")
    data = pickle.dumps(auth)
    with pytest.warns(DeprecationWarning):
        auth2 = pickle.loads(data)
    assert type(auth2) is helpers.BasicAuth
    assert auth2 == auth


# --------------------------------------------------------------------------
# encode / encode_basic_auth
# --------------------------------------------------------------------------


def test_basic_auth_encode(helpers: ModuleType) -> None:
    assert make_auth(helpers, "nkim", "1234").encode() == "Basic bmtpbToxMjM0"


def test_basic_auth_encode_uses_encoding(helpers: ModuleType) -> None:
    assert make_auth(helpers, "\xe9", "", "latin1").encode() == "Basic 6To="
    assert make_auth(helpers, "\xe9", "", "utf-8").encode() == "Basic w6k6"


def test_encode_basic_auth(helpers: ModuleType) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert helpers.encode_basic_auth("nkim", "1234") == "Basic bmtpbToxMjM0"
        assert helpers.encode_basic_auth("nkim") == "Basic bmtpbTo="
        # Default encoding is utf-8 (BasicAuth's is latin1).
        assert helpers.encode_basic_auth("\xe9") == "Basic w6k6"
        assert helpers.encode_basic_auth("\xe9", "", "latin1") == "Basic 6To="


def test_encode_basic_auth_colon_in_login(helpers: ModuleType) -> None:
    with pytest.raises(ValueError, match=r'A ":" is not allowed in login \(RFC 7617'):
        helpers.encode_basic_auth("a:b", "c")


@pytest.mark.aiohttp_reference
def test_encode_basic_auth_exported_by_aiohttp() -> None:
    aiohttp = importlib.import_module("aiohttp")
    assert "encode_basic_auth" in aiohttp.__all__
    ours = importlib.import_module("aioxide.helpers")
    assert ours.encode_basic_auth("u", "p") == aiohttp.encode_basic_auth("u", "p")


# --------------------------------------------------------------------------
# decode
# --------------------------------------------------------------------------


def test_decode(helpers: ModuleType) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auth = helpers.BasicAuth.decode("Basic bmtpbToxMjM0")
    assert type(auth) is helpers.BasicAuth
    assert auth == ("nkim", "1234", "latin1")


def test_decode_scheme_case_insensitive(helpers: ModuleType) -> None:
    assert helpers.BasicAuth.decode("bAsIc bmtpbToxMjM0").login == "nkim"


def test_decode_encoding(helpers: ModuleType) -> None:
    auth = helpers.BasicAuth.decode("Basic w6k6cMOp", encoding="utf-8")
    assert auth == ("\xe9", "p\xe9", "utf-8")
    assert helpers.BasicAuth.decode("Basic w6k6cMOp").login == "\xc3\xa9"


def test_decode_empty_parts(helpers: ModuleType) -> None:
    assert helpers.BasicAuth.decode("Basic Og==") == ("", "", "latin1")
    assert helpers.BasicAuth.decode("Basic OnB3ZA==") == ("", "pwd", "latin1")


def test_decode_password_with_colon(helpers: ModuleType) -> None:
    auth = helpers.BasicAuth.decode("Basic " + base64.b64encode(b"u:p:w").decode())
    assert (auth.login, auth.password) == ("u", "p:w")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Basic", "Could not parse authorization header."),
        ("", "Could not parse authorization header."),
        ("Digest bmtpbToxMjM0", "Unknown authorization method Digest"),
        ("Basic ###", "Invalid base64 encoding."),
        ("Basic bmtpbToxMjM", "Invalid base64 encoding."),
        ("Basic bmtpbQ==", "Invalid credentials."),
    ],
)
def test_decode_errors(helpers: ModuleType, header: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        helpers.BasicAuth.decode(header)
    assert str(info.value) == message


# --------------------------------------------------------------------------
# from_url / strip_auth_from_url
# --------------------------------------------------------------------------


def test_from_url(helpers: ModuleType) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auth = helpers.BasicAuth.from_url(URL("http://user:pass@example.com"))
    assert type(auth) is helpers.BasicAuth
    assert auth == ("user", "pass", "latin1")


def test_from_url_encoding(helpers: ModuleType) -> None:
    auth = helpers.BasicAuth.from_url(URL("http://user:pass@example.com"), encoding="utf-8")
    assert auth.encoding == "utf-8"


def test_from_url_encoding_keyword_only(helpers: ModuleType) -> None:
    with pytest.raises(TypeError):
        helpers.BasicAuth.from_url(URL("http://u:p@example.com"), "utf-8")


def test_from_url_no_credentials(helpers: ModuleType) -> None:
    assert helpers.BasicAuth.from_url(URL("http://example.com")) is None


def test_from_url_partial_credentials(helpers: ModuleType) -> None:
    assert helpers.BasicAuth.from_url(URL("http://user@example.com")) == ("user", "", "latin1")
    assert helpers.BasicAuth.from_url(URL("http://:pw@example.com")) == ("", "pw", "latin1")


def test_from_url_percent_decoded(helpers: ModuleType) -> None:
    auth = helpers.BasicAuth.from_url(URL("http://us%3Aer:p%40ss@example.com"))
    # The login may contain ":" here: no validation on this path.
    assert (auth.login, auth.password) == ("us:er", "p@ss")


def test_from_url_requires_yarl(helpers: ModuleType) -> None:
    with pytest.raises(TypeError, match="url should be yarl.URL instance"):
        helpers.BasicAuth.from_url("http://user:pass@example.com")


def test_strip_auth_from_url(helpers: ModuleType) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        url, auth = helpers.strip_auth_from_url(URL("http://user:pass@example.com:81/p?q=1"))
    assert url == URL("http://example.com:81/p?q=1")
    assert type(auth) is helpers.BasicAuth
    assert auth == ("user", "pass", "latin1")


def test_strip_auth_from_url_user_only(helpers: ModuleType) -> None:
    url, auth = helpers.strip_auth_from_url(URL("http://user@example.com/"))
    assert url == URL("http://example.com/")
    assert auth == ("user", "", "latin1")


def test_strip_auth_from_url_none(helpers: ModuleType) -> None:
    src = URL("http://example.com/path")
    url, auth = helpers.strip_auth_from_url(src)
    assert url is src
    assert auth is None


def test_decode_non_ascii_header(helpers: ModuleType) -> None:
    # not caught by aiohttp: the header must be ASCII (UnicodeEncodeError is a ValueError)
    with pytest.raises(UnicodeEncodeError):
        helpers.BasicAuth.decode("Basic bmtp\xe9")


def test_decode_undecodable_credentials(helpers: ModuleType) -> None:
    header = "Basic " + base64.b64encode(b"\xff:x").decode()
    with pytest.raises(UnicodeDecodeError):
        helpers.BasicAuth.decode(header, encoding="utf-8")
    assert helpers.BasicAuth.decode(header).login == "\xff"  # latin1 decodes anything


def test_basic_auth_encode_unencodable(helpers: ModuleType) -> None:
    auth = make_auth(helpers, "\u20ac", "x")  # latin1 (the default) has no euro sign
    with pytest.raises(UnicodeEncodeError):
        auth.encode()


def test_basic_auth_tuple_behaviour(helpers: ModuleType) -> None:
    auth = helpers.BasicAuth.decode("Basic bmtpbToxMjM0")
    assert hash(auth) == hash(("nkim", "1234", "latin1"))
    login, password, encoding = auth
    assert (login, password, encoding) == ("nkim", "1234", "latin1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        other = auth._replace(password="x")
    assert type(other) is helpers.BasicAuth
    assert other == ("nkim", "x", "latin1")


# --------------------------------------------------------------------------
# RequestInfo (client_reqrep)
# --------------------------------------------------------------------------


@pytest.fixture(params=["aioxide.client_reqrep", "aiohttp.client_reqrep"])
def reqrep(request: pytest.FixtureRequest) -> ModuleType:
    return importlib.import_module(request.param)


def _headers() -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({"Host": "example.com", "X-A": "1"}))


def test_request_info_fields(reqrep: ModuleType) -> None:
    h = _headers()
    info = reqrep.RequestInfo(URL("http://example.com/p#f"), "GET", h)
    assert isinstance(info, tuple)
    assert info._fields == ("url", "method", "headers", "real_url")
    assert info.url == URL("http://example.com/p#f")
    assert info.method == "GET"
    assert info.headers is h
    assert info.real_url is info.url  # defaults to url
    assert info == (URL("http://example.com/p#f"), "GET", h, URL("http://example.com/p#f"))


def test_request_info_real_url(reqrep: ModuleType) -> None:
    h = _headers()
    info = reqrep.RequestInfo(
        url=URL("http://example.com/p"),
        method="POST",
        headers=h,
        real_url=URL("http://example.com/p#frag"),
    )
    assert (info.url, info.real_url) == (
        URL("http://example.com/p"),
        URL("http://example.com/p#frag"),
    )
    url, method, headers, real_url = info
    assert (url, method, headers, real_url) == tuple(info)
    assert repr(info) == (
        "RequestInfo(url=URL('http://example.com/p'), method='POST', "
        "headers=<CIMultiDictProxy('Host': 'example.com', 'X-A': '1')>, "
        "real_url=URL('http://example.com/p#frag'))"
    )


def test_request_info_replace(reqrep: ModuleType) -> None:
    info = reqrep.RequestInfo(URL("http://example.com/"), "GET", _headers())
    other = info._replace(method="HEAD")
    assert type(other) is reqrep.RequestInfo
    assert (other.method, other.url, other.real_url) == ("HEAD", info.url, info.real_url)


# --------------------------------------------------------------------------
# MIME types, ETag helpers
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "*",
        "text/html",
        "Text/HTML; Charset=UTF-8",
        "application/ld+json; profile=x; q",
        'multipart/form-data; boundary="abc def"',
    ],
)
def test_parse_mimetype(helpers: ModuleType, value: str) -> None:
    ours = importlib.import_module("aioxide.helpers").parse_mimetype(value)
    theirs = importlib.import_module("aiohttp.helpers").parse_mimetype(value)
    assert (ours.type, ours.subtype, ours.suffix) == (theirs.type, theirs.subtype, theirs.suffix)
    assert list(ours.parameters.items()) == list(theirs.parameters.items())
    mt = helpers.parse_mimetype(value)
    assert not isinstance(mt, tuple)  # an attrs class in aiohttp, a dataclass here
    with pytest.raises(AttributeError):
        mt.type = "x"


@pytest.mark.parametrize(
    "value",
    [
        "text/plain",
        'Text/Plain; Charset="UTF-8"; format=flowed',
        "bogus",
        "text/plain; charset*=utf-8''%E2%82%AC",
        "a/b; x=1; x=2",
    ],
)
def test_parse_content_type(helpers: ModuleType, value: str) -> None:
    ctype, params = helpers.parse_content_type(value)
    ref = importlib.import_module("aiohttp.helpers").parse_content_type(value)
    assert (ctype, dict(params)) == (ref[0], dict(ref[1]))


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        ('"a", W/"b"', [("a", False), ("b", True)]),
        ("*", [("*", False)]),
        ('"a", garbage', [("a", False)]),
    ],
)
def test_etag_list_regex(helpers: ModuleType, header: str, tags: list[tuple[str, bool]]) -> None:
    if header == helpers.ETAG_ANY:
        got = [(helpers.ETAG_ANY, False)]
    else:
        got = []
        for m in helpers.LIST_QUOTED_ETAG_RE.finditer(header):
            is_weak, value, garbage = m.group(2, 3, 4)
            if garbage:
                break
            got.append((value, bool(is_weak)))
    assert got == tags
    assert [helpers.ETag(value=v, is_weak=w) for v, w in got] == [
        helpers.ETag(v, w) for v, w in tags
    ]


def test_token_sets(helpers: ModuleType) -> None:
    ref = importlib.import_module("aiohttp.helpers")
    assert helpers.TOKEN == ref.TOKEN
    assert helpers.CHAR == ref.CHAR
    assert "a" in helpers.TOKEN and ";" not in helpers.TOKEN
