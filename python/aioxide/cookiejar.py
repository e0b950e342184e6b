"""aiohttp's ``CookieJar`` and ``DummyCookieJar`` over the engine's cookie store.

The rules (RFC 6265 parsing, domain and path matching, expiry, limits,
quoting, the save format) live in the engine (``crates/aioxide/src/cookie``);
this module turns aiohttp's arguments into store calls and the store's
cookies back into ``Morsel`` objects.  Where the engine deliberately differs
from aiohttp (public suffixes refused, a trailing-dot Domain refused, ``/a``
and ``/a/`` kept apart, values sent as received with ``quote_cookie=False``),
the module documentation of ``aioxide::cookie`` says why.
"""

from __future__ import annotations

import asyncio
import email.utils
import io
import json
import os
import pathlib
import pickle
import time
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from http.cookies import BaseCookie, Morsel, SimpleCookie
from types import MappingProxyType
from typing import Any, Union

from yarl import URL

from ._aioxide import CookieStore
from .abc import AbstractCookieJar, ClearCookiePredicate

__all__ = ("CookieJar", "DummyCookieJar")

StrOrURL = Union[str, URL]
PathLike = Union[str, "os.PathLike[str]"]
# (name, value, coded_value, Morsel attributes, host_only), as the store gives it.
_Item = tuple[str, str, str, dict[str, Any], bool]

_RESERVED: Mapping[str, str] = Morsel._reserved  # type: ignore[attr-defined]


