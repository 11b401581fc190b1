"""``mqttclient pub`` / ``mqttclient sub`` against real mosquitto brokers (and the scripted fake
broker for a broker that stops answering).

Most tests call ``main([...])`` in-process (``sub`` on a background thread, its output captured
with ``capsys``); a few run ``python -m mqttclient`` as a subprocess, for stdin, signals and
binary output. A subscriber is known to be subscribed once the broker's log says it sent the
SUBACK, so no test sleeps to "let it subscribe".
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from mqttclient import _cli_pub
from mqttclient.cli import main
from tests.brokers import Certs, Listener, Microsocks, Mosquitto, free_port
from tests.fakebroker import CONNECT, PUBLISH, SUBSCRIBE, FakeBroker, connack

JOIN_TIMEOUT_S = 20.0
SUBPROCESS_TIMEOUT_S = 30.0
ROOT = Path(__file__).resolve().parents[2]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_for_log(broker: Mosquitto, text: str, timeout: float = 10.0) -> None:
    """Wait (bounded) until ``text`` appears in the broker's log file."""
    deadline = time.monotonic() + timeout
    while True:
        if broker.log_path.exists() and text in broker.log_path.read_text(errors="replace"):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in the {broker.name} log within {timeout} s")
        time.sleep(0.02)


def broker_args(broker: Mosquitto, name: str = "tcp") -> list[str]:
    return ["-h", "127.0.0.1", "-p", str(broker.port(name))]


class Background:
    """``main(argv)`` on a thread; :meth:`join` returns its exit status (bounded)."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.code: Optional[int] = None
        self.error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, args=(list(argv),), daemon=True)
        self._thread.start()

    def _run(self, argv: list[str]) -> None:
        try:
            self.code = main(argv)
        except BaseException as exc:  # reported by join()
            self.error = exc

    def join(self, timeout: float = JOIN_TIMEOUT_S) -> int:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the command did not finish in time"
        if self.error is not None:
            raise self.error
        assert self.code is not None
        return self.code


@pytest.fixture
def start_sub() -> Iterator[Callable[..., Background]]:
    """``start_sub(broker, *args)``: run ``sub`` in the background and return once the broker
    has acknowledged its subscriptions. Every started ``sub`` must have ``-C`` or ``-W``."""
    started: list[Background] = []

    def start(broker: Mosquitto, *args: str, listener: str = "tcp") -> Background:
        assert "-C" in args or "-W" in args
        client_id = unique("sub")
        sub = Background(["sub", *broker_args(broker, listener), "-i", client_id, *args])
        started.append(sub)
        wait_for_log(broker, f"Sending SUBACK to {client_id}")
        return sub

    yield start
    for sub in started:
        sub.join()


def pub(broker: Mosquitto, *args: str, listener: str = "tcp") -> int:
    return main(["pub", *broker_args(broker, listener), *args])


def one_error_line(err: str) -> str:
    """The single stderr line of a failed command (and no traceback)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# --- round trips ----------------------------------------------------------------------------------


def test_message_round_trip_with_topic(
    mosquitto: Mosquitto, start_sub: Callable[..., Background], capsys: Any
) -> None:
    base = unique("cli")
    sub = start_sub(mosquitto, "-t", f"{base}/#", "-v", "-C", "2", "-W", "15")
    assert pub(mosquitto, "-t", f"{base}/a", "-m", "hello") == 0
    assert pub(mosquitto, "-t", f"{base}/b", "-m", "wörld") == 0
    assert sub.join() == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{base}/a hello", f"{base}/b wörld"]
    assert err == ""


