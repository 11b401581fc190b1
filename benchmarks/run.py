"""The benchmark suite: mqttclient against paho-mqtt, side by side, in one command.

    python benchmarks/run.py [--quick] [--only SCENARIO[,SCENARIO]] [--json PATH] [--png PATH]

Starts a private mosquitto on 127.0.0.1 (restarted for every scenario, stopped at the end and on
Ctrl-C), runs every measurement in a fresh worker process (``worker.py``), alternating
mqttclient and paho-mqtt within each repetition, and reports the median of the repetitions.
Scenarios (``--only`` names): codec, publish (with the raw-socket ceiling), receive, roundtrip,
reqresp, memory, idle, store. See benchmarks/README.rst for what each figure
means; docs/performance.rst for the latest results.

Exit status: 0 when every selected measurement ran (targets met or not), 1 when some failed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from broker import BenchBroker  # noqa: E402
from report import Row, Target, build_row, chart, codec_table, table, write_json  # noqa: E402

WORKER = os.path.join(HERE, "worker.py")
GROUPS = (
    "codec",
    "publish",
    "receive",
    "roundtrip",
    "reqresp",
    "memory",
    "idle",
    "store",
)
BOTH = (("mqttclient", {"client": "mqttclient"}), ("paho", {"client": "paho"}))


@dataclass(frozen=True)
class Settings:
    reps: int
    duration_s: float
    roundtrip_count: int
    roundtrip_budget_s: float
    memory_count: int
    idle_s: float
    codec_min_time: float
    quick: bool

    @property
    def timeout_s(self) -> float:
        """Bound of every wait inside a worker."""
        return max(30.0, 15 * self.duration_s)


@dataclass(frozen=True)
class RowDef:
    key: str
    title: str
    unit: str
    metric: str
    target: Target
    higher_is_better: bool = True
    note: str = ""


@dataclass(frozen=True)
class Spec:
    """One measured setup: a worker scenario run for each column (and the ceiling), and the
    rows read from its results."""

    key: str
    group: str
    scenario: str
    params: dict[str, Any]
    rows: tuple[RowDef, ...]
    columns: tuple[tuple[str, dict[str, Any]], ...] = BOTH
    ceiling: Optional[dict[str, Any]] = None
    needs_broker: bool = True
    concurrent: bool = False  # run the columns at the same time (idle: nothing to disturb)
    single_rep: bool = False
    column_labels: tuple[str, str] = ("mqttclient", "paho")
    extra: dict[str, Any] = field(default_factory=dict)


def specs(settings: Settings) -> list[Spec]:
    out: list[Spec] = []
    for qos, goal in ((0, 4.0), (1, 8.0), (2, 5.0)):
        out.append(
            Spec(
                f"publish-q{qos}",
                "publish",
                "publish",
                {"qos": qos},
                (
                    RowDef(
                        f"publish-q{qos}",
                        f"publish QoS {qos}",
                        "msg/s",
                        "rate",
                        Target("ratio_min", goal, f">={goal:g}x"),
                    ),
                ),
                ceiling={"client": "raw"},
            )
        )
    for qos, goal in ((0, 3.8), (1, 2.0), (2, 2.1)):
        out.append(
            Spec(
                f"receive-q{qos}",
                "receive",
                "receive",
                {"qos": qos},
                (
                    RowDef(
                        f"receive-q{qos}",
                        f"receive QoS {qos}",
                        "msg/s",
                        "rate",
                        Target("ratio_min", goal, f">={goal:g}x"),
                    ),
                ),
            )
        )
    latency = {
        "count": settings.roundtrip_count,
        "warmup": 50,
        "budget_s": settings.roundtrip_budget_s,
    }
    for scenario, title in (("roundtrip", "round trip"), ("reqresp", "request/response")):
        for qos in (0, 1):
            p50_target = (
                Target("ratio_max", 0.6, "<=0.6x") if qos == 0 else Target("abs_max", 1.0, "<1 ms")
            )
            out.append(
                Spec(
                    f"{scenario}-q{qos}",
                    scenario,
                    scenario,
                    {"qos": qos, **latency},
                    # The floor: raw sockets, reader threads and the waiting thread (rawlink.py).
                    ceiling={"client": "raw"},
                    rows=(
                        RowDef(
                            f"{scenario}-q{qos}-p50",
                            f"{title} QoS {qos} p50",
                            "ms",
                            "p50_ms",
                            p50_target,
                            higher_is_better=False,
                        ),
                        RowDef(
                            f"{scenario}-q{qos}-p99",
                            f"{title} QoS {qos} p99",
                            "ms",
                            "p99_ms",
                            Target("info"),
                            higher_is_better=False,
                        ),
                    ),
                )
            )
    # The same, pinned: the unpinned figure depends on where the scheduler puts the broker and
    # the client's threads (a wake-up across cores costs tens of microseconds on a VM), so it
    # flips between two levels from run to run. Pinned, each level is measured on its own.
    for pin, where in (("one", "broker and client on one core"), ("two", "on separate cores")):
        out.append(
            Spec(
                f"roundtrip-q0-{pin}-core",
                "roundtrip",
                "roundtrip",
                {"qos": 0, "pin": pin, **latency},
                (
                    RowDef(
                        f"roundtrip-q0-{pin}-core-p50",
                        f"round trip QoS 0 p50, {where}",
                        "ms",
                        "p50_ms",
                        Target("info"),
                        higher_is_better=False,
                    ),
                ),
                ceiling={"client": "raw"},
            )
        )
    out.append(
        Spec(
            "roundtrip-loop-q0",
            "roundtrip",
            "roundtrip",
            {"qos": 0, "mode": "loop", **latency},
            (
                RowDef(
                    "roundtrip-loop-q0-p50",
                    "round trip QoS 0 p50, loop() in one thread",
                    "ms",
                    "p50_ms",
                    Target("info"),
                    higher_is_better=False,
                ),
            ),
            ceiling={"client": "raw"},  # one thread too: the publisher reads
        )
    )
    count = settings.memory_count
    out.append(
        Spec(
            "memory",
            "memory",
            "memory",
            {"count": count},
            (
                RowDef(
                    "memory-per-message",
                    "memory per offline QoS 1 msg",
                    "bytes",
                    "bytes_per_message",
                    Target("ratio_max", 0.25, "<=0.25x"),
                    higher_is_better=False,
                    note="tracemalloc; includes the 100-byte payload object",
                ),
                RowDef(
                    "memory-kept",
                    f"offline messages kept of {count:,}",
                    "msgs",
                    "kept",
                    Target("equals", float(count), f"{count:,} (no cap)"),
                    note="paho keys queued messages by a mid that wraps at 65,535: later ones "
                    "overwrite earlier ones",
                ),
                RowDef(
                    "memory-rss",
                    "RSS per offline QoS 1 msg",
                    "bytes",
                    "rss_bytes_per_message",
                    Target("info"),
                    higher_is_better=False,
                ),
                RowDef(
                    "memory-time",
                    f"time to queue {count:,} offline",
                    "s",
                    "seconds",
                    Target("info"),
                    higher_is_better=False,
                ),
            ),
            needs_broker=False,
        )
    )
    out.append(
        Spec(
            "idle",
            "idle",
            "idle",
            {"seconds": settings.idle_s, "settle_s": 1.0},
            (
                RowDef(
                    "idle-cpu",
                    f"idle CPU, loop_start, {settings.idle_s:g} s",
                    "% core",
                    "cpu_pct",
                    Target("ours_le_paho", 0.0, "<= paho"),
                    higher_is_better=False,
                ),
                RowDef(
                    "idle-wakeups",
                    "idle wake-ups (select calls)",
                    "/min",
                    "wakeups_per_min",
                    Target("abs_max", 2.5, "<=2/min (keepalive 60 s)"),
                    higher_is_better=False,
                ),
            ),
            concurrent=True,
            single_rep=True,
        )
    )
    out.append(
        Spec(
            "store",
            "store",
            "publish",
            {"qos": 1},
            (
                RowDef(
                    "store-sqlite",
                    "publish QoS 1: SqliteStore | MemoryStore",
                    "msg/s",
                    "rate",
                    Target("ratio_min", 0.5, ">=0.5x (<=2x time)"),
                    note="both columns are mqttclient: SqliteStore | MemoryStore",
                ),
            ),
            columns=(
                ("mqttclient", {"client": "mqttclient", "store": "sqlite"}),
                ("paho", {"client": "mqttclient", "store": "memory"}),
            ),
        )
    )
    return out


# --- running workers ------------------------------------------------------------------------------


def _worker_env(package: Optional[str]) -> dict[str, str]:
    env = dict(os.environ)
    if package:
        env["PYTHONPATH"] = os.pathsep.join(
            [os.path.abspath(package), *filter(None, [env.get("PYTHONPATH")])]
        )
    return env


class Runner:
    def __init__(self, env: dict[str, str], verbose: bool, profile_dir: Optional[str]) -> None:
        self.env = env
        self.verbose = verbose
        self.profile_dir = profile_dir
        self.failed = False

    def start(self, params: dict[str, Any]) -> subprocess.Popen[str]:
        # Own session: on a timeout or Ctrl-C the whole group (the worker and its peers) is
        # killed by its id, and nothing else.
        return subprocess.Popen(
            [sys.executable, WORKER, json.dumps(params)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=ROOT,
            start_new_session=True,
        )

    def finish(self, proc: subprocess.Popen[str], timeout_s: float) -> dict[str, Any]:
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, err = proc.communicate()
            self.failed = True
            return {"error": f"worker timed out after {timeout_s:.0f} s"}
        except BaseException:
            _kill_group(proc)
            raise
        if self.verbose and err:
            sys.stderr.write(err)
        for line in reversed(out.splitlines()):
            if line.startswith("RESULT "):
                result = dict(json.loads(line[len("RESULT ") :]))
                if "error" in result:
                    self.failed = True
                    if not self.verbose:
                        sys.stderr.write(err[-3000:])
                return result
        self.failed = True
        tail = (err or out).strip().splitlines()[-1:] or ["no output"]
        sys.stderr.write(err[-3000:])
        return {"error": f"worker failed (exit {proc.returncode}): {tail[0]}"}

    def run(self, params: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        return self.finish(self.start(params), timeout_s)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass


def _describe(result: dict[str, Any]) -> str:
    if "error" in result:
        return "ERROR " + result["error"]
    for metric, unit in (
        ("p50_ms", "ms p50"),
        ("rate", "msg/s"),
        ("bytes_per_message", "B/msg"),
        ("cpu_pct", "% CPU"),
    ):
        if result.get(metric) is not None:
            return (
                f"{result[metric]:,.3f} {unit}"
                if metric != "rate"
                else f"{result[metric]:,.0f} {unit}"
            )
    return "done"


def run_spec(
    spec: Spec,
    settings: Settings,
    runner: Runner,
    broker: Optional[BenchBroker],
) -> dict[str, list[dict[str, Any]]]:
    base: dict[str, Any] = {
        "scenario": spec.scenario,
        "target_s": settings.duration_s,
        "timeout_s": settings.timeout_s,
        **spec.params,
    }
    if broker is not None:
        base.update(port=broker.port, broker_pid=broker.pid)
        pin = spec.params.get("pin")
        if pin:
            broker_cpu, client_cpu = _pinned_cpus(pin)
            os.sched_setaffinity(broker.pid, {broker_cpu})
            base["cpu"] = client_cpu
    columns = list(spec.columns)
    if spec.ceiling is not None:
        columns.append(("raw", spec.ceiling))
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in columns}
    reps = 1 if spec.single_rep else settings.reps
    worker_timeout = settings.timeout_s * 4 + settings.idle_s + 60
    for rep in range(reps):
        order = columns if rep % 2 == 0 else columns[::-1]  # alternate who goes first
        if spec.concurrent:
            procs = [(name, runner.start({**base, **extra})) for name, extra in order]
            for name, proc in procs:
                results[name].append(runner.finish(proc, worker_timeout))
        else:
            for name, extra in order:
                params = {**base, **extra}
                if runner.profile_dir and rep == 0 and name != "raw":
                    params["profile"] = os.path.join(runner.profile_dir, f"{spec.key}-{name}.prof")
                results[name].append(runner.run(params, worker_timeout))
        for name, _ in order:
            print(
                f"  {spec.key:14} rep {rep + 1}/{reps} {name:10} {_describe(results[name][-1])}",
                file=sys.stderr,
                flush=True,
            )
    return results


def _pinned_cpus(pin: str) -> tuple[int, int]:
    """(broker CPU, client CPU) for ``pin``: "one" core for both, or "two" separate ones."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[0], cpus[0] if pin == "one" else cpus[-1]


