"""docs/COMPATIBILITY.md stays true: every test it cites exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "COMPATIBILITY.md"
# tests/x.py::name (or Class::name), crates/.../x.rs::name; a [param] suffix is ignored.
CITE = re.compile(r"((?:tests|crates)/[\w/.-]+\.(?:py|rs))::(\w+)(?:::(\w+))?")


def citations() -> list[tuple[str, str]]:
    found = []
    for m in CITE.finditer(DOC.read_text(encoding="utf-8")):
        path, first, second = m.groups()
        found.append((path, second or first))
    return found


def test_the_document_cites_tests() -> None:
    assert len(citations()) > 500


def test_every_cited_test_exists() -> None:
    missing = []
    sources: dict[str, str] = {}
    for path, name in citations():
        if path not in sources:
            f = ROOT / path
            sources[path] = f.read_text(encoding="utf-8") if f.exists() else ""
        text = sources[path]
        pattern = r"\bdef " if path.endswith(".py") else r"\bfn "
        if not re.search(pattern + re.escape(name) + r"\b", text):
            missing.append(f"{path}::{name}")
    assert not missing, f"{len(missing)} cited tests not found: {missing[:20]}"
