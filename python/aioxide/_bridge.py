"""One asyncio <-> engine bridge per event loop.

The engine completes futures in batches: it writes an eventfd that the loop
watches, and ``Bridge.drain`` (the loop's reader callback) sets every finished
future.  A bridge counts the sessions using it; when the last one closes, the
bridge leaves the loop and releases the engine runtime (whose thread stops
when no loop needs it any more).
"""

from __future__ import annotations

import asyncio
import os
import weakref
from typing import Any, Callable

from ._aioxide import Bridge

__all__ = ("LoopBridge", "bridge_for", "call_engine")


class LoopBridge:
    __slots__ = ("__weakref__", "_loop", "bridge", "users", "pid", "_finalizer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.bridge = Bridge()
        self._loop = weakref.ref(loop)
        self.users = 0
        self.pid = os.getpid()
        loop.add_reader(self.bridge.fd, self.bridge.drain)
        # A lone request may be driven on this loop's thread: its socket
        # waits in the bridge's epoll, which the loop watches; the bridge
        # holds the loop weakly.
        loop.add_reader(self.bridge.watch_fd, self.bridge.poll_ready)
        self.bridge.drive_on(weakref.ref(loop))
        # Closes the bridge when the loop goes; detached once it is closed, so
        # a closed bridge (and its eventfd) is not kept alive by the loop.
        self._finalizer = weakref.finalize(loop, _close, self)

    def acquire(self) -> None:
        self.users += 1

    def release(self) -> None:
        self.users -= 1
        if self.users <= 0:
            self.close()

    def close(self) -> None:
        self._finalizer.detach()
        if self.bridge.closed:
            return
        loop = self._loop()
        if loop is not None:
            _bridges.pop(loop, None)
            # After os.fork() the loop's selector is shared with the parent:
            # removing the reader would remove the parent's.
            if not loop.is_closed() and self.pid == os.getpid():
                for fd in (self.bridge.fd, self.bridge.watch_fd):
                    try:
                        loop.remove_reader(fd)
                    except (RuntimeError, ValueError, OSError):
                        pass
        self.bridge.close()


_bridges: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopBridge] = (
    weakref.WeakKeyDictionary()
)


def _close(lb: LoopBridge) -> None:
    lb.close()


def bridge_for(loop: asyncio.AbstractEventLoop) -> LoopBridge:
    """The bridge of ``loop`` (made on first use)."""
    lb = _bridges.get(loop)
    if lb is None or lb.bridge.closed or lb.pid != os.getpid():
        lb = LoopBridge(loop)
        _bridges[loop] = lb
    return lb


async def call_engine(
    loop: asyncio.AbstractEventLoop, bridge: Bridge, fn: Callable[..., int], *args: Any
) -> Any:
    """Run one engine operation and wait for its result.

    ``fn(bridge, future, *args)`` starts the operation and returns its id;
    cancelling the awaiting task aborts the engine task.
    """
    fut = loop.create_future()
    rid = fn(bridge, fut, *args)
    try:
        return await fut
    except asyncio.CancelledError:
        bridge.abort(rid)
        raise
