"""Client middleware support (``aiohttp.client_middlewares``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .client_reqrep import ClientRequest, ClientResponse

__all__ = ("ClientHandlerType", "ClientMiddlewareType", "build_client_middlewares")

ClientHandlerType = Callable[["ClientRequest"], Awaitable["ClientResponse"]]
ClientMiddlewareType = Callable[["ClientRequest", ClientHandlerType], Awaitable["ClientResponse"]]


def build_client_middlewares(
    handler: ClientHandlerType,
    middlewares: Sequence[ClientMiddlewareType],
) -> ClientHandlerType:
    """Wrap ``handler`` in the middlewares; the first one is the outermost."""
    if not middlewares:
        return handler
    if len(middlewares) == 1:
        middleware = middlewares[0]

        async def single_middleware_handler(req: ClientRequest) -> ClientResponse:
            return await middleware(req, handler)

        return single_middleware_handler

    current_handler = handler
    for middleware in reversed(middlewares):

        def make_wrapper(mw: ClientMiddlewareType, next_h: ClientHandlerType) -> ClientHandlerType:
            async def wrapped(req: ClientRequest) -> ClientResponse:
                return await mw(req, next_h)

            return wrapped

        current_handler = make_wrapper(middleware, current_handler)
    return current_handler
