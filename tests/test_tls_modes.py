"""Every ``ssl=`` mode: SSLContext, Fingerprint, the deprecated forms.

Local HTTPS aiohttp.web servers with trustme certificates.  Each test passes
against aiohttp too (``AIOXIDE_TEST_TARGET=aiohttp``); where aioxide
deliberately differs the test says so and checks each side.
"""

from __future__ import annotations

import datetime
import hashlib
import ssl
import sys
import warnings
from typing import Any, Awaitable, Callable

import pytest
import trustme
from aiohttp import web

Start = Callable[..., Awaitable[str]]


def is_aiohttp(client: Any) -> bool:
    return bool(client.__name__ == "aiohttp")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def https(ca: trustme.CA, serve: Any) -> Start:
    """Start an HTTPS server; returns its base URL.

    ``cert``: the server's trustme LeafCert (default: one for 127.0.0.1);
    ``client_ca``: require a client certificate issued by this CA;
    ``max_version``: the highest TLS version the server speaks.
    The app answers ``/`` with "secure" and ``/peer`` with the client's port,
    ``/cipher`` with the negotiated cipher name.
    """

    async def start(
        cert: trustme.LeafCert | None = None,
        client_ca: trustme.CA | None = None,
        max_version: ssl.TLSVersion | None = None,
    ) -> str:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        (cert or ca.issue_cert("127.0.0.1", "localhost")).configure_cert(ctx)
        if client_ca is not None:
            client_ca.configure_trust(ctx)
            ctx.verify_mode = ssl.CERT_REQUIRED
        if max_version is not None:
            ctx.maximum_version = max_version

        async def hello(request: web.Request) -> web.Response:
            return web.Response(text="secure")

        async def peer(request: web.Request) -> web.Response:
            assert request.transport is not None
            return web.Response(text=str(request.transport.get_extra_info("peername")[1]))

        async def cipher(request: web.Request) -> web.Response:
            assert request.transport is not None
            return web.Response(text=request.transport.get_extra_info("cipher")[0])

        app = web.Application()
        app.router.add_get("/", hello)
        app.router.add_get("/peer", peer)
        app.router.add_get("/cipher", cipher)
        return str(await serve(app, ssl_context=ctx))

    return start


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def der_of(cert: trustme.LeafCert) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())


async def fetch(client: Any, url: str, **kw: Any) -> str:
    async with client.ClientSession() as s:
        async with s.get(url, **kw) as resp:
            assert resp.status == 200
            return str(await resp.text())


# -- SSLContext ---------------------------------------------------------------


async def test_context_with_the_ca_loaded(aiohttp: Any, https: Start, ca: trustme.CA) -> None:
    base = await https()
    ctx = trusting(ca)
    assert await fetch(aiohttp, base + "/", ssl=ctx) == "secure"
    conn = aiohttp.TCPConnector(ssl=ctx)
    async with aiohttp.ClientSession(connector=conn) as s:
        async with s.get(base + "/") as resp:
            assert await resp.text() == "secure"
    # A bare client context with only the CA (no default paths).
    bare = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    bare.load_verify_locations(cadata=ca.cert_pem.bytes().decode())
    assert await fetch(aiohttp, base + "/", ssl=bare) == "secure"


async def test_default_context_does_not_trust_the_ca(aiohttp: Any, https: Start) -> None:
    base = await https()
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientConnectorCertificateError) as info:
            await s.get(base + "/", ssl=ssl.create_default_context())
    assert info.value.host == "127.0.0.1"
    assert info.value.port == port_of(base)
    assert isinstance(info.value.certificate_error, ssl.SSLError)


async def test_cert_none_skips_verification(aiohttp: Any, https: Start) -> None:
    base = await https()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    assert await fetch(aiohttp, base + "/", ssl=ctx) == "secure"


