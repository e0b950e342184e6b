"""Read back from OpenSSL what an ``ssl.SSLContext`` does not expose.

Python gives no way to get a context's client certificate chain and key
(``load_cert_chain``) or the non-CA certificates it trusts
(``get_ca_certs`` lists CA certificates only).  OpenSSL has them, and
``_ssl`` links it: this module asks OpenSSL through ctypes, on the very
library ``_ssl`` uses, without changing anything in the context or in the
``ssl`` module.  OpenSSL's semantics come with it: the key was read (and
decrypted with its password) when ``load_cert_chain`` was called, so the
files may be gone since.

The ``SSL_CTX *`` is the first field after ``PyObject_HEAD`` of CPython's
``PySSLContext`` (Modules/_ssl.c, 3.9 to 3.14).  Every step is guarded; on
any doubt ``available()`` is False and ``_tls`` falls back to what the
context's public API and ``aioxide.load_cert_chain`` /
``aioxide.load_verify_locations`` give:

- CPython 3.9 to 3.14, and ``_ssl`` a shared module whose OpenSSL is 1.1.1
  or later;
- the functions resolve in ``_ssl``'s own library (its dependencies on
  Linux and macOS; the ``libssl``/``libcrypto`` DLLs beside it on Windows)
  and that library reports the version ``ssl`` was built against;
- the object is an ``_ssl._SSLContext`` (a subclass keeps the C layout);
- the pointer read back from a probe context and from each context before
  use gives the verify mode and options Python reports.

Calls go through ``ctypes.PyDLL``: the GIL is held, as in ``_ssl``'s own
getters.
"""

from __future__ import annotations

import _ssl
import base64
import ctypes
import glob
import os
import ssl
import sys
from typing import Any, Optional

__all__ = ("Handle", "available", "client_identity", "handle", "store_certificates")

_SSL_CTRL_GET_CHAIN_CERTS = 115
_X509_LU_X509 = 1
_SSL_VERIFY_PEER = 0x01
_SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 0x02
_VERIFY_BITS: dict[int, int] = {
    int(ssl.CERT_NONE): 0,
    int(ssl.CERT_OPTIONAL): _SSL_VERIFY_PEER,
    int(ssl.CERT_REQUIRED): _SSL_VERIFY_PEER | _SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
}

_P = ctypes.c_void_p
# name: (restype, argtypes)
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "OpenSSL_version_num": (ctypes.c_ulong, []),
    "SSL_CTX_get_verify_mode": (ctypes.c_int, [_P]),
    "SSL_CTX_get0_certificate": (_P, [_P]),
    "SSL_CTX_get0_privatekey": (_P, [_P]),
    "SSL_CTX_get_ciphers": (_P, [_P]),
    "SSL_CTX_get_cert_store": (_P, [_P]),
    "SSL_CTX_ctrl": (ctypes.c_long, [_P, ctypes.c_int, ctypes.c_long, _P]),
    "OPENSSL_sk_num": (ctypes.c_int, [_P]),
    "OPENSSL_sk_value": (_P, [_P, ctypes.c_int]),
    "i2d_X509": (ctypes.c_int, [_P, _P]),
    "EVP_PKEY2PKCS8": (_P, [_P]),
    "i2d_PKCS8_PRIV_KEY_INFO": (ctypes.c_int, [_P, _P]),
    "PKCS8_PRIV_KEY_INFO_free": (None, [_P]),
    "X509_STORE_lock": (ctypes.c_int, [_P]),
    "X509_STORE_unlock": (ctypes.c_int, [_P]),
    "X509_STORE_get0_objects": (_P, [_P]),
    "X509_OBJECT_get_type": (ctypes.c_int, [_P]),
    "X509_OBJECT_get0_X509": (_P, [_P]),
}


