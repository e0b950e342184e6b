"""resp.json()'s fast path: the engine parses a UTF-8 JSON body into Python
objects (aioxide._aioxide.json_loads), or gives up (NotImplemented) and
json.loads runs.  What it returns must be json.loads' value exactly, type for
type (1 is not 1.0 is not True, -0.0 keeps its sign, key order kept); errors
are json.loads' own because it runs them.  Property tests (hypothesis,
derandomized) on generated documents and on arbitrary bytes."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aioxide._aioxide import json_loads

_SETTINGS = settings(
    max_examples=600,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def canon(v: Any) -> Any:
    """A value with every type made explicit (so 1, 1.0 and True differ)."""
    if isinstance(v, bool) or v is None:
        return (type(v).__name__, v)
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, float):
        return ("float", "nan" if math.isnan(v) else v.hex())
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, list):
        return ("list", [canon(x) for x in v])
    assert type(v) is dict, type(v)
    return ("dict", [(k, canon(x)) for k, x in v.items()])


def reference(body: bytes) -> Any:
    """What resp.json() did before the fast path (for a UTF-8 JSON body)."""
    stripped = body.strip()
    return None if not stripped else json.loads(stripped.decode("utf-8"))


def check(body: bytes) -> None:
    fast = json_loads(body)
    try:
        expected = reference(body)
    except (ValueError, RecursionError):
        # json.loads (or the decode) fails: the engine must have given up.
        assert fast is NotImplemented, body
        return
    if fast is not NotImplemented:
        assert canon(fast) == canon(expected), body


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
_DOCS = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.text(max_size=6), inner, max_size=5),
    ),
    max_leaves=30,
)


@_SETTINGS
@given(_DOCS, st.booleans(), st.sampled_from([None, 2]), st.sampled_from([" ", "\n\t", ""]))
def test_generated_documents(doc: Any, ascii_only: bool, indent: Any, pad: str) -> None:
    text = json.dumps(doc, ensure_ascii=ascii_only, indent=indent)
    check((pad + text + pad).encode("utf-8", "surrogatepass"))


_PIECES = st.sampled_from(
    list('{}[]",:.-+eE0123456789 \t\n\r\x0b\x0ctruefalsenul\\/bfnrtu')
    + ["\\u00e9", "\\ud83d", "\\ude00", "\\u0000", "é", "😀", "NaN", "Infinity", "\x00", "\ufeff"]
)


@_SETTINGS
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_arbitrary_text(text: str) -> None:
    check(text.encode("utf-8", "surrogatepass"))


@_SETTINGS
@given(st.binary(max_size=40))
def test_arbitrary_bytes(body: bytes) -> None:
    check(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "a": 2, "b": [1.0, -0.0, 1e400, -1e400, 5e-324, 1.7976931348623157e308]}',
        b'"\\ud83d\\ude00 \\u00e9 \\" \\\\ \\/ \\b\\f\\n\\r\\t"',
        b"[9223372036854775807, -9223372036854775808, 9223372036854775808, 0.1, 1E2, -0]",
        b'[NaN, Infinity, -Infinity, "\\ud800"]',  # valid for json.loads: given up
        b"[" * 300 + b"]" * 300,  # deeper than the engine goes: json.loads
        b"\xef\xbb\xbf{}",  # a BOM: json.loads' error
        b'{"a": 1,}',
        b" \x0c\x0b {} \x0b",
        b"",
        b"  ",
    ],
)
def test_edge_cases(body: bytes) -> None:
    check(body)


def _app(body: bytes, ctype: str) -> web.Application:
    async def h(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Type": ctype})

    app = web.Application()
    app.router.add_get("/", h)
    return app


@pytest.mark.parametrize(
    "body,ctype",
    [
        (b'{"x": [1, 2.5, "\\u00e9"]}', "application/json"),
        (b'{"x": "\xc3\xa9"}', "application/json; charset=utf-8"),
        (b'{"x": "\xe9"}', "application/json; charset=latin-1"),  # not UTF-8: json.loads
        (b'{"x": NaN}', "application/json"),
        (b"  ", "application/json"),
    ],
)
async def test_resp_json_equals_json_loads(
    aiohttp: Any, serve: Any, body: bytes, ctype: str
) -> None:
    base = await serve(_app(body, ctype))
    async with aiohttp.ClientSession() as s, s.get(base) as r:
        got = await r.json()
    charset = ctype.partition("charset=")[2] or "utf-8"
    stripped = body.strip()
    expected = json.loads(stripped.decode(charset)) if stripped else None
    assert canon(got) == canon(expected)


@pytest.mark.parametrize("body", [b"{bad", b'{"a": 1} x', b"\xef\xbb\xbf{}", b'"\xff"'])
async def test_resp_json_errors_are_json_loads(aiohttp: Any, serve: Any, body: bytes) -> None:
    base = await serve(_app(body, "application/json"))
    try:
        json.loads(body.strip().decode("utf-8"))
    except ValueError as e:
        expected = e
    async with aiohttp.ClientSession() as s, s.get(base) as r:
        with pytest.raises(type(expected)) as info:
            await r.json()
    assert str(info.value) == str(expected)


@pytest.mark.parametrize(
    "doc",
    [
        {"items": [{"id": i, "name": f"n{i}", "price": i * 1.5, "ok": True} for i in range(20)]},
        [1, -2, 3.25, None, False, "é😀\n"],
        {"nested": {"deep": [[[{}]]], "empty": []}},
        "just a string",
        0,
    ],
)
def test_ordinary_documents_take_the_fast_path(doc: Any) -> None:
    for text in (json.dumps(doc), json.dumps(doc, ensure_ascii=False, indent=2)):
        fast = json_loads(text.encode())
        assert fast is not NotImplemented
        assert canon(fast) == canon(doc)
