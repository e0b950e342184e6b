"""aioxide.client_exceptions must match aiohttp.client_exceptions.

Every test runs against both modules (the ``ce`` fixture), so each assertion is
checked to hold for aiohttp 3.14 itself as well as for aioxide.
"""

from __future__ import annotations

import asyncio
import importlib
import pickle
import ssl
import warnings
from types import ModuleType
from typing import Any, NamedTuple

import pytest
from multidict import CIMultiDict
from yarl import URL

MODULES = ["aioxide.client_exceptions", "aiohttp.client_exceptions"]


@pytest.fixture(params=MODULES)
def ce(request: pytest.FixtureRequest) -> ModuleType:
    return importlib.import_module(request.param)


# Module-level (hence picklable) stand-ins for RequestInfo and ConnectionKey.
class FakeRequestInfo(NamedTuple):
    url: URL
    method: str
    headers: Any
    real_url: URL


class FakeConnKey(NamedTuple):
    host: str
    port: int | None
    is_ssl: bool
    ssl: Any
    proxy: URL | None = None
    proxy_auth: Any = None
    proxy_headers_hash: int | None = None


REQ_INFO = FakeRequestInfo(
    URL("http://example.com/a"),
    "GET",
    CIMultiDict(),
    URL("http://example.com/a?real=1"),
)
CONN_KEY = FakeConnKey("example.com", 8080, False, True)


# --------------------------------------------------------------------------
# Class tree
# --------------------------------------------------------------------------

EXPECTED_ALL = {
    "ClientError",
    "ClientConnectionError",
    "ClientConnectionResetError",
    "ClientOSError",
    "ClientConnectorError",
    "ClientProxyConnectionError",
    "ClientSSLError",
    "ClientConnectorDNSError",
    "ClientConnectorSSLError",
    "ClientConnectorCertificateError",
    "ConnectionTimeoutError",
    "SocketTimeoutError",
    "ServerConnectionError",
    "ServerTimeoutError",
    "ServerDisconnectedError",
    "ServerFingerprintMismatch",
    "ClientResponseError",
    "ClientHttpProxyError",
    "WSServerHandshakeError",
    "ContentTypeError",
    "ClientPayloadError",
    "UploadAbortedError",
    "InvalidURL",
    "InvalidUrlClientError",
    "RedirectClientError",
    "NonHttpUrlClientError",
    "InvalidUrlRedirectClientError",
    "NonHttpUrlRedirectClientError",
    "WSMessageTypeError",
}

# Direct bases: strings name classes of the module under test, others are stdlib.
EXPECTED_BASES: dict[str, tuple[Any, ...]] = {
    "ClientError": (Exception,),
    "ClientResponseError": ("ClientError",),
    "ContentTypeError": ("ClientResponseError",),
    "WSServerHandshakeError": ("ClientResponseError",),
    "ClientHttpProxyError": ("ClientResponseError",),
    "TooManyRedirects": ("ClientResponseError",),
    "ClientConnectionError": ("ClientError",),
    "ClientConnectionResetError": ("ClientConnectionError", ConnectionResetError),
    "ClientOSError": ("ClientConnectionError", OSError),
    "ClientConnectorError": ("ClientOSError",),
    "ClientConnectorDNSError": ("ClientConnectorError",),
    "ClientProxyConnectionError": ("ClientConnectorError",),
    "UnixClientConnectorError": ("ClientConnectorError",),
    "ClientSSLError": ("ClientConnectorError",),
    "ClientConnectorSSLError": ("ClientSSLError", ssl.SSLError),
    "ClientConnectorCertificateError": ("ClientSSLError", ssl.CertificateError),
    "ServerConnectionError": ("ClientConnectionError",),
    "ServerDisconnectedError": ("ServerConnectionError",),
    "ServerTimeoutError": ("ServerConnectionError", asyncio.TimeoutError),
    "ConnectionTimeoutError": ("ServerTimeoutError",),
    "SocketTimeoutError": ("ServerTimeoutError",),
    "ServerFingerprintMismatch": ("ServerConnectionError",),
    "ClientPayloadError": ("ClientError",),
    "UploadAbortedError": ("ClientError",),
    "InvalidURL": ("ClientError", ValueError),
    "InvalidUrlClientError": ("InvalidURL",),
    "RedirectClientError": ("ClientError",),
    "NonHttpUrlClientError": ("ClientError",),
    "InvalidUrlRedirectClientError": ("InvalidUrlClientError", "RedirectClientError"),
    "NonHttpUrlRedirectClientError": ("NonHttpUrlClientError", "RedirectClientError"),
    "WSMessageTypeError": (TypeError,),
}


