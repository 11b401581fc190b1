"""disconnect() on a connection whose socket is already dead gives up at once."""

from __future__ import annotations

import socket

import mqttclient.client as mqtt
from tests.integration.helpers import V2, wait_until


def test_disconnect_on_a_dead_socket_does_not_retry_the_send(mosquitto):
    """A send that fails while disconnect() flushes (the socket was shut down under the client)
    ends the flush: it used to retry in a busy loop until the 2 s drain timeout."""
    c = mqtt.Client(V2, protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", mosquitto.port())
    c.loop_start()
    wait_until(c.is_connected)
    c.loop_stop()
    transport = c._engine.transport
    sends = []
    real_send = transport.send

    def counting_send(data):
        sends.append(len(data))
        return real_send(data)

    transport.send = counting_send
    c.socket().shutdown(socket.SHUT_RDWR)
    assert c.disconnect() == mqtt.MQTT_ERR_SUCCESS
    assert len(sends) == 1, f"{len(sends)} sends on a dead socket"
    assert not c.is_connected()