@pytest.mark.parametrize(
    "source, stdin, expected",
    [
        (["-m", "just one"], None, ["just one"]),
        (["-n"], None, [""]),
        (["-s"], b"all of\nstdin", ["all of", "stdin"]),
        (["-l"], b"first\nsecond\r\n\nfourth\n", ["first", "second", "", "fourth"]),
        (["--count", "3", "-m", '{"n": {i}}'], None, ['{"n": 1}', '{"n": 2}', '{"n": 3}']),
        (["--count", "2"], None, ["1", "2"]),
    ],
    ids=["message", "null", "stdin-file", "stdin-lines", "count-template", "count"],
)
def test_message_sources(
    mosquitto: Mosquitto,
    start_sub: Callable[..., Background],
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
    source: list[str],
    stdin: Optional[bytes],
    expected: list[str],
) -> None:
    topic = unique("cli/src")
    messages = 1 if source[0] == "-s" else len(expected)
    sub = start_sub(mosquitto, "-t", topic, "-q", "1", "-C", str(messages), "-W", "15")
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    assert pub(mosquitto, "-t", topic, "-q", "1", *source) == 0
    assert sub.join() == 0
    assert capsys.readouterr().out.split("\n")[:-1] == expected


def test_message_from_file(
    mosquitto: Mosquitto, start_sub: Callable[..., Background], capsys: Any, tmp_path: Path
) -> None:
    topic = unique("cli/file")
    path = tmp_path / "payload.bin"
    path.write_bytes(b"\x00\xffbinary\n")
    sub = start_sub(mosquitto, "-t", topic, "--json", "-C", "1", "-W", "15")
    assert pub(mosquitto, "-t", topic, "-f", str(path)) == 0
    assert sub.join() == 0
    record = json.loads(capsys.readouterr().out)
    assert record["payload_base64"] is True
    assert record["payload"] == "AP9iaW5hcnkK"  # base64 of the file


@pytest.mark.parametrize("pub_qos, sub_qos", [(0, 2), (1, 1), (2, 2), (2, 1)])
def test_qos(
    mosquitto: Mosquitto,
    start_sub: Callable[..., Background],
    capsys: Any,
    pub_qos: int,
    sub_qos: int,
) -> None:
    topic = unique("cli/qos")
    sub = start_sub(mosquitto, "-t", topic, "-q", str(sub_qos), "--json", "-C", "1", "-W", "15")
    assert pub(mosquitto, "-t", topic, "-q", str(pub_qos), "-m", "x") == 0
    assert sub.join() == 0
    assert json.loads(capsys.readouterr().out)["qos"] == min(pub_qos, sub_qos)


def test_retain_and_no_retained(
    mosquitto: Mosquitto, capsys: Any, start_sub: Callable[..., Background]
) -> None:
    topic = unique("cli/retain")
    args = broker_args(mosquitto)
    assert pub(mosquitto, "-t", topic, "-m", "kept", "-r", "-q", "1") == 0
    try:
        assert main(["sub", *args, "-t", topic, "--json", "-C", "1", "-W", "10"]) == 0
        record = json.loads(capsys.readouterr().out)
        assert (record["payload"], record["retain"]) == ("kept", True)
        # -R skips the retained message: nothing else arrives, so -W runs out.
        assert main(["sub", *args, "-t", topic, "-R", "-C", "1", "-W", "0.5"]) == 3
        assert "timed out" in one_error_line(capsys.readouterr().err)
    finally:
        assert pub(mosquitto, "-t", topic, "-n", "-r", "-q", "1") == 0  # clear it


def test_json_shape_and_mqtt5_properties(
    mosquitto: Mosquitto, start_sub: Callable[..., Background], capsys: Any
) -> None:
    topic = unique("cli/v5")
    sub = start_sub(mosquitto, "-V", "5", "-t", topic, "-q", "1", "--json", "-C", "1", "-W", "15")
    code = pub(
        mosquitto,
        *("-V", "5", "-t", topic, "-q", "1", "-m", '{"t": 21.5}'),
        *("-D", "site", "lab", "-D", "site", "attic", "-D", "unit", "°C"),
        *("--content-type", "application/json", "--message-expiry", "300"),
        *("--response-topic", f"{topic}/reply", "--correlation-data", "req-1"),
    )
    assert code == 0
    assert sub.join() == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    record = json.loads(out)
    assert set(record) == {"topic", "payload", "payload_base64", "qos", "retain", "properties"}
    assert record["topic"] == topic
    assert record["payload"] == '{"t": 21.5}'
    assert (record["payload_base64"], record["qos"], record["retain"]) == (False, 1, False)
    props = record["properties"]
    assert props["UserProperty"] == [["site", "lab"], ["site", "attic"], ["unit", "°C"]]
    assert props["ContentType"] == "application/json"
    assert 0 < props["MessageExpiryInterval"] <= 300
    assert props["ResponseTopic"] == f"{topic}/reply"
    assert props["CorrelationData"] == b"req-1".hex()


