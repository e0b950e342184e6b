"""The engine's connection events in Python's logging.

The engine reports, per connector, when a connection is opened (its peer,
and TLS version, cipher and protocol), reused, closed (and why), and when a
request is retried on a new connection.  The events are formatted on the
engine's thread and queued to the loop's thread (the bridge's call queue,
never waiting), where they are logged at DEBUG on ``aioxide.client``.

When: a connector turns them on when it is created if that logger is then
enabled for DEBUG; ``BaseConnector.log_connection_events()`` turns them on
(or off) later.  Off, the engine's whole cost is one atomic load per event
point and nothing is queued.
"""

from __future__ import annotations

import asyncio
import logging

from ._aioxide import Session
from ._bridge import LoopBridge, bridge_for

__all__ = ("EventLog", "client_logger")

client_logger = logging.getLogger("aioxide.client")


def _log_event(kind: str, message: str) -> None:
    """One event, on the loop's thread (``kind``: open, reuse, close, retry)."""
    client_logger.debug("%s", message, extra={"aioxide_event": kind})


class EventLog:
    """A connector's switch for its engine's connection events."""

    __slots__ = ("_engine", "_loop", "_bridge")

    def __init__(self, engine: Session, loop: asyncio.AbstractEventLoop) -> None:
        self._engine = engine
        self._loop = loop
        self._bridge: LoopBridge | None = None
        if client_logger.isEnabledFor(logging.DEBUG):
            self.enable()

    @property
    def enabled(self) -> bool:
        return self._bridge is not None

    def enable(self) -> None:
        """Deliver events to ``aioxide.client`` (keeps the loop's bridge open)."""
        if self._bridge is None:
            lb = bridge_for(self._loop)
            lb.acquire()
            self._engine.log_events(lb.bridge, _log_event)
            self._bridge = lb

    def disable(self) -> None:
        """Stop the events; those already queued are still logged."""
        lb, self._bridge = self._bridge, None
        if lb is not None:
            self._engine.log_events(None, None)
            lb.release()
