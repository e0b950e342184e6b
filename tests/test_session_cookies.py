"""Cookies through a session: the jar set from responses (redirects
included) and sent with requests, session and request cookies=, DummyCookieJar,
a jar of the user's own, and resp.cookies."""

from __future__ import annotations

import asyncio
from http.cookies import BaseCookie, Morsel, SimpleCookie
from typing import Any

import pytest
from aiohttp import web
from yarl import URL

from conftest import read_request_head


@pytest.fixture
async def base(serve: Any) -> str:
    async def set_(request: web.Request) -> web.Response:
        resp = web.Response(text="set")
        for k, v in request.query.items():
            resp.set_cookie(k, v)
        return resp

    async def show(request: web.Request) -> web.Response:
        return web.json_response(
            {"cookies": dict(request.cookies), "header": request.headers.get("Cookie")}
        )

    async def set_and_redirect(request: web.Request) -> web.Response:
        resp = web.HTTPFound("/show")
        resp.set_cookie("hop", "1")
        raise resp

    app = web.Application()
    app.router.add_get("/set", set_)
    app.router.add_get("/show", show)
    app.router.add_get("/set-and-redirect", set_and_redirect)
    return str(await serve(app))


def jar(aiohttp: Any) -> Any:
    return aiohttp.CookieJar(unsafe=True)  # the test servers are on 127.0.0.1


async def test_jar_stores_and_sends(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar(aiohttp)) as s:
        async with s.get(base + "/set", params={"a": "1", "b": "2"}) as resp:
            assert resp.cookies["a"].value == "1"
        assert {m.key for m in s.cookie_jar} == {"a", "b"}
        assert len(s.cookie_jar) == 2
        async with s.get(base + "/show") as resp:
            assert (await resp.json())["cookies"] == {"a": "1", "b": "2"}


