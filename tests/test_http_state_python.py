"""The IETF http-state cookie suite (RFC 6265) through the Python jar API.

Each case of ``parser.json`` (tests/data/http-state/, see tests/data/README.md): the
``received`` Set-Cookie values answer a request for
``http://home.example.org:8888/cookie-parser?<id>`` and go to
``update_cookies_from_headers``; ``filter_cookies`` for the ``sent-to`` URL
must give exactly the ``sent`` name/value pairs, in order, as
``(key, coded_value)`` (what the Cookie header carries).

The engine's own test (crates/aioxide/tests/http_state.rs) freezes the clock;
here it is the real one, so the cases whose expiry dates (2019) were in the
future when written fail now, and so do the two cases that expect one name
twice (``filter_cookies`` returns a mapping, one cookie per name, as aiohttp's
does).  aiohttp 3.14 passes fewer cases: on that target the count is printed,
not required.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from yarl import URL

from conftest import TARGET

DATA = Path(__file__).resolve().parent / "data" / "http-state" / "parser.json"
ORIGIN = "http://home.example.org:8888"
REQUIRED = 210


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(DATA.read_text())
    return cases


def _run(aiohttp: Any, case: dict[str, Any], quote_cookie: bool) -> str | None:
    """None when the case passes, else why not."""
    cid = case["test"]
    sent_to = case.get("sent-to") or f"/cookie-parser-result?{cid}"
    if sent_to.startswith("/"):
        sent_to = ORIGIN + sent_to
    jar = aiohttp.CookieJar(quote_cookie=quote_cookie)
    jar.update_cookies_from_headers(case["received"], URL(f"{ORIGIN}/cookie-parser?{cid}"))
    got = [(k, m.coded_value) for k, m in jar.filter_cookies(URL(sent_to)).items()]
    want = [(p["name"], p["value"]) for p in case["sent"]]
    return None if got == want else f"got {got}, want {want}"


async def test_http_state_parser_through_python_jar(aiohttp: Any) -> None:
    cases = _cases()
    assert len(cases) == 222
    results = {c["test"]: _run(aiohttp, c, quote_cookie=False) for c in cases}
    passed = sum(r is None for r in results.values())
    quoted = sum(_run(aiohttp, c, quote_cookie=True) is None for c in cases)
    print(
        f"\nhttp-state via {TARGET}.CookieJar: {passed}/222 with quote_cookie=False, "
        f"{quoted}/222 with quote_cookie=True"
    )
    for cid, why in results.items():
        if why is not None:
            print(f"  FAIL {cid}: {why}")
    if TARGET == "aiohttp":
        return  # aiohttp 3.14 passes fewer (182 by the data's README): report only
    assert passed >= REQUIRED, f"{passed}/222 passed, {REQUIRED} required"