def _can_pin(pin: str) -> bool:
    if not hasattr(os, "sched_setaffinity"):
        return False
    return pin == "one" or len(os.sched_getaffinity(0)) > 1


def rows_for(spec: Spec, results: dict[str, list[dict[str, Any]]]) -> list[Row]:
    rows = []
    ours = results.get(spec.columns[0][0], [])
    for row in spec.rows:
        built = build_row(
            row.key,
            row.title,
            row.unit,
            row.higher_is_better,
            row.target,
            ours,
            results.get(spec.columns[1][0], []),
            row.metric,
            ceiling=results.get("raw"),
            note=row.note,
        )
        bound = _bound(spec, built, ours)
        if bound:
            built.note = "; ".join(filter(None, [bound, built.note]))
        rows.append(built)
    return rows


def _bound(spec: Spec, row: Row, ours: list[dict[str, Any]]) -> str:
    """Say when the broker (or the feeder), not mqttclient, set the figure."""
    if (
        spec.group == "publish"
        and row.ceiling
        and row.mqttclient
        and row.mqttclient >= 0.85 * row.ceiling
    ):
        return "mqttclient within 15 % of the raw-socket ceiling: bound by the broker"
    if (
        spec.group in ("roundtrip", "reqresp")
        and row.ceiling
        and row.paho
        and row.key.endswith("-p50")
    ):
        threads = "one thread" if spec.params.get("mode") == "loop" else "two threads"
        return (
            f"raw-socket floor ({threads}) {row.ceiling:.3f} ms = {row.ceiling / row.paho:.2g}x "
            "paho: no client of this shape gets below it here"
        )
    if spec.group == "receive" and (row.broker_cpu_pct.get("mqttclient") or 0) >= 90:
        return "broker at >= 90 % CPU during mqttclient's runs: bound by the broker"
    if spec.group == "receive":
        shares = [
            r["feeder_s"] / r["seconds"]
            for r in ours
            if r.get("feeder_s") and r.get("seconds") and "error" not in r
        ]
        if shares and statistics.median(shares) >= 0.9:
            return (
                "the feeder needed as long as mqttclient to get its messages through the broker: "
                "bound by feeder + broker, not by mqttclient"
            )
    return ""


