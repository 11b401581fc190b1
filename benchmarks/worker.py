"""One measurement of one client in a fresh process: ``python benchmarks/worker.py JSON``.

``run.py`` starts a worker per (scenario, client, repetition), so each client runs in an
interpreter that has imported only its own library, with no threads or garbage left by the
previous run. The worker starts the raw-socket peers it needs (``peers.py``), stops them and its
client whatever happens, and prints one line ``RESULT {json}``.

The JSON argument: ``{"scenario", "client", "port", "broker_pid", ...scenario parameters}``;
``client`` is ``mqttclient``, ``paho`` or ``raw`` (pre-encoded packets from ``peers.py``, the
ceiling). Times are ``time.monotonic()`` (system-wide on Linux, so comparable with the peers');
CPU is ``time.process_time()`` of this process (every thread) and ``/proc/<pid>/stat`` of the
broker.
"""

from __future__ import annotations

import gc
import json
import math
import os
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from typing import Any, Callable, Optional, Protocol

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    # After PYTHONPATH and site-packages, so a prototype copy on PYTHONPATH wins.
    sys.path.append(ROOT)

from broker import HOST, cpu_seconds  # noqa: E402

PAYLOAD_SIZE = 100
INFLIGHT = 1000
PILOT = 2000
PILOT_S = 0.3  # the second pilot's length; the measured run is sized from it
# paho keys its outgoing QoS 1/2 messages by a mid that wraps at 65,535: with more queued at
# once it overwrites older ones. QoS 1/2 runs of paho stay below that.
PAHO_QOS12_CAP = 60_000
MAX_MESSAGES = 3_000_000
# receive: the feeder sends in chunks and stays at most BACKLOG messages ahead of the client.
FEED_CHUNK = 5000
BACKLOG = 10 * INFLIGHT
CONNECT_TIMEOUT_S = 10.0


def _peer_life(p: dict[str, Any]) -> float:
    """How long a peer process may live: the whole worker's bound (run.py kills the worker's
    process group after about this long too)."""
    return 4 * float(p["timeout_s"]) + 30


def _topic() -> str:
    return "bench/" + uuid.uuid4().hex[:12]


class Peer:
    """A ``peers.py`` process; see that module for its line protocol."""

    def __init__(self, role: str, port: int, topic: str, qos: int, deadline_s: float) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable, os.path.join(HERE, "peers.py"), role, "--port", str(port),
                "--topic", topic, "--qos", str(qos), "--payload-size", str(PAYLOAD_SIZE),
                "--window", str(INFLIGHT), "--deadline-s", str(deadline_s),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            line = self._readline(30.0)
            if line != "ready":
                raise RuntimeError(f"{role} peer did not start: {line!r}")
        except BaseException:
            self.close()
            raise

    def _readline(self, timeout_s: float) -> str:
        stdout = self.proc.stdout
        assert stdout is not None
        readable, _, _ = select.select([stdout], [], [], timeout_s)
        if not readable:
            raise TimeoutError("peer did not answer")
        return stdout.readline().strip()

    def ask(self, command: str, timeout_s: float) -> dict[str, Any]:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            stdin.write(command + "\n")
            stdin.flush()
        except BrokenPipeError as exc:
            raise RuntimeError(f"peer exited before {command!r}") from exc
        line = self._readline(timeout_s)
        if not line:
            raise RuntimeError(f"peer exited (answering {command!r})")
        return dict(json.loads(line))

    def close(self) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(3)


def make_client(kind: str, store: Any = None) -> Any:
    """A client of ``kind`` built the same way for both libraries (callback API VERSION2)."""
    if kind == "mqttclient":
        import mqttclient.client as mqtt
    elif kind == "paho":
        import paho.mqtt.client as mqtt  # type: ignore[no-redef]
    else:
        raise ValueError(kind)
    kwargs: dict[str, Any] = {"client_id": f"bench-{kind}-{uuid.uuid4().hex[:8]}"}
    if store is not None:
        kwargs["store"] = store
    return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, **kwargs)


