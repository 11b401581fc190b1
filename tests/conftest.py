"""Shared fixtures: real servers (mosquitto, microsocks, tinyproxy), test certificates and the
scripted fake broker.

Every process a fixture starts is stopped by it. When a test fails, the logs of the servers it
used are added to its report (section "<server> log").
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, TypeVar, Union

import pytest

from tests.brokers import SERVERS_KEY, Certs, Listener, Microsocks, Mosquitto, Tinyproxy, track
from tests.factories import closing_factory
from tests.fakebroker import FakeBroker
from tests.faultproxy import RecordingRelay
from tests.servers import SilentServer

_LOG_TAIL_LINES = 200


def _need(binary: str) -> None:
    if shutil.which(binary) is None:
        pytest.fail(f"{binary} is not installed: run the set-up command in README.rst (.ci/run)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.skipped and os.environ.get("CI") and not hasattr(report, "wasxfail"):
        # In CI every dependency is installed: a skipped test would hide a missing check.
        report.outcome = "failed"
        report.longrepr = f"skipped in CI: {report.longrepr}"
    if report.failed and report.when in ("setup", "call"):
        for server in item.stash.get(SERVERS_KEY, []):
            lines = server.log().splitlines()[-_LOG_TAIL_LINES:]
            report.sections.append(
                (f"{server.name} log ({server.directory})", "\n".join(lines) or "(empty)")
            )
    return report


# --- certificates -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """The test PKI (CA, server, client, expired, wrong-host, rogue certs) as PEM files."""
    return Certs(tmp_path_factory.mktemp("certs"))


# --- mosquitto ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _session_mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    _need("mosquitto")
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"), listeners=[Listener("tcp")])
    broker.start()
    yield broker
    broker.close()


@pytest.fixture
def mosquitto(request: pytest.FixtureRequest, _session_mosquitto: Mosquitto) -> Mosquitto:
    """A plain-TCP mosquitto shared by the whole session (``mosquitto.port()``).

    Do not stop or reconfigure it; use ``mosquitto_factory`` for that.
    """
    if not _session_mosquitto.running:
        _session_mosquitto.start()
    track(request, _session_mosquitto)
    return _session_mosquitto


MosquittoFactory = Callable[..., Mosquitto]


@pytest.fixture
def mosquitto_factory(
    request: pytest.FixtureRequest, tmp_path: Path, certs: Certs
) -> Iterator[MosquittoFactory]:
    """Make private brokers: ``mosquitto_factory(listeners=[Listener("tls")], users=...,
    extra_config=[...], start=True)``; all are stopped after the test."""
    _need("mosquitto")
    made: list[Mosquitto] = []

    def make(listeners: Any = None, *, start: bool = True, **kwargs: Any) -> Mosquitto:
        kwargs.setdefault("certs", certs)
        listeners = listeners if listeners is not None else [Listener("tcp")]
        broker = Mosquitto(tmp_path / f"mosquitto-{len(made)}", listeners=listeners, **kwargs)
        made.append(broker)
        track(request, broker)
        if start:
            broker.start()
        return broker

    yield make
    for broker in made:
        broker.close()


# Every kind of listener mosquitto has, with the certificate variants the TLS tests need.
EVERY_LISTENER = (
    Listener("tcp"),
    Listener("ws"),
    Listener("tls"),
    Listener("wss"),
    Listener("unix"),
    Listener("tls", name="mtls", require_certificate=True, use_identity_as_username=True),
    Listener("tls", name="expired", server_cert="expired"),
    Listener("tls", name="wrong_host", server_cert="wrong_host"),
    Listener("tls", name="tls13", tls_version="tlsv1.3"),
)


@pytest.fixture(scope="module")
def _module_every_listener_broker(
    tmp_path_factory: pytest.TempPathFactory, certs: Certs
) -> Iterator[Mosquitto]:
    _need("mosquitto")
    broker = Mosquitto(tmp_path_factory.mktemp("every-listener"), EVERY_LISTENER, certs=certs)
    broker.start()
    yield broker
    broker.close()


@pytest.fixture
def every_listener_broker(
    request: pytest.FixtureRequest, _module_every_listener_broker: Mosquitto
) -> Mosquitto:
    """One mosquitto with every listener of ``EVERY_LISTENER`` (``port("tls")``,
    ``port("mtls")``, ``port("expired")``, ...), shared by the test module: do not reconfigure
    it; one a test stopped is started again for the next test."""
    broker = _module_every_listener_broker
    if not broker.running:
        broker.start()
    track(request, broker)
    return broker


# --- proxies and small servers ------------------------------------------------------------------

Server = TypeVar("Server", bound=Union[Microsocks, Tinyproxy])


def _started_servers(
    request: pytest.FixtureRequest, tmp_path: Path, kind: type[Server], prefix: str
) -> Iterator[Callable[..., Server]]:
    """``make(...)``: ``kind(tmp_path / "<prefix>-N", ...)``, shown in the report of a failing
    test, started; all closed after the test."""
    numbers = itertools.count()

    def build(*args: Any, **kwargs: Any) -> Server:
        server = kind(tmp_path / f"{prefix}-{next(numbers)}", *args, **kwargs)
        track(request, server)
        return server

    yield from closing_factory(build, start=lambda server: server.start())


@pytest.fixture
def microsocks_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., Microsocks]]:
    """Start SOCKS5 proxies: ``microsocks_factory(username=None, password=None)``."""
    _need("microsocks")
    yield from _started_servers(request, tmp_path, Microsocks, "microsocks")


@pytest.fixture
def microsocks(microsocks_factory: Callable[..., Microsocks]) -> Microsocks:
    """A SOCKS5 proxy without authentication (``microsocks.port``)."""
    return microsocks_factory()


@pytest.fixture
def tinyproxy_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., Tinyproxy]]:
    """Start HTTP CONNECT proxies: ``tinyproxy_factory(connect_ports=[...])`` (empty: all)."""
    _need("tinyproxy")
    yield from _started_servers(request, tmp_path, Tinyproxy, "tinyproxy")


@pytest.fixture
def tinyproxy(tinyproxy_factory: Callable[..., Tinyproxy]) -> Tinyproxy:
    """An HTTP CONNECT proxy that allows every port (``tinyproxy.port``)."""
    return tinyproxy_factory()


@pytest.fixture
def relay_factory() -> Iterator[Callable[[int], RecordingRelay]]:
    """``relay_factory(port)``: a :class:`RecordingRelay` to 127.0.0.1:``port``; all closed after
    the test."""
    yield from closing_factory(lambda port: RecordingRelay(("127.0.0.1", port)))


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    """A TCP listener that accepts (in the kernel backlog) and never answers (``.port``)."""
    server = SilentServer()
    yield server
    server.close()


# --- fake broker --------------------------------------------------------------------------------


@pytest.fixture
def fake_broker() -> Iterator[FakeBroker]:
    """A scripted fake broker on 127.0.0.1 (``fake_broker.port``), closed after the test."""
    with FakeBroker() as broker:
        yield broker
