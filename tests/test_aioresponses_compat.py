"""aioresponses' own test cases, run against ``aioxide.testing.aioresponses``
with the import switched.  ``AIOXIDE_TEST_TARGET=aiohttp`` runs them against
aiohttp with the real aioresponses package when it is importable and supports
that aiohttp (0.7.9 on aiohttp 3.13.2: 64 passed, the 2 aioxide-only skipped;
it cannot build an aiohttp 3.14 response).

Origin: aioresponses 0.7.9, tests/test_aioresponses.py and
tests/test_async_generator_body.py (https://github.com/pnuckowski/aioresponses),
MIT License, Copyright (c) 2016 pnuckowski.  Ported from unittest + ddt to
pytest functions; the assertions are the original ones except where marked
DIFFERS: there aioxide answers through the real session (its redirects,
request headers and body preparation) where aioresponses built a response
beside it, and the test states what aioxide does.  Tests reaching
httpbin.org use a local aiohttp.web server instead.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from asyncio import CancelledError, TimeoutError
from random import uniform
from typing import Any, AsyncIterator
from unittest.mock import patch

import pytest
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import CIMultiDict
from yarl import URL

from conftest import TARGET

if TARGET == "aioxide":
    import aioxide as client
    from aioxide import hdrs
    from aioxide.testing import CallbackResult, aioresponses

    AIOXIDE = True
else:  # the reference: aiohttp with the real aioresponses
    import aiohttp as _aiohttp

    if _aiohttp.__version__.startswith("3.14."):
        # aioresponses 0.7.9 builds ClientResponse without 3.14's stream_writer.
        pytest.skip("aioresponses does not support aiohttp 3.14", allow_module_level=True)
    pytest.importorskip("aioresponses")
    import aiohttp as client  # type: ignore[no-redef]
    from aiohttp import hdrs  # type: ignore[no-redef]
    from aioresponses import CallbackResult, aioresponses  # type: ignore[no-redef]

    AIOXIDE = False

ClientSession = client.ClientSession
ClientResponse = client.ClientResponse
ClientConnectionError = client.ClientConnectionError
ClientResponseError = client.ClientResponseError
only_aioxide = pytest.mark.skipif(not AIOXIDE, reason="DIFFERS: aioxide's behaviour")

URL_ = "http://example.com/api?foo=bar#fragment"
METHODS = ["HEAD", "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def reason(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase


@pytest.fixture
async def session() -> AsyncIterator[Any]:
    s = ClientSession()
    yield s
    await s.close()


@pytest.fixture
async def httpbin(serve: Any) -> str:
    """What the original tests asked of httpbin.org."""

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]))

    async def get(request: web.Request) -> web.Response:
        return web.json_response({"args": dict(request.query)})

    app = web.Application()
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/get", get)
    return str(await serve(app))


@pytest.mark.parametrize("http_method", METHODS)
def test_shortcut_method(http_method: str) -> None:
    with patch.object(aioresponses, "add") as mocked:
        with aioresponses() as m:
            getattr(m, http_method.lower())(URL_)
            mocked.assert_called_once_with(URL_, method=http_method)


async def test_returned_instance(session: Any) -> None:
    with aioresponses() as m:
        m.get(URL_)
        response = await session.get(URL_)
        assert isinstance(response, ClientResponse)


async def test_returned_instance_and_status_code(session: Any) -> None:
    with aioresponses() as m:
        m.get(URL_, status=204)
        response = await session.get(URL_)
        assert isinstance(response, ClientResponse)
        assert response.status == 204


@pytest.mark.parametrize("base_url", ["http://example.com", "http://example.com/"])
async def test_base_url(base_url: str) -> None:
    with aioresponses() as m:
        m.get(URL_, status=200)
        async with ClientSession(base_url=base_url) as s:
            response = await s.get("/api?foo=bar#fragment")
            assert response.status == 200


async def test_session_headers() -> None:
    with aioresponses() as m:
        m.get(URL_)
        async with ClientSession(headers={"Authorization": "Bearer foobar"}) as s:
            response = await s.get(URL_)
        assert response.status == 200
        request = m.requests[("GET", URL(URL_))][0]
        assert request.kwargs["headers"]["Authorization"] == "Bearer foobar"


async def test_returned_response_headers(session: Any) -> None:
    with aioresponses() as m:
        m.get(URL_, content_type="text/html", headers={"Connection": "keep-alive"})
        response = await session.get(URL_)
        assert response.headers["Connection"] == "keep-alive"
        assert response.headers[hdrs.CONTENT_TYPE] == "text/html"


async def test_returned_response_multidict_headers(session: Any) -> None:
    with aioresponses() as m:
        m.get(
            URL_,
            content_type="text/html",
            headers=CIMultiDict([("x-custom-header", v) for v in ["foo", "bar"]]),
        )
        response = await session.get(URL_)
        assert response.headers.getall("x-custom-header") == ["foo", "bar"]


async def test_returned_response_cookies(session: Any) -> None:
    with aioresponses() as m:
        m.get(URL_, headers={"Set-Cookie": "cookie=value"})
        response = await session.get(URL_)
        assert response.cookies["cookie"].value == "value"


async def test_returned_response_raw_headers(session: Any) -> None:
    with aioresponses() as m:
        m.get(URL_, content_type="text/html", headers={"Connection": "keep-alive"})
        response = await session.get(URL_)
        assert response.raw_headers == (
            (hdrs.CONTENT_TYPE.encode(), b"text/html"),
            (b"Connection", b"keep-alive"),
        )


async def test_raise_for_status(session: Any) -> None:
    with aioresponses() as m:
        m.get(URL_, status=400)
        with pytest.raises(ClientResponseError) as cm:
            response = await session.get(URL_)
            response.raise_for_status()
        assert cm.value.message == reason(400)


async def test_request_raise_for_status(session: Any) -> None:
    with aioresponses() as m:
        m.get(URL_, status=400)
        with pytest.raises(ClientResponseError) as cm:
            await session.get(URL_, raise_for_status=True)
        assert cm.value.message == reason(400)


async def test_returned_instance_and_params_handling(session: Any) -> None:
    with aioresponses() as m:
        m.get("http://example.com/api?foo=bar&x=42#fragment")
        response = await session.get(URL_, params={"x": 42})
        assert isinstance(response, ClientResponse)
        assert response.status == 200
        m.get("http://example.com/api?x=42#fragment")
        response = await session.get("http://example.com/api#fragment", params={"x": 42})
        assert isinstance(response, ClientResponse)
        assert response.status == 200
        assert len(m.requests) == 2
        with pytest.raises(AssertionError):
            m.assert_called_once()


async def test_method_dont_match(session: Any) -> None:
    with aioresponses() as m:
        m.get(URL_)
        with pytest.raises(ClientConnectionError):
            await session.post(URL_)


@pytest.mark.parametrize("selected", [False, True])
async def test_post_with_data(session: Any, selected: bool) -> None:
    body = {"foo": "bar"}
    payload = {"spam": "eggs"}
    user_agent = {"User-Agent": "aioresponses"}
    with aioresponses() as m:
        m.post(URL_, payload=payload, headers=dict(connection="keep-alive"), body=body)
        response = await session.post(URL_, data=payload, headers=user_agent)
        assert isinstance(response, ClientResponse)
        assert response.status == 200
        assert await response.json() == payload
        if not selected:
            m.assert_called_once_with(URL_, method="POST", data=payload, headers=user_agent)
            with pytest.raises(AssertionError):  # wrong data
                m.assert_called_once_with(URL_, method="POST", data=body, headers=user_agent)
            with pytest.raises(AssertionError):  # wrong url
                m.assert_called_once_with(
                    "http://httpbin.org/", method="POST", data=payload, headers=user_agent
                )
            with pytest.raises(AssertionError):  # wrong headers
                m.assert_called_once_with(
                    URL_, method="POST", data=payload, headers={"User-Agent": "aiorequest"}
                )
            return
        m.assert_called_once_with(
            URL_, method="POST", args_to_match=["data", "headers"], data=payload, headers=user_agent
        )
        m.assert_called_once_with(URL_, method="POST", args_to_match=["data"], data=payload)
        m.assert_called_once_with(
            URL_, method="POST", args_to_match=["headers"], headers=user_agent
        )
        m.assert_called_once_with(URL_, method="POST", args_to_match=[])
        with pytest.raises(AssertionError):
            m.assert_called_once_with(
                URL_,
                method="POST",
                args_to_match=["data", "headers", "body"],
                data=body,
                headers=user_agent,
            )


async def test_streaming(session: Any) -> None:
    with aioresponses() as m:
        m.get(URL_, body="Test")
        resp = await session.get(URL_)
        assert await resp.content.read() == b"Test"


async def test_streaming_up_to(session: Any) -> None:
    with aioresponses() as m:
        m.get(URL_, body="Test")
        resp = await session.get(URL_)
        assert await resp.content.read(2) == b"Te"
        assert await resp.content.read(2) == b"st"


async def test_binary_body(session: Any) -> None:
    body = b"Invalid utf-8: \x95\x00\x85"
    with aioresponses() as m:
        m.get(URL_, body=body)
        resp = await session.get(URL_)
        assert await resp.read() == body


async def test_binary_body_via_callback(session: Any) -> None:
    body = b"\x00\x01\x02\x80\x81\x82\x83\x84\x85"

    def callback(url: Any, **kwargs: Any) -> Any:
        return CallbackResult(body=body)

    with aioresponses() as m:
        m.get(URL_, callback=callback)
        resp = await session.get(URL_)
        assert await resp.read() == body


async def test_mocking_as_context_manager(session: Any) -> None:
    with aioresponses() as aiomock:
        aiomock.add(URL_, payload={"foo": "bar"})
        resp = await session.get(URL_)
        assert resp.status == 200
        assert await resp.json() == {"foo": "bar"}


def test_mocking_as_decorator() -> None:
    @aioresponses()
    def foo(loop: asyncio.AbstractEventLoop, m: Any) -> None:
        m.add(URL_, payload={"foo": "bar"})

        async def go() -> Any:
            async with ClientSession() as s:
                resp = await s.get(URL_)
                return resp.status, await resp.json()

        assert loop.run_until_complete(go()) == (200, {"foo": "bar"})

    loop = asyncio.new_event_loop()
    try:
        foo(loop)
    finally:
        loop.close()


async def test_passing_argument(session: Any) -> None:
    @aioresponses(param="mocked")
    async def foo(mocked: Any) -> None:
        mocked.add(URL_, payload={"foo": "bar"})
        resp = await session.get(URL_)
        assert resp.status == 200

    await foo()


def test_mocking_as_decorator_wrong_mocked_arg_name() -> None:
    @aioresponses(param="foo")
    def foo(bar: Any) -> None:
        pass

    with pytest.raises(TypeError) as cm:
        foo()
    assert "foo() got an unexpected keyword argument 'foo'" in str(cm.value)


async def test_unknown_request(session: Any) -> None:
    with aioresponses() as aiomock:
        aiomock.add(URL_, payload={"foo": "bar"})
        with pytest.raises(ClientConnectionError):
            await session.get("http://example.com/foo")


async def test_raising_exception(session: Any) -> None:
    cases: list[tuple[str, Any, type[BaseException]]] = [
        ("Exception", Exception, Exception),
        ("Exception_object", Exception(), Exception),
        ("BaseException", BaseException, BaseException),
        ("BaseException_object", BaseException(), BaseException),
        ("CancelError", CancelledError, CancelledError),
        ("TimeoutError", TimeoutError, TimeoutError),
        ("HttpProcessingError", HttpProcessingError(message="foo"), HttpProcessingError),
    ]
    with aioresponses() as aiomock:
        for name, exc, expected in cases:
            url = f"http://example.com/{name}"
            aiomock.get(url, exception=exc)
            with pytest.raises(expected):
                await session.get(url)
        callback_called = asyncio.Event()
        url = "http://example.com/HttpProcessingError"
        aiomock.get(
            url,
            exception=HttpProcessingError(message="foo"),
            callback=lambda *_, **__: callback_called.set(),
        )
        with pytest.raises(HttpProcessingError):
            await session.get(url)
        await asyncio.wait_for(callback_called.wait(), 5)


async def test_multiple_requests(session: Any) -> None:
    """Requests are saved the way they would have been sent."""
    with aioresponses() as m:
        for status in (200, 201, 202):
            m.get(URL_, status=status)
        json_content_as_ref = [1]
        for n, status in enumerate((200, 201, 202), 1):
            json_content_as_ref[:] = [n]
            resp = await session.get(URL_, json=json_content_as_ref)
            assert resp.status == status
        key = ("GET", URL(URL_))
        assert len(m.requests[key]) == 3
        for n, request in enumerate(m.requests[key], 1):
            assert request.args == ()
            assert request.kwargs == {"allow_redirects": True, "json": [n]}


async def test_request_with_non_deepcopyable_parameter(session: Any) -> None:
    # DIFFERS (input): the original sends a sync generator as data, which the
    # real request preparation refuses (so does aiohttp's); an open file is
    # a body that cannot be deep-copied either.
    with tempfile.TemporaryFile() as f, aioresponses() as m:
        f.write(b"header1,header2\nv1,v2\n")
        f.seek(0)
        m.get(URL_, status=200)
        resp = await session.get(URL_, data=f)
        assert resp.status == 200
        key = ("GET", URL(URL_))
        assert len(m.requests[key]) == 1
        request = m.requests[key][0]
        assert request.args == ()
        assert request.kwargs == {"allow_redirects": True, "data": f}


async def test_request_retrieval_in_case_no_response(session: Any) -> None:
    with aioresponses() as m:
        with pytest.raises(ClientConnectionError):
            await session.get(URL_)
        key = ("GET", URL(URL_))
        assert len(m.requests[key]) == 1
        assert m.requests[key][0].args == ()
        assert m.requests[key][0].kwargs == {"allow_redirects": True}


async def test_request_failure_in_case_session_is_closed(session: Any) -> None:
    async def do_request(s: Any) -> Any:
        return await s.get(URL_)

    with aioresponses():
        coro = do_request(session)
        await session.close()
        with pytest.raises(RuntimeError) as exception_info:
            await coro
        assert str(exception_info.value) == "Session is closed"


async def test_address_as_instance_of_url_combined_with_pass_through(
    session: Any, httpbin: str
) -> None:
    external_api = httpbin + "/status/201"
    with aioresponses(passthrough=[external_api]) as m:
        m.get(URL_, status=200)
        api = await session.get(URL_)
        ext = await session.get(URL(external_api))  # the real (local) server
        assert api.status == 200
        assert ext.status == 201


async def test_pass_through_with_origin_params(session: Any, httpbin: str) -> None:
    external_api = httpbin + "/get"
    with aioresponses(passthrough=[external_api]):
        ext = await session.get(URL(external_api), params={"foo": "bar"})
        assert ext.status == 200
        assert str(ext.url) == external_api + "?foo=bar"


async def test_custom_response_class(session: Any) -> None:
    class CustomClientResponse(ClientResponse):  # type: ignore[misc,valid-type]
        pass

    with aioresponses() as m:
        m.get(URL_, body="Test", response_class=CustomClientResponse)
        resp = await session.get(URL_)
        assert isinstance(resp, CustomClientResponse)


async def test_exceptions_in_the_middle_of_responses(session: Any) -> None:
    with aioresponses() as mocked:
        mocked.get(URL_, payload={}, status=204)
        mocked.get(URL_, exception=ValueError("oops"))
        mocked.get(URL_, payload={}, status=204)
        mocked.get(URL_, exception=ValueError("oops"))
        mocked.get(URL_, payload={}, status=200)
        assert (await session.get(URL_)).status == 204
        with pytest.raises(ValueError):
            await session.get(URL_)
        assert (await session.get(URL_)).status == 204
        with pytest.raises(ValueError):
            await session.get(URL_)
        assert (await session.get(URL_)).status == 200


async def test_request_should_match_regexp(session: Any) -> None:
    with aioresponses() as mocked:
        mocked.get(re.compile(r"^http://example\.com/api\?foo=.*$"), payload={}, status=200)
        response = await session.get(URL_)
        assert response.status == 200


async def test_request_does_not_match_regexp(session: Any) -> None:
    with aioresponses() as mocked:
        mocked.get(re.compile(r"^http://exampleexample\.com/api\?foo=.*$"), payload={})
        with pytest.raises(ClientConnectionError):
            await session.get(URL_)


async def test_timeout(session: Any) -> None:
    with aioresponses() as mocked:
        mocked.get(URL_, timeout=True)
        with pytest.raises(asyncio.TimeoutError):
            await session.get(URL_)


async def test_callback(session: Any) -> None:
    body = b"New body"

    def callback(url: Any, **kwargs: Any) -> Any:
        assert str(url) == URL_
        assert kwargs == {"allow_redirects": True}
        return CallbackResult(body=body)

    with aioresponses() as m:
        m.get(URL_, callback=callback)
        response = await session.get(URL_)
        assert await response.read() == body


async def test_callback_coroutine(session: Any) -> None:
    body = b"New body"
    event = asyncio.Event()

    async def callback(url: Any, **kwargs: Any) -> Any:
        await event.wait()
        assert str(url) == URL_
        assert kwargs == {"allow_redirects": True}
        return CallbackResult(body=body)

    with aioresponses() as m:
        m.get(URL_, callback=callback)
        future = asyncio.ensure_future(session.get(URL_))
        await asyncio.wait([future], timeout=0.05)
        assert not future.done()
        event.set()
        response = await asyncio.wait_for(future, 5)
        assert await response.read() == body


async def test_assert_not_called(session: Any) -> None:
    with aioresponses() as m:
        m.get(URL_)
        m.assert_not_called()
        await session.get(URL_)
        with pytest.raises(AssertionError):
            m.assert_not_called()


async def test_assert_called(session: Any) -> None:
    with aioresponses() as m:
        m.get(URL_)
        with pytest.raises(AssertionError):
            m.assert_called()
        await session.get(URL_)
        m.assert_called_once()
        m.assert_called_once_with(URL_)
        m.assert_called_with(URL_)
        with pytest.raises(AssertionError):
            m.assert_not_called()
        with pytest.raises(AssertionError):
            m.assert_called_with("http://foo.bar")


async def test_assert_called_twice(session: Any) -> None:
    with aioresponses() as m:
        m.get(URL_, repeat=True)
        m.assert_not_called()
        await session.get(URL_)
        await session.get(URL_)
        with pytest.raises(AssertionError):
            m.assert_called_once()


@pytest.mark.parametrize("repeat", [1, 2])
async def test_integer_repeat(session: Any, repeat: int) -> None:
    with aioresponses() as m:
        m.get(URL_, repeat=repeat)
        m.assert_not_called()
        for _ in range(repeat):
            await session.get(URL_)
        with pytest.raises(ClientConnectionError):
            await session.get(URL_)


async def test_assert_any_call(session: Any) -> None:
    http_bin_url = "http://httpbin.org"
    with aioresponses() as m:
        m.get(URL_)
        m.get(http_bin_url)
        await session.get(URL_)
        response = await session.get(http_bin_url)
        assert response.status == 200
        m.assert_any_call(URL_)
        m.assert_any_call(http_bin_url)


async def test_assert_any_call_not_called(session: Any) -> None:
    with aioresponses() as m:
        m.get(URL_)
        response = await session.get(URL_)
        assert response.status == 200
        m.assert_any_call(URL_)
        with pytest.raises(AssertionError):
            m.assert_any_call("http://httpbin.org")


async def test_exception_requests_are_tracked(session: Any) -> None:
    kwargs = {"json": [42], "allow_redirects": True}
    with aioresponses() as mocked:
        mocked.get(URL_, exception=ValueError("oops"))
        with pytest.raises(ValueError):
            await session.get(URL_, **kwargs)
        mocked_requests = mocked.requests[("GET", URL(URL_))]
        assert len(mocked_requests) == 1
        assert mocked_requests[0].args == ()
        assert mocked_requests[0].kwargs == kwargs


async def test_possible_race_condition(session: Any) -> None:
    async def random_sleep_cb(url: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(uniform(0.01, 0.1))
        return CallbackResult(body="test")

    with aioresponses() as mocked:
        for i in range(20):
            mocked.get(f"http://example.org/id-{i}", callback=random_sleep_cb)
        tasks = [session.get(f"http://example.org/id-{i}") for i in range(20)]
        responses = await asyncio.gather(*tasks)
        assert [await r.text() for r in responses] == ["test"] * 20


# -- AIOResponsesRaiseForStatusSessionTestCase -----------------------------------------
@pytest.fixture
async def rfs_session() -> AsyncIterator[Any]:
    s = ClientSession(raise_for_status=True)
    yield s
    await s.close()


async def test_session_raise_for_status(rfs_session: Any) -> None:
    with aioresponses() as m:
        m.get(URL_, status=400)
        with pytest.raises(ClientResponseError) as cm:
            await rfs_session.get(URL_)
        assert cm.value.message == reason(400)


async def test_do_not_raise_for_status(rfs_session: Any) -> None:
    with aioresponses() as m:
        m.get(URL_, status=400)
        response = await rfs_session.get(URL_, raise_for_status=False)
        assert response.status == 400


async def test_callable_raise_for_status(rfs_session: Any) -> None:
    async def raise_for_status(response: Any) -> None:
        if response.status >= 400:
            raise Exception("callable raise_for_status")

    with aioresponses() as m:
        m.get(URL_, status=400)
        with pytest.raises(Exception) as cm:
            await rfs_session.get(URL_, raise_for_status=raise_for_status)
        assert str(cm.value) == "callable raise_for_status"


# -- AIOResponseRedirectTest ---------------------------------------------------------------
REDIRECT = "http://10.1.1.1:8080/redirect"


async def test_redirect_followed(session: Any) -> None:
    with aioresponses() as rsps:
        rsps.get(REDIRECT, status=307, headers={"Location": "https://httpbin.org"})
        rsps.get("https://httpbin.org")
        response = await session.get(REDIRECT, allow_redirects=True)
        assert response.status == 200
        # DIFFERS: the session's redirect resolves the URL ("/" path), as a real one.
        assert response.url == URL("https://httpbin.org")
        assert len(response.history) == 1
        assert str(response.history[0].url) == REDIRECT


@only_aioxide
async def test_post_redirect_followed(session: Any) -> None:
    # DIFFERS: aioresponses turns every redirect into a GET; the session
    # follows a 307 with the same method and body (RFC 9110, aiohttp), so
    # the redirect target is registered for POST here.
    with aioresponses() as rsps:
        rsps.post(REDIRECT, status=307, headers={"Location": "https://httpbin.org"})
        rsps.post("https://httpbin.org")
        response = await session.post(REDIRECT, allow_redirects=True)
        assert response.status == 200
        assert response.url == URL("https://httpbin.org")
        assert response.method == "POST"
        assert len(response.history) == 1
        assert str(response.history[0].url) == REDIRECT


@only_aioxide
async def test_redirect_missing_mocked_match(session: Any) -> None:
    # DIFFERS: the error names the hop that found no match (the redirect's
    # target), where aioresponses names the first URL.
    with aioresponses() as rsps:
        rsps.get(REDIRECT, status=307, headers={"Location": "https://httpbin.org"})
        with pytest.raises(ClientConnectionError) as cm:
            await session.get(REDIRECT, allow_redirects=True)
        # (The Location had no path: the URL is named as it was written.)
        assert str(cm.value) == "Connection refused: GET https://httpbin.org"


async def test_redirect_missing_location_header(session: Any) -> None:
    with aioresponses() as rsps:
        rsps.get(REDIRECT, status=307)
        response = await session.get(REDIRECT, allow_redirects=True)
        assert str(response.url) == REDIRECT


async def test_request_info(session: Any) -> None:
    with aioresponses() as rsps:
        rsps.get(REDIRECT, status=200)
        response = await session.get(REDIRECT)
        request_info = response.request_info
        assert str(request_info.url) == REDIRECT
        if AIOXIDE:
            # DIFFERS: the headers the session really prepared (aioresponses: {}).
            assert request_info.headers["Host"] == "10.1.1.1:8080"
            assert "Authorization" not in request_info.headers
        else:
            assert request_info.headers == {}


async def test_request_info_with_original_request_headers(session: Any) -> None:
    headers = {"Authorization": "Bearer access-token"}
    with aioresponses() as rsps:
        rsps.get(REDIRECT, status=200)
        response = await session.get(REDIRECT, headers=headers)
        request_info = response.request_info
        assert str(request_info.url) == REDIRECT
        if AIOXIDE:
            # DIFFERS: the given headers among the prepared ones.
            assert request_info.headers["Authorization"] == "Bearer access-token"
        else:
            assert request_info.headers == headers


async def test_relative_url_redirect_followed(session: Any) -> None:
    base_url = "https://httpbin.org"
    url = f"{base_url}/foo/bar"
    with aioresponses() as rsps:
        rsps.get(url, status=307, headers={"Location": "../baz"})
        rsps.get(f"{base_url}/baz")
        response = await session.get(url, allow_redirects=True)
        assert response.status == 200
        assert str(response.url) == f"{base_url}/baz"
        assert len(response.history) == 1
        assert str(response.history[0].url) == url


async def test_pass_through_unmatched_requests(session: Any, httpbin: str) -> None:
    matched_url = "https://matched_example.org"
    unmatched_url = httpbin + "/get"
    with aioresponses(passthrough_unmatched=True) as m:
        m.post(URL(matched_url), status=200)
        mocked_response = await session.post(URL(matched_url))
        response = await session.get(URL(unmatched_url), params={"foo": "bar"})
        assert response.status == 200
        assert str(response.url) == unmatched_url + "?foo=bar"
        assert await response.json() == {"args": {"foo": "bar"}}
        assert mocked_response.status == 200


# -- tests/test_async_generator_body.py ----------------------------------------------------
async def test_async_generator_body_exception() -> None:
    url = "http://1.2.3.4"
    with aioresponses() as m:
        m.post(url)

        async def data_generator() -> Any:
            yield b"foo"
            raise RuntimeError("this generator is never awaited")

        with pytest.raises(RuntimeError, match="never awaited"):
            async with ClientSession() as s:
                async with s.post(url, data=data_generator()) as resp:
                    await resp.text()