def test_all_names(ce: ModuleType) -> None:
    assert len(ce.__all__) == len(EXPECTED_ALL)
    assert set(ce.__all__) == EXPECTED_ALL
    for name in ce.__all__:
        assert issubclass(getattr(ce, name), Exception)


def test_classes_outside_all_exist(ce: ModuleType) -> None:
    assert "TooManyRedirects" not in ce.__all__
    assert "UnixClientConnectorError" not in ce.__all__
    assert issubclass(ce.TooManyRedirects, ce.ClientResponseError)
    assert issubclass(ce.UnixClientConnectorError, ce.ClientConnectorError)


def test_every_exception_class_is_covered(ce: ModuleType) -> None:
    defined = {
        name
        for name, obj in vars(ce).items()
        if isinstance(obj, type)
        and issubclass(obj, BaseException)
        and obj.__module__ == ce.__name__
    }
    assert defined == set(EXPECTED_BASES)


@pytest.mark.parametrize("name", sorted(EXPECTED_BASES))
def test_direct_bases(ce: ModuleType, name: str) -> None:
    expected = tuple(getattr(ce, b) if isinstance(b, str) else b for b in EXPECTED_BASES[name])
    assert getattr(ce, name).__bases__ == expected


def _mro_names(cls: type, module: ModuleType) -> list[Any]:
    return [c.__name__ if c.__module__ == module.__name__ else c for c in cls.__mro__]


@pytest.mark.aiohttp_reference
@pytest.mark.parametrize("name", sorted(EXPECTED_BASES))
def test_mro_matches_aiohttp(name: str) -> None:
    ours = importlib.import_module("aioxide.client_exceptions")
    ref = importlib.import_module("aiohttp.client_exceptions")
    assert _mro_names(getattr(ours, name), ours) == _mro_names(getattr(ref, name), ref)


def test_stdlib_bases(ce: ModuleType) -> None:
    assert issubclass(ce.ClientOSError, OSError)
    assert issubclass(ce.ClientConnectorError, OSError)
    assert issubclass(ce.ClientConnectionResetError, ConnectionResetError)
    assert issubclass(ce.ClientConnectionResetError, ConnectionError)
    assert issubclass(ce.ServerTimeoutError, asyncio.TimeoutError)
    assert issubclass(ce.ConnectionTimeoutError, ce.ServerTimeoutError)
    assert issubclass(ce.SocketTimeoutError, ce.ServerTimeoutError)
    assert issubclass(ce.ConnectionTimeoutError, asyncio.TimeoutError)
    assert issubclass(ce.InvalidURL, ValueError)
    assert issubclass(ce.InvalidUrlRedirectClientError, ValueError)
    assert issubclass(ce.InvalidUrlRedirectClientError, ce.RedirectClientError)
    assert issubclass(ce.NonHttpUrlRedirectClientError, ce.RedirectClientError)
    assert not issubclass(ce.NonHttpUrlRedirectClientError, ValueError)
    assert issubclass(ce.ClientConnectorCertificateError, ssl.CertificateError)
    assert issubclass(ce.ClientConnectorCertificateError, ce.ClientSSLError)
    assert issubclass(ce.ClientConnectorSSLError, ssl.SSLError)
    assert issubclass(ce.ClientConnectorSSLError, ce.ClientSSLError)
    assert not issubclass(ce.ClientSSLError, ssl.SSLError)
    assert issubclass(ce.WSMessageTypeError, TypeError)
    assert not issubclass(ce.WSMessageTypeError, ce.ClientError)
    assert not issubclass(ce.ClientResponseError, OSError)
    assert not issubclass(ce.ClientPayloadError, ce.ClientConnectionError)
    assert not issubclass(ce.ServerDisconnectedError, OSError)


