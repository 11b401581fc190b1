"""The spec-rule coverage table (``tests/spec_coverage.py``) is complete and points at real tests.

Checks, all without running the referenced tests (the test files are parsed with ``ast``):

- every key is a well-formed statement id (``MQTT-<x>.<y>.<z>-<n>``, or an irregular spelling
  the standards themselves use) and appears once in the table's source;
- the keys are exactly ``RULE_IDS``, the frozen list of the ids the rules document cites, so the
  check needs no file outside the repository (CI clones the repository alone);
- when the shared rules document is next to the repository (``../shared/mqtt-client-rules.md``,
  or the path in ``MQTTCLIENT_RULES_DOC``), ``RULE_IDS`` is exactly what it cites now, ranges
  expanded, so the frozen list cannot go stale where the document exists;
- every id maps to at least one test, or to a reason that says why no client test guards it;
  no entry is a ``PENDING`` placeholder;
- every referenced node id (``path::function`` or ``path::Class::method``), in a test tuple or
  quoted in a reason, names a test function that exists, so renaming or removing a referenced
  test fails here.
"""

from __future__ import annotations

import ast
import os
import re
from functools import cache
from pathlib import Path

from tests import spec_coverage

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "tests" / "spec_coverage.py"

ID = re.compile(r"MQTT-\d+\.\d+\.\d+-\d+")
# Ids spelled irregularly in the standards, kept as spelled there ("[MQTT-3-8.3-4]", 3.1.1).
IRREGULAR_IDS = frozenset({"MQTT-3-8.3-4"})
# An id in the rules document, optionally a range "-16..19" or a pair "-2/3".
DOC_ID = re.compile(r"\[(MQTT-\d+[.-]\d+\.\d+)-(\d+)(?:(?:\.\.|/)(\d+))?\]")
# A series the document elides: "[MQTT-3.4.2-2/3] ... [MQTT-3.7.2-2/3]" also cites 3.5.2 and
# 3.6.2 with the same numbers (same first and last section number, same suffix; the "..." may
# wrap onto the next line).
DOC_SERIES = re.compile(
    r"\[MQTT-(\d+)\.(\d+)\.(\d+)-([\d./]+)\]\s+\.\.\.\s+\[MQTT-\1\.(\d+)\.\3-\4\]"
)
# The document's own notation example, not a statement id.
DOC_NOTATION = "MQTT-x.y.z-n"
NODE = re.compile(r"(tests/[\w/]+\.py)::(\w+)(?:::(\w+))?")
# A node id quoted in a reason; reasons split long strings, so it is searched in the joined text.
NODE_IN_TEXT = re.compile(r"tests/[\w/]+\.py::\w+(?:::\w+)?")
PENDING = re.compile(r"\bPENDING\b", re.IGNORECASE)
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
    """(rule id, node id) for every test reference in the table, reasons included."""
    found = []
    for rule, entry in spec_coverage.COVERAGE.items():
        if isinstance(entry, tuple):
            found += [(rule, node) for node in entry]
        elif isinstance(entry, str):
            found += [(rule, node) for node in NODE_IN_TEXT.findall(entry)]
    return found


def _numbers(suffix: str) -> range:
    """The statement numbers of a suffix ``n``, ``a..b`` or ``a/b``."""
    match = re.fullmatch(r"(\d+)(?:(?:\.\.|/)(\d+))?", suffix)
    assert match is not None, f"unreadable id suffix {suffix!r}"
    first, last = match.groups()
    return range(int(first), int(last or first) + 1)


def expand_doc_ids(text: str) -> set[str]:
    """Every statement id cited in ``text``: ``-a..b`` and ``-a/b`` expanded, and the sections
    a ``[MQTT-x.a.z-n] ... [MQTT-x.b.z-n]`` series elides filled in."""
    ids: set[str] = set()
    for match in DOC_ID.finditer(text):
        base, first, last = match.group(1), int(match.group(2)), match.group(3)
        for number in range(first, int(last or first) + 1):
            ids.add(f"{base}-{number}")
    for match in DOC_SERIES.finditer(text):
        major, low, minor, suffix, high = match.groups()
        for section in range(int(low) + 1, int(high)):
            ids.update(f"MQTT-{major}.{section}.{minor}-{n}" for n in _numbers(suffix))
    ids.discard(DOC_NOTATION)
    return ids


def _rules_doc() -> Path:
    configured = os.environ.get("MQTTCLIENT_RULES_DOC")
    return Path(configured) if configured else ROOT.parent / "shared" / "mqtt-client-rules.md"


def _id_order(rule: str) -> tuple[int, ...]:
    """Numeric order of a statement id; the irregular ``MQTT-3-8.3-4`` right after its twin."""
    return (*map(int, re.findall(r"\d+", rule)), rule in IRREGULAR_IDS)


def test_ids_are_well_formed_and_unique() -> None:
    keys = _table_keys()
    malformed = [k for k in keys if not ID.fullmatch(k) and k not in IRREGULAR_IDS]
    assert malformed == [], f"malformed statement ids: {malformed}"
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    assert duplicates == [], f"ids mapped more than once: {duplicates}"
    assert len(keys) == len(spec_coverage.COVERAGE)


