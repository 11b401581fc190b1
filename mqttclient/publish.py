"""One-call publishing, as paho-mqtt's ``publish`` module: ``single()`` and ``multiple()``.

Each call connects, publishes the messages one after the other (the next once the previous is
acknowledged), disconnects and returns. A refused connection raises ``MQTTException``.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from typing import Any, Optional, Union

from mqttclient._helpers import make_client
from mqttclient.client import Client, PayloadType, connack_string
from mqttclient.enums import MQTTProtocolVersion
from mqttclient.errors import MQTTException

__all__ = ["multiple", "single"]

MessageDict = dict[str, Any]
MessageTuple = tuple[Any, ...]
MessagesList = list[Union[MessageDict, MessageTuple]]


def _publish_next(client: Client) -> None:
    message = client.user_data_get().popleft()
    if isinstance(message, dict):
        client.publish(**message)
    elif isinstance(message, (tuple, list)):
        client.publish(*message)
    else:
        raise TypeError("message must be a dict, tuple, or list")


def _on_connect(
    client: Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
) -> None:
    if reason_code != 0:
        raise MQTTException(connack_string(reason_code))
    if userdata:
        _publish_next(client)
    else:
        client.disconnect()


def _on_publish(client: Client, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
    if userdata:
        _publish_next(client)
    else:
        client.disconnect()


def multiple(
    msgs: Iterable[Union[MessageDict, MessageTuple]],
    hostname: str = "localhost",
    port: int = 1883,
    client_id: str = "",
    keepalive: int = 60,
    will: Optional[MessageDict] = None,
    auth: Optional[dict[str, Any]] = None,
    tls: Any = None,
    protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv311,
    transport: str = "tcp",
    proxy_args: Optional[dict[str, Any]] = None,
) -> None:
    """Publish several messages, then disconnect. ``msgs`` holds dicts ``{"topic", "payload",
    "qos", "retain"}`` or tuples ``(topic, payload, qos, retain)``. Blocks until done."""
    if not isinstance(msgs, Iterable):
        raise TypeError("msgs must be an iterable")
    queue = collections.deque(msgs)
    if not queue:
        raise ValueError("msgs is empty")
    client = make_client(
        client_id, queue, protocol, transport, auth=auth, will=will, tls=tls, proxy_args=proxy_args
    )
    client.on_publish = _on_publish
    client.on_connect = _on_connect
    client.connect(hostname, port, keepalive)
    client.loop_forever()


def single(
    topic: str,
    payload: PayloadType = None,
    qos: int = 0,
    retain: bool = False,
    hostname: str = "localhost",
    port: int = 1883,
    client_id: str = "",
    keepalive: int = 60,
    will: Optional[MessageDict] = None,
    auth: Optional[dict[str, Any]] = None,
    tls: Any = None,
    protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv311,
    transport: str = "tcp",
    proxy_args: Optional[dict[str, Any]] = None,
) -> None:
    """Publish one message, then disconnect. Blocks until done."""
    msg: MessageDict = {"topic": topic, "payload": payload, "qos": qos, "retain": retain}
    multiple(
        [msg],
        hostname,
        port,
        client_id,
        keepalive,
        will,
        auth,
        tls,
        protocol,
        transport,
        proxy_args,
    )