def test_ssl_error_tuples(ce: ModuleType) -> None:
    assert ce.cert_errors == (ssl.CertificateError,)
    assert ce.ssl_errors == (ssl.SSLError,)


def test_timeout_caught_as_asyncio_timeout(ce: ModuleType) -> None:
    with pytest.raises(asyncio.TimeoutError) as info:
        raise ce.SocketTimeoutError("Timeout on reading data from socket")
    assert str(info.value) == "Timeout on reading data from socket"


# --------------------------------------------------------------------------
# ClientResponseError family
# --------------------------------------------------------------------------


def test_response_error_defaults(ce: ModuleType) -> None:
    err = ce.ClientResponseError(REQ_INFO, ())
    assert err.request_info is REQ_INFO
    assert err.history == ()
    assert err.status == 0
    assert err.message == ""
    assert err.headers is None
    assert err.args == (REQ_INFO, ())


def test_response_error_attributes(ce: ModuleType) -> None:
    headers = CIMultiDict({"X-A": "1"})
    history = ["r1"]  # stored as given, not copied
    err = ce.ClientResponseError(
        REQ_INFO, history, status=404, message="Not Found", headers=headers
    )
    assert err.status == 404
    assert err.message == "Not Found"
    assert err.headers is headers
    assert err.history is history
    assert err.args == (REQ_INFO, history)


def test_response_error_keyword_only(ce: ModuleType) -> None:
    with pytest.raises(TypeError):
        ce.ClientResponseError(REQ_INFO, (), 404)


def test_response_error_str(ce: ModuleType) -> None:
    err = ce.ClientResponseError(REQ_INFO, (), status=400, message="Bad")
    # real_url, not url, is shown.
    assert str(err) == "400, message='Bad', url='http://example.com/a?real=1'"
    assert str(ce.ClientResponseError(REQ_INFO, ())) == (
        "0, message='', url='http://example.com/a?real=1'"
    )


def test_response_error_repr_minimal(ce: ModuleType) -> None:
    err = ce.ClientResponseError(REQ_INFO, ())
    assert repr(err) == f"ClientResponseError({REQ_INFO!r}, ())"


def test_response_error_repr_full(ce: ModuleType) -> None:
    headers = CIMultiDict({"X-A": "1"})
    err = ce.ContentTypeError(REQ_INFO, (), status=500, message="boom", headers=headers)
    assert repr(err) == (
        f"ContentTypeError({REQ_INFO!r}, (), status=500, message='boom', headers={headers!r})"
    )


def test_response_error_repr_skips_defaults_individually(ce: ModuleType) -> None:
    err = ce.WSServerHandshakeError(REQ_INFO, (), message="Invalid response status")
    assert repr(err) == (
        f"WSServerHandshakeError({REQ_INFO!r}, (), message='Invalid response status')"
    )
    err = ce.ClientHttpProxyError(REQ_INFO, (), status=407)
    assert repr(err) == f"ClientHttpProxyError({REQ_INFO!r}, (), status=407)"


def test_response_error_code_argument_deprecated(ce: ModuleType) -> None:
    with pytest.warns(DeprecationWarning, match="code argument is deprecated"):
        err = ce.ClientResponseError(REQ_INFO, (), code=418)
    assert err.status == 418


def test_response_error_code_and_status_conflict(ce: ModuleType) -> None:
    with pytest.raises(ValueError, match="Both code and status arguments are provided"):
        ce.ClientResponseError(REQ_INFO, (), code=400, status=401)


def test_response_error_code_property_deprecated(ce: ModuleType) -> None:
    err = ce.ClientResponseError(REQ_INFO, (), status=503)
    with pytest.warns(DeprecationWarning, match="code property is deprecated"):
        assert err.code == 503
    with pytest.warns(DeprecationWarning, match="code property is deprecated"):
        err.code = 504
    assert err.status == 504


def test_response_error_no_warning_without_code(ce: ModuleType) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        err = ce.ClientResponseError(REQ_INFO, (), status=200)
    assert err.status == 200


