"""FormData (``aiohttp.formdata``): url-encoded or multipart form bodies."""

from __future__ import annotations

from typing import Any

__all__ = ("FormData",)


class FormData:  # placeholder, filled in by the FormData work
    def __init__(self, fields: Any = (), quote_fields: bool = True, charset: str | None = None) -> None:
        raise NotImplementedError("FormData: not yet")