async def test_check_hostname_off_still_verifies_the_chain(
    aiohttp: Any, https: Start, ca: trustme.CA
) -> None:
    base = await https(cert=ca.issue_cert("other.example"))
    ctx = trusting(ca)
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await s.get(base + "/", ssl=ctx)
    ctx.check_hostname = False
    assert await fetch(aiohttp, base + "/", ssl=ctx) == "secure"
    # Without the CA the chain still fails.
    untrusted = ssl.create_default_context()
    untrusted.check_hostname = False
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await s.get(base + "/", ssl=untrusted)


async def test_server_hostname_with_a_context(aiohttp: Any, https: Start, ca: trustme.CA) -> None:
    base = await https(cert=ca.issue_cert("svc.example"))
    got = await fetch(aiohttp, base + "/", ssl=trusting(ca), server_hostname="svc.example")
    assert got == "secure"


@pytest.mark.parametrize("when", ["expired", "not yet valid"])
async def test_expired_and_not_yet_valid(
    aiohttp: Any, https: Start, ca: trustme.CA, when: str
) -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    if when == "expired":
        not_before, not_after = now - 30 * day, now - day
    else:
        not_before, not_after = now + day, now + 30 * day
    cert = ca.issue_cert("127.0.0.1", not_before=not_before, not_after=not_after)
    base = await https(cert=cert)
    for check_hostname in (True, False):
        ctx = trusting(ca)
        ctx.check_hostname = check_hostname
        async with aiohttp.ClientSession() as s:
            with pytest.raises(aiohttp.ClientConnectorCertificateError) as info:
                await s.get(base + "/", ssl=ctx)
        assert info.value.host == "127.0.0.1"


async def test_context_changed_after_use_is_read_again(
    aiohttp: Any, https: Start, ca: trustme.CA
) -> None:
    base = await https()
    ctx = ssl.create_default_context()
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await s.get(base + "/", ssl=ctx)
        ca.configure_trust(ctx)
        async with s.get(base + "/", ssl=ctx) as resp:
            assert await resp.text() == "secure"


async def test_connections_are_reused_per_context(
    aiohttp: Any, https: Start, ca: trustme.CA
) -> None:
    base = await https()
    ctx = trusting(ca)
    async with aiohttp.ClientSession() as s:
        ports = set()
        for _ in range(3):
            async with s.get(base + "/peer", ssl=ctx) as resp:
                ports.add(await resp.text())
        assert len(ports) == 1
        # Another context is another connection.
        async with s.get(base + "/peer", ssl=trusting(ca)) as resp:
            assert await resp.text() not in ports


async def test_version_bounds(aiohttp: Any, https: Start, ca: trustme.CA) -> None:
    old = await https(max_version=ssl.TLSVersion.TLSv1_2)
    ctx = trusting(ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    assert await fetch(aiohttp, old + "/", ssl=ctx) == "secure"
    new_only = trusting(ca)
    new_only.minimum_version = ssl.TLSVersion.TLSv1_3
    # aiohttp: ClientConnectorError (the server resets); aioxide: its subclass
    # ClientConnectorSSLError (the server's protocol_version alert).
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientConnectorError):
            await s.get(old + "/", ssl=new_only)


async def test_versions_below_tls12_only(aiohttp: Any, https: Start, ca: trustme.CA) -> None:
    """Deliberate difference: aioxide speaks TLS 1.2/1.3 only and says so at once;
    aiohttp (OpenSSL at security level 2) fails the handshake."""
    base = await https()
    ctx = trusting(ca)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    async with aiohttp.ClientSession() as s:
        if is_aiohttp(aiohttp):
            with pytest.raises(aiohttp.ClientConnectorSSLError):
                await s.get(base + "/", ssl=ctx)
        else:
            with pytest.raises(NotImplementedError, match="TLSv1_1"):
                await s.get(base + "/", ssl=ctx)