def test_response_error_pickle(ce: ModuleType) -> None:
    err = ce.ClientResponseError(
        REQ_INFO, (), status=400, message="Something wrong", headers={"A": "b"}
    )
    err.foo = "bar"
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        err2 = pickle.loads(pickle.dumps(err, proto))
        assert type(err2) is ce.ClientResponseError
        assert err2.request_info == REQ_INFO
        assert err2.history == ()
        assert err2.status == 400
        assert err2.message == "Something wrong"
        assert err2.headers == {"A": "b"}
        assert err2.args == (REQ_INFO, ())
        assert err2.foo == "bar"


# --------------------------------------------------------------------------
# OS-level / connector errors
# --------------------------------------------------------------------------


def test_client_os_error_is_oserror(ce: ModuleType) -> None:
    err = ce.ClientOSError(111, "Connection refused")
    assert err.errno == 111
    assert err.strerror == "Connection refused"
    assert str(err) == "[Errno 111] Connection refused"
    err2 = pickle.loads(pickle.dumps(err))
    assert type(err2) is ce.ClientOSError
    assert err2.errno == 111


def test_connection_reset_error(ce: ModuleType) -> None:
    err = ce.ClientConnectionResetError("Cannot write to closing transport")
    assert isinstance(err, ConnectionResetError)
    assert str(err) == "Cannot write to closing transport"


def test_connector_error_attributes(ce: ModuleType) -> None:
    os_err = OSError(111, "Connection refused")
    err = ce.ClientConnectorError(CONN_KEY, os_err)
    assert err.host == "example.com"
    assert err.port == 8080
    assert err.ssl is True
    assert err.os_error is os_err
    assert err.errno == 111
    assert err.strerror == "Connection refused"
    assert err.args == (CONN_KEY, os_err)


def test_connector_error_duck_typed_key(ce: ModuleType) -> None:
    class Key:
        host = "h.test"
        port = None
        ssl = False

    err = ce.ClientConnectorError(Key(), OSError(2, "nope"))
    assert (err.host, err.port, err.ssl) == ("h.test", None, False)
    assert str(err) == "Cannot connect to host h.test:None ssl:False [nope]"


def test_connector_error_str_default_ssl(ce: ModuleType) -> None:
    err = ce.ClientConnectorError(CONN_KEY, OSError(111, "Connection refused"))
    assert str(err) == "Cannot connect to host example.com:8080 ssl:default [Connection refused]"


def test_connector_error_str_ssl_context(ce: ModuleType) -> None:
    ctx = ssl.create_default_context()
    key = FakeConnKey("example.com", 443, True, ctx)
    err = ce.ClientConnectorError(key, OSError(1, "x"))
    assert err.ssl is ctx
    assert str(err) == f"Cannot connect to host example.com:443 ssl:{ctx} [x]"


def test_connector_error_str_no_errno(ce: ModuleType) -> None:
    err = ce.ClientConnectorError(CONN_KEY, OSError("just a message"))
    assert err.errno is None
    assert err.strerror is None
    assert str(err) == "Cannot connect to host example.com:8080 ssl:default [None]"


def test_connector_error_repr(ce: ModuleType) -> None:
    os_err = OSError(111, "Connection refused")
    err = ce.ClientConnectorError(CONN_KEY, os_err)
    assert repr(err) == f"ClientConnectorError({CONN_KEY!r}, {os_err!r})"


@pytest.mark.parametrize(
    "name", ["ClientConnectorDNSError", "ClientProxyConnectionError", "ClientSSLError"]
)
def test_connector_error_subclasses(ce: ModuleType, name: str) -> None:
    err = getattr(ce, name)(CONN_KEY, OSError(-2, "Name or service not known"))
    assert isinstance(err, ce.ClientConnectorError)
    assert err.host == "example.com"
    assert str(err) == (
        "Cannot connect to host example.com:8080 ssl:default [Name or service not known]"
    )


def test_connector_error_pickle(ce: ModuleType) -> None:
    os_err = OSError(111, "Connection refused")
    err = ce.ClientConnectorError(CONN_KEY, os_err)
    err.foo = "bar"
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        err2 = pickle.loads(pickle.dumps(err, proto))
        assert type(err2) is ce.ClientConnectorError
        assert err2.args == (CONN_KEY, err2.os_error)
        assert err2.host == "example.com"
        assert err2.port == 8080
        assert err2.ssl is True
        assert err2.errno == 111
        assert err2.strerror == "Connection refused"
        assert err2.foo == "bar"
        assert str(err2) == str(err)


