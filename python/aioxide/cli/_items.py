"""HTTPie-style request items: ``Header:value``, ``name==query``, ``field=string``,
``field:=rawjson``; a separator is escaped with a backslash (``a\\:b=c``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Longest first: at one position ":=" wins over ":" and "==" over "=".
_SEPARATORS = (":=", "==", "=", ":")


class ItemError(ValueError):
    """A request item that cannot be understood."""


@dataclass
class Items:
    headers: list[tuple[str, str]] = field(default_factory=list)
    query: list[tuple[str, str]] = field(default_factory=list)
    # (name, value): a str for ``=``, any JSON value for ``:=``.
    data: list[tuple[str, Any]] = field(default_factory=list)
    raw_json: bool = False


def _split(item: str) -> tuple[str, str, str]:
    """(name, separator, value) at the first unescaped separator."""
    i = 0
    name: list[str] = []
    while i < len(item):
        if item[i] == "\\" and i + 1 < len(item):
            name.append(item[i + 1])
            i += 2
            continue
        for sep in _SEPARATORS:
            if item.startswith(sep, i):
                return "".join(name), sep, item[i + len(sep) :]
        name.append(item[i])
        i += 1
    raise ItemError(f"{item!r}: not a request item (Header:value, name==value, field=value)")


def parse_items(items: list[str]) -> Items:
    out = Items()
    for item in items:
        name, sep, value = _split(item)
        if not name:
            raise ItemError(f"{item!r}: the name is empty")
        if sep == ":":
            out.headers.append((name, value.strip()))
        elif sep == "==":
            out.query.append((name, value))
        elif sep == "=":
            out.data.append((name, value))
        else:
            try:
                out.data.append((name, json.loads(value)))
            except ValueError as e:
                raise ItemError(f"{item!r}: not JSON: {e}") from None
            out.raw_json = True
    return out


def json_body(data: list[tuple[str, Any]]) -> bytes:
    return json.dumps(dict(data)).encode()


def form_fields(data: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    """The fields of a form body: strings only."""
    fields = []
    for name, value in data:
        if not isinstance(value, str):
            raise ItemError(f"{name}: a form field takes a string (field=value), not :=")
        fields.append((name, value))
    return fields


def normalise_url(url: str, default_scheme: str = "http") -> str:
    """``:8080/x`` -> ``http://localhost:8080/x``; ``host/x`` -> ``http://host/x``."""
    if url.startswith(":"):
        rest = url[1:]
        if not rest or rest[0] == "/":
            return f"{default_scheme}://localhost{rest}"
        return f"{default_scheme}://localhost:{rest}"
    if "://" not in url:
        return f"{default_scheme}://{url}"
    return url
