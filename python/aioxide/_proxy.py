"""Proxies as aiohttp finds them: ``proxy=`` / ``proxy_auth=`` / ``proxy_headers=``,
and with ``trust_env=True`` the environment (urllib's ``getproxies`` and
``proxy_bypass``: HTTP_PROXY, HTTPS_PROXY, WS_PROXY, WSS_PROXY, NO_PROXY, in
either case) and ``.netrc`` (the NETRC variable, else ``~/.netrc``).

What the engine gets is one option: the proxy URL and the headers for the
proxy (``Proxy-Authorization`` from ``proxy_auth``); which way a hop goes
through it (absolute-form, CONNECT, SOCKS) is the engine's rule
(``crates/aioxide/src/policy/proxy.rs``).

Beyond aiohttp: ``https://`` proxies and ``socks4://``, ``socks4a://``,
``socks5://``, ``socks5h://`` URLs are accepted, also from the environment
(where ALL_PROXY applies when no variable names the scheme); ``.netrc`` gives
proxy credentials for explicit proxies too.
"""

from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path
from typing import Any, NamedTuple
from urllib.request import getproxies, proxy_bypass

from multidict import CIMultiDict
from yarl import URL

from .client_exceptions import InvalidURL
from .helpers import BasicAuth, _basic_auth_no_warn, strip_auth_from_url

client_logger = logging.getLogger("aioxide.client")

PROXY_SCHEMES = frozenset({"http", "https", "socks4", "socks4a", "socks5", "socks5h"})


class ProxyInfo(NamedTuple):
    proxy: URL
    proxy_auth: BasicAuth | None


def proxy_url(proxy: Any) -> URL:
    """``proxy=`` as a URL: InvalidURL when it is none, TypeError for other
    types (which schemes and hosts a proxy may have is the engine's rule,
    ``policy/proxy.rs``)."""
    if isinstance(proxy, URL):
        return proxy
    try:
        return URL(proxy)
    except ValueError as e:
        raise InvalidURL(proxy) from e


def engine_option(
    proxy: URL | None, proxy_auth: Any, proxy_headers: Any
) -> tuple[str, list[tuple[str, str]]] | None:
    """The engine's ``proxy`` option: the URL, and the headers for the proxy."""
    if proxy is None:
        return None
    if proxy_auth and not isinstance(proxy_auth, BasicAuth):
        if type(proxy_auth).__name__ != "BasicAuth":
            raise ValueError("proxy_auth must be None or BasicAuth() tuple")
    headers = CIMultiDict(proxy_headers) if proxy_headers else CIMultiDict()
    pairs = [(str(k), str(v)) for k, v in headers.items()]
    if proxy_auth and proxy.scheme.startswith("socks"):
        # SOCKS has no headers: its credentials go in the URL.
        proxy = proxy.with_user(proxy_auth.login).with_password(proxy_auth.password)
    elif proxy_auth and "Proxy-Authorization" not in headers:
        pairs.append(("Proxy-Authorization", proxy_auth.encode()))
    return (str(proxy), pairs)


def netrc_from_env() -> netrc.netrc | None:
    """The .netrc named by NETRC, else ~/.netrc; None when missing or unreadable."""
    path = os.environ.get("NETRC")
    try:
        netrc_path = Path(path) if path is not None else Path.home() / ".netrc"
    except RuntimeError:
        return None
    try:
        return netrc.netrc(str(netrc_path))
    except netrc.NetrcParseError as e:
        client_logger.warning("Could not parse .netrc file: %s", e)
    except OSError as e:
        if path is not None or netrc_path.is_file():
            client_logger.warning("Could not read .netrc file: %s", e)
    return None


def basicauth_from_netrc(netrc_obj: netrc.netrc | None, host: str) -> BasicAuth:
    """The .netrc credentials for ``host``; LookupError when there are none."""
    if netrc_obj is None:
        raise LookupError("No .netrc file found")
    found = netrc_obj.authenticators(host)
    if found is None:
        raise LookupError(f"No entry for {host!s} found in the `.netrc` file.")
    login, account, password = found
    username = login if login or account is None else account
    return _basic_auth_no_warn(username or "", password or "")


def netrc_auth(host: str) -> BasicAuth | None:
    """Origin credentials from .netrc (trust_env, no auth given)."""
    try:
        return basicauth_from_netrc(netrc_from_env(), host)
    except LookupError:
        return None


def proxies_from_env() -> dict[str, ProxyInfo]:
    """The environment's proxies by target scheme, credentials stripped off
    (or taken from .netrc when the URL has none)."""
    found = getproxies()
    urls = {k: found[k] for k in ("http", "https", "ws", "wss") if k in found}
    if "all" in found:
        for k in ("http", "https", "ws", "wss"):
            urls.setdefault(k, found["all"])
    netrc_obj = netrc_from_env() if urls else None
    ret: dict[str, ProxyInfo] = {}
    for scheme, raw in urls.items():
        try:
            proxy, auth = strip_auth_from_url(URL(raw))
        except ValueError:
            continue
        if proxy.scheme not in PROXY_SCHEMES:
            continue
        if auth is None and netrc_obj is not None and proxy.host is not None:
            try:
                auth = basicauth_from_netrc(netrc_obj, proxy.host)
            except LookupError:
                auth = None
        ret[scheme] = ProxyInfo(proxy, auth)
    return ret


def get_env_proxy_for_url(url: URL) -> tuple[URL, BasicAuth | None]:
    """The environment's proxy for ``url``; LookupError when there is none or
    NO_PROXY excludes its host."""
    if url.host is not None and proxy_bypass(url.host):
        raise LookupError(f"Proxying is disallowed for `{url.host!r}`")
    try:
        info = proxies_from_env()[url.scheme]
    except KeyError:
        raise LookupError(f"No proxies found for `{url!s}` in the env") from None
    return info.proxy, info.proxy_auth