def test_rule_ids_are_well_formed_unique_and_in_order() -> None:
    rule_ids = spec_coverage.RULE_IDS
    assert isinstance(rule_ids, tuple) and rule_ids, "RULE_IDS must be a non-empty tuple"
    malformed = [r for r in rule_ids if not ID.fullmatch(r) and r not in IRREGULAR_IDS]
    assert malformed == [], f"malformed ids in RULE_IDS: {malformed}"
    duplicates = sorted({r for r in rule_ids if rule_ids.count(r) > 1})
    assert duplicates == [], f"ids listed more than once in RULE_IDS: {duplicates}"
    assert list(rule_ids) == sorted(rule_ids, key=_id_order), "keep RULE_IDS in numeric order"


def test_table_covers_exactly_the_rule_ids() -> None:
    """Needs nothing outside the repository: ``RULE_IDS`` is the frozen list of the document."""
    table, rule_ids = set(spec_coverage.COVERAGE), set(spec_coverage.RULE_IDS)
    missing = sorted(rule_ids - table, key=_id_order)
    extra = sorted(table - rule_ids, key=_id_order)
    assert (missing, extra) == ([], []), (
        f"ids of RULE_IDS missing from COVERAGE: {missing}; ids in COVERAGE that RULE_IDS (the "
        f"rules document) does not cite: {extra}"
    )


def test_rule_ids_match_the_rules_document_when_present() -> None:
    """The document is not part of the repository: where it exists (a developer checkout with
    ``shared/`` next to it, or ``MQTTCLIENT_RULES_DOC``), the frozen list must equal what it
    cites now; where it does not (CI), ``test_table_covers_exactly_the_rule_ids`` still holds."""
    doc = _rules_doc()
    if not doc.is_file():
        return  # nothing to compare against; the frozen list stands
    cited = expand_doc_ids(doc.read_text(encoding="utf-8"))
    rule_ids = set(spec_coverage.RULE_IDS)
    new = sorted(cited - rule_ids, key=_id_order)
    gone = sorted(rule_ids - cited, key=_id_order)
    assert (new, gone) == ([], []), (
        f"{doc} changed: add {new} to RULE_IDS and COVERAGE; remove {gone} from both"
    )


def test_every_id_has_tests_or_a_reason() -> None:
    empty = []
    entries: dict[str, object] = dict(spec_coverage.COVERAGE)
    for rule, entry in entries.items():
        if isinstance(entry, tuple):
            if not entry or len(set(entry)) != len(entry):
                empty.append(f"{rule}: empty or repeated test list {entry!r}")
        elif isinstance(entry, str):
            if len(entry.strip()) < MIN_REASON_CHARS:
                empty.append(f"{rule}: reason too short to say anything: {entry!r}")
            if entry.startswith("client rule, no test"):
                empty.append(f"{rule}: a client rule with no test guarding it")
        else:
            empty.append(f"{rule}: neither tests nor a reason: {entry!r}")
    assert empty == [], "\n".join(empty)


def test_no_rule_is_pending() -> None:
    """A rule maps to the tests that guard it or to a reason; a placeholder is never enough."""
    pending = sorted(
        rule
        for rule, entry in spec_coverage.COVERAGE.items()
        if isinstance(entry, str) and PENDING.search(entry)
    )
    assert pending == [], f"rules still PENDING: {pending}"
    names = sorted(name for name in vars(spec_coverage) if "PENDING" in name.upper())
    assert names == [], f"PENDING names left in tests/spec_coverage.py: {names}"


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


def test_doc_id_expansion() -> None:
    text = (
        "[MQTT-3.1.2-16..19] and [MQTT-3.4.2-2/3], [MQTT-3-8.3-4] [MQTT-x.y.z-n] [MQTT-6.0.0-1]"
        " ([MQTT-3.4.2-2/3] ...\n  [MQTT-3.7.2-2/3], [MQTT-3.15.2-2/3])"
    )
    assert expand_doc_ids(text) == {
        "MQTT-3.1.2-16",
        "MQTT-3.1.2-17",
        "MQTT-3.1.2-18",
        "MQTT-3.1.2-19",
        "MQTT-3.4.2-2",
        "MQTT-3.4.2-3",
        "MQTT-3.5.2-2",
        "MQTT-3.5.2-3",
        "MQTT-3.6.2-2",
        "MQTT-3.6.2-3",
        "MQTT-3.7.2-2",
        "MQTT-3.7.2-3",
        "MQTT-3.15.2-2",
        "MQTT-3.15.2-3",
        "MQTT-3-8.3-4",
        "MQTT-6.0.0-1",
    }
    # Only a series with the same outer section numbers and suffix is filled in.
    assert expand_doc_ids(
        "[MQTT-3.4.2-2] ... [MQTT-3.7.2-3] [MQTT-3.4.2-1] ... [MQTT-4.7.2-1]"
    ) == {
        "MQTT-3.4.2-2",
        "MQTT-3.7.2-3",
        "MQTT-3.4.2-1",
        "MQTT-4.7.2-1",
    }