async def test_cipher_list_is_honoured(aiohttp: Any, https: Start, ca: trustme.CA) -> None:
    base = await https()
    ctx = trusting(ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384")
    assert await fetch(aiohttp, base + "/cipher", ssl=ctx) == "ECDHE-ECDSA-AES256-GCM-SHA384"


async def test_keylog_filename(aiohttp: Any, https: Start, ca: trustme.CA, tmp_path: Any) -> None:
    base = await https()
    ctx = trusting(ca)
    log = tmp_path / "keys.log"
    ctx.keylog_filename = str(log)
    assert await fetch(aiohttp, base + "/", ssl=ctx) == "secure"
    assert "CLIENT_TRAFFIC_SECRET_0 " in log.read_text()


async def test_crl_checking(aiohttp: Any, https: Start, ca: trustme.CA) -> None:
    """Deliberate difference: CRL checks cannot be honoured (no CRL can be read
    back from a context): NotImplementedError instead of OpenSSL's failure for
    the missing CRL."""
    base = await https()
    ctx = trusting(ca)
    ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    async with aiohttp.ClientSession() as s:
        if is_aiohttp(aiohttp):
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await s.get(base + "/", ssl=ctx)
        else:
            with pytest.raises(NotImplementedError, match="CRL"):
                await s.get(base + "/", ssl=ctx)


# -- mutual TLS ---------------------------------------------------------------


@pytest.fixture
def client_cert(ca: trustme.CA, tmp_path: Any) -> tuple[str, str, str]:
    """(both in one file, certificate file, key file) for a trustme client cert."""
    cert = ca.issue_cert("client@example.org")
    both = tmp_path / "client.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(both))
    crt = tmp_path / "client.crt"
    for i, blob in enumerate(cert.cert_chain_pems):
        blob.write_to_path(str(crt), append=i > 0)
    key = tmp_path / "client.key"
    cert.private_key_pem.write_to_path(str(key))
    return str(both), str(crt), str(key)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
async def test_mutual_tls(
    aiohttp: Any,
    https: Start,
    ca: trustme.CA,
    client_cert: tuple[str, str, str],
    version: ssl.TLSVersion,
) -> None:
    base = await https(client_ca=ca, max_version=version)
    both, crt, key = client_cert
    ctx = trusting(ca)
    ctx.load_cert_chain(both)
    assert await fetch(aiohttp, base + "/", ssl=ctx) == "secure"
    split = trusting(ca)
    split.load_cert_chain(crt, key, password="unused: the key is not encrypted")
    assert await fetch(aiohttp, base + "/", ssl=split) == "secure"
    # Without a client certificate the server refuses.  In TLS 1.2 during the
    # handshake: aiohttp raises ClientConnectorError (ConnectionResetError),
    # aioxide its subclass ClientConnectorSSLError.  In TLS 1.3 the refusal
    # comes after the handshake, with the response: aiohttp raises
    # ServerDisconnectedError, aioxide (today) ClientOSError; both are
    # ClientConnectionError.
    async with aiohttp.ClientSession() as s:
        expected = (
            aiohttp.ClientConnectorError
            if version == ssl.TLSVersion.TLSv1_2
            else aiohttp.ClientConnectionError
        )
        with pytest.raises(expected):
            async with s.get(base + "/", ssl=trusting(ca)) as resp:
                await resp.read()


async def test_encrypted_client_key(
    aiohttp: Any, https: Start, ca: trustme.CA, tmp_path: Any
) -> None:
    """A password-protected key: OpenSSL decrypts it in load_cert_chain, and
    aioxide reads the decrypted key back (``aioxide._openssl``)."""
    from cryptography.hazmat.primitives import serialization

    cert = ca.issue_cert("client@example.org")
    key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
    enc = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    (tmp_path / "c.key").write_bytes(enc)
    crt = tmp_path / "c.crt"
    cert.cert_chain_pems[0].write_to_path(str(crt))
    base = await https(client_ca=ca)
    ctx = trusting(ca)
    ctx.load_cert_chain(str(crt), str(tmp_path / "c.key"), password="secret")
    assert await fetch(aiohttp, base + "/", ssl=ctx) == "secure"
    # Without its client certificate the server refuses: the certificate was sent.
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(aiohttp, base + "/", ssl=trusting(ca))


# -- Fingerprint --------------------------------------------------------------


async def test_fingerprint_right(aiohttp: Any, https: Start, ca: trustme.CA) -> None:
    # Wrong name and an untrusted CA: a fingerprint skips chain verification.
    cert = ca.issue_cert("other.example")
    base = await https(cert=cert)
    fp = aiohttp.Fingerprint(hashlib.sha256(der_of(cert)).digest())
    assert await fetch(aiohttp, base + "/", ssl=fp) == "secure"
    conn = aiohttp.TCPConnector(ssl=fp)
    async with aiohttp.ClientSession(connector=conn) as s:
        async with s.get(base + "/") as resp:
            assert await resp.text() == "secure"


async def test_fingerprint_wrong(aiohttp: Any, https: Start, ca: trustme.CA) -> None:
    cert = ca.issue_cert("127.0.0.1")
    base = await https(cert=cert)
    wrong = hashlib.sha256(b"something else").digest()
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ServerFingerprintMismatch) as info:
            await s.get(base + "/", ssl=aiohttp.Fingerprint(wrong))
    e = info.value
    assert isinstance(e, aiohttp.ServerConnectionError)
    assert e.expected == wrong
    assert e.got == hashlib.sha256(der_of(cert)).digest()
    assert e.host == "127.0.0.1"
    assert e.port == port_of(base)


