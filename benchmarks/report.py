"""Turning measurements into rows, a text table, JSON and a PNG chart.

Owns: the median of repetitions, the ratio to paho-mqtt, judging a row against its target, and
the output formats. It must not run anything.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Optional

__all__ = ["Row", "Target", "build_row", "chart", "median_of", "table", "write_json"]


@dataclass(frozen=True)
class Target:
    """``kind``: ``ratio_min`` (ours / paho ≥ value), ``ratio_max`` (ours / paho ≤ value),
    ``abs_max`` (ours < value), ``ours_le_paho`` (ours ≤ paho), ``equals`` (ours == value),
    or ``info`` (no target)."""

    kind: str
    value: float = 0.0
    text: str = ""


@dataclass
class Row:
    key: str
    title: str
    unit: str
    higher_is_better: bool
    mqttclient: Optional[float]
    paho: Optional[float]
    target: Target
    ratio: Optional[float] = None
    status: str = "n/a"
    ceiling: Optional[float] = None
    broker_cpu_pct: dict[str, Optional[float]] = field(default_factory=dict)
    cpu_s_per_1000: dict[str, Optional[float]] = field(default_factory=dict)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "unit": self.unit,
            "higher_is_better": self.higher_is_better,
            "mqttclient": self.mqttclient,
            "paho": self.paho,
            "ratio": self.ratio,
            "target": self.target.text,
            "status": self.status,
            "ceiling": self.ceiling,
            "broker_cpu_pct": self.broker_cpu_pct,
            "cpu_s_per_1000": self.cpu_s_per_1000,
            "note": self.note,
        }


def median_of(results: list[dict[str, Any]], metric: str) -> Optional[float]:
    values = [r[metric] for r in results if r.get(metric) is not None and "error" not in r]
    return float(statistics.median(values)) if values else None


def build_row(
    key: str,
    title: str,
    unit: str,
    higher_is_better: bool,
    target: Target,
    ours: list[dict[str, Any]],
    theirs: list[dict[str, Any]],
    metric: str,
    ceiling: Optional[list[dict[str, Any]]] = None,
    note: str = "",
) -> Row:
    row = Row(
        key,
        title,
        unit,
        higher_is_better,
        median_of(ours, metric),
        median_of(theirs, metric),
        target,
        note=note,
    )
    if ceiling:
        row.ceiling = median_of(ceiling, metric)
        row.broker_cpu_pct["raw"] = median_of(ceiling, "broker_cpu_pct")
    for name, results in (("mqttclient", ours), ("paho", theirs)):
        row.broker_cpu_pct[name] = median_of(results, "broker_cpu_pct")
        row.cpu_s_per_1000[name] = median_of(results, "cpu_s_per_1000")
    if row.mqttclient is not None and row.paho:
        row.ratio = row.mqttclient / row.paho
    row.status = _judge(row, target)
    notes = [note] if note else []
    for name, results in (("mqttclient", ours), ("paho", theirs)):
        errors = [r["error"] for r in results if "error" in r]
        incomplete = [r for r in results if r.get("complete") is False]
        if errors:
            # A figure from the runs that worked is still shown, but the row is flagged: a run
            # that fails (a stall, a lost message) matters more than its speed.
            row.status = "error" if row.mqttclient is None or row.paho is None else "error*"
            reasons = "; ".join(sorted(set(errors)))
            notes.append(f"{len(errors)} of {len(results)} {name} runs failed: {reasons}")
        elif incomplete:
            notes.append(f"{len(incomplete)} of {len(results)} {name} runs incomplete")
    row.note = "; ".join(notes)
    return row


def _judge(row: Row, target: Target) -> str:
    ours, ratio = row.mqttclient, row.ratio
    if target.kind == "info" or ours is None:
        return "" if target.kind == "info" else "n/a"
    if target.kind == "abs_max":
        return "met" if ours < target.value else "missed"
    if target.kind == "equals":
        return "met" if ours == target.value else "missed"
    if row.paho is None:
        return "n/a"
    if target.kind == "ours_le_paho":
        return "met" if ours <= row.paho else "missed"
    if ratio is None:
        return "n/a"
    if target.kind == "ratio_min":
        return "met" if ratio >= target.value else "missed"
    if target.kind == "ratio_max":
        return "met" if ratio <= target.value else "missed"
    raise ValueError(target.kind)


def _num(value: Optional[float], unit: str = "") -> str:
    if value is None:
        return "-"
    if unit == "msg/s" or abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 0.1 or value == 0:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _pair(values: dict[str, Optional[float]], fmt: str = "{:.0f}") -> str:
    def one(name: str) -> str:
        value = values.get(name)
        return "-" if value is None else fmt.format(value)

    if not values or all(v is None for v in values.values()):
        return ""
    return f"{one('mqttclient')}/{one('paho')}"


def table(rows: list[Row]) -> str:
    """The results as an aligned text table (also valid reStructuredText ``simple`` table)."""
    header = [
        "scenario",
        "unit",
        "mqttclient",
        "paho",
        "ratio",
        "target",
        "met?",
        "raw socket",
        "broker CPU % (mq/paho/raw)",
        "client CPU ms/1000 (mq/paho)",
    ]
    body = []
    for row in rows:
        broker = _pair(row.broker_cpu_pct)
        if broker and row.broker_cpu_pct.get("raw") is not None:
            broker += f"/{row.broker_cpu_pct['raw']:.0f}"
        body.append(
            [
                row.title,
                row.unit,
                _num(row.mqttclient, row.unit),
                _num(row.paho, row.unit),
                "-" if row.ratio is None else f"{row.ratio:.2f}x",
                row.target.text or "-",
                row.status or "-",
                _num(row.ceiling, row.unit) if row.ceiling is not None else "",
                broker,
                _pair(
                    {k: None if v is None else v * 1000 for k, v in row.cpu_s_per_1000.items()},
                    "{:.1f}",
                ),
            ]
        )
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(h.ljust(w) for h, w in zip(header, widths)), rule]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in body]
    lines.append(rule)
    notes = [f"* {row.title}: {row.note}" for row in rows if row.note]
    return "\n".join(lines + (["", *notes] if notes else []))


def codec_table(codec: dict[str, dict[str, float]]) -> str:
    ours, theirs = codec.get("mqttclient", {}), codec.get("paho", {})
    lines = [f"{'codec operation':42} {'mqttclient/s':>14} {'paho-mqtt/s':>14} {'ratio':>7}"]
    for name, value in ours.items():
        other = theirs.get(name)
        paho_text = f"{other:14,.0f}" if other else f"{'-':>14}"
        ratio = f"{value / other:6.1f}x" if other else f"{'':>7}"
        lines.append(f"{name:42} {value:14,.0f} {paho_text} {ratio}")
    return "\n".join(lines)


def write_json(path: str, document: dict[str, Any]) -> None:
    with open(path, "w") as f:
        json.dump(document, f, indent=2, sort_keys=False)
        f.write("\n")


def chart(path: str, rows: list[Row], title: str) -> bool:
    """A bar per row with a ratio target: how many times better than paho-mqtt (for
    lower-is-better rows, paho / ours), with the target marked. False if matplotlib is
    missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    picked = [
        r for r in rows if r.ratio and r.target.kind in ("ratio_min", "ratio_max", "ours_le_paho")
    ]
    if not picked:
        return False
    labels, advantage, goals, colors = [], [], [], []
    for row in picked:
        ratio = row.ratio or 1.0
        better = ratio if row.higher_is_better else 1.0 / ratio
        goal = {"ratio_min": row.target.value, "ours_le_paho": 1.0}.get(
            row.target.kind, 1.0 / row.target.value if row.target.value else 1.0
        )
        labels.append(row.title)
        advantage.append(better)
        goals.append(goal)
        colors.append("#2a9d8f" if row.status == "met" else "#e76f51")
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(picked) + 1.5))
    positions = list(range(len(picked)))[::-1]
    ax.barh(positions, advantage, color=colors)
    ax.scatter(goals, positions, marker="|", s=400, color="black", label="target", zorder=3)
    ax.axvline(1.0, color="grey", linewidth=0.8)
    ax.set_yticks(positions)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("times better than paho-mqtt (log scale; green: target met)")
    top = max(max(advantage), max(goals)) * 1.5
    ax.set_xlim(min(0.5, min(advantage) / 1.5), top if math.isfinite(top) else 10)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
