"""Real servers for integration tests: mosquitto, microsocks, tinyproxy, and test certificates.

Every server runs on 127.0.0.1 (or a Unix socket) on free ports, in a private temporary
directory, with its log kept there. ``start()`` waits (bounded) until every listener accepts;
``stop()`` sends SIGTERM and SIGKILLs after a bound. All helpers are context managers.
Certificates are generated at test time with ``trustme``/``cryptography`` and never committed.
"""

from __future__ import annotations

import datetime
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest

__all__ = [
    "SERVERS_KEY",
    "track",
    "Certs",
    "Listener",
    "Microsocks",
    "Mosquitto",
    "ServerProcess",
    "Tinyproxy",
    "free_port",
    "wait_for_port",
]

START_TIMEOUT_S = 10.0
_START_ATTEMPTS = 4
STOP_TIMEOUT_S = 5.0
HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _accepts(address: tuple[str, int] | str) -> bool:
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(address)
        except OSError:
            return False
        return True


def wait_for_port(address: tuple[str, int] | str, timeout_s: float = START_TIMEOUT_S) -> None:
    """Wait until ``address`` (``(host, port)`` or a Unix socket path) accepts connections."""
    deadline = time.monotonic() + timeout_s
    while not _accepts(address):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{address} did not accept connections within {timeout_s} s")
        time.sleep(0.02)


#: Where :func:`track` lists the servers a test uses (read by the report hook in conftest.py).
SERVERS_KEY = pytest.StashKey[list]()


def track(request: Any, server: ServerProcess) -> None:
    """Show ``server``'s log in the report if the test behind ``request`` fails."""
    request.node.stash.setdefault(SERVERS_KEY, []).append(server)


# --- certificates -------------------------------------------------------------------------------


class Certs:
    """A test PKI written as PEM files into ``directory``.

    - ``ca``: the test CA; ``server_cert``/``server_key``: for ``localhost``, ``127.0.0.1``,
      ``::1``; ``client_cert``/``client_key``: CN ``client-1``; ``client_key_encrypted``: the same
      key encrypted with :attr:`KEY_PASSWORD`.
    - ``expired_cert``/``expired_key``: ``localhost`` but expired a year ago.
    - ``wrong_host_cert``/``wrong_host_key``: valid only for ``wrong.example``, ``other.example``.
    - ``other_ca`` and ``rogue_client_cert``/``rogue_client_key``: a second CA the broker does not
      trust, and a client certificate it signed.
    """

    KEY_PASSWORD = "s3cret-pass"
    CLIENT_CN = "client-1"

    def __init__(self, directory: Path) -> None:
        import trustme
        from cryptography.hazmat.primitives import serialization

        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA()
        other_ca = trustme.CA()
        now = datetime.datetime.now(datetime.timezone.utc)
        self.ca = self._write("ca.pem", ca.cert_pem.bytes())
        self.other_ca = self._write("other-ca.pem", other_ca.cert_pem.bytes())
        self.server_cert, self.server_key = self._leaf(
            "server", ca.issue_cert("localhost", "127.0.0.1", "::1")
        )
        self.client_cert, self.client_key = self._leaf(
            "client", ca.issue_cert("client-1.example", common_name=self.CLIENT_CN)
        )
        self.expired_cert, self.expired_key = self._leaf(
            "expired",
            ca.issue_cert(
                "localhost",
                "127.0.0.1",
                not_before=now - datetime.timedelta(days=730),
                not_after=now - datetime.timedelta(days=365),
            ),
        )
        self.wrong_host_cert, self.wrong_host_key = self._leaf(
            "wrong-host", ca.issue_cert("wrong.example", "other.example")
        )
        self.rogue_client_cert, self.rogue_client_key = self._leaf(
            "rogue-client", other_ca.issue_cert("rogue.example", common_name="rogue")
        )
        key = serialization.load_pem_private_key(Path(self.client_key).read_bytes(), password=None)
        encrypted = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self.KEY_PASSWORD.encode()),
        )
        self.client_key_encrypted = self._write("client-encrypted.key", encrypted)

    def _write(self, name: str, data: bytes) -> str:
        path = self.directory / name
        path.write_bytes(data)
        return str(path)

    def _leaf(self, name: str, leaf: object) -> tuple[str, str]:
        cert = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)  # type: ignore[attr-defined]
        key = leaf.private_key_pem.bytes()  # type: ignore[attr-defined]
        return self._write(f"{name}.pem", cert), self._write(f"{name}.key", key)