def start(client: Any, port: int) -> None:
    """connect(), loop_start(), wait for CONNACK."""
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect(HOST, port, keepalive=60)
    client.loop_start()
    if not connected.wait(CONNECT_TIMEOUT_S) or not client.is_connected():
        raise RuntimeError("not connected")


def stop(client: Any) -> None:
    try:
        client.disconnect()
    finally:
        client.loop_stop()


def subscribe(client: Any, topic: str, qos: int) -> None:
    done = threading.Event()
    client.on_subscribe = lambda *args: done.set()
    client.subscribe(topic, qos)
    if not done.wait(CONNECT_TIMEOUT_S):
        raise RuntimeError("no SUBACK")


class Window:
    """What a measured run cost: wall time, this process's CPU and the broker's CPU."""

    def __init__(self, broker_pid: int) -> None:
        self.broker_pid = broker_pid
        self.t0 = time.monotonic()
        self.cpu0 = time.process_time()
        self.broker0 = cpu_seconds(broker_pid)

    def close(self, messages: int, seconds: float) -> dict[str, Any]:
        cpu = time.process_time() - self.cpu0
        elapsed = time.monotonic() - self.t0
        broker1 = cpu_seconds(self.broker_pid)
        broker = None
        if broker1 is not None and self.broker0 is not None and elapsed > 0:
            broker = 100.0 * (broker1 - self.broker0) / elapsed
        return {
            "messages": messages,
            "seconds": seconds,
            "rate": messages / seconds if seconds > 0 else 0.0,
            "client_cpu_s": cpu,
            "cpu_s_per_1000": 1000.0 * cpu / messages if messages else None,
            "broker_cpu_pct": broker,
        }


def _size(pilot_rate: float, target_s: float, cap: int) -> int:
    return max(PILOT, min(cap, int(pilot_rate * target_s)))


def measure(
    batch: Callable[[int], float], target_s: float, cap: int, broker_pid: int
) -> tuple[int, Window, float]:
    """Run ``batch(n)`` (send n more, return the monotonic time the last one completed) twice
    as a pilot to size the measured run to ``target_s``, then once measured. Returns (n, its
    Window, its end time)."""
    n = PILOT
    for stage_s in (PILOT_S, target_s):
        t0 = time.monotonic()
        end = batch(n)
        n = _size(n / max(1e-6, end - t0), stage_s, cap)
    window = Window(broker_pid)
    return n, window, batch(n)


# --- scenarios ------------------------------------------------------------------------------------


def publish(p: dict[str, Any]) -> dict[str, Any]:
    """One client publishes N messages as fast as the API allows; a raw subscriber (QoS 0,
    counting bytes) confirms all arrived. The time runs from the first publish() to the later
    of the last delivery and (QoS 1/2) the last acknowledgement."""
    kind, port, qos, timeout_s = p["client"], p["port"], p["qos"], p["timeout_s"]
    topic = _topic()
    sub = Peer("sub", port, topic, 0, deadline_s=_peer_life(p))
    closers: list[Callable[[], None]] = [sub.close]
    state = {"total": 0, "count": 0}
    try:
        if kind == "raw":
            feeder = Peer("pub", port, topic, qos, deadline_s=_peer_life(p))
            closers.insert(0, feeder.close)

            def send_batch(count: int) -> float:
                fed = feeder.ask(f"send {count}", timeout_s)
                if fed["sent"] != count:
                    raise RuntimeError("feeder could not send in time")
                return float(fed["t_done"])

            cap = MAX_MESSAGES
        else:
            store = _store(p.get("store"), closers)
            client = make_client(kind, store)
            client.max_inflight_messages_set(INFLIGHT)
            start(client, port)
            closers.insert(0, lambda: stop(client))
            payload = bytes(PAYLOAD_SIZE)
            send = client.publish

            def send_batch(count: int) -> float:
                info = None
                for _ in range(count):
                    info = send(topic, payload, qos)
                if qos and info is not None:
                    info.wait_for_publish(timeout_s)
                    if not info.is_published():
                        raise RuntimeError("last message not acknowledged in time")
                return time.monotonic()

            # paho keys queued QoS 1/2 messages by a mid that wraps at 65,535.
            cap = PAHO_QOS12_CAP if kind == "paho" and qos else MAX_MESSAGES

        def batch(count: int) -> float:
            t_sent = send_batch(count)
            state["total"] += count
            got = sub.ask(f"wait {state['total']} {timeout_s}", timeout_s + 10)
            state["count"] = got["count"]
            if got["count"] < state["total"]:
                raise RuntimeError(
                    f"{state['total'] - got['count']} of {state['total']} messages not delivered "
                    f"within {timeout_s:.0f} s"
                )
            return max(t_sent, float(got["t_last"]))

        n, window, end = measure(batch, p["target_s"], cap, p["broker_pid"])
        result = window.close(n, end - window.t0)
        result["complete"] = state["count"] >= state["total"]
        result["delivered"] = state["count"] - (state["total"] - n)
        return result
    finally:
        for close in closers:
            close()


