"""Multipart writing and reading (``aiohttp.multipart``)."""

from __future__ import annotations

from typing import Any

__all__ = (
    "BadContentDispositionHeader",
    "BadContentDispositionParam",
    "BodyPartReader",
    "MultipartReader",
    "MultipartWriter",
    "content_disposition_filename",
    "parse_content_disposition",
)


class BadContentDispositionHeader(RuntimeWarning):
    pass


class BadContentDispositionParam(RuntimeWarning):
    pass


class MultipartWriter:  # placeholder
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("MultipartWriter: not yet")


class MultipartReader:  # placeholder
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("MultipartReader: not yet")


class BodyPartReader:  # placeholder
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("BodyPartReader: not yet")


def parse_content_disposition(header: str | None) -> tuple[str | None, dict[str, str]]:
    raise NotImplementedError("parse_content_disposition: not yet")


def content_disposition_filename(params: Any, name: str = "filename") -> str | None:
    raise NotImplementedError("content_disposition_filename: not yet")
