"""Plain-text credentials: a warning by default, a refusal in strict mode (issue 8)."""

from __future__ import annotations

import logging
import uuid

import pytest

import mqttclient.client as mqtt
from mqttclient.errors import ConnectionFailedError
from tests.integration.helpers import V2, Recorder, running, wait_until


def new_client() -> mqtt.Client:
    return mqtt.Client(V2, client_id=f"cred-{uuid.uuid4().hex[:6]}")


def test_strict_mode_refuses_credentials_without_tls(mosquitto):
    client = new_client()
    client.username_pw_set("user", "pw")
    client.require_tls_for_credentials()
    with pytest.raises(ConnectionFailedError, match="without TLS"):
        client.connect("127.0.0.1", mosquitto.port())
    assert client.socket() is None  # nothing was sent


def test_strict_mode_fails_each_loop_attempt_with_on_connect_fail(mosquitto):
    client = new_client()
    client.username_pw_set("user", "pw")
    client.require_tls_for_credentials()
    client.reconnect_delay_set(0.05, 0.1)
    rec = Recorder()
    rec.attach(client, "on_connect_fail", "on_connect")
    client.connect_async("127.0.0.1", mosquitto.port())
    client.loop_start()
    try:
        wait_until(lambda: rec.count("on_connect_fail") >= 2)
    finally:
        client.disconnect()
        client.loop_stop()
    assert rec.count("on_connect") == 0


def test_strict_mode_allows_connections_without_credentials(mosquitto):
    client = new_client()
    client.require_tls_for_credentials()
    with running(client, mosquitto.port()):
        assert client.is_connected()


def test_plaintext_credentials_to_a_remote_host_warn(caplog, monkeypatch):
    """Checked when a connection is prepared, before anything is sent (no network needed)."""
    monkeypatch.delenv("mqtt_proxy", raising=False)
    client = new_client()
    client.username_pw_set("user", "s3cret")
    client.connect_async("broker.example", 1883)
    caplog.set_level(logging.WARNING, logger="mqttclient.client")
    client._prepare_connect()
    warnings = [r.getMessage() for r in caplog.records if "without TLS" in r.getMessage()]
    assert len(warnings) == 1 and "broker.example" in warnings[0]
    assert "s3cret" not in warnings[0]


def test_plaintext_credentials_to_localhost_do_not_warn(mosquitto, caplog):
    client = new_client()
    client.username_pw_set("user", "pw")
    caplog.set_level(logging.WARNING, logger="mqttclient.client")
    with running(client, mosquitto.port()):
        pass
    assert not [r for r in caplog.records if "without TLS" in r.getMessage()]