def test_connector_error_pickle_ignores_filename(ce: ModuleType) -> None:
    # OSError.__reduce__ would rebuild from (errno, strerror, filename); the
    # connector errors use BaseException.__reduce__ and keep their own args.
    err = ce.ClientConnectorError(CONN_KEY, OSError(111, "Connection refused"))
    err.filename = "/some/file"
    err2 = pickle.loads(pickle.dumps(err))
    assert type(err2) is ce.ClientConnectorError
    assert err2.args == (CONN_KEY, err2.os_error)
    assert err2.host == "example.com"


def test_unix_connector_error(ce: ModuleType) -> None:
    os_err = OSError(2, "No such file or directory")
    err = ce.UnixClientConnectorError("/run/x.sock", CONN_KEY, os_err)
    assert err.path == "/run/x.sock"
    assert err.os_error is os_err
    assert err.args == (CONN_KEY, os_err)
    assert str(err) == (
        "Cannot connect to unix socket /run/x.sock ssl:default [No such file or directory]"
    )


def test_connector_ssl_error(ce: ModuleType) -> None:
    os_err = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    err = ce.ClientConnectorSSLError(CONN_KEY, os_err)
    assert issubclass(type(err), ssl.SSLError)
    assert err.os_error is os_err
    assert err.errno == 1
    assert str(err) == (
        "Cannot connect to host example.com:8080 ssl:default "
        "[[SSL: WRONG_VERSION_NUMBER] wrong version number]"
    )
    with pytest.raises(ce.ClientSSLError):
        raise err


def test_certificate_error_with_cert_error(ce: ModuleType) -> None:
    cert_err = ssl.CertificateError("hostname mismatch")
    key = FakeConnKey("example.com", 443, True, False)
    err = ce.ClientConnectorCertificateError(key, cert_err)
    assert err.certificate_error is cert_err
    assert err.os_error is cert_err
    assert err.args == (key, cert_err)
    assert err.host == "example.com"
    assert err.port == 443
    # ssl reports the key's is_ssl flag, not its ssl attribute.
    assert err.ssl is True
    assert str(err) == (
        "Cannot connect to host example.com:443 ssl:True "
        "[SSLCertVerificationError: ('hostname mismatch',)]"
    )


def test_certificate_error_with_other_exception(ce: ModuleType) -> None:
    cert_err = RuntimeError("odd", 1)
    err = ce.ClientConnectorCertificateError(CONN_KEY, cert_err)
    assert err.certificate_error is cert_err
    assert type(err.os_error) is OSError
    assert err.os_error.args == ()
    assert err.args == (CONN_KEY, cert_err)
    assert err.errno is None
    assert err.ssl is False
    assert (
        str(err) == "Cannot connect to host example.com:8080 ssl:False [RuntimeError: ('odd', 1)]"
    )
    err2 = pickle.loads(pickle.dumps(err))
    assert type(err2.certificate_error) is RuntimeError
    assert err2.certificate_error.args == ("odd", 1)


def test_certificate_error_pickle(ce: ModuleType) -> None:
    err = ce.ClientConnectorCertificateError(CONN_KEY, ssl.CertificateError("bad"))
    err2 = pickle.loads(pickle.dumps(err))
    assert type(err2) is ce.ClientConnectorCertificateError
    assert type(err2.certificate_error) is ssl.SSLCertVerificationError
    assert err2.certificate_error.args == ("bad",)
    assert err2.host == "example.com"
    assert str(err2) == str(err)


# --------------------------------------------------------------------------
# Server errors
# --------------------------------------------------------------------------


def test_server_disconnected_default(ce: ModuleType) -> None:
    err = ce.ServerDisconnectedError()
    assert err.message == "Server disconnected"
    assert err.args == ("Server disconnected",)
    assert str(err) == "Server disconnected"
    assert repr(err) == "ServerDisconnectedError('Server disconnected')"


def test_server_disconnected_message(ce: ModuleType) -> None:
    err = ce.ServerDisconnectedError("gone")
    assert err.message == "gone"
    assert err.args == ("gone",)
    assert str(err) == "gone"
    assert repr(err) == "ServerDisconnectedError('gone')"


