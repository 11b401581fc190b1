"""Reading a CONNACK: refusal codes and the limits the server announced.

Owns: mapping a CONNACK's code to "accepted" or an MQTT 5 refusal reason (3.x return codes
converted as paho's ``convert_connack_rc_to_reason_code`` does); checking the 5.0 CONNACK
properties the codec cannot judge alone; the :class:`ServerLimits` value the façade reads; what
those limits forbid a PUBLISH or SUBSCRIBE to carry (``publish_refusal``,
``subscribe_refusal``).

Must not: hold connection state; pure functions and a frozen value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from mqttclient import _spec
from mqttclient._core.packets import _SLOTS, Connack, Props, Subscription
from mqttclient.errors import FeatureNotAvailableError, MalformedPacketError, RemoteProtocolError

__all__ = [
    "DEFAULT_LIMITS",
    "ServerLimits",
    "connack_refusal",
    "publish_refusal",
    "restricts_publish",
    "server_limits",
    "subscribe_refusal",
]

# MQTT 3.x CONNACK return codes (v3 §3.2.2.3) -> MQTT 5 CONNACK reason codes; others -> 0x80.
_V3_REFUSALS = {1: 0x84, 2: 0x85, 3: 0x88, 4: 0x86, 5: 0x87}


@dataclass(frozen=True, **_SLOTS)
class ServerLimits:
    """What the server's CONNACK allowed (MQTT 5.0 §3.2.2.3); the defaults mean "property
    absent" and are what applies under 3.x. The session enforces all of them: the in-flight
    window, the packet size, topic aliases, and (``publish_refusal``, ``subscribe_refusal``)
    Maximum QoS, Retain and the wildcard / subscription-id / shared availability flags."""

    receive_maximum: int = 65535
    maximum_packet_size: Optional[int] = None
    topic_alias_maximum: int = 0
    maximum_qos: int = 2
    retain_available: bool = True
    wildcard_subscription_available: bool = True
    subscription_identifiers_available: bool = True
    shared_subscription_available: bool = True
    server_keep_alive: Optional[int] = None
    session_expiry_interval: Optional[int] = None
    # Response Information (§3.2.2.3.15): a basis for Response Topics; only if requested.
    response_information: Optional[str] = None


DEFAULT_LIMITS = ServerLimits()


def connack_refusal(packet: Connack, version: int) -> int:
    """0 if ``packet`` accepts the connection, else the refusal in MQTT 5 numbering.

    A 3.1.1-shaped CONNACK in 5.0 mode (a 3.x-only server refusing level 5, rules §2.1) is read
    as a 3.x return code. Raises MalformedPacketError for such a CONNACK that claims success.
    """
    code = packet.reason_code
    if packet.v3_shaped or version != 5:
        if code == 0 and version == 5:
            raise MalformedPacketError("malformed packet: 3.1.1-shaped CONNACK 0 under MQTT 5.0")
        return _V3_REFUSALS.get(code, 0x80) if code else 0
    if code >= 0x80:
        return code
    return 0x80 if code else 0  # 0x01-0x7F are not CONNACK codes (v5 §3.2.2.2)


def server_limits(props: Props, auth_method: Optional[str]) -> ServerLimits:
    """The limits in a successful 5.0 CONNACK's ``props``.

    Raises RemoteProtocolError (0x82) for values the server must not send: Receive Maximum or
    Maximum Packet Size 0, Maximum QoS other than 0 or 1 (v5 §3.2.2.3.4), an Authentication
    Method the CONNECT did not carry [MQTT-4.12.0-6].
    """
    values: dict[int, Any] = {}
    for ident, value in props:
        values.setdefault(ident, value)
    get = values.get
    receive_maximum = get(_spec.RECEIVE_MAXIMUM, 65535)
    max_size = get(_spec.MAXIMUM_PACKET_SIZE)
    if receive_maximum == 0 or max_size == 0:
        raise RemoteProtocolError(
            "protocol error: CONNACK Receive Maximum or Maximum Packet Size 0"
        )
    maximum_qos = get(_spec.MAXIMUM_QOS, 2)
    if _spec.MAXIMUM_QOS in values and maximum_qos not in (0, 1):
        raise RemoteProtocolError(f"protocol error: CONNACK Maximum QoS {maximum_qos}")
    method = get(_spec.AUTHENTICATION_METHOD)
    if method is not None and method != auth_method:
        raise RemoteProtocolError("protocol error: CONNACK Authentication Method not requested")
    return ServerLimits(
        receive_maximum=receive_maximum,
        maximum_packet_size=max_size,
        topic_alias_maximum=get(_spec.TOPIC_ALIAS_MAXIMUM, 0),
        maximum_qos=maximum_qos,
        retain_available=bool(get(_spec.RETAIN_AVAILABLE, 1)),
        wildcard_subscription_available=bool(get(_spec.WILDCARD_SUBSCRIPTION_AVAILABLE, 1)),
        subscription_identifiers_available=bool(get(_spec.SUBSCRIPTION_IDENTIFIER_AVAILABLE, 1)),
        shared_subscription_available=bool(get(_spec.SHARED_SUBSCRIPTION_AVAILABLE, 1)),
        server_keep_alive=get(_spec.SERVER_KEEP_ALIVE),
        session_expiry_interval=get(_spec.SESSION_EXPIRY_INTERVAL),
        response_information=get(_spec.RESPONSE_INFORMATION),
    )


def restricts_publish(limits: ServerLimits) -> bool:
    """True when ``limits`` forbid some PUBLISH by QoS or RETAIN (``publish_refusal`` can
    refuse something): lets the session skip the check on the hot path otherwise."""
    return limits.maximum_qos < 2 or not limits.retain_available


def publish_refusal(
    limits: ServerLimits, qos: int, retain: bool
) -> Optional[FeatureNotAvailableError]:
    """Why ``limits`` forbid a PUBLISH with ``qos`` and ``retain`` (None: allowed):
    above Maximum QoS [MQTT-3.2.2-11] (the server would disconnect with 0x9B), or RETAIN 1
    with Retain Available 0 [MQTT-3.2.2-14] (0x9A)."""
    if qos > limits.maximum_qos:
        return FeatureNotAvailableError(
            f"the server's CONNACK Maximum QoS is {limits.maximum_qos}: a QoS {qos} PUBLISH "
            "is not allowed [MQTT-3.2.2-11]",
            "Maximum QoS",
            0x9B,
        )
    if retain and not limits.retain_available:
        return FeatureNotAvailableError(
            "the server's CONNACK says Retain Available 0: a retained PUBLISH is not allowed "
            "[MQTT-3.2.2-14]",
            "Retain Available",
            0x9A,
        )
    return None


def subscribe_refusal(
    limits: ServerLimits, subscriptions: tuple[Subscription, ...], props: Props
) -> Optional[FeatureNotAvailableError]:
    """Why ``limits`` forbid a SUBSCRIBE of ``subscriptions`` with ``props`` (None: allowed).
    The server would disconnect with 0xA1 for a Subscription Identifier when Subscription
    Identifiers Available is 0 (§3.2.2.3.12), 0x9E for a ``$share/`` filter when Shared
    Subscription Available is 0 (§3.2.2.3.13, §4.8.2) and 0xA2 for a ``+``/``#`` filter when
    Wildcard Subscription Available is 0 (§3.2.2.3.11). A QoS above Maximum QoS is allowed: the
    server grants less [MQTT-3.2.2-10]."""
    if not limits.subscription_identifiers_available:
        for ident, _ in props:
            if ident == _spec.SUBSCRIPTION_IDENTIFIER:
                return FeatureNotAvailableError(
                    "the server's CONNACK says Subscription Identifiers Available 0: a "
                    "SUBSCRIBE with a Subscription Identifier is not allowed (MQTT 5.0 "
                    "§3.2.2.3.12)",
                    "Subscription Identifiers Available",
                    0xA1,
                )
    shared_ok = limits.shared_subscription_available
    wildcards_ok = limits.wildcard_subscription_available
    if shared_ok and wildcards_ok:
        return None
    for sub in subscriptions:
        topic_filter = sub.topic_filter
        if not shared_ok and topic_filter.startswith("$share/"):
            return FeatureNotAvailableError(
                f"the server's CONNACK says Shared Subscription Available 0: {topic_filter!r} "
                "is not allowed (MQTT 5.0 §3.2.2.3.13)",
                "Shared Subscription Available",
                0x9E,
            )
        if not wildcards_ok and ("+" in topic_filter or "#" in topic_filter):
            return FeatureNotAvailableError(
                f"the server's CONNACK says Wildcard Subscription Available 0: {topic_filter!r} "
                "is not allowed (MQTT 5.0 §3.2.2.3.11)",
                "Wildcard Subscription Available",
                0xA2,
            )
    return None