class _Lib:
    """OpenSSL's functions, resolved in the library ``_ssl`` uses."""

    def __init__(self, handles: list[Any]) -> None:
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = _resolve(handles, name)
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)
        opts = ctypes.c_uint64 if ssl.OPENSSL_VERSION_INFO >= (3,) else ctypes.c_ulong
        fn = _resolve(handles, "SSL_CTX_get_options")
        fn.restype = opts
        fn.argtypes = [_P]
        self.SSL_CTX_get_options = fn

    def __getattr__(self, name: str) -> Any:
        # The functions are set in __init__; this tells the type checker so.
        raise AttributeError(name)


def _resolve(handles: list[Any], name: str) -> Any:
    for h in handles:
        try:
            return getattr(h, name)
        except AttributeError:
            continue
    raise AttributeError(name)


def _handles() -> list[Any]:
    path = getattr(_ssl, "__file__", None)
    if not path:
        raise OSError("_ssl is built into the interpreter")
    if sys.platform == "win32":
        here = os.path.dirname(path)
        names = glob.glob(os.path.join(here, "libssl-*.dll"))
        names += glob.glob(os.path.join(here, "libcrypto-*.dll"))
        if len(names) != 2:
            raise OSError("OpenSSL's DLLs are not beside _ssl")
        return [ctypes.PyDLL(n) for n in names]
    return [ctypes.PyDLL(path)]


_LIB: Optional[_Lib] = None
_TRIED = False
_HEAD = object.__basicsize__
_PTR = ctypes.sizeof(ctypes.c_void_p)


def _load() -> Optional[_Lib]:
    if sys.implementation.name != "cpython" or not (3, 9) <= sys.version_info[:2] <= (3, 14):
        return None
    if ssl.OPENSSL_VERSION_INFO < (1, 1, 1) or _ssl._SSLContext.__basicsize__ < _HEAD + _PTR:
        return None
    try:
        lib = _Lib(_handles())
        if lib.OpenSSL_version_num() != ssl.OPENSSL_VERSION_NUMBER:
            return None
    except (OSError, AttributeError):
        return None
    # A probe context: the pointer must give back what Python set in it.
    probe = _ssl._SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname = False
    for mode in (ssl.CERT_OPTIONAL, ssl.CERT_NONE, ssl.CERT_REQUIRED):
        probe.verify_mode = mode
        probe.options |= ssl.OP_NO_TICKET if mode == ssl.CERT_NONE else 0
        if _pointer(lib, probe) is None:
            return None
    return lib


def _lib() -> Optional[_Lib]:
    global _LIB, _TRIED
    if not _TRIED:
        _TRIED = True
        _LIB = _load()
    return _LIB


def available() -> bool:
    """Whether the context's OpenSSL state can be read here."""
    return _lib() is not None


def _pointer(lib: _Lib, ctx: Any) -> Optional[int]:
    """``ctx``'s ``SSL_CTX *``, checked against what Python reports, or None."""
    if not isinstance(ctx, _ssl._SSLContext):
        return None
    ptr = ctypes.c_void_p.from_address(id(ctx) + _HEAD).value
    if not ptr:
        return None
    if lib.SSL_CTX_get_verify_mode(ptr) != _VERIFY_BITS.get(int(ctx.verify_mode), -1):
        return None
    if lib.SSL_CTX_get_options(ptr) != int(ctx.options):
        return None
    return int(ptr)


def _der(lib: _Lib, i2d: Any, obj: int) -> bytes:
    n = i2d(obj, None)
    if n <= 0:
        raise ValueError("OpenSSL could not encode the object")
    buf = ctypes.create_string_buffer(n)
    cursor = ctypes.c_void_p(ctypes.addressof(buf))
    if i2d(obj, ctypes.byref(cursor)) != n:
        raise ValueError("OpenSSL could not encode the object")
    return buf.raw