def test_json_properties_empty_before_mqtt5(
    mosquitto: Mosquitto, start_sub: Callable[..., Background], capsys: Any
) -> None:
    topic = unique("cli/v3")
    sub = start_sub(mosquitto, "-V", "31", "-t", topic, "--json", "-C", "1", "-W", "15")
    assert pub(mosquitto, "-V", "31", "-t", topic, "-m", "x") == 0
    assert sub.join() == 0
    assert json.loads(capsys.readouterr().out)["properties"] == {}


def test_sub_count_exits_after_n_messages(
    mosquitto: Mosquitto, start_sub: Callable[..., Background], capsys: Any
) -> None:
    topic = unique("cli/count")
    sub = start_sub(mosquitto, "-t", topic, "-q", "1", "-C", "3")
    assert pub(mosquitto, "-t", topic, "-q", "1", "--count", "10") == 0
    assert sub.join() == 0
    assert capsys.readouterr().out.splitlines() == ["1", "2", "3"]


def test_sub_timeout_exit_code_3(mosquitto: Mosquitto, capsys: Any) -> None:
    code = main(["sub", *broker_args(mosquitto), "-t", unique("cli/quiet"), "-C", "1", "-W", "0.3"])
    assert code == 3
    line = one_error_line(capsys.readouterr().err)
    assert line == "mqttclient sub: error: timed out after 0.3 s with 0 of 1 messages"


def test_sub_timeout_without_count_is_success(mosquitto: Mosquitto, capsys: Any) -> None:
    assert main(["sub", *broker_args(mosquitto), "-t", unique("cli/q"), "-W", "0.2"]) == 0
    assert capsys.readouterr() == ("", "")


def test_shared_topic_filters_and_several_topics(
    mosquitto: Mosquitto, start_sub: Callable[..., Background], capsys: Any
) -> None:
    base = unique("cli/multi")
    sub = start_sub(mosquitto, "-V", "5", "-t", f"{base}/a", "-t", f"$share/g/{base}/b", "-C", "2")
    assert pub(mosquitto, "-t", f"{base}/a", "-m", "A") == 0
    assert pub(mosquitto, "-t", f"{base}/b", "-m", "B") == 0
    assert sub.join() == 0
    assert sorted(capsys.readouterr().out.splitlines()) == ["A", "B"]


# --- errors and exit codes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["pub", "-t", "a"], "say what to publish"),
        (["pub", "-m", "x"], "the following arguments are required: -t/--topic"),
        (["pub", "-t", "a/#", "-m", "x"], "wildcards"),
        (["pub", "-t", "a", "-m", "x", "-q", "3"], "QoS must be 0, 1 or 2"),
        (["pub", "-t", "a", "-m", "x", "-f", "y"], "not allowed with argument"),
        (["pub", "-t", "a", "-n", "--count", "2"], "--count repeats the -m text"),
        (["pub", "-t", "a", "-m", "x", "-D", "k", "v"], "needs MQTT 5: add -V 5"),
        (["pub", "-t", "a", "-m", "x", "--content-type", "t"], "needs MQTT 5"),
        (["pub", "-t", "a", "-f", "/nonexistent/file"], "cannot read /nonexistent/file"),
        (["pub", "-t", "a", "-m", "x", "--cafile", "/nonexistent/ca"], "no such file"),
        (["pub", "-t", "a", "-m", "x", "--proxy", "ftp://h:1"], "unsupported scheme"),
        (["pub", "-t", "a", "-m", "x", "-V", "4"], "protocol version must be 31, 311 or 5"),
        (["pub", "-t", "a", "-m", "x", "-c"], "needs a client id"),
        (["pub", "-t", "a", "-m", "x", "--password-env", "MQTTCLIENT_TEST_UNSET"], "not set"),
        (["sub"], "required: -t/--topic"),
        (["sub", "-t", "a/#/b"], "topic filter"),
        (["sub", "-t", "a", "-v", "--json"], "not allowed with argument"),
        (["sub", "-t", "a", "-p", "70000"], "port out of range"),
        (["sub", "-t", "a", "--ws", "--unix", "/x"], "--unix cannot be combined"),
        (["sub", "-t", "a", "--will-qos", "1"], "need --will-topic"),
        (["frobnicate"], "invalid choice"),
        ([], "required: COMMAND"),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: list[str], message: str, capsys: Any) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    line = one_error_line(err)
    assert line.startswith("mqttclient")
    assert ": error: " in line
    assert message in line


