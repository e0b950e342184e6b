"""HTTP protocol names shared with aiohttp (``aiohttp.http``)."""

from __future__ import annotations

import sys
from typing import NamedTuple

__all__ = ("HttpVersion", "HttpVersion10", "HttpVersion11", "SERVER_SOFTWARE")


class HttpVersion(NamedTuple):
    major: int
    minor: int


HttpVersion10 = HttpVersion(1, 0)
HttpVersion11 = HttpVersion(1, 1)

__version__ = "0.1.0"

SERVER_SOFTWARE: str = f"Python/{sys.version_info[0]}.{sys.version_info[1]} aioxide/{__version__}"
