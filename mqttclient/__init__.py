"""mqttclient: a fast, durable, complete MQTT 3.1 / 3.1.1 / 5.0 client, drop-in for paho-mqtt 2.x.

``import mqttclient.client as mqtt`` replaces ``import paho.mqtt.client as mqtt``.
This module holds the version and the re-exports only.
"""

from __future__ import annotations

from mqttclient.errors import MQTTException

__version__ = "0.1.0"

__all__ = ["MQTTException", "__version__"]
