"""Every fault against every request shape, on asyncio and uvloop.

A request shape is what is sent (GET, a small POST, an upload from an async
generator) and how the answer is taken (``read()``, ``iter_chunked()``,
``release()`` without reading).  For each case: the exception class aiohttp
raises (or the documented better one), raised within the case's timeout plus
a margin (the ``asyncio.timeout`` bound fails the case otherwise); no file
descriptor and no engine work left behind; and the next request on the same
session, to the same server, succeeds.
"""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

import pytest

from .cases import CASES, PARTIAL
from .harness import (
    CONSUMES,
    REQUESTS,
    TARGET,
    Case,
    Outcome,
    Shape,
    run_case,
    run_in_loop,
)
from .servers import PAYLOAD

SHAPES = [Shape(r, c) for r in REQUESTS for c in CONSUMES]
#: uvloop meets every fault through three shapes (each request kind and each way
#: of taking the answer once), to keep the table fast.
UVLOOP_SHAPES = {"GET-read", "POST-release", "upload-iter_chunked"}
RUNS = [
    pytest.param(case, shape, loop, id=f"{case.name}-{shape.id}-{loop}")
    for case in CASES
    for loop in ("asyncio", "uvloop")
    for shape in SHAPES
    if loop == "asyncio" or shape.id in UVLOOP_SHAPES
]


def exc_class(aiohttp: Any, name: str) -> type[BaseException]:
    if name == "TimeoutError":
        # The total timeout is asyncio's TimeoutError, as aiohttp's (the
        # builtin from 3.11 on, a class of its own on 3.9 and 3.10).
        return asyncio.TimeoutError
    cls = getattr(aiohttp, name, None) or getattr(builtins, name)
    assert isinstance(cls, type)
    return cls


def checker(aiohttp: Any, case: Case, shape: Shape) -> Any:
    expect = case.aiohttp if (TARGET == "aiohttp" and case.aiohttp) else case.expect

    def check(out: Outcome) -> None:
        wanted = expect.head or (expect.body if shape.consume != "release" else None)
        if wanted is not None:
            assert out.exc is not None, f"{wanted} expected, got {out.describe()}"
            # The exact class (or one of "A|B" where timing decides): a subclass
            # or a parent would be another answer.
            classes = {exc_class(aiohttp, name) for name in wanted.split("|")}
            assert type(out.exc) in classes, repr(out.exc)
            if isinstance(out.exc, aiohttp.ClientResponseError):
                assert out.exc.status == 400  # a head refused, as aiohttp's parser
            return
        assert out.exc is None, repr(out.exc)
        if expect.head is None and expect.body is not None:
            return  # released unread before the body's fault
        assert out.status == expect.status
        if shape.consume == "release":
            assert out.body is None
        elif expect.content is PARTIAL:
            assert out.body is not None and PAYLOAD.startswith(out.body)
        else:
            assert out.body == expect.content

    return check


@pytest.mark.parametrize(("case", "shape", "loop"), RUNS)
def test_fault(aiohttp: Any, case: Case, shape: Shape, loop: str) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    run_in_loop(lambda: run_case(aiohttp, case, shape, checker(aiohttp, case, shape)), loop)


def test_differences_are_explained() -> None:
    for case in CASES:
        assert (case.aiohttp is None) == (not case.why), case.name