def _store(name: Optional[str], closers: list[Callable[[], None]]) -> Any:
    if name is None:
        return None
    import mqttclient

    if name == "memory":
        return mqttclient.MemoryStore()  # type: ignore[attr-defined]
    directory = tempfile.mkdtemp(prefix="mqttclient-bench-store-")
    closers.append(lambda: _rmtree(directory))
    return mqttclient.SqliteStore(os.path.join(directory, "outbox.db"))  # type: ignore[attr-defined]


def _rmtree(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def receive(p: dict[str, Any]) -> dict[str, Any]:
    """A raw feeder publishes pre-encoded messages at QoS q; the client subscribes at QoS q and
    counts in on_message. The time runs from the feeder's start to the last on_message."""
    kind, port, qos = p["client"], p["port"], p["qos"]
    topic = _topic()
    client = make_client(kind)
    client.max_inflight_messages_set(INFLIGHT)
    start(client, port)
    closers: list[Callable[[], None]] = [lambda: stop(client)]
    try:
        subscribe(client, topic, qos)
        feeder = Peer("pub", port, topic, qos, deadline_s=_peer_life(p))
        closers.insert(0, feeder.close)
        # The feeder may run ahead of the client by at most BACKLOG messages: mosquitto's cost
        # per message grows with the queue it holds for a slow QoS 1/2 subscriber (measured:
        # paho receiving QoS 2 at 4-13k msg/s with the broker at 95 % CPU when the queue was
        # unbounded), which would penalise the slower client for the broker's data structures.
        state: dict[str, Any] = {"count": 0, "sent": 0, "final": 0, "mark": math.inf}
        state["t_last"] = 0.0
        progress = threading.Event()
        mark_lock = threading.Lock()

        def on_message(client: Any, userdata: Any, message: Any) -> None:
            count = state["count"] = state["count"] + 1
            if count >= state["mark"]:  # rare: the main thread waits for this count
                with mark_lock:
                    if count >= state["mark"]:
                        if count >= state["final"]:
                            state["t_last"] = time.monotonic()  # the batch's last message
                            state["mark"] = math.inf
                        else:
                            state["mark"] = state["final"]
                        progress.set()

        def wait_for(count: int) -> None:
            with mark_lock:
                if state["count"] >= count:
                    return
                progress.clear()
                state["mark"] = min(count, state["final"])
            if not progress.wait(p["timeout_s"]):
                raise RuntimeError(f"{count - state['count']} messages did not arrive")

        client.on_message = on_message
        fed_s = [0.0]

        def batch(count: int) -> float:
            end_total = state["sent"] + count
            with mark_lock:
                state["final"] = state["mark"] = end_total
            fed_s[0] = 0.0
            while state["sent"] < end_total:
                wait_for(state["sent"] - BACKLOG)
                chunk = min(FEED_CHUNK, end_total - state["sent"])
                fed = feeder.ask(f"send {chunk}", p["timeout_s"])
                fed_s[0] += fed["t_done"] - fed["t_start"]
                state["sent"] += chunk
            wait_for(end_total)
            return float(state["t_last"])

        n, window, end = measure(batch, p["target_s"], MAX_MESSAGES, p["broker_pid"])
        result = window.close(n, end - window.t0)
        result["complete"] = state["count"] == state["sent"]
        result["delivered"] = n
        # How long the feeder spent handing them to the broker: when close to "seconds", the
        # feeder (or the broker), not the client, bounds the figure.
        result["feeder_s"] = fed_s[0]
        return result
    finally:
        for close in closers:
            close()


class _Back(Protocol):
    """What ``_latencies`` waits on: a ``threading.Event``, or a stand-in that reads."""

    def clear(self) -> None: ...

    def wait(self, timeout: float) -> bool: ...


def _latencies(
    p: dict[str, Any], publish: Callable[[], object], back: _Back, window_pid: int
) -> dict[str, Any]:
    """Time ``publish()`` until ``back`` is set, ``p["count"]`` times (after ``p["warmup"]``
    untimed ones) or until ``p["budget_s"]`` runs out."""
    clock = time.perf_counter
    for _ in range(p["warmup"]):
        back.clear()
        publish()
        back.wait(2.0)
    samples: list[float] = []
    lost = 0
    window = Window(window_pid)
    budget_end = time.monotonic() + p["budget_s"]
    for _ in range(p["count"]):
        if time.monotonic() > budget_end:
            break
        back.clear()
        t = clock()
        publish()
        if back.wait(2.0):
            samples.append(clock() - t)
        else:
            lost += 1
    result = window.close(len(samples), sum(samples))
    samples.sort()
    if samples:
        result.update(
            p50_ms=1000 * statistics.median(samples),
            p99_ms=1000 * samples[min(len(samples) - 1, int(0.99 * len(samples)))],
            mean_ms=1000 * statistics.fmean(samples),
        )
    # Fewer samples than asked when the time budget ran out (paho's 44 ms+ round trips): that
    # is expected and not an error; a lost message is.
    result.update(samples=len(samples), lost=lost, complete=lost == 0)
    return result


def roundtrip(p: dict[str, Any]) -> dict[str, Any]:
    """Publish to a topic the client subscribes to and wait for the message to come back in
    on_message. ``mode`` "thread" (the default): loop_start(), the main thread waits on a
    threading.Event; "loop": no thread, the main thread calls loop() until on_message ran.
    Client "raw" (``rawlink.py``): the floor through the same broker with no library, in two
    threads ("thread": a reader thread sets the Event) or one ("loop")."""
    kind, port, qos = p["client"], p["port"], p["qos"]
    mode = p.get("mode", "thread")
    topic = _topic()
    payload = bytes(PAYLOAD_SIZE)
    if kind == "raw":
        return _raw_roundtrip(p, topic, payload, mode)
    client = make_client(kind)
    if mode == "loop":
        return _loop_roundtrip(p, client, topic, payload)
    start(client, port)
    try:
        subscribe(client, topic, qos)
        back = threading.Event()
        client.on_message = lambda *args: back.set()
        return _latencies(p, lambda: client.publish(topic, payload, qos), back, p["broker_pid"])
    finally:
        stop(client)


class _Looped:
    """``threading.Event``'s clear/wait for a client with no loop thread: ``wait`` calls
    ``loop()`` until on_message has run."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.got = False
        client.on_message = self._on_message

    def _on_message(self, *args: Any) -> None:
        self.got = True

    def clear(self) -> None:
        self.got = False

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        loop = self.client.loop
        while not self.got:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            loop(remaining)
        return True


def _loop_roundtrip(p: dict[str, Any], client: Any, topic: str, payload: bytes) -> dict[str, Any]:
    done = threading.Event()
    client.on_connect = lambda *args: done.set()
    client.connect(HOST, p["port"], keepalive=60)
    try:
        _loop_until(client, done)
        done.clear()
        client.on_subscribe = lambda *args: done.set()
        client.subscribe(topic, p["qos"])
        _loop_until(client, done)
        back = _Looped(client)
        qos = p["qos"]
        return _latencies(p, lambda: client.publish(topic, payload, qos), back, p["broker_pid"])
    finally:
        client.disconnect()


def _loop_until(client: Any, done: threading.Event) -> None:
    end = time.monotonic() + CONNECT_TIMEOUT_S
    while not done.is_set():
        if time.monotonic() > end:
            raise RuntimeError("no CONNACK or SUBACK")
        client.loop(0.1)


def _raw_roundtrip(p: dict[str, Any], topic: str, payload: bytes, mode: str) -> dict[str, Any]:
    from rawlink import RawLink, ThreadedReader

    link = RawLink(p["port"], topic, p["qos"], payload, CONNECT_TIMEOUT_S)
    if mode == "loop":
        try:
            return _latencies(p, link.publish, link, p["broker_pid"])
        finally:
            link.close()
    reader = ThreadedReader(link)
    try:
        return _latencies(p, link.publish, reader.back, p["broker_pid"])
    finally:
        reader.close()


def reqresp(p: dict[str, Any]) -> dict[str, Any]:
    """Request/response between two clients of the same library (each with loop_start): the
    requester publishes a request, the responder answers from on_message, the requester waits
    for the answer. This is where Nagle's algorithm and delayed ACKs show (the broker's and the
    clients')."""
    kind, port, qos = p["client"], p["port"], p["qos"]
    requests, responses = _topic(), _topic()
    if kind == "raw":
        return _raw_reqresp(p, requests, responses)
    requester = make_client(kind)
    responder = make_client(kind)
    start(requester, port)
    try:
        start(responder, port)
        try:
            subscribe(responder, requests, qos)
            subscribe(requester, responses, qos)
            responder.on_message = lambda client, userdata, message: client.publish(
                responses, message.payload, qos
            )
            back = threading.Event()
            requester.on_message = lambda *args: back.set()
            payload = bytes(PAYLOAD_SIZE)
            return _latencies(
                p, lambda: requester.publish(requests, payload, qos), back, p["broker_pid"]
            )
        finally:
            stop(responder)
    finally:
        stop(requester)


def _raw_reqresp(p: dict[str, Any], requests: str, responses: str) -> dict[str, Any]:
    """The floor of request/response (``rawlink.py``): a raw requester in two threads, a raw
    responder answering from its reader thread."""
    from rawlink import RawLink, ThreadedReader

    payload = bytes(PAYLOAD_SIZE)
    port, qos = p["port"], p["qos"]
    link = RawLink(port, responses, qos, payload, CONNECT_TIMEOUT_S, publish_topic=requests)
    requester = ThreadedReader(link)
    try:
        answering = RawLink(port, requests, qos, payload, CONNECT_TIMEOUT_S, responses)
        responder = ThreadedReader(answering, answering.publish)
        try:
            return _latencies(p, link.publish, requester.back, p["broker_pid"])
        finally:
            responder.close()
    finally:
        requester.close()


def codec(p: dict[str, Any]) -> dict[str, Any]:
    """The codec micro-benchmark (``bench_codec.py``) in this process."""
    import bench_codec

    bench_codec.MIN_TIME = p["min_time"]
    return {"mqttclient": bench_codec.ours(), "paho": bench_codec.paho()}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _queued(client: Any, kind: str) -> int:
    if kind == "mqttclient":
        return int(client._session.unfinished_count())
    return len(client._out_messages)


def memory(p: dict[str, Any]) -> dict[str, Any]:
    """QoS 1 messages of 100 bytes published while never connected. First run: time to queue
    them and the RSS growth; second run, on a fresh client: tracemalloc's count of the bytes
    still allocated (each message has its own payload object, counted too)."""
    kind, n = p["client"], p["count"]
    topic = "bench/offline/queue"
    pad = bytes(PAYLOAD_SIZE - 8)

    def fill(client: Any) -> float:
        send = client.publish
        t = time.perf_counter()
        for i in range(n):
            send(topic, b"%08d" % i + pad, 1)
        return time.perf_counter() - t

    gc.collect()
    rss0 = _rss_bytes()
    client = make_client(kind)
    seconds = fill(client)
    kept = _queued(client, kind)
    rss = _rss_bytes() - rss0
    del client
    gc.collect()

    client = make_client(kind)
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    fill(client)
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    kept_traced = _queued(client, kind)
    traced = current - base
    return {
        "messages": n,
        "kept": kept,
        "kept_traced": kept_traced,
        "seconds": seconds,
        "rate": n / seconds if seconds else 0.0,
        "bytes_per_message": traced / max(1, kept_traced),
        "rss_bytes_per_message": rss / max(1, kept),
        "complete": True,  # paho keeping fewer is the finding, shown in its own row
    }


def idle(p: dict[str, Any]) -> dict[str, Any]:
    """A connected client with loop_start() and nothing to do. CPU of this process over the
    window, and wake-ups: calls of select.select (both libraries wait in it; counted by wrapping
    it before the client exists) and, for mqttclient, its own engine counter."""
    import select as select_module

    calls = [0]
    real_select = select_module.select

    def counting_select(*args: Any) -> Any:
        calls[0] += 1
        return real_select(*args)

    select_module.select = counting_select
    try:
        kind = p["client"]
        client = make_client(kind)
        start(client, p["port"])
        try:
            time.sleep(p["settle_s"])
            engine = getattr(client, "_engine", None)
            wake0 = engine.wakeups if engine is not None else None
            calls0 = calls[0]
            cpu0 = time.process_time()
            t0 = time.monotonic()
            time.sleep(p["seconds"])
            elapsed = time.monotonic() - t0
            cpu = time.process_time() - cpu0
            selects = calls[0] - calls0
            wakes = engine.wakeups - wake0 if engine is not None else None
            connected = client.is_connected()
        finally:
            stop(client)
    finally:
        select_module.select = real_select
    return {
        "seconds": elapsed,
        "cpu_s": cpu,
        "cpu_pct": 100.0 * cpu / elapsed,
        "select_calls": selects,
        "wakeups_per_min": 60.0 * selects / elapsed,
        "engine_wakeups": wakes,
        "complete": connected,
    }


SCENARIOS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "publish": publish,
    "receive": receive,
    "roundtrip": roundtrip,
    "reqresp": reqresp,
    "codec": codec,
    "memory": memory,
    "idle": idle,
}


