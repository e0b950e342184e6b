"""aiohttp's own objects taken as aioxide's.

Programs adopt aioxide while libraries still build aiohttp objects
(OpenTelemetry's TraceConfig, SDKs' FormData, payloads, ClientTimeout,
Fingerprint).  This module recognises them only when aiohttp is already
imported (it never imports aiohttp) and says what each one is; the callers
turn them into their own.  aiohttp's TraceConfig and BasicAuth need nothing
more: their API is the one the session calls.
"""

from __future__ import annotations

import sys
from typing import Any


def _is(obj: Any, module: str, name: str) -> bool:
    """Whether ``obj`` is an instance of aiohttp's ``module.name`` (or of a
    subclass of it, wherever that is defined)."""
    mod = sys.modules.get(module)
    cls = getattr(mod, name, None) if mod is not None else None
    return cls is not None and isinstance(obj, cls)


def is_basic_auth(obj: Any) -> bool:
    return _is(obj, "aiohttp.helpers", "BasicAuth")


def is_timeout(obj: Any) -> bool:
    return _is(obj, "aiohttp.client", "ClientTimeout")


def is_fingerprint(obj: Any) -> bool:
    return _is(obj, "aiohttp.client_reqrep", "Fingerprint")


def is_payload(obj: Any) -> bool:
    """aiohttp's Payload (MultipartWriter included): written through its
    own ``write_with_length``, as a Payload subclass of the user's is."""
    return _is(obj, "aiohttp.payload", "Payload")


def is_form_data(obj: Any) -> bool:
    return _is(obj, "aiohttp.formdata", "FormData")


def ssl_value(ssl: Any) -> Any:
    """An ``ssl=`` value: aiohttp's Fingerprint becomes aioxide's."""
    if is_fingerprint(ssl):
        from ._tls import Fingerprint

        return Fingerprint(ssl.fingerprint)
    return ssl