class Handle:
    """A context's ``SSL_CTX *``, checked once (it does not change while
    the context lives), with a cheap view of what can change in it."""

    __slots__ = ("_lib", "ptr", "_objects")

    def __init__(self, lib: _Lib, ptr: int) -> None:
        self._lib = lib
        self.ptr = ptr
        store = lib.SSL_CTX_get_cert_store(ptr)
        self._objects = lib.X509_STORE_get0_objects(store) if store else None

    def state(self) -> tuple[int, int, int]:
        """What changes when the context's certificate and key, cipher list
        or trust store change (new objects in OpenSSL), for a cache."""
        lib = self._lib
        return (
            lib.SSL_CTX_get0_certificate(self.ptr) or 0,
            lib.SSL_CTX_get_ciphers(self.ptr) or 0,
            lib.OPENSSL_sk_num(self._objects) if self._objects else 0,
        )


def handle(ctx: Any) -> Optional[Handle]:
    """``ctx``'s OpenSSL state, or None when it cannot be read here."""
    lib = _lib()
    ptr = None if lib is None else _pointer(lib, ctx)
    return None if lib is None or ptr is None else Handle(lib, ptr)


def client_identity(ctx: Any) -> Optional[tuple[bytes, bytes]]:
    """``(chain, key)`` as PEM (certificate first, then its chain; the key
    unencrypted PKCS#8) of what ``load_cert_chain`` put in ``ctx``, ``(b"",
    b"")`` when it holds none, or None when unreadable.  Raises ValueError
    when the key cannot be exported (a key held by a hardware module)."""
    lib = _lib()
    ptr = None if lib is None else _pointer(lib, ctx)
    if lib is None or ptr is None:
        return None
    leaf = lib.SSL_CTX_get0_certificate(ptr)
    pkey = lib.SSL_CTX_get0_privatekey(ptr)
    if not leaf or not pkey:
        return b"", b""
    ders = [_der(lib, lib.i2d_X509, leaf)]
    chain = ctypes.c_void_p()
    if lib.SSL_CTX_ctrl(ptr, _SSL_CTRL_GET_CHAIN_CERTS, 0, ctypes.byref(chain)) and chain.value:
        for i in range(lib.OPENSSL_sk_num(chain.value)):
            ders.append(_der(lib, lib.i2d_X509, lib.OPENSSL_sk_value(chain.value, i)))
    p8 = lib.EVP_PKEY2PKCS8(pkey)
    if not p8:
        raise ValueError("the SSLContext's private key cannot be exported from OpenSSL")
    try:
        key = _der(lib, lib.i2d_PKCS8_PRIV_KEY_INFO, p8)
    finally:
        lib.PKCS8_PRIV_KEY_INFO_free(p8)
    pem = "".join(ssl.DER_cert_to_PEM_cert(d) for d in ders).encode("ascii")
    return pem, _pem(b"PRIVATE KEY", key)


def _pem(label: bytes, der: bytes) -> bytes:
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return b"\n".join(
        [b"-----BEGIN " + label + b"-----", *lines, b"-----END " + label + b"-----\n"]
    )


def store_certificates(ctx: Any) -> Optional[list[bytes]]:
    """Every certificate in ``ctx``'s trust store (CA or not), DER, or None
    when unreadable.  A ``capath`` directory's certificates are there only
    once OpenSSL looked them up."""
    lib = _lib()
    ptr = None if lib is None else _pointer(lib, ctx)
    if lib is None or ptr is None:
        return None
    store = lib.SSL_CTX_get_cert_store(ptr)
    if not store:
        return []
    out: list[bytes] = []
    lib.X509_STORE_lock(store)
    try:
        objects = lib.X509_STORE_get0_objects(store)
        for i in range(lib.OPENSSL_sk_num(objects) if objects else 0):
            obj = lib.OPENSSL_sk_value(objects, i)
            if lib.X509_OBJECT_get_type(obj) == _X509_LU_X509:
                out.append(_der(lib, lib.i2d_X509, lib.X509_OBJECT_get0_X509(obj)))
    finally:
        lib.X509_STORE_unlock(store)
    return out
