"""One-call subscribing, as paho-mqtt's ``subscribe`` module: ``callback()`` runs a function for
every message forever; ``simple()`` returns the first ``msg_count`` messages."""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

from mqttclient._helpers import make_client
from mqttclient.client import Client, connack_string
from mqttclient.enums import MQTTProtocolVersion
from mqttclient.errors import MQTTException
from mqttclient.message import MQTTMessage

__all__ = ["callback", "simple"]


def _on_connect(
    client: Client, userdata: dict[str, Any], flags: Any, reason_code: Any, properties: Any
) -> None:
    if reason_code != 0:
        raise MQTTException(connack_string(reason_code))
    # Subscribing here makes the subscriptions come back after every reconnect.
    topics = userdata["topics"]
    client.subscribe([(t, userdata["qos"]) for t in topics])


def _on_message_callback(client: Client, userdata: dict[str, Any], message: MQTTMessage) -> None:
    userdata["callback"](client, userdata["userdata"], message)


def _on_message_simple(client: Client, userdata: dict[str, Any], message: MQTTMessage) -> None:
    if userdata["msg_count"] == 0:
        return
    if message.retain and not userdata["retained"]:
        return
    userdata["msg_count"] -= 1
    if userdata["messages"] is None and userdata["msg_count"] == 0:
        userdata["messages"] = message
        client.disconnect()
        return
    userdata["messages"].append(message)
    if userdata["msg_count"] == 0:
        client.disconnect()


def _run(
    client: Client,
    on_message: Callable[[Client, Any, MQTTMessage], None],
    hostname: str,
    port: int,
    keepalive: int,
) -> None:
    """Subscribe on every connect and run the loop until the handler disconnects."""
    client.on_message = on_message
    client.on_connect = _on_connect
    client.connect(hostname, port, keepalive)
    client.loop_forever()


def callback(
    callback: Callable[[Client, Any, MQTTMessage], None],
    topics: Union[str, list[str]],
    qos: int = 0,
    userdata: Any = None,
    hostname: str = "localhost",
    port: int = 1883,
    client_id: str = "",
    keepalive: int = 60,
    will: Optional[dict[str, Any]] = None,
    auth: Optional[dict[str, Any]] = None,
    tls: Any = None,
    protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv311,
    transport: str = "tcp",
    clean_session: bool = True,
    proxy_args: Optional[dict[str, Any]] = None,
) -> None:
    """Subscribe to ``topics`` and call ``callback(client, userdata, message)`` for every
    message. Blocks forever (reconnecting as needed)."""
    if qos < 0 or qos > 2:
        raise ValueError("qos must be in the range 0-2")
    state = {
        "callback": callback,
        "topics": [topics] if isinstance(topics, str) else list(topics),
        "qos": qos,
        "userdata": userdata,
    }
    client = make_client(
        client_id,
        state,
        protocol,
        transport,
        clean_session=clean_session,
        auth=auth,
        will=will,
        tls=tls,
        proxy_args=proxy_args,
    )
    _run(client, _on_message_callback, hostname, port, keepalive)


def simple(
    topics: Union[str, list[str]],
    qos: int = 0,
    msg_count: int = 1,
    retained: bool = True,
    hostname: str = "localhost",
    port: int = 1883,
    client_id: str = "",
    keepalive: int = 60,
    will: Optional[dict[str, Any]] = None,
    auth: Optional[dict[str, Any]] = None,
    tls: Any = None,
    protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv311,
    transport: str = "tcp",
    clean_session: bool = True,
    proxy_args: Optional[dict[str, Any]] = None,
) -> Union[MQTTMessage, list[MQTTMessage]]:
    """Subscribe to ``topics`` and return the first ``msg_count`` messages (one message when
    ``msg_count`` is 1, else a list). ``retained=False`` skips retained messages."""
    if msg_count < 1:
        raise ValueError("msg_count must be > 0")
    state: dict[str, Any] = {
        "topics": [topics] if isinstance(topics, str) else list(topics),
        "qos": qos,
        "msg_count": msg_count,
        "retained": retained,
        "messages": None if msg_count == 1 else [],
    }
    if qos < 0 or qos > 2:
        raise ValueError("qos must be in the range 0-2")
    client = make_client(
        client_id,
        state,
        protocol,
        transport,
        clean_session=clean_session,
        auth=auth,
        will=will,
        tls=tls,
        proxy_args=proxy_args,
    )
    _run(client, _on_message_simple, hostname, port, keepalive)
    messages: Union[MQTTMessage, list[MQTTMessage]] = state["messages"]
    return messages
