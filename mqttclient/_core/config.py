"""The values that configure a session and name its lifecycle states.

Owns: :class:`SessionConfig` (what the session needs to connect; built by the façade, changed by
the engine between connections) and :class:`SessionState`. ``mqttclient._core.session``
re-exports both; import them from there.

Must not: hold behaviour; plain values only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from mqttclient._core.packets import Props, Will
from mqttclient.auth import Authenticator

__all__ = [
    "DROP_OLDEST",
    "FIRST_ONLY",
    "QUEUE_FULL_POLICIES",
    "OPEN_STATES",
    "REFUSE",
    "SessionConfig",
    "SessionState",
]

#: paho's MQTT_CLEAN_START_FIRST_ONLY: clean start only until the first successful CONNACK.
FIRST_ONLY = 3


@dataclass
class SessionConfig:
    """What the session needs to know to connect. The façade builds it; fields may be changed
    between connections (never during one) by the engine, e.g. ``protocol_version`` on the 3.1.1
    → 3.1 downgrade. The session itself stores an Assigned Client Identifier into ``client_id``.
    """

    client_id: str = ""
    protocol_version: int = 4
    # 3.x: the Clean Session flag used on every connect (truthiness). 5.0: True, False or 3
    # (FIRST_ONLY: clean only until the first successful CONNACK since reset_first_connect()).
    clean_start: Any = True
    keepalive_s: int = 60
    username: Optional[str] = None
    password: Optional[bytes] = None
    will: Optional[Will] = None
    connect_properties: Props = ()
    bridge: bool = False
    # 0 = unlimited. The window is the lower of this and (5.0) the server's Receive Maximum.
    max_inflight: int = 20
    # How long to wait for CONNACK after CONNECT before giving up; <= 0 waits forever.
    connack_timeout_s: float = 30.0
    # Offline bounds, checked when publish() accepts a message: how many messages may be held
    # (QoS 1/2 queued or in flight, and QoS 0 queued while offline) and the sum of their payload
    # sizes; 0 = no bound. When full, ``queue_full_policy`` REFUSE raises
    # QueueFullError; DROP_OLDEST drops the oldest messages never sent to make room.
    max_queued_messages: int = 0
    max_queued_bytes: int = 0
    queue_full_policy: str = "refuse"
    # Queue QoS 0 messages published while no connection is open, instead of dropping them.
    queue_qos0_offline: bool = False
    # After a CONNACK with Session Present 0, subscribe again to every subscription made.
    resubscribe: bool = False
    # (5.0) Enhanced authentication (§4.12): its method and initial data go into CONNECT and it
    # answers the server's AUTH challenges (mqttclient.auth); None: no authenticator.
    authenticator: Optional[Authenticator] = None
    # (5.0) Automatic outgoing topic aliases: at most this many per connection, and never more
    # than the server's Topic Alias Maximum; 0 = off (aliases only as the user sets them).
    topic_alias_auto: int = 0
    # (5.0) Refuse incoming PUBLISHes whose Payload Format Indicator is 1 but whose payload is
    # not UTF-8 (PUBACK/PUBREC 0x99, not delivered); off = paho's pass-through.
    validate_payload_format: bool = False


#: ``SessionConfig.queue_full_policy`` values.
REFUSE = "refuse"
DROP_OLDEST = "drop_oldest"
QUEUE_FULL_POLICIES = (REFUSE, DROP_OLDEST)


class SessionState:
    """Lifecycle of the current connection as the session sees it."""

    DISCONNECTED = 0  # no connection
    CONNECTING = 1  # CONNECT queued, waiting for CONNACK
    CONNECTED = 2  # CONNACK 0 received
    DISCONNECTING = 3  # our DISCONNECT queued; nothing more may be queued
    CLOSING = 4  # a protocol error, refusal or timeout: flush and close, read nothing more


#: The states in which a connection is open and packets may be queued on it.
OPEN_STATES = (SessionState.CONNECTING, SessionState.CONNECTED)
