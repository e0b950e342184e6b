"""aiohttp's ``ssl=`` modes over the engine's rustls (TLS 1.2 and 1.3).

``tls_for`` turns a request's ``ssl=`` / ``verify_ssl=`` / ``ssl_context=`` /
``fingerprint=`` and the connector's ``ssl`` into what the engine takes:
``True`` (the system trust store), ``False`` (no verification) or a
``TlsConfig`` built once per SSLContext / Fingerprint and reused.

An ``ssl.SSLContext`` is read for what a client can put in it: verify_mode,
check_hostname, the CA certificates it loaded, its client certificate chain
(``load_cert_chain``, recorded by a wrapper installed when this module is
imported, since OpenSSL cannot give it back), minimum/maximum_version and the
OP_NO_TLSv1_2/OP_NO_TLSv1_3/OP_NO_TICKET options, a narrowed cipher list,
keylog_filename.  What rustls cannot honour raises
``UnsupportedSSLContextError`` (a ``NotImplementedError``) naming it, never
ignored in silence; see docs/COMPATIBILITY.md.

Trust anchors: the CA certificates the context holds
(``get_ca_certs(binary_form=True)``, plus the certificates of any
``capath`` directory and non-CA certificates from recorded ``cafile`` /
``cadata``), and the system store when the context loaded the default verify
paths (``create_default_context()``, ``load_default_certs()``,
``set_default_verify_paths()``) or holds no certificate at all: a verifying
context with nothing to trust could never connect in OpenSSL, so it is
taken as the default store (the case of contexts made before aioxide was
imported, whose default paths could not be recorded).
"""

from __future__ import annotations

import base64
import os
import re
import ssl
import ssl as ssl_module
import warnings
from hashlib import md5, sha1, sha256
from typing import Any, Union

from . import _aioxide
from .client_exceptions import ServerFingerprintMismatch

__all__ = (
    "Fingerprint",
    "UnsupportedSSLContextError",
    "connector_ssl_from_args",
    "tls_for",
)

TlsConfig: Any = getattr(_aioxide, "TlsConfig", None)

SSLValue = Union[ssl.SSLContext, bool, "Fingerprint"]


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


SSL_ALLOWED_TYPES = (ssl.SSLContext, bool, Fingerprint, type(None))

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
    ctx: ssl_module.SSLContext | bool
    if isinstance(req, ssl_module.SSLContext):
        ctx = req
    elif req is not True:
        ctx = False
    elif isinstance(connector_ssl, ssl_module.SSLContext):
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
    if isinstance(ctx, ssl_module.SSLContext):
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
_GEN_ATTR = "_aioxide_gen"
_CHAIN_ATTR = "_aioxide_chain"
_DEFAULT_PATHS_ATTR = "_aioxide_default_paths"
_LOCATIONS_ATTR = "_aioxide_locations"