async def test_default_jar_refuses_ip_hosts(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        assert isinstance(s.cookie_jar, aiohttp.CookieJar)
        async with s.get(base + "/set", params={"a": "1"}) as resp:
            await resp.read()
        assert len(s.cookie_jar) == 0


async def test_cookie_set_on_redirect_goes_to_its_target(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar(aiohttp)) as s:
        async with s.get(base + "/set-and-redirect") as resp:
            got = await resp.json()
    assert got["cookies"] == {"hop": "1"}


async def test_session_cookies(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar(aiohttp), cookies={"s": "1"}) as s:
        async with s.get(base + "/show") as resp:
            assert (await resp.json())["cookies"] == {"s": "1"}


async def test_request_cookies_override_jar(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar(aiohttp), cookies={"a": "jar", "b": "2"}) as s:
        async with s.get(base + "/show", cookies={"a": "req", "c": "3"}) as resp:
            got = (await resp.json())["cookies"]
        assert got == {"a": "req", "b": "2", "c": "3"}
        # The request's cookies are not stored.
        assert {m.key for m in s.cookie_jar} == {"a", "b"}


async def test_request_cookies_with_default_jar(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/show", cookies={"x": "y z"}) as resp:
            got = (await resp.json())["cookies"]
    assert got == {"x": "y z"}


def _morsel(name: str, value: str, **attrs: Any) -> Morsel[str]:
    m: Morsel[str] = Morsel()
    m.set(name, value, value)
    for k, v in attrs.items():
        m[k] = v
    return m


async def test_request_cookie_morsels_keep_their_attributes(
    aiohttp: Any, base: str, session_kw: dict[str, Any]
) -> None:
    """A request's cookies= go through a jar of their own, as in aiohttp: a
    Secure Morsel is not sent over http, one for another path is not sent,
    and a Morsel goes under its own key."""
    cookies = {
        "plain": "ok",
        "auth": _morsel("auth", "token", secure=True),
        "admin": _morsel("admin", "1", path="/admin"),
        "dictkey": _morsel("morselkey", "2"),
    }
    async with aiohttp.ClientSession(cookie_jar=jar(aiohttp), **session_kw) as s:
        async with s.get(base + "/show", cookies=cookies) as resp:
            got = (await resp.json())["cookies"]
    assert got == {"plain": "ok", "morselkey": "2"}


async def test_request_cookies_follow_the_jars_secure_origins(
    aiohttp: Any, base: str, session_kw: dict[str, Any]
) -> None:
    """The jar of a request's cookies= is set up as the session's: an origin
    the session's jar treats as secure gets a Secure Morsel over http."""
    secure_jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[base])
    cookies = {"auth": _morsel("auth", "token", secure=True), "plain": "ok"}
    async with aiohttp.ClientSession(cookie_jar=secure_jar, **session_kw) as s:
        async with s.get(base + "/show", cookies=cookies) as resp:
            got = (await resp.json())["cookies"]
    assert got == {"auth": "token", "plain": "ok"}


async def test_request_cookies_are_not_held_to_the_jars_limits(
    aiohttp: Any, base: str, session_kw: dict[str, Any]
) -> None:
    """A request's own cookies= all go, past the 150 a jar sends at most
    (aiohttp 3.14's unlimited jar for them); the session's jar keeps its
    limit."""
    many = {f"c{i}": "v" for i in range(151)}
    async with aiohttp.ClientSession(cookie_jar=jar(aiohttp), **session_kw) as s:
        async with s.get(base + "/show", cookies=many) as resp:
            assert len((await resp.json())["cookies"]) == 151
    async with aiohttp.ClientSession(cookie_jar=jar(aiohttp), cookies=many) as s:
        async with s.get(base + "/show") as resp:
            assert len((await resp.json())["cookies"]) == 150


async def test_session_cookie_morsel_goes_under_its_own_key(aiohttp: Any, base: str) -> None:
    cookies = {"dictkey": _morsel("morselkey", "2"), "s": _morsel("s", "1", secure=True)}
    async with aiohttp.ClientSession(cookie_jar=jar(aiohttp), cookies=cookies) as s:
        async with s.get(base + "/show") as resp:
            got = (await resp.json())["cookies"]
    assert got == {"morselkey": "2"}


async def test_cookie_values_from_code_are_quoted_not_dropped(
    aiohttp: Any, base: str, session_kw: dict[str, Any]
) -> None:
    """A value given from code with a ``;`` goes quoted (``"a\\073b"``), one
    past 4 KiB goes as it is: aiohttp's jar keeps both."""
    cookies = {"semi": "a;b", "big": "x" * 5000, "plain": "v"}
    async with aiohttp.ClientSession(cookie_jar=jar(aiohttp), cookies=cookies, **session_kw) as s:
        assert len(s.cookie_jar) == 3
        async with s.get(base + "/show") as resp:
            got = await resp.json()
    assert got["cookies"] == cookies
    assert 'semi="a\\073b"' in got["header"]


async def test_explicit_cookie_header_merges(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar(aiohttp), cookies={"a": "jar"}) as s:
        async with s.get(base + "/show", headers={"Cookie": "h=1; a=header"}) as resp:
            got = (await resp.json())["cookies"]
    assert got == {"h": "1", "a": "jar"}


async def test_dummy_cookie_jar_keeps_nothing(aiohttp: Any, base: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as s:
        async with s.get(base + "/set", params={"a": "1"}) as resp:
            await resp.read()
        assert len(s.cookie_jar) == 0
        async with s.get(base + "/show", cookies={"r": "1"}) as resp:
            assert (await resp.json())["cookies"] == {"r": "1"}


async def test_user_cookie_jar_is_used(aiohttp: Any, base: str) -> None:
    class MyJar(aiohttp.abc.AbstractCookieJar):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            self.updates: list[Any] = []
            self.filtered: list[URL] = []

        @property
        def quote_cookie(self) -> bool:
            return True

        @property
        def unsafe(self) -> bool:
            return True

        @property
        def cookies(self) -> Any:
            return {}

        @property
        def host_only_cookies(self) -> Any:
            return frozenset()

        def __len__(self) -> int:
            return 0

        def __iter__(self) -> Any:
            return iter(())

        def clear(self, predicate: Any = None) -> None:
            pass

        def clear_domain(self, domain: str) -> None:
            pass

        def update_cookies(self, cookies: Any, response_url: URL = URL()) -> None:
            # As aiohttp: (name, Morsel) pairs from the Set-Cookie fields.
            assert all(isinstance(m, Morsel) for _, m in cookies)
            self.updates.append((dict(cookies), response_url))

        def filter_cookies(self, request_url: URL) -> BaseCookie[str]:
            self.filtered.append(request_url)
            c: SimpleCookie = SimpleCookie()
            c["from_jar"] = "yes"
            return c

    my = MyJar()
    async with aiohttp.ClientSession(cookie_jar=my) as s:
        assert s.cookie_jar is my
        async with s.get(base + "/set-and-redirect") as resp:
            got = await resp.json()
    assert got["cookies"] == {"from_jar": "yes"}
    assert [u.path for u in my.filtered] == ["/set-and-redirect", "/show"]
    assert my.updates and "hop" in my.updates[0][0]


async def test_save_and_load_through_session(aiohttp: Any, base: str, tmp_path: Any) -> None:
    path = tmp_path / "cookies.json"
    async with aiohttp.ClientSession(cookie_jar=jar(aiohttp)) as s:
        async with s.get(base + "/set", params={"k": "v"}) as resp:
            await resp.read()
        s.cookie_jar.save(path)
    j2 = jar(aiohttp)
    j2.load(path)
    async with aiohttp.ClientSession(cookie_jar=j2) as s:
        async with s.get(base + "/show") as resp:
            assert (await resp.json())["cookies"] == {"k": "v"}


@pytest.mark.parametrize("hooked", [False, True])
async def test_request_cookies_dropped_on_cross_origin_redirect(
    aiohttp: Any, serve: Any, hooked: bool
) -> None:
    async def show(request: web.Request) -> web.Response:
        return web.json_response(dict(request.cookies))

    port_box: list[int] = []

    async def away(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://localhost:{port_box[0]}/show")

    async def near(request: web.Request) -> web.Response:
        raise web.HTTPFound("/show")

    app = web.Application()
    app.router.add_get("/show", show)
    app.router.add_get("/away", away)
    app.router.add_get("/near", near)
    url = await serve(app)
    port_box.append(int(url.rsplit(":", 1)[1]))

    async def mw(req: Any, handler: Any) -> Any:
        return await handler(req)

    async with aiohttp.ClientSession(middlewares=(mw,) if hooked else ()) as s:
        async with s.get(url + "/near", cookies={"r": "1"}) as resp:
            assert await resp.json() == {"r": "1"}
        async with s.get(url + "/away", cookies={"r": "1"}) as resp:
            assert resp.url.host == "localhost"
            assert await resp.json() == {}


async def test_quote_cookie_false_for_session_and_request_cookies(
    aiohttp: Any, base: str, session_kw: dict[str, Any]
) -> None:
    # quote_cookie=False sends a value like val=foobar as it is, also for the
    # cookies given to the session and to the request (aiohttp does so).
    cookie_jar = aiohttp.CookieJar(unsafe=True, quote_cookie=False)
    async with aiohttp.ClientSession(
        cookie_jar=cookie_jar, cookies={"s": "val=foobar"}, **session_kw
    ) as s:
        async with s.get(base + "/show", cookies={"r": "val=foobar"}) as resp:
            header = (await resp.json())["header"]
    assert sorted(p.strip() for p in header.split(";")) == ["r=val=foobar", "s=val=foobar"]
    async with aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True), cookies={"s": "val=foobar"}, **session_kw
    ) as s:
        async with s.get(base + "/show", cookies={"r": "val=foobar"}) as resp:
            header = (await resp.json())["header"]
    assert sorted(p.strip() for p in header.split(";")) == ['r="val=foobar"', 's="val=foobar"']


async def test_a_lower_case_set_cookie_reaches_the_jar_on_every_path(
    aiohttp: Any, raw_server: Any, session_kw: dict[str, Any]
) -> None:
    # The hooked path looks for Set-Cookie in the engine's head before it
    # builds resp.headers: the look-up is case-insensitive, as a field name is.
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request_head(r)
        w.write(b"HTTP/1.1 200 OK\r\nset-cookie: low=1\r\nSET-COOKIE: up=2\r\n")
        w.write(b"Content-Length: 2\r\n\r\nok")
        await w.drain()

    url = await raw_server(handler)
    jar = aiohttp.CookieJar(unsafe=True)  # (the server is an IP address)
    async with aiohttp.ClientSession(cookie_jar=jar, **session_kw) as s:
        async with s.get(url + "/") as resp:
            assert await resp.read() == b"ok"
        assert sorted(c.key for c in s.cookie_jar) == ["low", "up"]


async def test_a_cookie_with_a_control_character_is_not_stored_or_sent(
    aiohttp: Any, base: str
) -> None:
    """As aiohttp 3.14.5 (CVE-2026-3644): a cookie given with a control
    character (HTAB too) in its value is dropped, the others kept; it was
    stored and sent with the character as an octal escape."""
    odd = {"a": "x\x00y", "t": "t\tt", "n": "l\nf", "d": "x\x7f"}
    async with aiohttp.ClientSession(cookie_jar=jar(aiohttp), cookies={**odd, "ok": "1"}) as s:
        assert len(s.cookie_jar) == 1
        async with s.get(base + "/show") as resp:
            assert (await resp.json())["header"] == "ok=1"
        s.cookie_jar.update_cookies(odd)
        assert len(s.cookie_jar) == 1
        # A request's own cookies are not the jar's: sent quoted, as aiohttp.
        async with s.get(base + "/show", cookies={"a": "x\x00y"}) as resp:
            sent = (await resp.json())["header"].split("; ")
            assert sorted(sent) == ['a="x\\000y"', "ok=1"]