def _store_available(env: dict[str, str]) -> bool:
    probe = "import mqttclient, sys; sys.exit(0 if hasattr(mqttclient, 'SqliteStore') else 1)"
    try:
        done = subprocess.run(
            [sys.executable, "-c", probe], env=env, cwd=HERE, timeout=60, capture_output=True
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def _loadavg() -> Optional[list[str]]:
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[:3]
    except OSError:
        return None


def machine(env: dict[str, str], broker_version: str, settings: Settings) -> dict[str, Any]:
    def run(cmd: list[str], cwd: str = ROOT) -> str:
        try:
            done = subprocess.run(cmd, env=env, cwd=cwd, timeout=30, capture_output=True, text=True)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip()

    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), ""
            )
    except OSError:
        pass
    versions = run(
        [
            sys.executable,
            "-c",
            "import importlib.metadata as m, mqttclient;"
            "print(mqttclient.__file__);"
            "print(m.version('paho-mqtt'))",
        ],
        cwd=HERE,
    ).splitlines()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "loadavg_at_start": _loadavg(),
        "broker": broker_version,
        "mqttclient_path": versions[0] if versions else "",
        "paho_mqtt": versions[1] if len(versions) > 1 else "not installed",
        "git_commit": run(["git", "rev-parse", "--short", "HEAD"]),
        "git_dirty": bool(run(["git", "status", "--porcelain", "--", "mqttclient"])),
        "package": os.path.dirname(versions[0]) if versions else "",
        "settings": settings.__dict__,
    }