_BASE: Any = ssl.SSLContext.__mro__[1]  # _ssl._SSLContext
# The C getters: plain ints, without ssl.SSLContext's enum wrapping (5x faster).
_STATE = tuple(
    _BASE.__dict__[name].__get__
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


def _signature(ctx: ssl.SSLContext) -> tuple[Any, ...]:
    """What the built configuration depends on, cheap to read on every request."""
    vm, ch, mn, mx, op, vf, kl = _STATE
    return (
        vm(ctx),
        ch(ctx),
        mn(ctx),
        mx(ctx),
        op(ctx),
        vf(ctx),
        kl(ctx),
        ctx.__dict__.get(_GEN_ATTR, 0),
    )


def _config_for_context(ctx: ssl.SSLContext, fp: Fingerprint | None) -> Any:
    """The TlsConfig for ``ctx`` (and a connector's Fingerprint), built once.

    Rebuilt when the context changed since (its settings, or a recorded call
    of load_cert_chain / load_verify_locations / set_default_verify_paths /
    set_ciphers).
    """
    sig = _signature(ctx)
    digest = None if fp is None else fp.fingerprint
    cache: dict[bytes | None, tuple[tuple[Any, ...], Any]] | None = ctx.__dict__.get(_CACHE_ATTR)
    if cache is not None:
        hit = cache.get(digest)
        if hit is not None and hit[0] == sig:
            return hit[1]
    else:
        cache = {}
        ctx.__dict__[_CACHE_ATTR] = cache
    cfg = _engine_config(**_context_options(ctx), fingerprint=digest)
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
        ref = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
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


def _trust_anchors(ctx: ssl.SSLContext) -> tuple[list[bytes], bool]:
    """The DER certificates ``ctx`` trusts, and whether the system store is added."""
    ders: list[bytes] = list(ctx.get_ca_certs(binary_form=True))
    locations: list[tuple[str, Any]] = ctx.__dict__.get(_LOCATIONS_ATTR, [])
    stats = ctx.cert_store_stats()
    # get_ca_certs gives CA certificates only: a non-CA certificate loaded as
    # its own anchor (a self-signed server certificate) is read from the
    # recorded sources; capath directories are loaded lazily by OpenSSL, so
    # they are always read.
    missing = stats.get("x509", 0) > stats.get("x509_ca", 0)
    if missing and not any(kind in ("cafile", "cadata") for kind, _ in locations):
        raise UnsupportedSSLContextError(
            "non-CA certificates loaded as trust anchors before aioxide was imported"
        )
    seen = set(ders)
    for kind, value in locations:
        found: list[bytes] = []
        if kind == "capath":
            try:
                names = sorted(os.listdir(value))
            except OSError:
                names = []
            for name in names:
                data = _read(os.path.join(value, name))
                if data:
                    found += _pem_certs(data)
        elif not missing:
            continue
        elif kind == "cafile":
            data = _read(value)
            if data:
                found += _pem_certs(data)
        elif kind == "cadata":
            if isinstance(value, str):
                found += _pem_certs(value.encode("ascii", "replace"))
            else:
                found += _der_certs(bytes(value))
        for der in found:
            if der not in seen:
                seen.add(der)
                ders.append(der)
    system = bool(ctx.__dict__.get(_DEFAULT_PATHS_ATTR)) or not ders
    return ders, system


def _context_options(ctx: ssl.SSLContext) -> dict[str, Any]:
    """The TlsConfig arguments for ``ctx``; raises for what cannot be honoured."""
    verify = ctx.verify_mode != ssl.CERT_NONE
    lo, hi = _version_bounds(ctx)
    kw: dict[str, Any] = {
        "verify": verify,
        "check_hostname": bool(ctx.check_hostname),
        "min_version": lo,
        "max_version": hi,
        "system_roots": False,
        "resumption": not (ctx.options & ssl.OP_NO_TICKET),
    }
    if verify:
        flags = ctx.verify_flags
        if flags & _CRL_FLAGS:
            raise UnsupportedSSLContextError("CRL checking (verify_flags VERIFY_CRL_CHECK_*)")
        if _PROXY_FLAG and flags & _PROXY_FLAG:
            raise UnsupportedSSLContextError("proxy certificates (VERIFY_ALLOW_PROXY_CERTS)")
        ders, system = _trust_anchors(ctx)
        kw["ca_ders"] = ders
        kw["system_roots"] = system
    level = getattr(ctx, "security_level", None)
    if level is not None and level != _default("security_level"):
        raise UnsupportedSSLContextError(
            f"OpenSSL security level {level} (@SECLEVEL; rustls has fixed algorithms)"
        )
    kw["cipher_suites"] = _cipher_suites(ctx)
    chain = ctx.__dict__.get(_CHAIN_ATTR)
    if chain is not None:
        certfile, keyfile, has_password = chain
        kw["client_cert"] = certfile
        kw["client_key"] = keyfile
        kw["client_key_password"] = has_password
    if ctx.keylog_filename:
        kw["keylog_filename"] = os.fsdecode(ctx.keylog_filename)
    return kw


# -- recording what OpenSSL cannot give back ------------------------------------


def _abspath(p: Any) -> str:
    return os.path.abspath(os.fsdecode(os.fspath(p)))


def _bump(ctx: ssl.SSLContext) -> None:
    ctx.__dict__[_GEN_ATTR] = ctx.__dict__.get(_GEN_ATTR, 0) + 1


def _install() -> None:
    cls = ssl.SSLContext
    if getattr(cls, "_aioxide_recording", False):
        return
    orig_chain = _BASE.load_cert_chain
    orig_verify = _BASE.load_verify_locations
    orig_default = _BASE.set_default_verify_paths
    orig_ciphers = _BASE.set_ciphers

    def load_cert_chain(
        self: ssl.SSLContext, certfile: Any, keyfile: Any = None, password: Any = None
    ) -> None:
        orig_chain(self, certfile, keyfile, password)
        self.__dict__[_CHAIN_ATTR] = (
            _abspath(certfile),
            None if keyfile is None else _abspath(keyfile),
            password is not None,
        )
        _bump(self)

    def load_verify_locations(
        self: ssl.SSLContext, cafile: Any = None, capath: Any = None, cadata: Any = None
    ) -> None:
        orig_verify(self, cafile, capath, cadata)
        locations = self.__dict__.setdefault(_LOCATIONS_ATTR, [])
        if cafile is not None:
            locations.append(("cafile", _abspath(cafile)))
        if capath is not None:
            locations.append(("capath", _abspath(capath)))
        if cadata is not None:
            locations.append(("cadata", cadata))
        _bump(self)

    def set_default_verify_paths(self: ssl.SSLContext) -> None:
        orig_default(self)
        self.__dict__[_DEFAULT_PATHS_ATTR] = True
        _bump(self)

    def set_ciphers(self: ssl.SSLContext, ciphers: str) -> None:
        orig_ciphers(self, ciphers)
        _bump(self)

    for fn, orig in (
        (load_cert_chain, orig_chain),
        (load_verify_locations, orig_verify),
        (set_default_verify_paths, orig_default),
        (set_ciphers, orig_ciphers),
    ):
        fn.__doc__ = orig.__doc__
        fn.__qualname__ = f"SSLContext.{fn.__name__}"
        setattr(cls, fn.__name__, fn)
    cls._aioxide_recording = True  # type: ignore[attr-defined]


_install()