def test_server_disconnected_pickle(ce: ModuleType) -> None:
    err = pickle.loads(pickle.dumps(ce.ServerDisconnectedError("bye")))
    assert type(err) is ce.ServerDisconnectedError
    assert err.message == "bye"
    assert err.args == ("bye",)


def test_fingerprint_mismatch(ce: ModuleType) -> None:
    err = ce.ServerFingerprintMismatch(b"exp", b"got", "example.com", 8080)
    assert err.expected == b"exp"
    assert err.got == b"got"
    assert err.host == "example.com"
    assert err.port == 8080
    assert err.args == (b"exp", b"got", "example.com", 8080)
    assert repr(err) == (
        "<ServerFingerprintMismatch expected=b'exp' got=b'got' host='example.com' port=8080>"
    )
    assert str(err) == "(b'exp', b'got', 'example.com', 8080)"


def test_fingerprint_mismatch_pickle(ce: ModuleType) -> None:
    err = ce.ServerFingerprintMismatch(b"exp", b"got", "example.com", 8080)
    err.foo = "bar"
    err2 = pickle.loads(pickle.dumps(err))
    assert type(err2) is ce.ServerFingerprintMismatch
    assert (err2.expected, err2.got, err2.host, err2.port) == (b"exp", b"got", "example.com", 8080)
    assert err2.foo == "bar"


# --------------------------------------------------------------------------
# Simple errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "ClientError",
        "ClientConnectionError",
        "ServerConnectionError",
        "ServerTimeoutError",
        "ConnectionTimeoutError",
        "SocketTimeoutError",
        "ClientPayloadError",
        "UploadAbortedError",
        "RedirectClientError",
        "NonHttpUrlClientError",
        "NonHttpUrlRedirectClientError",
        "WSMessageTypeError",
    ],
)
def test_plain_errors_str_repr_pickle(ce: ModuleType, name: str) -> None:
    cls = getattr(ce, name)
    err = cls("some text")
    assert err.args == ("some text",)
    assert str(err) == "some text"
    assert repr(err) == f"{name}('some text')"
    err2 = pickle.loads(pickle.dumps(err))
    assert type(err2) is cls
    assert err2.args == ("some text",)


# --------------------------------------------------------------------------
# InvalidURL family
# --------------------------------------------------------------------------


def test_invalid_url_without_description(ce: ModuleType) -> None:
    err = ce.InvalidURL("http://")
    assert err.url == "http://"
    assert err.description is None
    assert err.args == ("http://",)
    assert str(err) == "http://"
    assert repr(err) == "<InvalidURL http://>"


def test_invalid_url_with_description(ce: ModuleType) -> None:
    err = ce.InvalidURL("bad://x", "Unsupported scheme")
    assert err.url == "bad://x"
    assert err.description == "Unsupported scheme"
    assert err.args == ("bad://x", "Unsupported scheme")
    assert str(err) == "bad://x - Unsupported scheme"
    assert repr(err) == "<InvalidURL bad://x - Unsupported scheme>"


def test_invalid_url_empty_description(ce: ModuleType) -> None:
    err = ce.InvalidURL("x", "")
    assert err.description == ""
    assert err.args == ("x",)
    assert str(err) == "x"


def test_invalid_url_keeps_yarl_url(ce: ModuleType) -> None:
    url = URL("http:///no-host")
    err = ce.InvalidUrlClientError(url, "no host")
    assert err.url is url
    assert str(err) == "http:///no-host - no host"
    assert repr(err) == "<InvalidUrlClientError http:///no-host - no host>"


def test_invalid_url_caught_as_value_error(ce: ModuleType) -> None:
    with pytest.raises(ValueError):
        raise ce.InvalidUrlRedirectClientError("/x", "redirect to bad url")


@pytest.mark.parametrize("name", ["InvalidURL", "InvalidUrlRedirectClientError"])
def test_invalid_url_pickle(ce: ModuleType, name: str) -> None:
    cls = getattr(ce, name)
    err = cls("http://", "no host")
    err2 = pickle.loads(pickle.dumps(err))
    assert type(err2) is cls
    assert err2.url == "http://"
    assert err2.description == "no host"
    assert str(err2) == "http:// - no host"
