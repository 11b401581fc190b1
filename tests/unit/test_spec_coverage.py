"""The spec-rule coverage table (``tests/spec_coverage.py``) is complete and points at real tests.

Checks, all without running the referenced tests (the test files are parsed with ``ast``):

- every key is a well-formed statement id (``MQTT-<x>.<y>.<z>-<n>``, or an irregular spelling
  the standards themselves use) and appears once in the table's source;
- every id maps to at least one test, or to a reason that says why no client test is needed;
- every referenced node id (``path::function`` or ``path::Class::method``) names a test function
  that exists, so renaming or removing a referenced test fails here;
- when the shared rules document is next to the repository (``../shared/mqtt-client-rules.md``,
  or the path in ``MQTTCLIENT_RULES_DOC``), every id it cites, ranges expanded, is in the table.

Rules of features still being built map to ``"PENDING: <feature>"``. Those count as mapped
unless the environment variable ``MQTTCLIENT_SPEC_STRICT=1`` is set: then every PENDING entry is
a failure (the lead turns it on once the features have landed).
"""

from __future__ import annotations

import ast
import os
import re
from functools import cache
from pathlib import Path

import pytest

from tests import spec_coverage

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "tests" / "spec_coverage.py"

ID = re.compile(r"MQTT-\d+\.\d+\.\d+-\d+")
# Ids spelled irregularly in the standards, kept as spelled there ("[MQTT-3-8.3-4]", 3.1.1).
IRREGULAR_IDS = frozenset({"MQTT-3-8.3-4"})
# An id in the rules document, optionally a range "-16..19" or a pair "-2/3".
DOC_ID = re.compile(r"\[(MQTT-\d+[.-]\d+\.\d+)-(\d+)(?:(?:\.\.|/)(\d+))?\]")
NODE = re.compile(r"(tests/[\w/]+\.py)::(\w+)(?:::(\w+))?")
PENDING = "PENDING: "
MIN_REASON_CHARS = 20


def _table_keys() -> list[str]:
    """The keys of the ``COVERAGE`` dict literal, in source order (duplicates included)."""
    tree = ast.parse(TABLE.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "COVERAGE"
            and isinstance(node.value, ast.Dict)
        ):
            keys = [k.value if isinstance(k, ast.Constant) else None for k in node.value.keys]
            strings = [k for k in keys if isinstance(k, str)]
            assert len(strings) == len(keys), "COVERAGE keys must be string literals"
            return strings
    raise AssertionError("tests/spec_coverage.py has no `COVERAGE: dict[...] = {...}` literal")


@cache
def _tests_in(path: str) -> frozenset[str]:
    """``name`` and ``Class::method`` of every test function defined in the file ``path``."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith(
            "test"
        ):
            found.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if isinstance(
                    item, (ast.FunctionDef, ast.AsyncFunctionDef)
                ) and item.name.startswith("test"):
                    found.add(f"{node.name}::{item.name}")
    return frozenset(found)


def _node_ids() -> list[tuple[str, str]]:
    """(rule id, node id) for every test reference in the table."""
    return [
        (rule, node)
        for rule, entry in spec_coverage.COVERAGE.items()
        if isinstance(entry, tuple)
        for node in entry
    ]


def expand_doc_ids(text: str) -> set[str]:
    """Every statement id cited in ``text``, with ``-a..b`` and ``-a/b`` expanded."""
    ids: set[str] = set()
    for match in DOC_ID.finditer(text):
        base, first, last = match.group(1), int(match.group(2)), match.group(3)
        for number in range(first, int(last or first) + 1):
            ids.add(f"{base}-{number}")
    return ids


def test_ids_are_well_formed_and_unique() -> None:
    keys = _table_keys()
    malformed = [k for k in keys if not ID.fullmatch(k) and k not in IRREGULAR_IDS]
    assert malformed == [], f"malformed statement ids: {malformed}"
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    assert duplicates == [], f"ids mapped more than once: {duplicates}"
    assert len(keys) == len(spec_coverage.COVERAGE)


def test_every_id_has_tests_or_a_reason() -> None:
    empty = []
    entries: dict[str, object] = dict(spec_coverage.COVERAGE)
    for rule, entry in entries.items():
        if isinstance(entry, tuple):
            if not entry or len(set(entry)) != len(entry):
                empty.append(f"{rule}: empty or repeated test list {entry!r}")
        elif isinstance(entry, str):
            text = entry[len(PENDING) :] if entry.startswith(PENDING) else entry
            if len(text.strip()) < MIN_REASON_CHARS:
                empty.append(f"{rule}: reason too short to say anything: {entry!r}")
        else:
            empty.append(f"{rule}: neither tests nor a reason: {entry!r}")
    assert empty == [], "\n".join(empty)


def test_every_referenced_test_exists() -> None:
    missing = []
    for rule, node in _node_ids():
        match = NODE.fullmatch(node)
        if match is None:
            missing.append(
                f"{rule}: not a node id of the form path::test or path::Class::test: {node}"
            )
            continue
        path, first, second = match.groups()
        if not (ROOT / path).is_file():
            missing.append(f"{rule}: no such file: {path}")
            continue
        name = f"{first}::{second}" if second else first
        if name not in _tests_in(path):
            missing.append(f"{rule}: no test {name} in {path}")
    assert missing == [], "\n".join(missing)


def test_no_rule_is_pending_in_strict_mode() -> None:
    """PENDING entries name their feature; with ``MQTTCLIENT_SPEC_STRICT=1`` none may remain."""
    pending = {
        rule: entry
        for rule, entry in spec_coverage.COVERAGE.items()
        if isinstance(entry, str) and entry.startswith(PENDING)
    }
    for rule, entry in pending.items():
        assert entry[len(PENDING) :].strip(), f"{rule}: PENDING without a feature name"
    if os.environ.get("MQTTCLIENT_SPEC_STRICT") == "1":
        listing = "\n".join(f"{rule}: {entry}" for rule, entry in sorted(pending.items()))
        assert not pending, f"rules still PENDING (MQTTCLIENT_SPEC_STRICT=1):\n{listing}"


def _rules_doc() -> Path:
    configured = os.environ.get("MQTTCLIENT_RULES_DOC")
    return Path(configured) if configured else ROOT.parent / "shared" / "mqtt-client-rules.md"


def test_table_covers_every_id_of_the_rules_document() -> None:
    """The document is not part of the repository; CI checks out ``shared/`` next to it."""
    doc = _rules_doc()
    if not doc.is_file():
        pytest.skip(f"rules document not found at {doc} (set MQTTCLIENT_RULES_DOC)")
    cited = expand_doc_ids(doc.read_text(encoding="utf-8"))
    cited.discard("MQTT-x.y.z-n")  # the document's own notation example
    missing = sorted(cited - set(spec_coverage.COVERAGE))
    assert missing == [], f"ids of {doc.name} missing from tests/spec_coverage.py: {missing}"


def test_doc_id_expansion() -> None:
    text = "[MQTT-3.1.2-16..19] and [MQTT-3.4.2-2/3], [MQTT-3-8.3-4] [MQTT-x.y.z-n] [MQTT-6.0.0-1]"
    assert expand_doc_ids(text) == {
        "MQTT-3.1.2-16",
        "MQTT-3.1.2-17",
        "MQTT-3.1.2-18",
        "MQTT-3.1.2-19",
        "MQTT-3.4.2-2",
        "MQTT-3.4.2-3",
        "MQTT-3-8.3-4",
        "MQTT-6.0.0-1",
    }
