"""An SSLContext is read without changing the ``ssl`` module.

Importing aioxide leaves ``ssl`` as it was; truststore's injected context
works; a client certificate is what OpenSSL loaded when ``load_cert_chain``
was called (the files may be gone, the key may have had a password); non-CA
trust anchors and capath directories; the explicit way
(``aioxide.load_cert_chain`` / ``aioxide.load_verify_locations``) where
OpenSSL cannot be read.  Each test also runs against aiohttp
(``AIOXIDE_TEST_TARGET=aiohttp``) where aiohttp has the behaviour.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import textwrap
from asyncio.subprocess import PIPE
from typing import Any, Awaitable, Callable

import pytest
import trustme
from aiohttp import web

from conftest import self_signed_cert

Start = Callable[..., Awaitable[str]]
TARGET = os.environ.get("AIOXIDE_TEST_TARGET", "aioxide")


def is_aiohttp(client: Any) -> bool:
    return bool(client.__name__ == "aiohttp")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def https(ca: trustme.CA, serve: Any) -> Start:
    """Start an HTTPS server answering "secure"; returns its base URL.

    ``cert``: a trustme LeafCert, or ``(cert_pem, key_pem)`` bytes;
    ``client_ca``: require a client certificate issued by this CA.
    """

    async def start(cert: Any = None, client_ca: trustme.CA | None = None) -> str:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        if isinstance(cert, tuple):
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "server.pem")
                with open(path, "wb") as f:
                    f.write(cert[1] + cert[0])
                ctx.load_cert_chain(path)
        else:
            (cert or ca.issue_cert("127.0.0.1", "localhost")).configure_cert(ctx)
        if client_ca is not None:
            client_ca.configure_trust(ctx)
            ctx.verify_mode = ssl.CERT_REQUIRED

        async def hello(request: web.Request) -> web.Response:
            return web.Response(text="secure")

        app = web.Application()
        app.router.add_get("/", hello)
        return str(await serve(app, ssl_context=ctx))

    return start


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


async def fetch(client: Any, url: str, **kw: Any) -> str:
    async with client.ClientSession() as s:
        async with s.get(url, **kw) as resp:
            assert resp.status == 200
            return str(await resp.text())


async def run_python(code: str, env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a fresh interpreter (asynchronously: the test's
    servers run on this loop); returns its stdout, fails on an error."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        textwrap.dedent(code),
        env=dict(os.environ, **(env or {})),
        stdout=PIPE,
        stderr=PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


# -- the ssl module is left alone -------------------------------------------------


async def test_import_and_use_change_nothing_in_ssl(https: Start, ca: trustme.CA) -> None:
    base = await https()
    out = await run_python(
        f"""
        import asyncio, ssl, _ssl
        NAMES = ("load_cert_chain", "load_verify_locations",
                 "set_default_verify_paths", "set_ciphers")
        def snapshot():
            return (
                [getattr(ssl.SSLContext, n) for n in NAMES],
                dict(vars(ssl.SSLContext)),
                dict(vars(_ssl._SSLContext)),
                dict(vars(ssl)),
            )
        before = snapshot()
        import {TARGET} as client
        async def main():
            ctx = ssl.create_default_context(cadata={ca.cert_pem.bytes().decode()!r})
            async with client.ClientSession() as s:
                async with s.get({base!r}, ssl=ctx) as r:
                    print(r.status, await r.text())
        asyncio.run(main())
        after = snapshot()
        for n, a, b in zip(NAMES, before[0], after[0]):
            assert a is b, n
        for i in (1, 2, 3):
            same = all(after[i].get(k) is v for k, v in before[i].items())
            assert same and set(before[i]) == set(after[i]), i
        print("unchanged")
        """
    )
    assert out.split() == ["200", "secure", "unchanged"]


async def test_truststore_injected_before_import(
    https: Start, ca: trustme.CA, tmp_path: Any
) -> None:
    """truststore.inject_into_ssl() then import: contexts are truststore's,
    verified with the system store (SSL_CERT_FILE here, as truststore's
    OpenSSL backend and the engine both read it) plus what was loaded."""
    pytest.importorskip("truststore")
    base = await https()
    ca_file = str(tmp_path / "ca.pem")
    ca.cert_pem.write_to_path(ca_file)
    other = str(tmp_path / "other.pem")
    trustme.CA().cert_pem.write_to_path(other)
    code = f"""
        import asyncio, ssl, truststore
        truststore.inject_into_ssl()
        import {TARGET} as client
        async def main():
            for case in ("default", "loaded", "unverified", "hostname-only"):
                ctx = ssl.create_default_context()
                assert type(ctx) is truststore.SSLContext
                if case == "loaded":
                    ctx.load_verify_locations(cafile={ca_file!r})
                if case == "unverified":
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                if case == "hostname-only":
                    ctx.check_hostname = False
                try:
                    async with client.ClientSession() as s:
                        async with s.get({base!r}, ssl=ctx) as r:
                            print(case, r.status)
                except client.ClientConnectorCertificateError as e:
                    assert isinstance(e.certificate_error, ssl.SSLError)
                    print(case, "CERT")
        asyncio.run(main())
        """
    env = {"SSL_CERT_FILE": other, "SSL_CERT_DIR": str(tmp_path / "none")}
    out = await run_python(code, env)
    assert out.split("\n")[:4] == [
        "default CERT",
        "loaded 200",
        "unverified 200",
        "hostname-only CERT",
    ]
    env["SSL_CERT_FILE"] = ca_file
    out = await run_python(code, env)
    assert out.split("\n")[:4] == [
        "default 200",
        "loaded 200",
        "unverified 200",
        "hostname-only 200",
    ]


async def test_truststore_context_without_injection(
    aiohttp: Any, https: Start, ca: trustme.CA
) -> None:
    truststore = pytest.importorskip("truststore")
    good = await https()
    wrong_name = await https(cert=ca.issue_cert("other.example"))
    ctx = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await s.get(good + "/", ssl=ctx)
    ctx.load_verify_locations(cadata=ca.cert_pem.bytes().decode())
    assert await fetch(aiohttp, good + "/", ssl=ctx) == "secure"
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await s.get(wrong_name + "/", ssl=ctx)
    ctx.check_hostname = False
    assert await fetch(aiohttp, wrong_name + "/", ssl=ctx) == "secure"
    untrusted = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    untrusted.check_hostname = False
    untrusted.verify_mode = ssl.CERT_NONE
    assert await fetch(aiohttp, good + "/", ssl=untrusted) == "secure"


# -- client certificates -----------------------------------------------------------


def write_client_cert(ca: trustme.CA, where: Any) -> tuple[str, str]:
    cert = ca.issue_cert("client@example.org")
    crt, key = where / "client.crt", where / "client.key"
    for i, blob in enumerate(cert.cert_chain_pems):
        blob.write_to_path(str(crt), append=i > 0)
    cert.private_key_pem.write_to_path(str(key))
    return str(crt), str(key)


async def test_client_cert_files_removed_after_loading(
    aiohttp: Any, https: Start, ca: trustme.CA, tmp_path: Any
) -> None:
    base = await https(client_ca=ca)
    d = tmp_path / "gone"
    d.mkdir()
    crt, key = write_client_cert(ca, d)
    ctx = trusting(ca)
    ctx.load_cert_chain(crt, key)
    shutil.rmtree(d)
    assert await fetch(aiohttp, base + "/", ssl=ctx) == "secure"


async def test_client_cert_loaded_after_first_use(
    aiohttp: Any, https: Start, ca: trustme.CA, tmp_path: Any
) -> None:
    base = await https(client_ca=ca)
    ctx = trusting(ca)
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(aiohttp, base + "/", ssl=ctx)
    ctx.load_cert_chain(*write_client_cert(ca, tmp_path))
    assert await fetch(aiohttp, base + "/", ssl=ctx) == "secure"


# -- trust anchors --------------------------------------------------------------------


def self_signed_leaf() -> tuple[bytes, bytes]:
    """A self-signed certificate for 127.0.0.1 that is no CA: (cert, key) PEM."""
    return self_signed_cert("self-signed leaf", basic_constraints=True)


async def test_self_signed_leaf_as_its_own_anchor(
    aiohttp: Any, https: Start, tmp_path: Any
) -> None:
    cert, key = self_signed_leaf()
    base = await https(cert=(cert, key))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=cert.decode())
    assert ctx.get_ca_certs() == []  # Python lists CA certificates only
    assert await fetch(aiohttp, base + "/", ssl=ctx) == "secure"


def capath_with(ca: trustme.CA, where: Any) -> str:
    """A c_rehash-style directory holding the CA (``<subject hash>.0``)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl command to name the capath file")
    pem = ca.cert_pem.bytes()
    digest = (
        subprocess.run(
            [openssl, "x509", "-noout", "-subject_hash"],
            input=pem,
            capture_output=True,
            check=True,
            timeout=30,
        )
        .stdout.decode()
        .strip()
    )
    d = where / "capath"
    d.mkdir()
    (d / f"{digest}.0").write_bytes(pem)
    return str(d)