class _ExitedOnStart(RuntimeError):
    """The server process ended before all its listeners accepted."""


# --- processes ----------------------------------------------------------------------------------


class ServerProcess:
    """A server process with a private directory, a log file and bounded start/stop."""

    name = "server"

    def __init__(self, directory: Optional[Path] = None) -> None:
        self._own_dir = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix=f"{self.name}-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.output_path = self.directory / f"{self.name}.out"
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._started_once = False

    # subclasses ----------------------------------------------------------------------------------
    def command(self) -> list[str]:
        raise NotImplementedError

    def addresses(self) -> list[tuple[str, int] | str]:
        """What must accept connections before the server counts as started."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Write config files before each start."""

    # lifecycle -----------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc else None

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start and wait until every address accepts. The first start retries with new ports
        if the server exits (another process may have taken a port picked as free)."""
        if self.running:
            return
        attempts = 1 if self._started_once else _START_ATTEMPTS
        for attempt in range(attempts):
            if attempt:
                self.reassign_ports()
            try:
                self._start_once(timeout_s)
            except _ExitedOnStart:
                if attempt + 1 == attempts:
                    raise
                continue
            self._started_once = True
            return

    def reassign_ports(self) -> None:
        """Pick new free ports (only before the first successful start)."""

    def _start_once(self, timeout_s: float) -> None:
        self.prepare()
        with open(self.output_path, "ab") as out:
            proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
            )
        self._proc = proc
        deadline = time.monotonic() + timeout_s
        pending = list(self.addresses())
        while True:
            if proc.poll() is not None:
                self._proc = None
                raise _ExitedOnStart(
                    f"{self.name} exited with {proc.returncode} on start:\n{self.log()}"
                )
            if not pending:
                return
            if _accepts(pending[0]):
                pending.pop(0)
                # a port may answer for another process: check ours is alive once more
                time.sleep(0.01 if not pending else 0)
                continue
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(
                    f"{self.name}: {pending[0]} not accepting after {timeout_s} s:\n{self.log()}"
                )
            time.sleep(0.02)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)

    def restart(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Stop and start again on the same ports and with the same files."""
        self.stop()
        self.start(timeout_s)

    def log(self) -> str:
        """Everything the server wrote (its output and its log file, if separate)."""
        parts = []
        for path in self.log_files():
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "".join(parts)

    def log_files(self) -> list[Path]:
        return [self.output_path]

    def close(self) -> None:
        """Stop, and remove the directory if this helper created it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass
class Listener:
    """One mosquitto listener.

    ``kind``: ``"tcp"``, ``"ws"``, ``"tls"``, ``"wss"`` or ``"unix"``. ``name`` (default: the kind)
    looks it up in :meth:`Mosquitto.port`. ``server_cert``: ``"server"``, ``"expired"`` or
    ``"wrong_host"``. ``auth``: require a user from the broker's password file. ``extra``: more
    config lines for this listener.
    """

    kind: str
    name: str = ""
    require_certificate: bool = False
    use_identity_as_username: bool = False
    server_cert: str = "server"
    tls_version: Optional[str] = None
    auth: bool = False
    extra: Sequence[str] = ()
    port: int = 0
    path: str = ""
    auto_port: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("tcp", "ws", "tls", "wss", "unix"):
            raise ValueError(f"unknown listener kind {self.kind!r}")
        self.name = self.name or self.kind

    @property
    def tls(self) -> bool:
        return self.kind in ("tls", "wss")


class Mosquitto(ServerProcess):
    """A private mosquitto broker.

    >>> with Mosquitto(listeners=[Listener("tcp"), Listener("tls")], certs=certs) as broker:
    ...     broker.port("tls")

    ``users`` makes a password file (``mosquitto_passwd -b``) used by listeners with ``auth``;
    ``extra_config`` lines go to the top of the config (e.g. ``max_inflight_messages 5``).
    ``persistence`` keeps sessions and messages in ``persistence_dir`` (saved every second and
    on SIGTERM), so they survive :meth:`restart`, which reuses the same ports.
    """

    name = "mosquitto"

    def __init__(
        self,
        directory: Optional[Path] = None,
        listeners: Iterable[Listener] = (),
        certs: Optional[Certs] = None,
        users: Optional[dict[str, str]] = None,
        extra_config: Sequence[str] = (),
        persistence: bool = False,
    ) -> None:
        super().__init__(directory)
        self.persistence = persistence
        self.persistence_dir = self.directory / "persist"
        self.listeners = list(listeners) or [Listener("tcp")]
        names = [listener.name for listener in self.listeners]
        if len(set(names)) != len(names):
            raise ValueError(f"listener names must be unique: {names}")
        self.certs = certs
        self.users = dict(users or {})
        self.extra_config = list(extra_config)
        self.config_path = self.directory / "mosquitto.conf"
        self.log_path = self.directory / "mosquitto.log"
        self.password_path = self.directory / "passwd"
        self._socket_dir: Optional[str] = None
        for listener in self.listeners:
            if listener.kind == "unix" and not listener.path:
                listener.path = self._unix_path(listener.name)
            elif listener.kind != "unix" and not listener.port:
                listener.port = free_port()
                listener.auto_port = True

    def reassign_ports(self) -> None:
        for listener in self.listeners:
            if listener.kind != "unix" and listener.auto_port:
                listener.port = free_port()

    def _unix_path(self, name: str) -> str:
        path = str(self.directory / f"{name}.sock")
        if len(path) < 100:
            return path
        # AF_UNIX paths are limited to ~107 bytes; pytest temp dirs can be longer.
        if self._socket_dir is None:
            self._socket_dir = tempfile.mkdtemp(prefix="mq-", dir="/tmp")
        return os.path.join(self._socket_dir, f"{name}.sock")

    def listener(self, name: str = "tcp") -> Listener:
        for listener in self.listeners:
            if listener.name == name:
                return listener
        raise KeyError(f"no listener named {name!r}; have {[x.name for x in self.listeners]}")

    def port(self, name: str = "tcp") -> int:
        return self.listener(name).port

    @property
    def unix_path(self) -> str:
        return next(x.path for x in self.listeners if x.kind == "unix")

    def addresses(self) -> list[tuple[str, int] | str]:
        return [x.path if x.kind == "unix" else (HOST, x.port) for x in self.listeners]

    def command(self) -> list[str]:
        return ["mosquitto", "-c", str(self.config_path), "-v"]

    def log_files(self) -> list[Path]:
        return [self.output_path, self.log_path]

    def prepare(self) -> None:
        if self.users:
            self.password_path.unlink(missing_ok=True)
            for index, (user, password) in enumerate(self.users.items()):
                args = ["mosquitto_passwd", "-b"] + (["-c"] if index == 0 else [])
                subprocess.run(
                    [*args, str(self.password_path), user, password],
                    check=True,
                    capture_output=True,
                    timeout=10,
                )
        self.config_path.write_text(self.config_text())

    def config_text(self) -> str:
        lines = [
            "per_listener_settings true",
            f"log_dest file {self.log_path}",
            "log_type all",
            "connection_messages true",
            "log_timestamp true",
        ]
        if os.geteuid() == 0:
            # mosquitto drops root privileges to the `mosquitto` user unless told to stay.
            lines.append("user root")
        if self.persistence:
            self.persistence_dir.mkdir(exist_ok=True)
            lines += [
                "persistence true",
                f"persistence_location {self.persistence_dir}/",
                "autosave_interval 1",
            ]
        lines += self.extra_config
        for listener in self.listeners:
            lines += ["", *self._listener_lines(listener)]
        if all(listener.kind in ("ws", "wss") for listener in self.listeners):
            # mosquitto 2.0.11 exits ("Unable to start any listening sockets") when every
            # listener is a WebSocket one; a Unix socket listener nobody uses avoids that.
            lines += ["", f"listener 0 {self._unix_path('unused')}", "allow_anonymous false"]
        return "\n".join(lines) + "\n"

    def _listener_lines(self, listener: Listener) -> list[str]:
        if listener.kind == "unix":
            lines = [f"listener 0 {listener.path}"]
        else:
            lines = [f"listener {listener.port} {HOST}"]
        if listener.kind in ("ws", "wss"):
            lines.append("protocol websockets")
        if listener.tls:
            if self.certs is None:
                raise ValueError(f"listener {listener.name!r} needs certs")
            cert, key = {
                "server": (self.certs.server_cert, self.certs.server_key),
                "expired": (self.certs.expired_cert, self.certs.expired_key),
                "wrong_host": (self.certs.wrong_host_cert, self.certs.wrong_host_key),
            }[listener.server_cert]
            lines += [f"cafile {self.certs.ca}", f"certfile {cert}", f"keyfile {key}"]
            if listener.require_certificate:
                lines.append("require_certificate true")
            if listener.use_identity_as_username:
                lines.append("use_identity_as_username true")
            if listener.tls_version:
                lines.append(f"tls_version {listener.tls_version}")
        if listener.auth:
            if not self.users:
                raise ValueError(f"listener {listener.name!r} has auth but no users were given")
            lines += ["allow_anonymous false", f"password_file {self.password_path}"]
        else:
            lines.append("allow_anonymous true")
        return lines + list(listener.extra)

    def close(self) -> None:
        super().close()
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)

    def __enter__(self) -> Mosquitto:
        self.start()
        return self


class Microsocks(ServerProcess):
    """microsocks SOCKS5 proxy on 127.0.0.1, optionally with username/password."""

    name = "microsocks"

    def __init__(
        self,
        directory: Optional[Path] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
    ) -> None:
        super().__init__(directory)
        self.username = username
        self.password = password
        self.port = free_port()

    def reassign_ports(self) -> None:
        self.port = free_port()

    def command(self) -> list[str]:
        cmd = ["microsocks", "-i", HOST, "-p", str(self.port)]
        if self.username is not None:
            cmd += ["-u", self.username, "-P", self.password or ""]
        return cmd

    def addresses(self) -> list[tuple[str, int] | str]:
        return [(HOST, self.port)]

    def __enter__(self) -> Microsocks:
        self.start()
        return self


class Tinyproxy(ServerProcess):
    """tinyproxy HTTP proxy on 127.0.0.1 in the foreground; CONNECT allowed to ``connect_ports``
    (all ports when empty)."""

    name = "tinyproxy"

    def __init__(self, directory: Optional[Path] = None, connect_ports: Iterable[int] = ()) -> None:
        super().__init__(directory)
        self.connect_ports = list(connect_ports)
        self.port = free_port()
        self.config_path = self.directory / "tinyproxy.conf"
        self.log_path = self.directory / "tinyproxy.log"

    def reassign_ports(self) -> None:
        self.port = free_port()

    def prepare(self) -> None:
        lines = [
            f"Port {self.port}",
            f"Listen {HOST}",
            f"Allow {HOST}",
            "Timeout 60",
            "MaxClients 50",
            "LogLevel Info",
            f'LogFile "{self.log_path}"',
        ]
        if os.geteuid() == 0:
            lines += ["User root", "Group root"]
        lines += [f"ConnectPort {port}" for port in self.connect_ports]
        self.config_path.write_text("\n".join(lines) + "\n")

    def command(self) -> list[str]:
        return ["tinyproxy", "-d", "-c", str(self.config_path)]

    def addresses(self) -> list[tuple[str, int] | str]:
        return [(HOST, self.port)]

    def log_files(self) -> list[Path]:
        return [self.output_path, self.log_path]

    def __enter__(self) -> Tinyproxy:
        self.start()
        return self
