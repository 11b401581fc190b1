"""The documentation builds with Sphinx, offline, with every warning treated as an error.

So autodoc must import the documented modules cleanly and their docstrings must be valid reST.
Sphinx runs in a subprocess (it is not thread-safe and keeps global state) with a bounded time.
Also checked: the migration guide lists every deliberate difference the differential wire tests
record.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
DIFFERENTIAL = REPO / "tests" / "integration" / "test_paho_differential.py"
TIMEOUT_S = 240


@pytest.mark.timeout(TIMEOUT_S + 30)
def test_docs_build_without_warnings(tmp_path: Path) -> None:
    pytest.importorskip("sphinx", reason="Sphinx is the 'docs' extra")
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-q",
        "-b",
        "html",
        "-d",
        str(tmp_path / "doctrees"),
        str(DOCS),
        str(tmp_path / "html"),
    ]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, (
        f"sphinx-build failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    assert (tmp_path / "html" / "index.html").is_file()
    assert (tmp_path / "html" / "api.html").is_file()


def _deliberate_differences() -> list[tuple[str, str, str]]:
    """``DELIBERATE_DIFFERENCES`` read from the differential tests without importing them."""
    tree = ast.parse(DIFFERENTIAL.read_text(encoding="utf-8"))
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "DELIBERATE_DIFFERENCES":
            assert node.value is not None
            entries: list[tuple[str, str, str]] = ast.literal_eval(node.value)
            return entries
    raise AssertionError(f"no DELIBERATE_DIFFERENCES in {DIFFERENTIAL}")


def _words(text: str) -> str:
    return " ".join(text.split())


def test_migration_guide_lists_the_differential_differences() -> None:
    assert DIFFERENTIAL.is_file(), "the differential wire tests moved: update DIFFERENTIAL"
    guide = _words((DOCS / "migration-from-paho.rst").read_text(encoding="utf-8"))
    section = guide.partition("Differences found by the differential wire tests")[2]
    assert section, "the migration guide lost its differential-tests section"
    missing = [
        scenario for scenario, _, _ in _deliberate_differences() if _words(scenario) not in section
    ]
    assert not missing, (
        "add these DELIBERATE_DIFFERENCES entries to the section 'Differences found by the "
        f"differential wire tests' of docs/migration-from-paho.rst: {missing}"
    )