async def test_capath(aiohttp: Any, https: Start, ca: trustme.CA, tmp_path: Any) -> None:
    """Deliberate difference: OpenSSL does not tell which directories a
    context looks certificates up in, so aioxide honours a capath only when
    given through aioxide.load_verify_locations()."""
    base = await https()
    capath = capath_with(ca, tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(capath=capath)
    if is_aiohttp(aiohttp):
        assert await fetch(aiohttp, base + "/", ssl=ctx) == "secure"
        return
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await s.get(base + "/", ssl=ctx)
    explicit = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    aiohttp.load_verify_locations(explicit, capath=capath)
    assert await fetch(aiohttp, base + "/", ssl=explicit) == "secure"


# -- aioxide's pieces: OpenSSL's readout, and the explicit way without it ---------


@pytest.fixture
def tls(aiohttp: Any) -> Any:
    if is_aiohttp(aiohttp):
        pytest.skip("aioxide's own modules")
    from aioxide import _openssl, _tls

    return _tls, _openssl


def test_openssl_readout(tls: Any, ca: trustme.CA, tmp_path: Any) -> None:
    _tls, _openssl = tls
    assert _openssl.available(), "CPython with _ssl linking OpenSSL: the supported case"
    crt, key = write_client_cert(ca, tmp_path)
    ctx = trusting(ca)
    assert _openssl.client_identity(ctx) == (b"", b"")
    ctx.load_cert_chain(crt, key)
    chain, pkey = _openssl.client_identity(ctx)
    with open(crt) as f:
        want = [
            ssl.PEM_cert_to_DER_cert(p + "-----END CERTIFICATE-----\n")
            for p in f.read().split("-----END CERTIFICATE-----\n")[:-1]
        ]
    got = [
        ssl.PEM_cert_to_DER_cert(p + "-----END CERTIFICATE-----\n")
        for p in chain.decode().split("-----END CERTIFICATE-----\n")[:-1]
    ]
    assert got == want and len(got) >= 1
    assert pkey.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    # Every store certificate, CA or not.
    cert, _ = self_signed_leaf()
    ctx.load_verify_locations(cadata=cert.decode())
    store = _openssl.store_certificates(ctx)
    assert ssl.PEM_cert_to_DER_cert(cert.decode()) in store
    assert set(ctx.get_ca_certs(binary_form=True)) < set(store)
    # Not a context: nothing read.
    assert _openssl.handle(object()) is None
    assert _openssl.client_identity("ctx") is None


def test_changes_after_use_are_seen(tls: Any, ca: trustme.CA, tmp_path: Any) -> None:
    _tls, _ = tls
    ctx = trusting(ca)
    first = _tls.tls_for(True, ctx)
    assert _tls.tls_for(True, ctx) is first
    ctx.load_cert_chain(*write_client_cert(ca, tmp_path))
    second = _tls.tls_for(True, ctx)
    assert second is not first
    assert _tls.tls_for(True, ctx) is second
    ctx.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384")
    third = _tls.tls_for(True, ctx)
    assert third is not second
    ctx.load_verify_locations(cadata=trustme.CA().cert_pem.bytes().decode())
    assert _tls.tls_for(True, ctx) is not third


@pytest.fixture
def no_readout(tls: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """aioxide as on a Python whose OpenSSL it cannot read."""
    _tls, _openssl = tls
    monkeypatch.setattr(_openssl, "_lib", lambda: None)
    assert not _openssl.available()
    return _tls


async def test_explicit_way_without_readout(
    aiohttp: Any, no_readout: Any, https: Start, ca: trustme.CA, tmp_path: Any
) -> None:
    base = await https(client_ca=ca)
    # The plain method's certificate cannot be seen: none is sent.
    plain = trusting(ca)
    plain.load_cert_chain(*write_client_cert(ca, tmp_path))
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(aiohttp, base + "/", ssl=plain)
    # aioxide.load_cert_chain reads the files at once: they may go.
    d = tmp_path / "gone"
    d.mkdir()
    ctx = trusting(ca)
    aiohttp.load_cert_chain(ctx, *write_client_cert(ca, d))
    shutil.rmtree(d)
    assert await fetch(aiohttp, base + "/", ssl=ctx) == "secure"


async def test_explicit_way_limits_without_readout(
    aiohttp: Any, no_readout: Any, https: Start, ca: trustme.CA, tmp_path: Any
) -> None:
    from cryptography.hazmat.primitives import serialization

    # An encrypted key cannot be decrypted by rustls: said at once.
    leaf = ca.issue_cert("client@example.org")
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    (tmp_path / "enc.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "c.crt"))
    ctx = trusting(ca)
    aiohttp.load_cert_chain(ctx, str(tmp_path / "c.crt"), str(tmp_path / "enc.key"), "secret")
    base = await https(client_ca=ca)
    async with aiohttp.ClientSession() as s:
        with pytest.raises(NotImplementedError, match="encrypted"):
            await s.get(base + "/", ssl=ctx)
    # A non-CA anchor: get_ca_certs cannot list it; the explicit way keeps it.
    cert, pkey = self_signed_leaf()
    own = await https(cert=(cert, pkey))
    plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    plain.load_verify_locations(cadata=cert.decode())
    async with aiohttp.ClientSession() as s:
        with pytest.raises(no_readout.UnsupportedSSLContextError, match="non-CA"):
            await s.get(own + "/", ssl=plain)
    explicit = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    aiohttp.load_verify_locations(explicit, cadata=cert.decode())
    assert await fetch(aiohttp, own + "/", ssl=explicit) == "secure"