async def test_connector_fingerprint_with_request_ssl_false(
    aiohttp: Any, https: Start, ca: trustme.CA
) -> None:
    # aiohttp checks the connector's Fingerprint even when the request says ssl=False.
    base = await https()
    conn = aiohttp.TCPConnector(ssl=aiohttp.Fingerprint(b"\x01" * 32))
    async with aiohttp.ClientSession(connector=conn) as s:
        with pytest.raises(aiohttp.ServerFingerprintMismatch):
            await s.get(base + "/", ssl=False)


def test_fingerprint_lengths(aiohttp: Any) -> None:
    digest = hashlib.sha256(b"x").digest()
    assert aiohttp.Fingerprint(digest).fingerprint == digest
    for n in (16, 20):
        with pytest.raises(ValueError, match="md5 and sha1 are insecure and not supported"):
            aiohttp.Fingerprint(b"\0" * n)
    for n in (0, 31, 33, 64):
        with pytest.raises(ValueError, match="fingerprint has invalid length"):
            aiohttp.Fingerprint(b"\0" * n)


# -- deprecated forms ---------------------------------------------------------


async def test_deprecated_request_forms(aiohttp: Any, https: Start, ca: trustme.CA) -> None:
    cert = ca.issue_cert("127.0.0.1")
    base = await https(cert=cert)
    async with aiohttp.ClientSession() as s:
        with pytest.warns(DeprecationWarning, match="verify_ssl is deprecated"):
            async with s.get(base + "/", verify_ssl=False) as resp:
                assert resp.status == 200
        with pytest.warns(DeprecationWarning, match="ssl_context is deprecated"):
            async with s.get(base + "/", ssl_context=trusting(ca)) as resp:
                assert resp.status == 200
        digest = hashlib.sha256(der_of(cert)).digest()
        with pytest.warns(DeprecationWarning, match="fingerprint is deprecated"):
            async with s.get(base + "/", fingerprint=digest) as resp:
                assert resp.status == 200
        # verify_ssl=True is no deprecated form; ssl=None means True.
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await s.get(base + "/", verify_ssl=True)
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await s.get(base + "/", ssl=None)
        with pytest.warns(DeprecationWarning):
            with pytest.raises(ValueError, match="mutually exclusive"):
                await s.get(base + "/", ssl=False, verify_ssl=False)
        with pytest.warns(DeprecationWarning):
            with pytest.raises(ValueError, match="mutually exclusive"):
                await s.get(base + "/", ssl=trusting(ca), fingerprint=digest)
        with pytest.raises(TypeError, match="ssl should be SSLContext, bool, Fingerprint"):
            await s.get(base + "/", ssl="yes")


