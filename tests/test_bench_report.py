"""bench/bench.py's accounting of the server's CPU time and of the client's page faults
(its last tables): the server's read from the scheduler for a server process and its
children, the faults from getrusage; kept per row, merged by median."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.skipif(
    not os.path.exists(f"/proc/{os.getpid()}/task"), reason="needs Linux /proc"
)


def _bench() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "bench" / "bench.py"
    spec = importlib.util.spec_from_file_location("aioxide_bench", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


BUSY_CHILD = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time\\nwhile True: time.sleep(1)"])
print(child.pid, flush=True)
end = time.monotonic() + 30
while time.monotonic() < end and sys.stdin.readline().strip() == "spin":
    t = time.process_time()
    while time.process_time() - t < 0.2:
        pass
    print("spun", flush=True)
child.kill()
"""


def test_the_server_cpu_counts_a_server_and_its_children() -> None:
    bench = _bench()
    server = subprocess.Popen(
        [sys.executable, "-c", BUSY_CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdin is not None
    try:
        child = int(server.stdout.readline())
        os.environ["TEST_BENCH_SERVER_PID"] = str(server.pid)
        pids = bench.server_pids("TEST_BENCH_SERVER_PID")
        assert pids[0] == server.pid and child in pids
        timer = bench.Timer("TEST_BENCH_SERVER_PID")
        timer.start()
        server.stdin.write("spin\n")
        server.stdin.flush()
        assert server.stdout.readline().strip() == "spun"
        time.sleep(0.05)
        timer.stop()
        row = timer.result("seq", 10, 100)
        # 0.2 s of the server's CPU, not the test's (which slept and read a pipe)
        assert 0.15 < row["server_cpu_s"] < 2
        assert row["cpu_s"] < row["server_cpu_s"]
    finally:
        os.environ.pop("TEST_BENCH_SERVER_PID", None)
        server.stdin.close()
        server.wait(timeout=30)
    assert bench.server_cpu_seconds([server.pid]) is None  # gone: unknown, not zero


def test_no_server_pid_gives_rows_without_server_cpu() -> None:
    bench = _bench()
    assert bench.server_pids("TEST_BENCH_NO_SUCH_VAR") == []
    timer = bench.Timer("TEST_BENCH_NO_SUCH_VAR")
    timer.start()
    timer.stop()
    assert "server_cpu_s" not in timer.result("seq", 1, 100)


def test_the_page_faults_of_new_buffers_are_counted(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _bench()
    timer = bench.Timer("TEST_BENCH_NO_SUCH_VAR")
    timer.start()
    timer.stop()
    timer.start()
    fresh = bytearray(16 << 20)  # 4096 new pages, each written (zeroed)
    timer.stop()
    del fresh
    assert timer.faults[0] < 500 < 3000 < timer.faults[1]
    row = {"client": "aioxide", "loop": "asyncio", **timer.result("dl", 16, 1 << 20)}
    assert row["page_faults"] == pytest.approx(sum(timer.faults) / 2)  # median of two
    bench.print_faults_table([row], ["dl", "seq"], ["asyncio"], ["aioxide"])
    out = capsys.readouterr().out
    assert "client page faults per MiB" in out
    (line,) = [x for x in out.splitlines() if x.startswith(("dl", "seq"))]  # (bodies only)
    # the median of the two runs, per MiB of the 16 MiB the row says it read
    assert float(line.split()[2]) == pytest.approx(sum(timer.faults) / 2 / 16, abs=0.05)


def test_rounds_merge_the_server_cpu_by_median_and_the_table_shows_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = _bench()

    def row(server: float | None, faults: list[int] = [7]) -> dict:  # noqa: B006
        r = bench.timed_result("conc", 1000, 100, [1.0], [0.5], [server], faults)
        return {"client": "aioxide", "loop": "asyncio", **r}

    merged = bench.merge_rounds([[row(0.010)], [row(0.030)], [row(0.020)]])
    assert merged[0]["server_cpu_s"] == pytest.approx(0.020)
    assert merged[0]["page_faults"] == 7
    # one round without it, whichever: none (not the first round's)
    assert "server_cpu_s" not in bench.merge_rounds([[row(0.010)], [row(None)]])[0]
    assert "server_cpu_s" not in bench.merge_rounds([[row(None)], [row(0.010)]])[0]
    assert "page_faults" not in bench.merge_rounds([[row(0.010)], [row(0.010, [])]])[0]
    bench.print_server_table(merged, ["conc"], ["asyncio"], ["aioxide", "httpx"])
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("conc"))
    assert line.split()[2:] == ["20.0", "-"]  # 0.020 s / 1000 requests; httpx has no row


def test_scenarios_run_in_groups_kept_in_order() -> None:
    # The clients measure each group in turn (within seconds of each other);
    # a scenario in no group is one of its own; the order asked is kept.
    bench = _bench()
    names = ["h2_dl", "seq", "tls_dl16", "conc", "ws_fanout"]
    assert bench.grouped(names) == [["h2_dl", "tls_dl16"], ["seq", "conc"], ["ws_fanout"]]
    every = list(bench.SCENARIOS)
    groups = bench.grouped(every)
    assert sorted(n for g in groups for n in g) == sorted(every)
    assert ["tls_dl", "h2_dl", "tls_dl16"] in groups
    bench.GROUPS = ()
    assert bench.grouped(names) == [[n] for n in names]


def test_a_row_lost_by_the_medians_says_in_how_many_rounds_it_led(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Each round pits aioxide against the same round of the best peers: the
    # rate against the fastest's, the CPU against the cheapest's.
    bench = _bench()

    def row(client: str, walls: list[float], cpus: list[float]) -> dict:
        r = bench.timed_result("dl", 100, 100 * bench.MIB, walls, cpus, [None], [])
        return {"client": client, "loop": "asyncio", **r}

    rows = [
        row("aioxide", [1.0, 1.2, 0.9], [0.08, 0.10, 0.12]),
        row("pyreqwest", [1.1, 1.0, 1.0], [0.09, 0.09, 0.11]),
        row("aiohttp", [0.95, 1.1, 2.0], [0.07, 0.05, 0.05]),
    ]
    merged = bench.merge_rounds([rows])
    bench.print_best_peer_table(merged, ["dl"], ["asyncio"])
    out = capsys.readouterr().out
    # The fastest by the medians is pyreqwest: aioxide's rate is above its in
    # rounds 1 and 3 (above aiohttp's in round 3 only).  The cheapest is
    # aiohttp: aioxide's CPU is below its in no round (below pyreqwest's in
    # round 1).
    assert "  dl/asyncio (rate 2/3, CPU 0/3 rounds)" in out.splitlines()