class _RestrictedCookieUnpickler(pickle._Unpickler):
    """Reads aiohttp's legacy pickle files without running code from them.

    Only the types a pickled aiohttp ``CookieJar._cookies`` holds can be
    named (aiohttp 3.14 does the same); anything else raises
    ``pickle.UnpicklingError``.  The pure-Python unpickler is used because it
    always dispatches through ``find_class``.
    """

    _ALLOWED_CLASSES: frozenset[tuple[str, str]] = frozenset(
        {
            ("http.cookies", "SimpleCookie"),
            ("http.cookies", "Morsel"),
            ("collections", "defaultdict"),
            ("builtins", "tuple"),
            ("builtins", "set"),
            ("builtins", "frozenset"),
            ("builtins", "dict"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED_CLASSES:
            raise pickle.UnpicklingError(
                f"Forbidden class: {module}.{name}. "
                "CookieJar.load() only allows cookie-related types for security."
            )
        return super().find_class(module, name)


def _morsel(item: _Item) -> Morsel[str]:
    name, value, coded_value, attrs, _ = item
    morsel: Morsel[str] = Morsel()
    # __setstate__ sets key and values without validation, as aiohttp does.
    morsel.__setstate__(  # type: ignore[attr-defined]
        {"key": name, "value": value, "coded_value": coded_value}
    )
    if "partitioned" in attrs and "partitioned" not in _RESERVED:
        del attrs["partitioned"]  # Morsel has no Partitioned before Python 3.14
    dict.update(morsel, attrs)
    return morsel


def _attr(morsel: Morsel[str], key: str) -> str | None:
    value: Any = morsel.get(key)
    if value is None or value == "":
        return None
    return str(value)


def _insert(store: CookieStore, origin: str | None, name: str, morsel: Morsel[str]) -> bool:
    """Hand one Morsel (its coded value and attributes) to the store."""
    expires: Any = morsel.get("expires")
    if isinstance(expires, (int, float)) and not isinstance(expires, bool):
        # Morsel's own meaning of a number: seconds from now.
        expires = email.utils.formatdate(time.time() + expires, usegmt=True)
    return store.insert(
        origin,
        name,
        morsel.coded_value or "",
        domain=_attr(morsel, "domain"),
        path=_attr(morsel, "path"),
        expires=expires if expires else None,
        max_age=_attr(morsel, "max-age"),
        secure=bool(morsel.get("secure")),
        httponly=bool(morsel.get("httponly")),
        partitioned=bool(morsel.get("partitioned")),
        samesite=_attr(morsel, "samesite"),
        comment=_attr(morsel, "comment"),
        version=_attr(morsel, "version"),
    )


def _origins(treat_as_secure_origin: StrOrURL | Iterable[StrOrURL] | None) -> frozenset[URL]:
    if treat_as_secure_origin is None:
        return frozenset()
    if isinstance(treat_as_secure_origin, (str, URL)):
        treat_as_secure_origin = (treat_as_secure_origin,)
    return frozenset(
        URL(u).origin() if isinstance(u, str) else u.origin() for u in treat_as_secure_origin
    )


class CookieJar(AbstractCookieJar):
    """Implements cookie storage adhering to RFC 6265 (the engine's store)."""

    #: Whether the jar's limits apply (aiohttp's name): cookies per domain
    #: and in all, per request, a name and value's length.
    _limits_enabled = True

    def __init__(
        self,
        *,
        unsafe: bool = False,
        quote_cookie: bool = True,
        treat_as_secure_origin: StrOrURL | Iterable[StrOrURL] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        # aiohttp requires a running loop here; the store needs none.
        self._loop = loop
        self._treat_as_secure_origin = _origins(treat_as_secure_origin)
        self._store = CookieStore(
            unsafe_=unsafe,
            quote_cookie=quote_cookie,
            treat_as_secure_origin=[
                (o.scheme, o.raw_host or "", o.port or 0) for o in self._treat_as_secure_origin
            ],
            limits=self._limits_enabled,
        )

    @property
    def unsafe(self) -> bool:
        """Whether cookies of IP-address hosts are kept."""
        return self._store.unsafe_

    @property
    def quote_cookie(self) -> bool:
        """Whether cookie values are quoted when sent."""
        return self._store.quote_cookie

    @property
    def treat_as_secure_origin(self) -> frozenset[URL]:
        """Return origins considered secure even over cleartext connections."""
        return self._treat_as_secure_origin

    @property
    def cookies(self) -> MappingProxyType[tuple[str, str], SimpleCookie]:
        """The stored cookies by ``(domain, path)``: a snapshot, not a live view."""
        out: defaultdict[tuple[str, str], SimpleCookie] = defaultdict(SimpleCookie)
        for item in self._store.items():
            morsel = _morsel(item)
            dict.__setitem__(out[(morsel["domain"], morsel["path"].rstrip("/"))], item[0], morsel)
        return MappingProxyType(out)

    @property
    def host_only_cookies(self) -> frozenset[tuple[str, str, str]]:
        """``(domain, path, name)`` of the host-only cookies (a snapshot)."""
        return frozenset(
            (attrs.get("domain", ""), attrs["path"].rstrip("/"), name)
            for name, _, _, attrs, host_only in self._store.items()
            if host_only
        )

    def save(self, file_path: PathLike) -> None:
        """Save cookies to a file in aiohttp 3.14's JSON format (mode 0o600)."""
        text = json.dumps(json.loads(self._store.to_json()), indent=2)
        with open(
            pathlib.Path(file_path),
            mode="w",
            encoding="utf-8",
            opener=lambda path, flags: os.open(path, flags, 0o600),
        ) as f:
            f.write(text)

    def load(self, file_path: PathLike) -> None:
        """Replace the cookies with those of a file ``save`` (or aiohttp) wrote.

        A legacy aiohttp pickle file is read with a restricted unpickler that
        only admits cookie types, so loading it cannot run code.  Loaded
        cookies pass the jar's rules; a malformed file raises and leaves the
        jar unchanged.
        """
        raw = pathlib.Path(file_path).read_bytes()
        try:
            text = raw.decode("utf-8")
            json.loads(text)
        except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            self._load_pickle(raw)
        else:
            self._store.load_json(text)

    def _load_pickle(self, raw: bytes) -> None:
        pickled = _RestrictedCookieUnpickler(io.BytesIO(raw)).load()
        if not isinstance(pickled, Mapping):
            raise ValueError("not a pickled cookie jar")
        loading = self._store.empty_copy()
        for (domain, _), cookies in pickled.items():
            origin = str(URL.build(scheme="https", host=domain)) if domain else None
            for name, morsel in cookies.items():
                if not isinstance(morsel, Morsel):
                    raise ValueError("not a pickled cookie jar")
                _insert(loading, origin, name, morsel)
        self._store.take_from(loading)

    def clear(self, predicate: ClearCookiePredicate | None = None) -> None:
        """Remove every cookie, or those for which predicate(morsel) is true."""
        if predicate is None:
            self._store.clear_all()
            return
        self._store.clear_expired()
        doomed = [
            (item[0], item[3].get("domain", ""), item[3]["path"])
            for item in self._store.items()
            if predicate(_morsel(item))
        ]
        self._store.clear_where(doomed)

    def clear_domain(self, domain: str) -> None:
        """Remove the cookies of a domain and its subdomains."""
        self._store.clear_expired()
        self._store.clear_domain(domain)

    def __iter__(self) -> Iterator[Morsel[str]]:
        self._store.clear_expired()
        for item in self._store.items():
            yield _morsel(item)

    def __len__(self) -> int:
        """Number of cookies stored (expired ones not yet cleared included)."""
        return len(self._store)

    def update_cookies(self, cookies: Any, response_url: URL = URL()) -> None:
        """Update cookies (a mapping, pairs, or a BaseCookie of Morsels)."""
        if type(response_url) is not URL:
            response_url = URL(response_url)
        origin = str(response_url) if response_url.raw_host else None
        if isinstance(cookies, Mapping):
            cookies = cookies.items()
        for name, cookie in cookies:
            if not isinstance(cookie, Morsel):
                # Stored as given: the store quotes it when it is sent, as
                # quote_cookie says (aiohttp's jar sends it so).
                tmp: Morsel[str] = Morsel()
                tmp.set(name, str(cookie), str(cookie))
                cookie = tmp
            # A Morsel is sent under its own key (aiohttp's jar builds the
            # Cookie header from it), whatever the mapping's key.
            try:
                _insert(self._store, origin, cookie.key or name, cookie)
            except UnicodeEncodeError:
                # (A lone surrogate: no Cookie header can carry it; aiohttp
                # drops such a cookie and keeps the others.)
                continue

    def update_cookies_from_headers(self, headers: Sequence[str], response_url: URL) -> None:
        """Update cookies from raw Set-Cookie field values."""
        if headers:
            self._store.update_from_headers(str(response_url), list(headers))

    def filter_cookies(self, request_url: URL = URL()) -> BaseCookie[str]:
        """The cookies a request to ``request_url`` carries, one per name."""
        filtered: BaseCookie[str] = BaseCookie()
        if not len(self._store):
            return filtered
        # As aiohttp's: expired cookies are cleared first (len() then
        # no longer counts them).
        self._store.clear_expired()
        if type(request_url) is not URL:
            warnings.warn(
                "filter_cookies expects yarl.URL instances only,"
                f"and will stop working in 4.x, got {type(request_url)}",
                DeprecationWarning,
                stacklevel=2,
            )
            request_url = URL(request_url)
        for name, value, coded_value in self._store.filter(str(request_url)):
            morsel: Morsel[str] = Morsel()
            morsel.__setstate__(  # type: ignore[attr-defined]
                {"key": name, "value": value, "coded_value": coded_value}
            )
            # Bypass BaseCookie.__setitem__, which would re-encode the value.
            dict.__setitem__(filtered, name, morsel)
        return filtered


class _UnlimitedCookieJar(CookieJar):
    """A request's own ``cookies=``: aiohttp's jar for them, without the
    limits."""

    _limits_enabled = False


class DummyCookieJar(AbstractCookieJar):
    """Implements a dummy cookie storage.

    It can be used with the ClientSession when no cookie processing is needed.
    """

    def __init__(self, *, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop

    def __iter__(self) -> Iterator[Morsel[str]]:
        return iter(())

    def __len__(self) -> int:
        return 0

    @property
    def unsafe(self) -> bool:
        return False

    @property
    def quote_cookie(self) -> bool:
        return True

    @property
    def cookies(self) -> MappingProxyType[tuple[str, str], SimpleCookie]:
        """Return an empty mapping."""
        return MappingProxyType({})

    @property
    def host_only_cookies(self) -> frozenset[tuple[str, str, str]]:
        """Return an empty frozenset."""
        return frozenset()

    def clear(self, predicate: ClearCookiePredicate | None = None) -> None:
        pass

    def clear_domain(self, domain: str) -> None:
        pass

    def update_cookies(self, cookies: Any, response_url: URL = URL()) -> None:
        pass

    def update_cookies_from_headers(self, headers: Sequence[str], response_url: URL) -> None:
        """Ignore raw Set-Cookie fields without parsing them."""

    def filter_cookies(self, request_url: URL = URL()) -> BaseCookie[str]:
        return SimpleCookie()