async def test_deprecated_connector_forms(aiohttp: Any, https: Start, ca: trustme.CA) -> None:
    cert = ca.issue_cert("127.0.0.1")
    base = await https(cert=cert)
    digest = hashlib.sha256(der_of(cert)).digest()
    with pytest.warns(DeprecationWarning, match="verify_ssl is deprecated"):
        insecure = aiohttp.TCPConnector(verify_ssl=False)
    with pytest.warns(DeprecationWarning, match="ssl_context is deprecated"):
        with_ctx = aiohttp.TCPConnector(ssl_context=trusting(ca))
    with pytest.warns(DeprecationWarning, match="fingerprint is deprecated"):
        pinned = aiohttp.TCPConnector(fingerprint=digest)
    for conn in (insecure, with_ctx, pinned):
        async with aiohttp.ClientSession(connector=conn) as s:
            async with s.get(base + "/") as resp:
                assert await resp.text() == "secure"
    with pytest.warns(DeprecationWarning):
        with pytest.raises(ValueError, match="mutually exclusive"):
            aiohttp.TCPConnector(ssl=False, ssl_context=trusting(ca))
    with pytest.raises(TypeError):
        aiohttp.TCPConnector(ssl=1.5)


# -- aioxide's building blocks ------------------------------------------------


@pytest.fixture
def tls_mod(aiohttp: Any) -> Any:
    if is_aiohttp(aiohttp):
        pytest.skip("aioxide's own module")
    from aioxide import _tls

    return _tls


def test_tls_for_choices(tls_mod: Any, ca: trustme.CA) -> None:
    assert tls_mod.tls_for(True) is True
    assert tls_mod.tls_for(True, False) is False
    assert tls_mod.tls_for(False) is False
    ctx = trusting(ca)
    cfg = tls_mod.tls_for(True, ctx)
    assert cfg.verify and cfg.check_hostname and cfg.fingerprint is None
    # Built once per context, rebuilt when the context changes.
    assert tls_mod.tls_for(True, ctx) is cfg
    assert tls_mod.tls_for(ctx) is cfg
    ctx.check_hostname = False
    other = tls_mod.tls_for(True, ctx)
    assert other is not cfg and not other.check_hostname and other.verify
    fp = tls_mod.Fingerprint(b"\x02" * 32)
    pinned = tls_mod.tls_for(True, fp)
    assert not pinned.verify and pinned.fingerprint == b"\x02" * 32
    assert tls_mod.tls_for(fp) is pinned
    assert tls_mod.tls_for(fp, False) is pinned
    both = tls_mod.tls_for(fp, ctx)
    assert both.verify and both.fingerprint == b"\x02" * 32
    # The connector's context gives way to the request's False.
    assert tls_mod.tls_for(ctx, False) is False


def test_unsupported_context_settings(tls_mod: Any, ca: trustme.CA) -> None:
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(tls_mod.UnsupportedSSLContextError, match="PROTOCOL_TLS_SERVER"):
        tls_mod.tls_for(True, server_side)
    if sys.version_info < (3, 10):
        return  # (3.9's SSLContext does not tell its security level)
    weak = trusting(ca)
    weak.set_ciphers("DEFAULT:@SECLEVEL=1")
    with pytest.raises(NotImplementedError, match="security level"):
        tls_mod.tls_for(True, weak)
    rsa_only = trusting(ca)
    rsa_only.set_ciphers("AES128-SHA")
    rsa_only.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(NotImplementedError, match="cipher"):
        tls_mod.tls_for(True, rsa_only)


def test_load_cert_chain_leaves_no_trace(
    tls_mod: Any, ca: trustme.CA, client_cert: tuple[str, str, str]
) -> None:
    # The stdlib's method is untouched: nothing recorded on the context, its
    # errors as before; the chain is read back from OpenSSL.
    both, crt, key = client_cert
    ctx = trusting(ca)
    ctx.load_cert_chain(crt, key, password=b"pw")
    assert not [k for k in vars(ctx) if k.startswith("_aioxide")]
    with pytest.raises(ssl.SSLError):
        ssl.create_default_context().load_cert_chain(key, crt)
    assert tls_mod.tls_for(True, ctx).verify
