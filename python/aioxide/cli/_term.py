"""The terminal: colour and progress bars from ``rich`` (the ``cli`` extra), only when
the stream is a terminal and rich is installed; otherwise plain text and no bar."""

from __future__ import annotations

import sys
from typing import IO, Any, Callable


def console_for(stream: IO[str]) -> Any | None:
    """A rich Console writing to ``stream`` when it is a terminal, else None."""
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(file=stream, highlight=False, soft_wrap=True)


class Bar:
    """A progress bar on stderr; this base class draws nothing."""

    def update(self, completed: float, **fields: Any) -> None:
        """Set the completed amount (bytes, requests or seconds)."""

    def close(self) -> None:
        """Leave the final state on screen."""

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _RichBar(Bar):
    def __init__(self, progress: Any, total: float | None, description: str) -> None:
        self._progress = progress
        progress.start()
        self._task = progress.add_task(description, total=total, rate="", extra="")

    def update(self, completed: float, **fields: Any) -> None:
        self._progress.update(self._task, completed=completed, **fields)

    def close(self) -> None:
        self._progress.stop()


def _bar(total: float | None, description: str, middle: Callable[[Any], list[Any]]) -> Bar:
    """A rich bar on stderr (a no-op one off a terminal or without rich): the
    description, the bar, ``middle(rich.progress)``'s columns, the time left."""
    console = console_for(sys.stderr)
    if console is None:
        return Bar()
    from rich import progress as p

    columns = (
        p.TextColumn("{task.description}"),
        p.BarColumn(),
        *middle(p),
        p.TimeRemainingColumn(),
    )
    return _RichBar(p.Progress(*columns, console=console), total, description)


def transfer_bar(total: int | None, description: str) -> Bar:
    """Bytes sent or received: amount, rate and time left (when ``total`` is known)."""
    return _bar(total, description, lambda p: [p.DownloadColumn(), p.TransferSpeedColumn()])


def bench_bar(total: float | None, description: str) -> Bar:
    """A load run: requests (or seconds) done, with the live rate in ``rate``."""
    return _bar(
        total,
        description,
        lambda p: [
            p.TaskProgressColumn(),
            p.TextColumn("{task.fields[rate]}"),
            p.TextColumn("{task.fields[extra]}"),
        ],
    )
