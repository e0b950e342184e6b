"""Every example in the documentation runs, against local servers.

Collected: each ```python block of docs/**/*.md and README.md (unless the line
before it, blank lines aside, is ``<!-- no-run -->``) and each examples/*.py.
A block runs as a program of its own (``sys.executable``, 30 s at most) with
the placeholders of ``docs_server.PLACEHOLDERS`` (``https://httpbin.org``, also
as ``wss://``; the proxies', the HTTP/2 servers') replaced by local servers'
URLs; it passes when it exits with 0.  An examples/*.py runs as it is
(examples/main.py starts its own server); one that needs the httpbin-like
server finds its URL in ``AIOXIDE_DOCS_BASE_URL``.  The selected runs start a
few at a time when the module's first test asks for its result.  mkdocs is
not needed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import docs_server
import pytest

ROOT = Path(__file__).resolve().parent.parent
NO_RUN = "<!-- no-run -->"
# Optional extras an example may use; one not installed skips the example.
OPTIONAL = ("opentelemetry",)
TIMEOUT = 30.0
WORKERS = 4
_FENCE = re.compile(r"^```python\s*$")
_PROXY_VARS = ("http_proxy", "https_proxy", "ws_proxy", "wss_proxy", "all_proxy", "no_proxy")
# Some examples also run on uvloop where it is installed: asyncio.run runs on a uvloop
# loop (not `asyncio.run = uvloop.run`: on 3.12+ uvloop.run calls asyncio.run itself).
LOOPS = ("asyncio", "uvloop") if importlib.util.find_spec("uvloop") else ("asyncio",)
_ON_UVLOOP = (
    "import asyncio, runpy, sys, uvloop\n"
    "_run = asyncio.run\n"
    "def run(main, **kw):\n"
    "    if sys.version_info >= (3, 12):\n"
    "        return _run(main, loop_factory=uvloop.new_event_loop, **kw)\n"
    "    uvloop.install()\n"
    "    return _run(main, **kw)\n"
    "asyncio.run = run\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


@dataclass(frozen=True)
class Example:
    """One program to run: where it comes from, and its text."""

    where: str  # "path:line" (of the fence), or the example's path
    source: str
    is_file: bool = False


def blocks(text: str, where: str) -> Iterator[Example]:
    """The runnable ```python blocks of a Markdown text."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if not _FENCE.match(lines[i]):
            i += 1
            continue
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        before = [line.strip() for line in lines[:start] if line.strip()]
        if not before or before[-1] != NO_RUN:
            yield Example(f"{where}:{start + 1}", "\n".join(body) + "\n")
        i += 1


def collect() -> list[Example]:
    found: list[Example] = []
    pages = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]
    for page in pages:
        rel = page.relative_to(ROOT).as_posix()
        found.extend(blocks(page.read_text(encoding="utf-8"), rel))
    for script in sorted((ROOT / "examples").glob("*.py")):
        rel = script.relative_to(ROOT).as_posix()
        found.append(Example(rel, script.read_text(encoding="utf-8"), is_file=True))
    return found


EXAMPLES = collect()


def localise(source: str, urls: dict[str, str]) -> str:
    """The placeholders replaced by the local servers' URLs (wss:// too)."""
    for placeholder, url in urls.items():
        if placeholder.startswith("https://"):
            ws_url = "ws" + url[len("http") :] if url.startswith("http") else url
            source = source.replace("wss://" + placeholder[len("https://") :], ws_url)
        source = source.replace(placeholder, url)
    return source


def child_env(servers: docs_server.DocsServers, cwd: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARS}
    env["SSL_CERT_FILE"] = servers.ca_file
    env["AIOXIDE_DOCS_BASE_URL"] = servers.urls[docs_server.HTTPBIN]
    netrc = Path(cwd) / "netrc"  # empty: no credentials from the user's own
    netrc.touch()
    env["NETRC"] = str(netrc)
    return env


def run(
    example: Example, servers: docs_server.DocsServers, loop: str = "asyncio"
) -> subprocess.CompletedProcess[str]:
    """Run one example in a directory of its own, on ``loop``; its outcome."""
    with tempfile.TemporaryDirectory(prefix="aioxide-example-") as cwd:
        if example.is_file:
            script = ROOT / example.where
        else:
            script = Path(cwd) / "example.py"
            script.write_text(localise(example.source, servers.urls), encoding="utf-8")
        runner = ["-c", _ON_UVLOOP] if loop == "uvloop" else []
        return subprocess.run(
            [sys.executable, *runner, str(script)],
            cwd=cwd,
            env=child_env(servers, cwd),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )


@pytest.fixture(scope="module")
def servers() -> Iterator[docs_server.DocsServers]:
    started = docs_server.DocsServers().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def outcomes(
    servers: docs_server.DocsServers, request: pytest.FixtureRequest
) -> Iterator[dict[str, Future[subprocess.CompletedProcess[str]]]]:
    """Every selected example started at once, WORKERS at a time."""
    selected = {item.name for item in request.session.items}
    wanted = [(ex, loop) for ex, loop in RUNS if f"test_example_runs[{_id(ex, loop)}]" in selected]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {_id(ex, loop): pool.submit(run, ex, servers, loop) for ex, loop in wanted}
        yield futures
        for future in futures.values():
            future.cancel()


def _id(example: Example, loop: str) -> str:
    """The test id: "path:line" on asyncio, "path:line@uvloop" on uvloop."""
    return example.where if loop == "asyncio" else f"{example.where}@{loop}"


def _on_uvloop_too(examples: list[Example]) -> list[Example]:
    """What also runs on uvloop, to keep the test quick: each examples/*.py and the first
    block of each page."""
    pages: set[str] = set()
    chosen = []
    for ex in examples:
        page = ex.where.rsplit(":", 1)[0]
        if ex.is_file or page not in pages:
            chosen.append(ex)
            pages.add(page)
    return chosen


RUNS = [(ex, "asyncio") for ex in EXAMPLES]
RUNS += [(ex, loop) for loop in LOOPS[1:] for ex in _on_uvloop_too(EXAMPLES)]


@pytest.mark.parametrize(("example", "loop"), RUNS, ids=[_id(ex, loop) for ex, loop in RUNS])
def test_example_runs(
    example: Example, loop: str, outcomes: dict[str, Future[subprocess.CompletedProcess[str]]]
) -> None:
    missing = [m for m in OPTIONAL if m in example.source and importlib.util.find_spec(m) is None]
    if missing:
        # (The OpenTelemetry packages need Python 3.10: make test-matrix on 3.9.)
        pytest.skip(f"needs {', '.join(missing)}, not installed here")
    done = outcomes[_id(example, loop)].result(timeout=TIMEOUT * (len(RUNS) + 1))
    assert done.returncode == 0, (
        f"{_id(example, loop)} exited with {done.returncode}\n"
        f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )


def test_the_collector_honours_no_run() -> None:
    text = "\n".join(
        [
            "# Page",
            "```python",
            "print(1)",
            "```",
            NO_RUN,
            "",
            "```python",
            "print(2)",
            "```",
            "```py",
            "print(3)",
            "```",
            "```python",
            "print(4)",
            "```",
        ]
    )
    found = list(blocks(text, "page.md"))
    assert [(ex.where, ex.source) for ex in found] == [
        ("page.md:2", "print(1)\n"),
        ("page.md:13", "print(4)\n"),
    ]


def test_docs_and_examples_are_collected() -> None:
    wheres = [ex.where for ex in EXAMPLES]
    assert "examples/main.py" in wheres
    assert any(w.startswith("docs/guide/quickstart.md:") for w in wheres)
    assert len(wheres) == len(set(wheres))


def test_a_failing_example_fails(servers: docs_server.DocsServers) -> None:
    source = "import asyncio\nimport aioxide as aiohttp\n\n"
    source += "async def main():\n"
    source += "    async with aiohttp.ClientSession(raise_for_status=True) as s:\n"
    source += "        await s.get('https://httpbin.org/status/500')\n\n"
    source += "asyncio.run(main())\n"
    done = run(Example("inline:1", source), servers)
    assert done.returncode != 0
    assert "ClientResponseError" in done.stderr