# --- main -----------------------------------------------------------------------------------------


def parse(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="mqttclient vs paho-mqtt benchmark suite (see benchmarks/README.rst)"
    )
    parser.add_argument("--quick", action="store_true", help="short runs, one repetition")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help=f"run only these scenarios (comma-separated, repeatable): {', '.join(GROUPS)}",
    )
    parser.add_argument("--json", default=os.path.join(HERE, "results", "latest.json"))
    parser.add_argument("--png", default=os.path.join(HERE, "results", "latest.png"))
    parser.add_argument("--reps", type=int, help="repetitions (default 3; --quick 1)")
    parser.add_argument("--duration", type=float, help="seconds per throughput run (2; 0.5)")
    parser.add_argument("--idle-seconds", type=float, help="idle window (30; 5)")
    parser.add_argument("--codec-min-time", type=float, help=argparse.SUPPRESS)
    parser.add_argument(
        "--package", help="directory holding the mqttclient package to measure (e.g. a prototype)"
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="cProfile the first repetition of every client run (all threads) into DIR; "
        "figures are then not comparable",
    )
    parser.add_argument("--verbose", action="store_true", help="show the workers' stderr")
    args = parser.parse_args(argv)
    only = {name.strip() for item in args.only for name in item.split(",") if name.strip()}
    unknown = only - set(GROUPS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    args.only = only
    return args


def settings_from(args: argparse.Namespace) -> Settings:
    quick = bool(args.quick)
    return Settings(
        reps=args.reps or (1 if quick else 3),
        duration_s=args.duration or (0.5 if quick else 2.0),
        roundtrip_count=300 if quick else 2000,
        roundtrip_budget_s=5.0 if quick else 20.0,
        memory_count=100_000,
        idle_s=args.idle_seconds or (5.0 if quick else 30.0),
        codec_min_time=args.codec_min_time or (0.1 if quick else 0.5),
        quick=quick,
    )


def main(argv: Optional[list[str]] = None) -> int:
    args = parse(argv)
    settings = settings_from(args)
    env = _worker_env(args.package)
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
    runner = Runner(env, args.verbose, args.profile)
    selected = [
        s
        for s in specs(settings)
        if (not args.only or s.group in args.only) and _can_pin(s.params.get("pin") or "one")
    ]
    want_codec = not args.only or "codec" in args.only
    needs_broker = any(s.needs_broker for s in selected)
    if needs_broker and not BenchBroker.available():
        print("mosquitto is not installed (apt-get install mosquitto)", file=sys.stderr)
        return 2

    all_results: dict[str, Any] = {}
    rows: list[Row] = []
    broker_version = ""
    codec: dict[str, Any] = {}
    started = time.monotonic()
    try:
        if want_codec:
            print("codec micro-benchmark", file=sys.stderr, flush=True)
            codec = runner.run({"scenario": "codec", "min_time": settings.codec_min_time}, 600)
            all_results["codec"] = codec
        for spec in selected:
            print(spec.key, file=sys.stderr, flush=True)
            if spec.key == "store" and not _store_available(env):
                rows.append(
                    Row(
                        "store-sqlite",
                        spec.rows[0].title,
                        "msg/s",
                        True,
                        None,
                        None,
                        spec.rows[0].target,
                        status="n/a",
                        note="mqttclient.SqliteStore does not exist yet",
                    )
                )
                continue
            broker: Optional[BenchBroker] = None
            try:
                if spec.needs_broker:
                    broker = BenchBroker()
                    broker.start()  # a fresh broker per scenario: no state carried over
                    broker_version = broker_version or broker.version()
                results = run_spec(spec, settings, runner, broker)
            finally:
                if broker is not None:
                    broker.close()
            all_results[spec.key] = results
            rows.extend(rows_for(spec, results))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

    document = {
        "suite": "mqttclient benchmarks",
        "format": 1,
        "machine": machine(env, broker_version, settings),
        "elapsed_s": time.monotonic() - started,
        "rows": [row.as_dict() for row in rows],
        "codec": {k: v for k, v in codec.items() if k in ("mqttclient", "paho")},
        "runs": all_results,
    }
    if rows:
        print(table(rows))
    if codec and "error" not in codec:
        print()
        print(codec_table(codec))
    elif codec:
        print(f"codec: {codec['error']}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        write_json(args.json, document)
        print(f"\nJSON: {args.json}")
    if args.png and rows:
        os.makedirs(os.path.dirname(os.path.abspath(args.png)), exist_ok=True)
        title = (
            f"mqttclient vs paho-mqtt {document['machine']['paho_mqtt']} ({os.cpu_count()} cores)"
        )
        if chart(args.png, rows, title):
            print(f"PNG: {args.png}")
        else:
            print("PNG: skipped (pip install matplotlib, or the 'bench' extra)")
    if args.profile:
        _print_profiles(args.profile)
    return 1 if runner.failed else 0


def _print_profiles(directory: str, top: int = 15) -> None:
    import pstats

    for name in sorted(os.listdir(directory)):
        if not name.endswith(".prof"):
            continue
        print(f"\n--- {name}: top {top} by own time")
        pstats.Stats(os.path.join(directory, name), stream=sys.stdout).sort_stats(
            "tottime"
        ).print_stats(top)


if __name__ == "__main__":
    sys.exit(main())