def _profiled(run: Callable[[], dict[str, Any]], path: str) -> dict[str, Any]:
    """Run under cProfile in every thread (the network loop's too: cProfile alone only sees
    the thread that enabled it); the per-thread statistics are merged into ``path``."""
    import cProfile
    import pstats

    profilers: list[cProfile.Profile] = []
    lock = threading.Lock()
    original_run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        profiler = cProfile.Profile()
        with lock:
            profilers.append(profiler)
        profiler.enable()
        try:
            original_run(self)
        finally:
            profiler.disable()

    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    main_profiler = cProfile.Profile()
    main_profiler.enable()
    try:
        return run()
    finally:
        main_profiler.disable()
        threading.Thread.run = original_run  # type: ignore[method-assign]
        stats = pstats.Stats(main_profiler)
        with lock:
            for profiler in profilers:
                try:
                    stats.add(profiler)
                except TypeError:  # a thread that recorded nothing
                    pass
        stats.dump_stats(path)


def main() -> None:
    params = json.loads(sys.argv[1])
    scenario = SCENARIOS[params["scenario"]]
    if params.get("cpu") is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {params["cpu"]})  # before any thread starts: all inherit it
    try:
        if params.get("profile"):
            result = _profiled(lambda: scenario(params), params["profile"])
        else:
            result = scenario(params)
    except Exception as exc:
        # Reported in the table as this cell's error rather than ending the whole suite.
        import traceback

        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
