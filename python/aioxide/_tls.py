"""aiohttp's ``ssl=`` modes over the engine's rustls (TLS 1.2 and 1.3).

``tls_for`` turns a request's ``ssl=`` / ``verify_ssl=`` / ``ssl_context=`` /
``fingerprint=`` and the connector's ``ssl`` into what the engine takes:
``True`` (the system trust store), ``False`` (no verification) or a
``TlsConfig`` built once per SSLContext / Fingerprint and reused.

Nothing in ``ssl`` is changed.  A context is read through its public API
(verify_mode, check_hostname, minimum/maximum_version, options with
OP_NO_TLSv1_2/OP_NO_TLSv1_3/OP_NO_TICKET, verify_flags, get_ca_certs,
get_ciphers, keylog_filename, cert_store_stats) and, for what Python does
not expose, from OpenSSL itself (``_openssl``: the client certificate chain
and key that ``load_cert_chain`` loaded, and every certificate of the trust
store, CA or not).  Where OpenSSL cannot be read (``_openssl.available()``
is False), ``load_cert_chain`` / ``load_verify_locations`` below are the
explicit way: they call the context's method and keep what the files held at
that moment.  A ``capath`` directory is honoured when given through
``load_verify_locations`` below; OpenSSL does not tell it otherwise.  What
rustls cannot honour raises ``UnsupportedSSLContextError`` (a
``NotImplementedError``) naming it, never ignored in silence; see
docs/COMPATIBILITY.md.

Trust anchors: the certificates the context's store holds, plus the system
store when the context loaded the default verify paths (its certificates
include those of OpenSSL's default CA file), holds no certificate at all (a
verifying context with nothing to trust could never connect in OpenSSL), or
is truststore's ``SSLContext`` (``truststore.inject_into_ssl()``), which
verifies with the system's store.
"""

from __future__ import annotations

import _ssl
import base64
import os
import re
import ssl
import sys
import warnings
from hashlib import md5, sha1, sha256
from typing import Any, NamedTuple, Optional, Union

from . import _aioxide, _openssl
from .client_exceptions import ServerFingerprintMismatch

__all__ = (
    "Fingerprint",
    "UnsupportedSSLContextError",
    "connector_ssl_from_args",
    "load_cert_chain",
    "load_verify_locations",
    "tls_for",
)

TlsConfig: Any = getattr(_aioxide, "TlsConfig", None)

SSLValue = Union[ssl.SSLContext, bool, "Fingerprint"]

# The C type of every SSLContext: ssl.SSLContext's instances and its
# subclasses' (truststore's among them), whatever ``ssl.SSLContext`` names
# now (truststore.inject_into_ssl() replaces it).
_CONTEXT: Any = _ssl._SSLContext


class UnsupportedSSLContextError(NotImplementedError):
    """An SSLContext asks for something the rustls engine cannot honour."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"aioxide cannot honour {what} in an SSLContext (rustls, TLS 1.2/1.3); "
            "see docs/COMPATIBILITY.md"
        )


class Fingerprint:
    """Pin the server's certificate by the SHA-256 of its DER form (aiohttp's)."""

    HASHFUNC_BY_DIGESTLEN = {
        16: md5,
        20: sha1,
        32: sha256,
    }

    def __init__(self, fingerprint: bytes) -> None:
        digestlen = len(fingerprint)
        hashfunc = self.HASHFUNC_BY_DIGESTLEN.get(digestlen)
        if not hashfunc:
            raise ValueError("fingerprint has invalid length")
        elif hashfunc is md5 or hashfunc is sha1:
            raise ValueError("md5 and sha1 are insecure and not supported. Use sha256.")
        self._hashfunc = hashfunc
        self._fingerprint = fingerprint

    @property
    def fingerprint(self) -> bytes:
        return self._fingerprint

    def check(self, transport: Any) -> None:
        """aiohttp's check on an asyncio SSL transport (the engine checks its own)."""
        if not transport.get_extra_info("sslcontext"):
            return
        sslobj = transport.get_extra_info("ssl_object")
        cert = sslobj.getpeercert(binary_form=True)
        got = self._hashfunc(cert).digest()
        if got != self._fingerprint:
            host, port, *_ = transport.get_extra_info("peername")
            raise ServerFingerprintMismatch(self._fingerprint, got, host, port)


