"""set_zlib_backend (``aiohttp.compression_utils``)."""

from __future__ import annotations

from typing import Any

__all__ = ("set_zlib_backend",)


def set_zlib_backend(new_zlib_backend: Any) -> None:  # placeholder
    raise NotImplementedError("set_zlib_backend: not yet")
