"""The zlib backend choice (``aiohttp.compression_utils``).

aiohttp compresses request bodies and decompresses responses in Python, with
the module chosen by :func:`set_zlib_backend` (``zlib`` by default; e.g.
``zlib_ng.zlib_ng`` or ``isal.isal_zlib`` for speed).  In aioxide both run in
the Rust engine (flate2 / brotli / zstd), so the choice has **no effect** on
aioxide's own requests and responses: it is recorded here, in
:data:`ZLibBackend` (as in aiohttp), for code that reads it back or that uses
:data:`ZLibBackend` for its own compression.
"""

from __future__ import annotations

import sys
import zlib
from typing import Any, Protocol, Union

if sys.version_info >= (3, 12):
    from collections.abc import Buffer
else:
    Buffer = Union[bytes, bytearray, "memoryview[int]", "memoryview[bytes]"]

__all__ = ("ZLibBackend", "ZLibBackendProtocol", "ZLibBackendWrapper", "set_zlib_backend")


class ZLibCompressObjProtocol(Protocol):
    def compress(self, data: Buffer) -> bytes: ...
    def flush(self, mode: int = ..., /) -> bytes: ...


class ZLibDecompressObjProtocol(Protocol):
    def decompress(self, data: Buffer, max_length: int = ...) -> bytes: ...
    def flush(self, length: int = ..., /) -> bytes: ...

    @property
    def eof(self) -> bool: ...

    @property
    def unconsumed_tail(self) -> bytes: ...

    @property
    def unused_data(self) -> bytes: ...


class ZLibBackendProtocol(Protocol):
    """What aiohttp uses of a zlib backend (the ``zlib`` module's API)."""

    MAX_WBITS: int
    Z_FULL_FLUSH: int
    Z_SYNC_FLUSH: int
    Z_BEST_SPEED: int
    Z_FINISH: int

    def compressobj(
        self,
        level: int = ...,
        method: int = ...,
        wbits: int = ...,
        memLevel: int = ...,
        strategy: int = ...,
        zdict: Buffer | None = ...,
    ) -> ZLibCompressObjProtocol: ...
    def decompressobj(self, wbits: int = ..., zdict: Buffer = ...) -> ZLibDecompressObjProtocol: ...
    def compress(self, data: Buffer, /, level: int = ..., wbits: int = ...) -> bytes: ...
    def decompress(self, data: Buffer, /, wbits: int = ..., bufsize: int = ...) -> bytes: ...


class ZLibBackendWrapper:
    """The chosen backend, delegating to it attribute by attribute (as aiohttp).

    Nothing is checked when a backend is set: a missing attribute raises
    AttributeError when it is used, as in aiohttp.
    """

    def __init__(self, _zlib_backend: ZLibBackendProtocol) -> None:
        self._zlib_backend: ZLibBackendProtocol = _zlib_backend

    @property
    def name(self) -> str:
        return getattr(self._zlib_backend, "__name__", "undefined")

    @property
    def MAX_WBITS(self) -> int:
        return self._zlib_backend.MAX_WBITS

    @property
    def Z_FULL_FLUSH(self) -> int:
        return self._zlib_backend.Z_FULL_FLUSH

    @property
    def Z_SYNC_FLUSH(self) -> int:
        return self._zlib_backend.Z_SYNC_FLUSH

    @property
    def Z_BEST_SPEED(self) -> int:
        return self._zlib_backend.Z_BEST_SPEED

    @property
    def Z_FINISH(self) -> int:
        return self._zlib_backend.Z_FINISH

    def compressobj(self, *args: Any, **kwargs: Any) -> ZLibCompressObjProtocol:
        return self._zlib_backend.compressobj(*args, **kwargs)

    def decompressobj(self, *args: Any, **kwargs: Any) -> ZLibDecompressObjProtocol:
        return self._zlib_backend.decompressobj(*args, **kwargs)

    def compress(self, data: Buffer, *args: Any, **kwargs: Any) -> bytes:
        return self._zlib_backend.compress(data, *args, **kwargs)

    def decompress(self, data: Buffer, *args: Any, **kwargs: Any) -> bytes:
        return self._zlib_backend.decompress(data, *args, **kwargs)

    # Everything not listed in the protocol passes through.
    def __getattr__(self, attrname: str) -> Any:
        return getattr(self._zlib_backend, attrname)


#: The current backend (``zlib`` until :func:`set_zlib_backend` is called).
ZLibBackend: ZLibBackendWrapper = ZLibBackendWrapper(zlib)


def set_zlib_backend(new_zlib_backend: ZLibBackendProtocol) -> None:
    """Choose the zlib-compatible module (aiohttp's ``set_zlib_backend``).

    As aiohttp: any object is accepted and recorded in :data:`ZLibBackend`;
    nothing is validated here (a module without zlib's API fails only where
    the backend is used, with AttributeError).

    Difference from aiohttp: aioxide compresses request bodies and decodes
    responses in its Rust engine, so the backend chosen here is not used for
    them; it has no effect on aioxide's requests or responses.
    """
    ZLibBackend._zlib_backend = new_zlib_backend