SSL_ALLOWED_TYPES = (_CONTEXT, bool, Fingerprint, type(None))

_EXCLUSIVE = "verify_ssl, ssl_context, fingerprint and ssl parameters are mutually exclusive"


def _merge_ssl_params(
    ssl_value: Any,
    verify_ssl: bool | None,
    ssl_context: ssl.SSLContext | None,
    fingerprint: bytes | None,
    stacklevel: int = 4,
) -> SSLValue:
    """aiohttp's _merge_ssl_params: the deprecated forms folded into ``ssl``."""
    if ssl_value is None:
        ssl_value = True  # Double check for backwards compatibility
    if verify_ssl is not None and not verify_ssl:
        warnings.warn(
            "verify_ssl is deprecated, use ssl=False instead",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        if ssl_value is not True:
            raise ValueError(_EXCLUSIVE)
        else:
            ssl_value = False
    if ssl_context is not None:
        warnings.warn(
            "ssl_context is deprecated, use ssl=context instead",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        if ssl_value is not True:
            raise ValueError(_EXCLUSIVE)
        else:
            ssl_value = ssl_context
    if fingerprint is not None:
        warnings.warn(
            "fingerprint is deprecated, use ssl=Fingerprint(fingerprint) instead",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        if ssl_value is not True:
            raise ValueError(_EXCLUSIVE)
        else:
            ssl_value = Fingerprint(fingerprint)
    if not isinstance(ssl_value, SSL_ALLOWED_TYPES):
        raise TypeError(
            f"ssl should be SSLContext, bool, Fingerprint or None, got {ssl_value!r} instead."
        )
    return ssl_value  # type: ignore[return-value]


def connector_ssl_from_args(
    verify_ssl: bool,
    fingerprint: bytes | None,
    ssl_context: ssl.SSLContext | None,
    ssl: Any,
) -> SSLValue:
    """TCPConnector's ``self._ssl`` from its (partly deprecated) arguments."""
    return _merge_ssl_params(ssl, verify_ssl, ssl_context, fingerprint)


def tls_for(
    connector_ssl: Any,
    ssl: Any = True,
    verify_ssl: bool | None = None,
    ssl_context: Any = None,
    fingerprint: bytes | None = None,
) -> Any:
    """The engine's TLS mode for one request: ``True``, ``False`` or a TlsConfig.

    ``connector_ssl`` is the connector's merged ``ssl`` value
    (``connector_ssl_from_args``); the rest are the request's arguments.  The
    choice is aiohttp's (connector._get_ssl_context / _get_fingerprint): a
    request's SSLContext wins; a request's ``False`` or Fingerprint means no
    verification; otherwise the connector's value; a Fingerprint from either
    is checked on the leaf certificate.
    """
    if (
        ssl is True
        and connector_ssl is True
        and verify_ssl is None
        and ssl_context is None
        and fingerprint is None
    ):
        return True
    req = _merge_ssl_params(ssl, verify_ssl, ssl_context, fingerprint)
    ctx: ssl.SSLContext | bool
    if isinstance(req, _CONTEXT):
        ctx = req
    elif req is not True:
        ctx = False
    elif isinstance(connector_ssl, _CONTEXT):
        ctx = connector_ssl
    elif connector_ssl is not True:
        ctx = False
    else:
        ctx = True
    fp: Fingerprint | None = None
    if isinstance(req, Fingerprint):
        fp = req
    elif isinstance(connector_ssl, Fingerprint):
        fp = connector_ssl
    if isinstance(ctx, _CONTEXT):
        return _config_for_context(ctx, fp)
    if fp is None:
        return ctx
    return _config_for_fingerprint(fp.fingerprint)


# -- building TlsConfig objects ------------------------------------------------

_FP_CACHE: dict[bytes, Any] = {}


def _engine_config(**kw: Any) -> Any:
    if TlsConfig is None:  # pragma: no cover - an extension built before TlsConfig
        raise NotImplementedError("this aioxide build has no TlsConfig; rebuild the extension")
    try:
        return TlsConfig(**kw)
    except NotImplementedError as e:
        raise UnsupportedSSLContextError(str(e)) from None


def _config_for_fingerprint(digest: bytes) -> Any:
    cfg = _FP_CACHE.get(digest)
    if cfg is None:
        cfg = _engine_config(verify=False, check_hostname=False, fingerprint=digest)
        if len(_FP_CACHE) >= 256:
            _FP_CACHE.clear()
        _FP_CACHE[digest] = cfg
    return cfg


_CACHE_ATTR = "_aioxide_tls"
_RECORD_ATTR = "_aioxide_record"

# The C getters: plain ints, without ssl.SSLContext's enum wrapping (5x faster).
_STATE = tuple(
    _CONTEXT.__dict__[name].__get__
    for name in (
        "verify_mode",
        "check_hostname",
        "minimum_version",
        "maximum_version",
        "options",
        "verify_flags",
        "keylog_filename",
    )
)


class _Chain(NamedTuple):
    """A client certificate as ``load_cert_chain`` below read it."""

    cert_pem: bytes
    key_pem: Optional[bytes]
    origin: str
    has_password: bool


class _Record:
    """What the explicit functions below kept for one context."""

    def __init__(self) -> None:
        self.gen = 0
        self.chain: Optional[_Chain] = None
        # ("capath", directory) or ("certs", [DER, ...]) in call order.
        self.locations: list[tuple[str, Any]] = []


def _attrs(ctx: Any) -> dict[str, Any]:
    """Where aioxide keeps its notes on a context (its instance dict)."""
    d = getattr(ctx, "__dict__", None)
    return d if isinstance(d, dict) else {}


def _record(ctx: Any) -> _Record:
    rec = _attrs(ctx).get(_RECORD_ATTR)
    if rec is None:
        rec = _Record()
        d = getattr(ctx, "__dict__", None)
        if isinstance(d, dict):
            d[_RECORD_ATTR] = rec
    return rec


def _truststore_inner(ctx: Any) -> Any:
    """The context a truststore.SSLContext keeps its settings in, or None.

    truststore's context delegates every setting and load_* call to one
    ``ssl.SSLContext`` it holds and verifies with the system's store; its
    ``get_ca_certs`` and ``cert_store_stats`` raise.  aioxide reads that
    inner context (the one object truststore configures).
    """
    mod = sys.modules.get("truststore")
    cls = getattr(mod, "SSLContext", None) if mod is not None else None
    if cls is None or not isinstance(ctx, cls):
        return None
    inner = _attrs(ctx).get("_ctx")
    return inner if isinstance(inner, _CONTEXT) else None


def _source(ctx: Any) -> tuple[Any, bool]:
    """(the context to read, whether it is truststore's)."""
    inner = _truststore_inner(ctx)
    return (ctx, False) if inner is None else (inner, True)


_HANDLE_ATTR = "_aioxide_openssl"


def _handle(ctx: Any, raw: Any) -> Optional[_openssl.Handle]:
    """``raw``'s OpenSSL handle, found once per context."""
    attrs = _attrs(ctx)
    known = attrs.get(_HANDLE_ATTR)
    # The context itself is not kept in its own dict (no reference cycle).
    if known is None or (ctx if known[0] is None else known[0]) is not raw:
        known = (None if raw is ctx else raw, _openssl.handle(raw))
        attrs[_HANDLE_ATTR] = known
    return known[1]


def _signature(ctx: Any, raw: Any) -> tuple[Any, ...]:
    """What the built configuration depends on, cheap to read on every request."""
    vm, ch, mn, mx, op, vf, kl = _STATE
    h = _handle(ctx, raw)
    # Without OpenSSL's view: the store's counts (a later
    # load_verify_locations); load_cert_chain and set_ciphers are seen
    # through the explicit functions only.
    state = tuple(raw.cert_store_stats().values()) if h is None else h.state()
    rec = _attrs(ctx).get(_RECORD_ATTR)
    return (
        vm(raw),
        ch(raw),
        mn(raw),
        mx(raw),
        op(raw),
        vf(raw),
        kl(raw),
        state,
        0 if rec is None else rec.gen,
    )


def _config_for_context(ctx: ssl.SSLContext, fp: Fingerprint | None) -> Any:
    """The TlsConfig for ``ctx`` (and a connector's Fingerprint), built once.

    Rebuilt when the context changed since: its settings, its trust store,
    its certificate and key or cipher list (as OpenSSL holds them), or a
    call of ``load_cert_chain`` / ``load_verify_locations`` below.
    """
    raw, truststore = _source(ctx)
    sig = _signature(ctx, raw)
    digest = None if fp is None else fp.fingerprint
    attrs = _attrs(ctx)
    cache: dict[bytes | None, tuple[tuple[Any, ...], Any]] | None = attrs.get(_CACHE_ATTR)
    if cache is not None:
        hit = cache.get(digest)
        if hit is not None and hit[0] == sig:
            return hit[1]
    else:
        cache = {}
        attrs[_CACHE_ATTR] = cache
    cfg = _engine_config(**_context_options(ctx, raw, truststore), fingerprint=digest)
    cache[digest] = (sig, cfg)
    return cfg


_TLS12 = 0x0303
_TLS13 = 0x0304
_CRL_FLAGS = ssl.VERIFY_CRL_CHECK_LEAF | ssl.VERIFY_CRL_CHECK_CHAIN
_PROXY_FLAG = getattr(ssl.VerifyFlags, "VERIFY_ALLOW_PROXY_CERTS", 0)
_DEFAULTS: dict[str, Any] = {}


def _default(name: str) -> Any:
    """A fresh client context's value of an attribute (cipher names, security level)."""
    if not _DEFAULTS:
        ref = _CONTEXT(ssl.PROTOCOL_TLS_CLIENT)
        _DEFAULTS["ciphers"] = [c["name"] for c in ref.get_ciphers()]
        _DEFAULTS["security_level"] = getattr(ref, "security_level", None)
    return _DEFAULTS[name]


def _version_bounds(ctx: ssl.SSLContext) -> tuple[int | None, int | None]:
    lo: int | None = None
    hi: int | None = None
    proto = ctx.protocol
    if proto == ssl.PROTOCOL_TLS_SERVER:
        raise UnsupportedSSLContextError("a server-side context (PROTOCOL_TLS_SERVER)")
    if proto not in (ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLS):
        # The deprecated one-version protocols.
        if proto == getattr(ssl, "PROTOCOL_TLSv1_2", None):
            lo = hi = _TLS12
        else:
            raise UnsupportedSSLContextError(f"the protocol {proto!r} (TLS 1.2 and 1.3 only)")
    mn = int(ctx.minimum_version)
    mx = int(ctx.maximum_version)
    if mn >= 0:
        lo = mn if lo is None else max(lo, mn)
    if mx >= 0:
        hi = mx if hi is None else min(hi, mx)
    opts = ctx.options
    if opts & getattr(ssl, "OP_NO_TLSv1_3", 0):
        hi = _TLS12 if hi is None else min(hi, _TLS12)
    if opts & getattr(ssl, "OP_NO_TLSv1_2", 0):
        lo = _TLS13 if lo is None else max(lo, _TLS13)
    low = _TLS12 if lo is None else lo
    high = _TLS13 if hi is None else hi
    if not (low <= _TLS12 <= high or low <= _TLS13 <= high):
        raise UnsupportedSSLContextError(
            f"the protocol versions {_vname(lo)} to {_vname(hi)} (TLS 1.2 and 1.3 only)"
        )
    return lo, hi


def _vname(v: int | None) -> str:
    if v is None:
        return "any"
    try:
        return ssl.TLSVersion(v).name
    except ValueError:
        return hex(v)


def _cipher_suites(ctx: ssl.SSLContext) -> list[int] | None:
    ciphers = ctx.get_ciphers()
    if [c["name"] for c in ciphers] == _default("ciphers"):
        return None
    return [int(c["id"]) & 0xFFFF for c in ciphers]


_PEM_CERT = re.compile(
    rb"-----BEGIN (?:TRUSTED )?CERTIFICATE-----\s*(.*?)\s*-----END (?:TRUSTED )?CERTIFICATE-----",
    re.S,
)


def _pem_certs(data: bytes) -> list[bytes]:
    out = []
    for m in _PEM_CERT.finditer(data):
        try:
            der = base64.b64decode(b"".join(m.group(1).split()))
        except ValueError:
            continue
        # A TRUSTED CERTIFICATE carries OpenSSL's trust settings after the
        # certificate: keep the certificate.
        out += _der_certs(der)[:1]
    return out


def _der_certs(data: bytes) -> list[bytes]:
    """Split concatenated DER certificates (``cadata`` as bytes)."""
    out = []
    i = 0
    while i + 2 <= len(data) and data[i] == 0x30:
        n = data[i + 1]
        if n < 0x80:
            head, length = 2, n
        else:
            k = n & 0x7F
            if k == 0 or k > 4 or i + 2 + k > len(data):
                break
            head, length = 2 + k, int.from_bytes(data[i + 2 : i + 2 + k], "big")
        end = i + head + length
        if end > len(data):
            break
        out.append(data[i:end])
        i = end
    return out


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _directory_certs(path: str) -> list[bytes]:
    """The PEM certificates of a ``capath`` directory, read now."""
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return []
    out: list[bytes] = []
    for name in names:
        data = _read(os.path.join(path, name))
        if data:
            out += _pem_certs(data)
    return out


_DEFAULT_STORE: list[frozenset[bytes]] = []


def _default_file_certs() -> frozenset[bytes]:
    """The certificates ``set_default_verify_paths`` loads (OpenSSL's default
    CA file), read once."""
    if not _DEFAULT_STORE:
        probe = _CONTEXT(ssl.PROTOCOL_TLS_CLIENT)
        probe.set_default_verify_paths()
        _DEFAULT_STORE.append(frozenset(probe.get_ca_certs(binary_form=True)))
    return _DEFAULT_STORE[0]


def _store_certs(raw: Any, rec: Optional[_Record]) -> list[bytes]:
    """The certificates in ``raw``'s trust store, CA or not, DER."""
    ders = _openssl.store_certificates(raw)
    if ders is not None:
        return ders
    ders = list(raw.get_ca_certs(binary_form=True))
    stats = raw.cert_store_stats()
    if stats.get("x509", 0) > stats.get("x509_ca", 0):
        # get_ca_certs lists CA certificates only: a non-CA certificate
        # loaded as its own anchor (a self-signed server certificate) must
        # come from load_verify_locations below.
        kept = [] if rec is None else [v for k, v in rec.locations if k == "certs"]
        if not kept:
            raise UnsupportedSSLContextError(
                "non-CA certificates loaded as trust anchors without "
                "aioxide.load_verify_locations(), on a Python whose OpenSSL aioxide cannot read"
            )
        for certs in kept:
            ders += certs
    return ders


def _trust_anchors(ctx: Any, raw: Any, truststore: bool) -> tuple[list[bytes], bool]:
    """The DER certificates ``ctx`` trusts, and whether the system store is added."""
    rec: Optional[_Record] = _attrs(ctx).get(_RECORD_ATTR)
    found = _store_certs(raw, rec)
    for kind, value in [] if rec is None else rec.locations:
        if kind == "capath":
            found += _directory_certs(value)
    ders: list[bytes] = []
    seen: set[bytes] = set()
    for der in found:
        if der not in seen:
            seen.add(der)
            ders.append(der)
    default = _default_file_certs()
    system = truststore or not ders or bool(default and default <= seen)
    return ders, system


def _client_chain(ctx: Any, raw: Any) -> Optional[_Chain]:
    """The client certificate ``load_cert_chain`` put in the context."""
    try:
        ident = _openssl.client_identity(raw)
    except ValueError as e:
        raise UnsupportedSSLContextError(f"this client certificate: {e}") from None
    if ident is not None:
        cert, key = ident
        return _Chain(cert, key, "loaded in the SSLContext", False) if cert else None
    rec: Optional[_Record] = _attrs(ctx).get(_RECORD_ATTR)
    return None if rec is None else rec.chain


def _context_options(ctx: Any, raw: Any, truststore: bool) -> dict[str, Any]:
    """The TlsConfig arguments for ``ctx``; raises for what cannot be honoured."""
    verify = raw.verify_mode != ssl.CERT_NONE
    lo, hi = _version_bounds(raw)
    kw: dict[str, Any] = {
        "verify": verify,
        "check_hostname": bool(raw.check_hostname),
        "min_version": lo,
        "max_version": hi,
        "system_roots": False,
        "resumption": not (raw.options & ssl.OP_NO_TICKET),
    }
    if verify:
        flags = raw.verify_flags
        if flags & _CRL_FLAGS:
            raise UnsupportedSSLContextError("CRL checking (verify_flags VERIFY_CRL_CHECK_*)")
        if _PROXY_FLAG and flags & _PROXY_FLAG:
            raise UnsupportedSSLContextError("proxy certificates (VERIFY_ALLOW_PROXY_CERTS)")
        ders, system = _trust_anchors(ctx, raw, truststore)
        kw["ca_ders"] = ders
        kw["system_roots"] = system
    level = getattr(raw, "security_level", None)
    if level is not None and level != _default("security_level"):
        raise UnsupportedSSLContextError(
            f"OpenSSL security level {level} (@SECLEVEL; rustls has fixed algorithms)"
        )
    kw["cipher_suites"] = _cipher_suites(raw)
    chain = _client_chain(ctx, raw)
    if chain is not None:
        kw["client_cert"] = chain.cert_pem
        kw["client_key"] = chain.key_pem
        kw["client_origin"] = chain.origin
        kw["client_key_password"] = chain.has_password
    if raw.keylog_filename:
        kw["keylog_filename"] = os.fsdecode(raw.keylog_filename)
    return kw


# -- the explicit way -------------------------------------------------------------


def _abspath(p: Any) -> str:
    return os.path.abspath(os.fsdecode(os.fspath(p)))


def load_cert_chain(
    context: ssl.SSLContext, certfile: Any, keyfile: Any = None, password: Any = None
) -> None:
    """``context.load_cert_chain(certfile, keyfile, password)``, kept for aioxide.

    aioxide reads a context's client certificate back from OpenSSL where it
    can (CPython 3.9-3.14 with ``_ssl`` linking OpenSSL as a shared
    library: Linux, macOS, Windows); elsewhere call this instead of the
    method: the files are read now (they may be removed afterwards), as
    OpenSSL reads them.  An encrypted key then cannot be used (rustls);
    OpenSSL's readout has it decrypted.
    """
    context.load_cert_chain(certfile, keyfile, password)
    cert = _read(_abspath(certfile))
    key = None if keyfile is None else _read(_abspath(keyfile))
    if cert is None or (keyfile is not None and key is None):
        raise FileNotFoundError(f"cannot read {certfile!r} / {keyfile!r} again")
    rec = _record(context)
    rec.chain = _Chain(cert, key, _abspath(certfile), password is not None)
    rec.gen += 1


def load_verify_locations(
    context: ssl.SSLContext, cafile: Any = None, capath: Any = None, cadata: Any = None
) -> None:
    """``context.load_verify_locations(cafile, capath, cadata)``, kept for aioxide.

    OpenSSL does not tell which ``capath`` directories a context looks
    certificates up in: give a directory through this function for aioxide
    to trust its certificates (read when the context's configuration is
    built, as OpenSSL reads them when it verifies).  ``cafile`` and
    ``cadata`` are read now too, for a Python whose OpenSSL aioxide cannot
    read (``get_ca_certs`` lists CA certificates only).
    """
    context.load_verify_locations(cafile, capath, cadata)
    rec = _record(context)
    if cafile is not None:
        data = _read(_abspath(cafile)) or b""
        rec.locations.append(("certs", _pem_certs(data)))
    if capath is not None:
        rec.locations.append(("capath", _abspath(capath)))
    if cadata is not None:
        if isinstance(cadata, str):
            certs = _pem_certs(cadata.encode("ascii", "replace"))
        else:
            certs = _der_certs(bytes(cadata))
        rec.locations.append(("certs", certs))
    rec.gen += 1
