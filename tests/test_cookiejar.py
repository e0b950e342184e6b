"""CookieJar and DummyCookieJar: the jar API with real URLs, no network.

Every test passes against aiohttp 3.14.5 (AIOXIDE_TEST_TARGET=aiohttp) except
those marked ``aioxide_only``, where aioxide deliberately differs (the reason
is given).  The tests are async because aiohttp's jar wants a running loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import stat
from http.cookies import BaseCookie, Morsel, SimpleCookie
from pathlib import Path
from typing import Any

import aiohttp as real_aiohttp  # the reference, whatever the target
import pytest
from yarl import URL

from conftest import TARGET


def aioxide_only(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(TARGET == "aiohttp", reason=f"aioxide differs on purpose: {reason}")


def sent(jar: Any, url: str) -> dict[str, str]:
    """name -> value of what filter_cookies gives for url."""
    return {name: m.value for name, m in jar.filter_cookies(URL(url)).items()}


def set_from(jar: Any, url: str, *fields: str) -> None:
    jar.update_cookies_from_headers(list(fields), URL(url))


# -- domains ------------------------------------------------------------------


async def test_host_only_cookie(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/", "a=1")
    assert sent(jar, "http://example.com/") == {"a": "1"}
    assert sent(jar, "http://www.example.com/") == {}
    assert sent(jar, "http://example.org/") == {}
    assert len(jar) == 1


async def test_domain_cookie_goes_to_subdomains(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://www.example.com/", "b=2; Domain=example.com")
    set_from(jar, "http://www.example.com/", "c=3; Domain=.example.com")
    for url in ("http://example.com/", "http://www.example.com/", "http://a.b.example.com/"):
        assert sent(jar, url) == {"b": "2", "c": "3"}, url
    assert sent(jar, "http://badexample.com/") == {}
    assert sent(jar, "http://example.org/") == {}


async def test_foreign_domain_refused(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/", "c=3; Domain=other.com")
    set_from(jar, "http://example.com/", "d=4; Domain=www.example.com")
    set_from(jar, "http://example.com/", "e=5; Domain=ample.com")
    assert len(jar) == 0
    assert sent(jar, "http://other.com/") == {}
    assert sent(jar, "http://www.example.com/") == {}


@aioxide_only(
    "the Domain attribute is compared case-insensitively (RFC 6265 §5.2.3); aiohttp doesn't"
)
async def test_domain_is_case_insensitive(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://WWW.Example.COM/", "a=1; Domain=EXAMPLE.com")
    assert sent(jar, "http://example.com/") == {"a": "1"}


@aioxide_only("a public-suffix Domain is refused (aiohttp has no public suffix list)")
async def test_public_suffix_domain_refused(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://www.example.co.uk/", "a=1; Domain=co.uk")
    set_from(jar, "http://example.com/", "b=2; Domain=com")
    set_from(jar, "http://foo.github.io/", "c=3; Domain=github.io")  # private section
    assert len(jar) == 0
    assert sent(jar, "http://other.co.uk/") == {}
    assert sent(jar, "http://other.com/") == {}
    assert sent(jar, "http://bar.github.io/") == {}
    # A registrable domain is fine.
    set_from(jar, "http://www.example.co.uk/", "d=4; Domain=example.co.uk")
    assert sent(jar, "http://example.co.uk/") == {"d": "4"}


@aioxide_only("a public-suffix Domain equal to the host gives a host-only cookie (RFC 6265 §5.3)")
async def test_public_suffix_host_gets_host_only_cookie(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://github.io/", "a=1; Domain=github.io")
    assert sent(jar, "http://github.io/") == {"a": "1"}
    assert sent(jar, "http://foo.github.io/") == {}


@aioxide_only("a trailing-dot Domain is refused; aiohttp stores a host-only cookie")
async def test_trailing_dot_domain_refused(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://www.example.com/", "t=1; Domain=example.com.")
    assert len(jar) == 0
    assert sent(jar, "http://www.example.com/") == {}


# -- paths --------------------------------------------------------------------


async def test_path_matching(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/", "p=1; Path=/a")
    assert sent(jar, "http://example.com/a") == {"p": "1"}
    assert sent(jar, "http://example.com/a/b") == {"p": "1"}
    assert sent(jar, "http://example.com/ab") == {}
    assert sent(jar, "http://example.com/") == {}


async def test_default_path(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/x/y", "d=1")
    set_from(jar, "http://example.com/top", "r=2")
    set_from(jar, "http://example.com/", "n=3; Path=relative")
    (d,) = (m for m in jar if m.key == "d")
    assert d["path"] == "/x"
    assert sent(jar, "http://example.com/x/z") == {"d": "1", "r": "2", "n": "3"}
    assert sent(jar, "http://example.com/y") == {"r": "2", "n": "3"}


@aioxide_only("/a and /a/ are two cookies (RFC 6265 §5.3 step 11); aiohttp merges them")
async def test_trailing_slash_paths_are_distinct(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/", "d=a; Path=/x", "d=b; Path=/x/")
    assert len(jar) == 2
    assert sent(jar, "http://example.com/x/q") == {"d": "b"}
    assert sent(jar, "http://example.com/x") == {"d": "a"}


async def test_most_specific_of_each_name(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(
        jar,
        "http://www.example.com/a/b",
        "n=parent; Domain=example.com; Path=/a",
        "n=host; Path=/",
        "m=short; Path=/a",
        "m=long; Path=/a/b",
    )
    assert sent(jar, "http://www.example.com/a/b/c") == {"n": "host", "m": "long"}
    assert sent(jar, "http://other.example.com/a/b/c") == {"n": "parent"}


# -- secure -------------------------------------------------------------------


async def test_secure_cookies(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "https://example.com/", "s=1; Secure", "p=2")
    assert sent(jar, "https://example.com/") == {"s": "1", "p": "2"}
    assert sent(jar, "wss://example.com/") == {"s": "1", "p": "2"}
    assert sent(jar, "http://example.com/") == {"p": "2"}
    assert sent(jar, "ws://example.com/") == {"p": "2"}


async def test_secure_with_an_over_long_value_stays_secure(aiohttp: Any) -> None:
    # The 1024-byte limit on attribute values does not drop a flag: the
    # cookie stays off plain http.
    jar = aiohttp.CookieJar()
    set_from(jar, "https://example.com/", "sid=1; Secure=" + "x" * 1025)
    assert sent(jar, "https://example.com/") == {"sid": "1"}
    assert sent(jar, "http://example.com/") == {}


async def test_a_value_no_header_can_carry_is_dropped_alone(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    jar.update_cookies({"a": "\udcff", "ok": "v"}, URL("http://example.com/"))
    assert sent(jar, "http://example.com/") == {"ok": "v"}


async def test_treat_as_secure_origin(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar(treat_as_secure_origin=["http://example.com:8080"])
    assert jar.treat_as_secure_origin == frozenset({URL("http://example.com:8080")})
    set_from(jar, "http://example.com:8080/", "s=1; Secure")
    assert sent(jar, "http://example.com:8080/") == {"s": "1"}
    assert sent(jar, "http://example.com:8081/") == {}
    assert sent(jar, "http://example.com/") == {}
    jar = aiohttp.CookieJar(treat_as_secure_origin=URL("http://localhost/x"))
    set_from(jar, "http://localhost/", "s=1; Secure")
    assert sent(jar, "http://localhost/y") == {"s": "1"}


# -- IP hosts -----------------------------------------------------------------


async def test_ip_hosts_need_unsafe(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    assert jar.unsafe is False
    set_from(jar, "http://127.0.0.1/", "a=1")
    jar.update_cookies({"b": "2"}, URL("http://127.0.0.1/"))
    set_from(jar, "http://[::1]:8080/", "c=3")
    assert len(jar) == 0

    jar = aiohttp.CookieJar(unsafe=True)
    assert jar.unsafe is True
    set_from(jar, "http://127.0.0.1/", "a=1")
    jar.update_cookies({"b": "2"}, URL("http://127.0.0.1/"))
    set_from(jar, "http://[::1]:8080/", "c=3")
    assert sent(jar, "http://127.0.0.1:9999/") == {"a": "1", "b": "2"}
    assert sent(jar, "http://[::1]/") == {"c": "3"}
    assert sent(jar, "http://127.0.0.2/") == {}


async def test_ip_domain_attribute_does_not_match_subnets(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    set_from(jar, "http://1.2.3.4/", "a=1; Domain=3.4")
    assert len(jar) == 0


# -- expiry -------------------------------------------------------------------


async def test_max_age_expires(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/", "short=1; Max-Age=1", "long=2; Max-Age=3600")
    assert sent(jar, "http://example.com/") == {"short": "1", "long": "2"}
    await asyncio.sleep(1.1)
    assert sent(jar, "http://example.com/") == {"long": "2"}
    assert [m.key for m in jar] == ["long"]
    assert len(jar) == 1


async def test_deleting_with_past_expiry_or_zero_max_age(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/", "a=1", "b=2", "c=3")
    set_from(jar, "http://example.com/", "a=gone; Expires=Thu, 01 Jan 1970 00:00:01 GMT")
    set_from(jar, "http://example.com/", "b=gone; Max-Age=0")
    set_from(jar, "http://example.com/", "c=gone; Max-Age=-5")
    assert sent(jar, "http://example.com/") == {}
    assert list(jar) == []
    assert len(jar) == 0


async def test_max_age_wins_over_expires(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/", "m=1; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=100")
    set_from(jar, "http://example.com/", "n=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT; Max-Age=0")
    assert sent(jar, "http://example.com/") == {"m": "1"}


async def test_future_expires_kept(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/", "f=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT")
    assert sent(jar, "http://example.com/") == {"f": "1"}
    (m,) = list(jar)
    assert m["expires"] == "Fri, 01 Jan 2100 00:00:00 GMT"


# -- filter_cookies -----------------------------------------------------------


async def test_filter_cookies_gives_basecookie_of_morsels(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/", 'q="a b"', "plain=v")
    jar.update_cookies({"enc": "x y"}, URL("http://example.com/"))
    got = jar.filter_cookies(URL("http://example.com/"))
    assert isinstance(got, BaseCookie)
    assert set(got) == {"q", "plain", "enc"}
    for name, morsel in got.items():
        assert isinstance(morsel, Morsel)
        assert morsel.key == name
    assert (got["q"].value, got["q"].coded_value) == ("a b", '"a b"')
    assert (got["plain"].value, got["plain"].coded_value) == ("v", "v")
    assert (got["enc"].value, got["enc"].coded_value) == ("x y", '"x y"')
    assert "q=" in got.output(header="Cookie:")


async def test_filter_cookies_empty_and_no_url(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    assert jar.filter_cookies(URL("http://example.com/")) == {}
    jar.update_cookies({"shared": "1"})
    assert set(jar.filter_cookies()) == {"shared"}


async def test_filter_cookies_str_url_warns(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/", "a=1")
    with pytest.warns(DeprecationWarning):
        got = jar.filter_cookies("http://example.com/")  # type: ignore[arg-type]
    assert set(got) == {"a"}


async def test_quote_cookie_default_sends_received_quotes(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    assert jar.quote_cookie is True
    set_from(jar, "http://example.com/", 'q="abc"')
    got = jar.filter_cookies(URL("http://example.com/"))
    assert (got["q"].value, got["q"].coded_value) == ("abc", '"abc"')


@aioxide_only(
    "quote_cookie=False sends the value as received (RFC 6265 §5.4); aiohttp drops quotes"
)
async def test_quote_cookie_false_keeps_received_quotes(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar(quote_cookie=False)
    assert jar.quote_cookie is False
    set_from(jar, "http://example.com/", 'q="abc"', "sp=a b")
    got = jar.filter_cookies(URL("http://example.com/"))
    assert got["q"].coded_value == '"abc"'
    assert got["sp"].coded_value == "a b"


async def test_quote_cookie_false_sends_unquoted_values(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar(quote_cookie=False)
    set_from(jar, "http://example.com/", "sp=a b", "c=a,b")
    got = jar.filter_cookies(URL("http://example.com/"))
    assert got["sp"].coded_value == "a b"
    assert got["c"].coded_value == "a,b"


# -- update_cookies -----------------------------------------------------------


async def test_update_cookies_mapping_and_pairs(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    jar.update_cookies({"a": "1", "b": "2"}, URL("http://example.com/"))
    jar.update_cookies([("c", "3")], URL("http://example.com/"))
    assert sent(jar, "http://example.com/") == {"a": "1", "b": "2", "c": "3"}
    assert sent(jar, "http://sub.example.com/") == {}
    assert len(jar) == 3


async def test_update_cookies_shared_without_url(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    jar.update_cookies({"s": "v"})
    assert sent(jar, "http://a.example/") == {"s": "v"}
    assert sent(jar, "https://b.example.org/deep/path") == {"s": "v"}
    assert sent(jar, "http://127.0.0.1/") == {"s": "v"}
    (m,) = list(jar)
    assert m["domain"] == ""


async def test_update_cookies_morsel_attributes(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    c: SimpleCookie = SimpleCookie()
    c["a"] = "1"
    c["a"]["domain"] = "example.com"
    c["a"]["path"] = "/p"
    c["a"]["secure"] = True
    c["a"]["httponly"] = True
    c["a"]["samesite"] = "Strict"
    c["b"] = "2"
    c["b"]["max-age"] = "3600"
    jar.update_cookies(c, URL("http://www.example.com/x"))
    assert sent(jar, "https://other.example.com/p/q") == {"a": "1"}
    assert sent(jar, "http://other.example.com/p/q") == {}
    assert sent(jar, "https://www.example.com/") == {"b": "2"}
    morsels = {m.key: m for m in jar}
    a = morsels["a"]
    assert (a["domain"], a["path"], a["samesite"]) == ("example.com", "/p", "Strict")
    assert a["secure"] and a["httponly"]
    b = morsels["b"]
    assert (b["domain"], b["path"], b["max-age"]) == ("www.example.com", "/", "3600")


async def test_update_cookies_morsel_deletes_and_domain_mismatch(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    jar.update_cookies({"a": "1", "b": "2"}, URL("http://example.com/"))
    c: SimpleCookie = SimpleCookie()
    c["a"] = ""
    c["a"]["max-age"] = "0"
    c["x"] = "1"
    c["x"]["domain"] = "other.org"
    jar.update_cookies(c, URL("http://example.com/"))
    assert sent(jar, "http://example.com/") == {"b": "2"}
    assert sent(jar, "http://other.org/") == {}


async def test_update_cookies_leaves_callers_morsel_alone(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    c: SimpleCookie = SimpleCookie()
    c["a"] = "1"
    c["a"]["domain"] = ".example.com"
    jar.update_cookies(c, URL("http://example.com/"))
    assert c["a"]["domain"] == ".example.com"
    assert c["a"]["path"] == ""


async def test_iteration_shows_morsel_attributes(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(
        jar,
        "https://www.example.com/app/page",
        "h=1; Secure; HttpOnly; SameSite=Lax",
        "d=2; Domain=example.com; Path=/; Max-Age=600",
        'q="x y"',
    )
    assert len(jar) == 3
    morsels = {m.key: m for m in jar}
    assert set(morsels) == {"h", "d", "q"}
    h = morsels["h"]
    assert (h["domain"], h["path"], h["samesite"]) == ("www.example.com", "/app", "Lax")
    assert h["secure"] and h["httponly"]
    d = morsels["d"]
    assert (d["domain"], d["path"], d["max-age"]) == ("example.com", "/", "600")
    assert not d["secure"] and not d["httponly"]
    q = morsels["q"]
    assert (q.value, q.coded_value) == ("x y", '"x y"')
    assert all(isinstance(m, Morsel) for m in jar)


async def test_replacing_a_cookie(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/", "a=1")
    set_from(jar, "http://example.com/", "a=2")
    assert len(jar) == 1
    assert sent(jar, "http://example.com/") == {"a": "2"}


async def test_response_without_set_cookie(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    jar.update_cookies_from_headers([], URL("http://example.com/"))
    set_from(jar, "http://example.com/", "no-equals-sign", "=empty-name")
    assert len(jar) == 0


# -- clear --------------------------------------------------------------------


async def test_clear_predicate(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/", "a1=1", "a2=2", "b=3; Secure")
    set_from(jar, "http://example.org/", "a3=4")
    jar.clear(lambda m: m.key.startswith("a") and m["domain"] == "example.com")
    assert sorted(m.key for m in jar) == ["a3", "b"]
    jar.clear(lambda m: bool(m["secure"]))
    assert [m.key for m in jar] == ["a3"]
    jar.clear()
    assert len(jar) == 0
    assert list(jar) == []


async def test_clear_predicate_also_drops_expired(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/", "soon=1; Max-Age=1", "kept=2")
    await asyncio.sleep(1.1)
    jar.clear(lambda m: False)
    assert len(jar) == 1


async def test_filter_cookies_clears_the_expired_ones(aiohttp: Any) -> None:
    """As aiohttp's: len() counts an expired cookie until something clears
    it; filter_cookies() does."""
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/", "soon=1; Max-Age=1", "kept=2")
    await asyncio.sleep(1.1)
    assert len(jar) == 2
    assert list(jar.filter_cookies(URL("http://example.com/"))) == ["kept"]
    assert len(jar) == 1


async def test_clear_domain(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/", "a=1")
    set_from(jar, "http://www.example.com/", "b=2")
    set_from(jar, "http://www.example.com/", "c=3; Domain=example.com")
    set_from(jar, "http://notexample.com/", "d=4")
    set_from(jar, "http://example.org/", "e=5")
    jar.clear_domain("example.com")
    assert sorted(m.key for m in jar) == ["d", "e"]
    jar.clear_domain("nothing.test")
    assert len(jar) == 2


# -- save / load --------------------------------------------------------------


def _fill(jar: Any) -> None:
    set_from(jar, "https://www.example.com/app/x", "host=1; Secure; HttpOnly")
    set_from(jar, "https://www.example.com/", "dom=2; Domain=example.com; Max-Age=3600")
    set_from(jar, "https://www.example.com/", 'q="a b"; Path=/')
    set_from(jar, "http://other.org/", "o=3; SameSite=Lax")
    jar.update_cookies({"shared": "4"})


_PROBES = (
    "https://www.example.com/app/y",
    "https://sub.www.example.com/app/y",
    "https://example.com/",
    "http://www.example.com/app/",
    "http://other.org/",
    "http://unrelated.test/",
)


def _snapshot(jar: Any) -> dict[str, list[tuple[str, str, str]]]:
    return {
        url: sorted((n, m.value, m.coded_value) for n, m in jar.filter_cookies(URL(url)).items())
        for url in _PROBES
    }


async def test_save_load_round_trip(aiohttp: Any, tmp_path: Path) -> None:
    jar = aiohttp.CookieJar()
    _fill(jar)
    before = _snapshot(jar)
    path = tmp_path / "cookies.json"
    jar.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # aiohttp's format: {"domain|path": {name: record}}; the path part of the
    # key is not read back (aiohttp strips its trailing slash, aioxide doesn't).
    data = json.loads(path.read_text())
    records = {
        (key.split("|")[0], name): rec for key, group in data.items() for name, rec in group.items()
    }
    assert records[("www.example.com", "host")]["host_only"] is True
    assert records[("www.example.com", "host")]["path"] == "/app"
    assert records[("example.com", "dom")]["coded_value"] == "2"
    assert "host_only" not in records[("example.com", "dom")]
    assert isinstance(records[("example.com", "dom")]["expires_timestamp"], float)
    assert records[("www.example.com", "q")]["value"] == "a b"
    assert records[("www.example.com", "q")]["coded_value"] == '"a b"'

    loaded = aiohttp.CookieJar()
    set_from(loaded, "http://replaced.test/", "old=1")
    loaded.load(str(path))
    assert _snapshot(loaded) == before
    assert sent(loaded, "http://replaced.test/") == {"shared": "4"}
    assert len(loaded) == len(jar) == 5
    # Host-only survived: no leak to a subdomain.
    assert "host" not in sent(loaded, "https://sub.www.example.com/app/y")


@pytest.mark.aiohttp_reference
async def test_load_file_saved_by_aiohttp(aiohttp: Any, tmp_path: Path) -> None:
    reference = real_aiohttp.CookieJar()
    _fill(reference)
    path = tmp_path / "aiohttp-cookies.json"
    reference.save(path)
    jar = aiohttp.CookieJar()
    jar.load(path)
    assert _snapshot(jar) == _snapshot(reference)
    assert len(jar) == len(reference)


@pytest.mark.aiohttp_reference
async def test_aiohttp_loads_our_file(aiohttp: Any, tmp_path: Path) -> None:
    jar = aiohttp.CookieJar()
    _fill(jar)
    path = tmp_path / "ours.json"
    jar.save(path)
    reference = real_aiohttp.CookieJar()
    reference.load(path)
    assert _snapshot(reference) == _snapshot(jar)


async def test_load_handwritten_aiohttp_json(aiohttp: Any, tmp_path: Path) -> None:
    data = {
        "example.com|/": {
            "sid": {
                "key": "sid",
                "value": "abc",
                "coded_value": "abc",
                "path": "/",
                "domain": "example.com",
                "secure": True,
                "host_only": True,
                "expires_timestamp": 4102444800.0,
            },
            "dead": {
                "key": "dead",
                "value": "x",
                "coded_value": "x",
                "path": "/",
                "domain": "example.com",
                "expires_timestamp": 1.0,
            },
        },
        "example.com|/api": {
            "tok": {
                "key": "tok",
                "value": "a b",
                "coded_value": '"a b"',
                "path": "/api",
                "domain": "example.com",
            }
        },
    }
    path = tmp_path / "jar.json"
    path.write_text(json.dumps(data))
    jar = aiohttp.CookieJar()
    jar.load(path)
    assert sent(jar, "https://example.com/api/v1") == {"sid": "abc", "tok": "a b"}
    assert sent(jar, "https://www.example.com/api/v1") == {"tok": "a b"}
    assert sent(jar, "http://example.com/") == {}
    assert len(jar) == 2


async def test_load_malformed_json_leaves_jar(aiohttp: Any, tmp_path: Path) -> None:
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/", "keep=1")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"example.com|/": {"a": {"key": "a", "expires_timestamp": "x"}}}))
    with pytest.raises((ValueError, KeyError)):
        jar.load(path)
    assert sent(jar, "http://example.com/") == {"keep": "1"}


class _Evil:
    marker = ""

    def __reduce__(self) -> Any:
        return (exec, (f"open({self.marker!r}, 'w').close()",))


async def test_load_pickle_does_not_run_code(aiohttp: Any, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = _Evil()
    evil.marker = str(marker)
    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps({("example.com", ""): evil}))
    jar = aiohttp.CookieJar()
    set_from(jar, "http://example.com/", "keep=1")
    with pytest.raises(pickle.UnpicklingError):
        jar.load(path)
    assert not marker.exists()
    assert sent(jar, "http://example.com/") == {"keep": "1"}


async def test_load_legacy_pickle(aiohttp: Any, tmp_path: Path) -> None:
    # What aiohttp < 3.12's CookieJar.save wrote: pickle.dumps(jar._cookies).
    reference = real_aiohttp.CookieJar()
    set_from(reference, "http://example.com/", "a=1; Domain=example.com", "p=2; Path=/p")
    path = tmp_path / "legacy.pickle"
    path.write_bytes(pickle.dumps(reference._cookies, pickle.HIGHEST_PROTOCOL))
    jar = aiohttp.CookieJar()
    jar.load(path)
    assert sent(jar, "https://www.example.com/p") == {"a": "1", "p": "2"}


# -- properties, DummyCookieJar -------------------------------------------------


async def test_jar_is_an_abstract_cookie_jar(aiohttp: Any) -> None:
    jar = aiohttp.CookieJar()
    assert isinstance(jar, aiohttp.abc.AbstractCookieJar)
    assert isinstance(aiohttp.DummyCookieJar(), aiohttp.abc.AbstractCookieJar)
    assert aiohttp.CookieJar(loop=asyncio.get_running_loop()).quote_cookie is True


async def test_dummy_cookie_jar(aiohttp: Any) -> None:
    jar = aiohttp.DummyCookieJar()
    jar.update_cookies({"a": "1"}, URL("http://example.com/"))
    jar.update_cookies({"shared": "1"})
    jar.update_cookies_from_headers(["b=2"], URL("http://example.com/"))
    assert len(jar) == 0
    assert list(jar) == []
    got = jar.filter_cookies(URL("http://example.com/"))
    assert isinstance(got, SimpleCookie) and len(got) == 0
    assert jar.quote_cookie is True
    assert jar.unsafe is False
    jar.clear()
    jar.clear(lambda m: True)
    jar.clear_domain("example.com")
