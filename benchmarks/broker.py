"""A private mosquitto for the benchmarks, and CPU accounting from ``/proc``.

Owns: writing a broker config sized so that the broker's own limits never bound a figure (no
in-flight limit, no queue limit, no logging), starting it on a free 127.0.0.1 port, stopping it
(SIGTERM, then SIGKILL after a bound), and reading a process's CPU seconds from
``/proc/<pid>/stat``. It must not know about clients or scenarios.

It does not reuse ``tests/brokers.py``: that helper imports pytest and runs mosquitto with
``-v`` (a log line per packet), which would make the broker the bottleneck of every figure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

__all__ = ["BenchBroker", "cpu_seconds", "free_port"]

HOST = "127.0.0.1"
_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 5.0
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# Limits are lifted so that the broker never throttles a client: 0 means "no maximum" for each of
# these in mosquitto 2.0 (mosquitto.conf(5)). The in-flight window towards each client is the
# exception, see INFLIGHT.
CONFIG_LIMITS = (
    "max_inflight_bytes 0",
    "max_queued_messages 0",
    "max_queued_bytes 0",
    "persistence false",
    "log_type none",
)


# The broker's in-flight window towards each client (QoS 1/2), the same as the clients' own
# (max_inflight_messages_set(1000)). Not unlimited: with no limit a receiver slower than the
# feeder gets tens of thousands of messages in flight, mosquitto then spends its time walking
# that list on every acknowledgement (measured: paho receiving QoS 2 at ~5k msg/s with the
# broker at 97 % CPU), and the figure would say more about the broker than about the client.
INFLIGHT = 1000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> Optional[float]:
    """User + system CPU seconds used so far by process ``pid`` (all its threads), or None when
    ``/proc`` cannot tell (not Linux, or the process is gone). Resolution: one clock tick."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces: fields are counted after its ")".
    fields = raw[raw.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect((HOST, port))
        except OSError:
            return False
        return True


class BenchBroker:
    """mosquitto on 127.0.0.1 with the limits above. A context manager; ``stop()`` is
    idempotent and bounded."""

    def __init__(self, executable: str = "mosquitto", inflight: int = INFLIGHT) -> None:
        self.executable = executable
        self.inflight = inflight
        self.port = 0
        self.directory = Path(tempfile.mkdtemp(prefix="mqttclient-bench-"))
        self._proc: Optional[subprocess.Popen[bytes]] = None

    @staticmethod
    def available(executable: str = "mosquitto") -> bool:
        return shutil.which(executable) is not None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("broker not started")
        return self._proc.pid

    def version(self) -> str:
        try:
            out = subprocess.run(
                [self.executable, "-h"], capture_output=True, timeout=10, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        first = out.decode(errors="replace").splitlines()[:1]
        return first[0].strip() if first else "unknown"

    def config_text(self) -> str:
        lines = [
            "per_listener_settings false",
            *CONFIG_LIMITS,
            f"max_inflight_messages {self.inflight}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            lines.append("user root")  # otherwise it drops to the `mosquitto` user
        lines += [f"listener {self.port} {HOST}", "allow_anonymous true"]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        last_error = ""
        for _ in range(3):  # the free port may be taken by someone else meanwhile
            self.port = free_port()
            config = self.directory / "mosquitto.conf"
            config.write_text(self.config_text())
            out = open(self.directory / "mosquitto.out", "ab")  # noqa: SIM115 - kept by Popen
            try:
                self._proc = subprocess.Popen(
                    [self.executable, "-c", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.directory,
                )
            finally:
                out.close()
            deadline = time.monotonic() + _START_TIMEOUT_S
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    break
                if _accepts(self.port):
                    return
                time.sleep(0.02)
            last_error = (self.directory / "mosquitto.out").read_text(errors="replace")
            self.stop()
        raise RuntimeError(f"mosquitto did not start:\n{last_error}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(_STOP_TIMEOUT_S)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> BenchBroker:
        try:
            self.start()
        except BaseException:
            self.close()  # __exit__ is not called when __enter__ raises
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