def test_help_exits_0(capsys: Any) -> None:
    assert main(["pub", "--help"]) == 0
    out = capsys.readouterr().out
    assert "-h HOST, --host HOST" in out
    assert "exit status:" in out and "130" in out


def test_debug_logs_packets_to_stderr(mosquitto: Mosquitto, capsys: Any) -> None:
    assert pub(mosquitto, "-d", "-t", unique("cli/debug"), "-q", "1", "-m", "x") == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "Sending CONNECT" in err and "Received PUBACK" in err


def test_connection_refused_exit_1(capsys: Any) -> None:
    port = free_port()  # nothing listens there
    assert main(["pub", "-h", "127.0.0.1", "-p", str(port), "-t", "a", "-m", "x"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("mqttclient pub: error: cannot connect to 127.0.0.1")
    assert "refused" in line


def test_unix_socket_missing_exit_1(tmp_path: Path, capsys: Any) -> None:
    assert main(["sub", "--unix", str(tmp_path / "none.sock"), "-t", "a", "-W", "1"]) == 1
    assert "none.sock" in one_error_line(capsys.readouterr().err)


def test_no_connack_exit_1(capsys: Any) -> None:
    with FakeBroker() as broker:
        argv = ["pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "a", "-m", "x"]
        run = Background([*argv, "--connect-timeout", "0.5"])
        broker.expect(CONNECT)
        assert run.join() == 1
    assert "no CONNACK from the broker within 0.5 s" in one_error_line(capsys.readouterr().err)


def test_pub_timeout_when_broker_never_acknowledges(capsys: Any) -> None:
    with FakeBroker() as broker:
        argv = ["pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "a", "-m", "x"]
        run = Background([*argv, "-q", "1", "-W", "0.5"])
        broker.expect(CONNECT)
        broker.send(connack())
        broker.expect(PUBLISH)
        assert run.join() == 3
    line = one_error_line(capsys.readouterr().err)
    assert "the broker acknowledged nothing for 0.5 s" in line


def test_message_rejected_by_the_broker_exit_1(
    mosquitto_factory: Callable[..., Mosquitto], tmp_path: Path, capsys: Any
) -> None:
    acl = tmp_path / "acl"
    acl.write_text("topic readwrite open/#\n")
    broker = mosquitto_factory(listeners=[Listener("tcp", extra=[f"acl_file {acl}"])])
    assert pub(broker, "-V", "5", "-t", "open/x", "-q", "1", "-m", "x") == 0
    assert pub(broker, "-V", "5", "-t", "closed/x", "-q", "1", "-m", "x") == 1
    line = one_error_line(capsys.readouterr().err)
    assert line == "mqttclient pub: error: the broker rejected a message: Not authorized"


def test_subscription_refused_exit_1(capsys: Any) -> None:
    with FakeBroker() as broker:
        argv = ["sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "a/#", "-W", "10"]
        run = Background(argv)
        broker.expect(CONNECT)
        broker.send(connack())
        subscribe = broker.expect(SUBSCRIBE)
        packet_id = subscribe[2:4]  # after the 2-byte fixed header (short packet)
        broker.send(bytes([0x90, 0x03]) + packet_id + bytes([0x80]))  # SUBACK: Failure
        assert run.join() == 1
    line = one_error_line(capsys.readouterr().err)
    assert (
        line
        == "mqttclient sub: error: the broker refused the subscription to 'a/#': Unspecified error"
    )


# --- credentials ----------------------------------------------------------------------------------


@pytest.fixture
def auth_broker(mosquitto_factory: Callable[..., Mosquitto]) -> Mosquitto:
    return mosquitto_factory(listeners=[Listener("tcp", auth=True)], users={"alice": "s3cret"})


def test_password_from_default_env(
    auth_broker: Mosquitto, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("MQTTCLIENT_PASSWORD", "s3cret")
    assert pub(auth_broker, "-u", "alice", "-t", "a", "-m", "x") == 0
    assert capsys.readouterr().err == ""


def test_password_from_named_env(
    auth_broker: Mosquitto, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.delenv("MQTTCLIENT_PASSWORD", raising=False)
    monkeypatch.setenv("BROKER_PW", "s3cret")
    assert pub(auth_broker, "-u", "alice", "--password-env", "BROKER_PW", "-t", "a", "-m", "x") == 0


def test_wrong_password_exit_1_without_showing_it(
    auth_broker: Mosquitto, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("MQTTCLIENT_PASSWORD", "wrong-pass")
    assert pub(auth_broker, "-u", "alice", "-t", "a", "-m", "x") == 1
    err = capsys.readouterr().err
    line = one_error_line(err)
    assert "refused the connection" in line
    assert "wrong-pass" not in err


# --- TLS and transports ---------------------------------------------------------------------------


def test_tls_with_test_ca(
    mosquitto_factory: Callable[..., Mosquitto],
    certs: Certs,
    start_sub: Callable[..., Background],
    capsys: Any,
) -> None:
    broker = mosquitto_factory(listeners=[Listener("tls")])
    tls = ["--cafile", certs.ca]
    sub = start_sub(broker, *tls, "-t", "secure", "-C", "1", "-W", "15", listener="tls")
    assert pub(broker, *tls, "-t", "secure", "-q", "1", "-m", "over TLS", listener="tls") == 0
    assert sub.join() == 0
    assert capsys.readouterr().out == "over TLS\n"


def test_tls_client_certificate(
    mosquitto_factory: Callable[..., Mosquitto], certs: Certs, capsys: Any
) -> None:
    broker = mosquitto_factory(
        listeners=[Listener("tls", require_certificate=True, use_identity_as_username=True)]
    )
    tls = ["--cafile", certs.ca, "--cert", certs.client_cert, "--key", certs.client_key]
    assert pub(broker, *tls, "-t", "a", "-m", "x", listener="tls") == 0


def test_tls_untrusted_server_exit_1(
    mosquitto_factory: Callable[..., Mosquitto], certs: Certs, capsys: Any
) -> None:
    broker = mosquitto_factory(listeners=[Listener("tls")])
    # --tls alone trusts the default CA bundle, which does not know the test CA.
    assert pub(broker, "--tls", "-t", "a", "-m", "x", listener="tls") == 1
    assert "certificate" in one_error_line(capsys.readouterr().err).lower()


@pytest.mark.parametrize("transport", ["ws", "unix", "socks5"])
def test_other_transports(
    mosquitto_factory: Callable[..., Mosquitto],
    microsocks: Microsocks,
    start_sub: Callable[..., Background],
    capsys: Any,
    transport: str,
) -> None:
    broker = mosquitto_factory(listeners=[Listener("tcp"), Listener("ws"), Listener("unix")])
    how = {
        "ws": ["--ws", "-h", "127.0.0.1", "-p", str(broker.port("ws"))],
        "unix": ["--unix", broker.unix_path],
        "socks5": [
            *broker_args(broker),
            "--proxy",
            f"socks5://127.0.0.1:{microsocks.port}",
        ],
    }[transport]
    sub = start_sub(broker, "-t", "via", "-q", "1", "-C", "1", "-W", "15")
    assert main(["pub", *how, "-t", "via", "-q", "1", "-m", transport]) == 0
    assert sub.join() == 0
    assert capsys.readouterr().out == f"{transport}\n"


# --- subprocesses ---------------------------------------------------------------------------------


def module_command(*args: str) -> list[str]:
    """``python -m mqttclient ARGS``."""
    return [sys.executable, "-m", "mqttclient", *args]


def cli_command(*args: str) -> list[str]:
    # SIGINT may be ignored when the test run itself is a background job; restore Python's
    # handler so that the command sees Ctrl-C as a user would.
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from mqttclient.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    return [sys.executable, "-c", code, *args]


def test_subprocess_round_trip_binary_payload_via_stdin(mosquitto: Mosquitto) -> None:
    topic = unique("cli/proc")
    client_id = unique("sub")
    payload = bytes(range(256))
    sub_args = ["-i", client_id, "-t", topic, "-q", "2", "-C", "1", "-W", "20"]
    with subprocess.Popen(
        module_command("sub", *broker_args(mosquitto), *sub_args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    ) as sub:
        try:
            wait_for_log(mosquitto, f"Sending SUBACK to {client_id}")
            done = subprocess.run(
                module_command("pub", *broker_args(mosquitto), "-t", topic, "-q", "2", "-s"),
                input=payload,
                capture_output=True,
                timeout=SUBPROCESS_TIMEOUT_S,
                cwd=ROOT,
            )
            assert (done.returncode, done.stderr) == (0, b"")
            out, err = sub.communicate(timeout=SUBPROCESS_TIMEOUT_S)
        finally:
            if sub.poll() is None:
                sub.kill()
                sub.wait(5)
    assert (sub.returncode, err) == (0, b"")
    assert out == payload + b"\n"


def test_subprocess_usage_error_exit_2() -> None:
    done = subprocess.run(
        module_command("sub", "-t", "a", "-q", "x"),
        capture_output=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert done.stdout == b""
    assert one_error_line(done.stderr.decode()).startswith("mqttclient sub: error: argument -q")


def test_subprocess_interrupted_exit_130(mosquitto: Mosquitto) -> None:
    client_id = unique("sub")
    with subprocess.Popen(
        cli_command("sub", *broker_args(mosquitto), "-i", client_id, "-t", unique("cli/int")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    ) as sub:
        try:
            wait_for_log(mosquitto, f"Sending SUBACK to {client_id}")
            sub.send_signal(signal.SIGINT)
            _, err = sub.communicate(timeout=SUBPROCESS_TIMEOUT_S)
        finally:
            if sub.poll() is None:
                sub.kill()
                sub.wait(5)
    assert sub.returncode == 130
    assert b"Traceback" not in err
    # It disconnected cleanly: the broker logs a DISCONNECT, not a lost connection.
    wait_for_log(mosquitto, f"Received DISCONNECT from {client_id}")


def test_last_will_published_when_pub_is_killed(
    mosquitto: Mosquitto, start_sub: Callable[..., Background], capsys: Any
) -> None:
    topic = unique("cli/will")
    client_id = unique("pub")
    sub = start_sub(mosquitto, "-t", f"{topic}/status", "-q", "1", "-C", "1", "-W", "20")
    will = ["--will-topic", f"{topic}/status", "--will-payload", "gone", "--will-qos", "1"]
    with subprocess.Popen(
        cli_command("pub", *broker_args(mosquitto), "-i", client_id, *will, "-t", topic, "-l"),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    ) as publisher:
        try:
            wait_for_log(mosquitto, f"Sending CONNACK to {client_id}")
            publisher.kill()  # no DISCONNECT: the broker must publish the will
            publisher.wait(SUBPROCESS_TIMEOUT_S)
        finally:
            if publisher.poll() is None:
                publisher.kill()
                publisher.wait(5)
    assert sub.join() == 0
    assert capsys.readouterr().out == "gone\n"


# --- progress bar ---------------------------------------------------------------------------------


def test_progress_bar_draws_on_the_given_stream() -> None:
    stream = io.StringIO()
    progress = _cli_pub.Progress(4000, stream)
    progress.update(1000, force=True)
    progress.finish(4000)
    text = stream.getvalue()
    assert "\r[#######" in text and " 1000/4000  25%" in text
    assert text.endswith(" 4000/4000 100%\n")


def test_no_progress_bar_when_stdout_is_not_a_terminal(mosquitto: Mosquitto, capsys: Any) -> None:
    count = _cli_pub.PROGRESS_FROM + 1
    assert pub(mosquitto, "-t", unique("cli/bulk"), "-q", "1", "--count", str(count)) == 0
    assert capsys.readouterr() == ("", "")
