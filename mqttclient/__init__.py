"""mqttclient: a fast, durable, complete MQTT 3.1 / 3.1.1 / 5.0 client, drop-in for paho-mqtt 2.x.

``import mqttclient.client as mqtt`` replaces ``import paho.mqtt.client as mqtt``.
This module holds the version and the re-exports only.
"""

from __future__ import annotations

import logging

from mqttclient._core.sqlitestore import SqliteStore
from mqttclient._core.store import MemoryStore
from mqttclient.auth import Authenticator, ScramSha256Authenticator
from mqttclient.errors import MQTTException

# A library logs; the application decides where it goes (nothing is printed unless configured).
logging.getLogger("mqttclient").addHandler(logging.NullHandler())

__version__ = "0.1.0"

__all__ = [
    "Authenticator",
    "MQTTException",
    "MemoryStore",
    "ScramSha256Authenticator",
    "SqliteStore",
    "__version__",
]
