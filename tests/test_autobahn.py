"""tests/autobahn/summarize.py, which judges the Autobahn runs of `make
autobahn` and `make autobahn-core`: on a made-up reports index (the runs
themselves need the Python 2.7 fuzzingserver and are Makefile targets)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent / "autobahn"


def load_summarize() -> Any:
    spec = importlib.util.spec_from_file_location("summarize", HERE / "summarize.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_index(path: Path, results: dict[str, tuple[str, str]]) -> str:
    cases = {c: {"behavior": b, "behaviorClose": bc} for c, (b, bc) in results.items()}
    path.write_text(json.dumps({"aioxide": cases}))
    return str(path)


def test_expected_files_cover_all_517_cases() -> None:
    for name in ("expected-python.json", "expected-engine.json"):
        expected = json.loads((HERE / name).read_text())
        assert len(expected) == 517
        assert "FAILED" not in expected.values()
        # (Autobahn has no groups 8 and 11.)
        groups = {str(g) for g in range(1, 14)} - {"8", "11"}
        assert {c.split(".")[0] for c in expected} == groups


def test_core_run_is_checked_against_its_groups_only(tmp_path: Path, capsys: Any) -> None:
    summarize = load_summarize()
    expected = tmp_path / "expected.json"
    expected.write_text(json.dumps({"1.1.1": "OK", "7.13.1": "INFORMATIONAL", "12.1.1": "OK"}))
    index = write_index(
        tmp_path / "index.json",
        {"1.1.1": ("OK", "OK"), "7.13.1": ("INFORMATIONAL", "INFORMATIONAL")},
    )
    assert summarize.main(["s", index, str(expected), "--groups", "1-10"]) == 0
    # Without --groups, the cases not run are a difference.
    assert summarize.main(["s", index, str(expected)]) == 1
    assert "DIFF 12.1.1: expected OK, got None" in capsys.readouterr().out


@pytest.mark.parametrize(
    "result",
    [("FAILED", "OK"), ("OK", "FAILED"), ("NON-STRICT", "OK")],
)
def test_failed_or_changed_results_fail(tmp_path: Path, result: tuple[str, str]) -> None:
    summarize = load_summarize()
    expected = tmp_path / "expected.json"
    expected.write_text(json.dumps({"1.1.1": "OK"}))
    index = write_index(tmp_path / "index.json", {"1.1.1": result})
    assert summarize.main(["s", index, str(expected)]) == 1
    # A comparison-only run ("-") still fails on FAILED, not on a change.
    assert summarize.main(["s", index, "-"]) == (0 if result[0] == "NON-STRICT" else 1)
