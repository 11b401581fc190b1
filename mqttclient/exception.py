"""paho-mqtt 2.2's ``exception`` module: the root exception and the malformed-packet error."""

from __future__ import annotations

from mqttclient.errors import MalformedPacketError as MalformedPacket
from mqttclient.errors import MQTTException

__all__ = ["MQTTException", "MalformedPacket"]
