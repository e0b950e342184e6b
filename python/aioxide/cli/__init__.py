"""The ``aioxide`` command (also ``python -m aioxide``).

``aioxide METHOD URL [ITEM ...]`` sends one request (HTTPie style);
``aioxide bench URL -c 64 -n 100000`` runs the engine's load generator.
Colour and progress bars need the ``cli`` extra (``pip install aioxide[cli]``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import NoReturn

from . import _bench, _items, _request

__all__ = ["main", "EXIT_USAGE"]

# argparse's own 2 would read as "timeout": usage errors are sysexits' EX_USAGE.
EXIT_USAGE = 64
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser(bench: bool) -> argparse.ArgumentParser:
    if bench:
        p = _Parser(prog="aioxide bench", description="Load an HTTP server (engine-driven).")
        _bench.add_arguments(p)
    else:
        p = _Parser(
            prog="aioxide",
            description=__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog="exit codes: 0 ok, 1 error, 2 timeout, 3 too many redirects, "
            "4 HTTP 4xx and 5 HTTP 5xx (with --check-status), 6 connection error, "
            "64 usage, 130 interrupted",
        )
        _request.add_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    bench = bool(argv) and argv[0] == "bench"
    parser = _parser(bench)
    args = parser.parse_args(argv[1:] if bench else argv)
    try:
        if bench:
            return _bench.run(args)
        return asyncio.run(_request.run(args))
    except _items.ItemError as e:
        print(f"aioxide: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as e:  # every failure gets its exit code and a one-line message
        print(f"aioxide: {type(e).__name__}: {e}", file=sys.stderr)
        return _request.exit_code(e)
