"""The benchmark suite's cheapest path runs and writes its JSON document.

Only the shape is checked, never a time or a ratio (STYLE.md: speed is measured in
``benchmarks/``, not asserted in tests). The codec micro-benchmark needs no broker and no
socket; the suite runs it in one worker process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def suite(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    for name in ("run", "report", "broker"):
        sys.modules.pop(name, None)
    import run

    return run


@pytest.mark.timeout(120)
def test_codec_path_completes_and_writes_json(suite, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    status = suite.main(
        ["--quick", "--only", "codec", "--codec-min-time", "0.005", "--json", str(out), "--png", ""]
    )
    assert status == 0
    document = json.loads(out.read_text())
    assert document["suite"] == "mqttclient benchmarks"
    assert document["format"] == 1
    assert {"python", "cpus", "settings"} <= set(document["machine"])
    assert document["rows"] == []  # codec only: no client scenarios
    codec = document["codec"]
    assert codec["mqttclient"], "the codec benchmark produced no figures"
    assert all(isinstance(value, float) for value in codec["mqttclient"].values())
    assert set(codec["paho"]) <= set(codec["mqttclient"])


def test_rows_have_the_documented_shape(suite) -> None:
    from report import Target, build_row, table

    ours = [{"rate": 3.0, "broker_cpu_pct": 50.0, "cpu_s_per_1000": 0.002, "complete": True}]
    theirs = [{"rate": 1.0, "broker_cpu_pct": 20.0, "cpu_s_per_1000": 0.01, "complete": True}]
    row = build_row("k", "publish QoS 0", "msg/s", True, Target("ratio_min", 2.0, ">=2x"), ours,
                    theirs, "rate")  # fmt: skip
    shape = row.as_dict()
    assert set(shape) == {
        "key", "title", "unit", "higher_is_better", "mqttclient", "paho", "ratio", "target",
        "status", "ceiling", "broker_cpu_pct", "cpu_s_per_1000", "note",
    }  # fmt: skip
    assert shape["status"] in ("met", "missed")
    assert "publish QoS 0" in table([row])


def test_a_failed_measurement_is_reported_not_raised(suite) -> None:
    from report import Target, build_row

    row = build_row("k", "receive QoS 1", "msg/s", True, Target("ratio_min", 2.0, ">=2x"),
                    [{"error": "RuntimeError: stalled"}], [{"rate": 1.0}], "rate")  # fmt: skip
    assert row.status == "error"
    assert "stalled" in row.note


def test_every_scenario_named_in_the_cli_exists(suite) -> None:
    settings = suite.settings_from(suite.parse(["--quick"]))
    groups = {spec.group for spec in suite.specs(settings)} | {"codec"}
    assert groups == set(suite.GROUPS)
