"""Session: local checks of what a 5.0 CONNACK says the server does not support (§3.2.2.3).

Maximum QoS [MQTT-3.2.2-11], Retain Available [MQTT-3.2.2-14], Wildcard Subscription Available
(§3.2.2.3.11), Subscription Identifiers Available (§3.2.2.3.12) and Shared Subscription
Available (§3.2.2.3.13): a PUBLISH or SUBSCRIBE they forbid fails locally with
FeatureNotAvailableError instead of getting the client disconnected (0x9B, 0x9A, 0xA2, 0xA1,
0x9E); subscribing above Maximum QoS stays legal [MQTT-3.2.2-10]. Messages accepted before the
limits were known are checked when the CONNACK arrives.
"""

from __future__ import annotations

from typing import Any

import pytest

from mqttclient import _spec
from mqttclient._core.events import ConnectionAccepted, PublishCompleted
from mqttclient._core.limits import ServerLimits, publish_refusal, subscribe_refusal
from mqttclient._core.packets import (
    Props,
    Puback,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
)
from mqttclient._core.session import SessionState
from mqttclient.errors import FeatureNotAvailableError

from ._session_harness import Harness

MAX_QOS = _spec.MAXIMUM_QOS
RETAIN = _spec.RETAIN_AVAILABLE
WILDCARD = _spec.WILDCARD_SUBSCRIPTION_AVAILABLE
SUB_IDS = _spec.SUBSCRIPTION_IDENTIFIER_AVAILABLE
SHARED = _spec.SHARED_SUBSCRIPTION_AVAILABLE


def connected(*props: tuple[int, Any], **config: Any) -> Harness:
    h = Harness(5, **config)
    h.connect(properties=tuple(props))
    return h


def sent(h: Harness) -> list[Any]:
    return h.take()


# --- Maximum QoS --------------------------------------------------------------------------------


@pytest.mark.parametrize(("maximum", "refused"), [(0, (1, 2)), (1, (2,))])
def test_publish_above_maximum_qos_fails_locally(maximum: int, refused: tuple[int, ...]) -> None:
    """[MQTT-3.2.2-11]: never publish above the server's Maximum QoS (it would send 0x9B)."""
    h = connected((MAX_QOS, maximum))
    for qos in refused:
        with pytest.raises(FeatureNotAvailableError) as info:
            h.publish("t", qos=qos)
        assert info.value.property_name == "Maximum QoS"
        assert info.value.reason_code == 0x9B
        assert "[MQTT-3.2.2-11]" in str(info.value)
    assert sent(h) == []
    assert h.session.unfinished_count() == 0
    mid = h.publish("t", qos=maximum)  # at the maximum: fine, and no mid was consumed
    assert mid == 1
    assert [type(p) for p in sent(h)] == [Publish]


def test_subscribe_above_maximum_qos_is_allowed() -> None:
    """[MQTT-3.2.2-10]: the server grants less; the SUBSCRIBE stays legal."""
    h = connected((MAX_QOS, 0))
    h.session.subscribe((Subscription("a", 2),), (), 0.0)
    assert [type(p) for p in sent(h)] == [Subscribe]


# --- Retain Available ------------------------------------------------------------------------------


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_retained_publish_fails_locally_when_retain_unavailable(qos: int) -> None:
    """[MQTT-3.2.2-14]: no RETAIN 1 with Retain Available 0 (the server would send 0x9A)."""
    h = connected((RETAIN, 0))
    with pytest.raises(FeatureNotAvailableError) as info:
        h.publish("t", qos=qos, retain=True)
    assert info.value.property_name == "Retain Available"
    assert info.value.reason_code == 0x9A
    h.publish("t", qos=qos, retain=False)
    assert [(p.topic, p.retain) for p in sent(h)] == [("t", False)]


def test_everything_allowed_when_the_connack_is_silent() -> None:
    """Absent properties mean Maximum QoS 2, every feature available (§3.2.2.3)."""
    h = connected()
    h.publish("t", qos=2, retain=True)
    h.session.subscribe(
        (Subscription("a/+"), Subscription("$share/g/b"), Subscription("c/#")),
        ((_spec.SUBSCRIPTION_IDENTIFIER, 7),),
        0.0,
    )
    assert [type(p) for p in sent(h)] == [Publish, Subscribe]


def test_limits_are_unknown_before_connack() -> None:
    """Before CONNACK nothing is known: the message goes out (paho parity, rules §2.5)."""
    h = Harness(5)
    h.open()
    h.publish("t", qos=2, retain=True)
    assert [type(p) for p in sent(h)] == [Publish]


def test_limits_of_a_connection_do_not_outlive_it() -> None:
    h = connected((MAX_QOS, 0))
    h.lose()
    h.connect()
    h.publish("t", qos=2)
    assert [type(p) for p in sent(h)] == [Publish]


def test_mqtt_3_is_not_checked() -> None:
    h = Harness(4)
    h.connect()
    h.publish("t", qos=2, retain=True)
    h.session.subscribe((Subscription("$share/g/a/+"),), (), 0.0)
    assert [type(p) for p in sent(h)] == [Publish, Subscribe]


# --- subscription availability flags -----------------------------------------------------------------


@pytest.mark.parametrize("topic_filter", ["a/+", "a/#", "#", "+/b", "$share/g/a/+"])
def test_wildcard_filter_fails_locally_when_wildcards_unavailable(topic_filter: str) -> None:
    """§3.2.2.3.11: Wildcard Subscription Available 0 (the server would send 0xA2)."""
    h = connected((WILDCARD, 0))
    subs = (Subscription("plain/topic"), Subscription(topic_filter))
    with pytest.raises(FeatureNotAvailableError) as info:
        h.session.subscribe(subs, (), 0.0)
    assert info.value.property_name == "Wildcard Subscription Available"
    assert info.value.reason_code == 0xA2
    assert sent(h) == []
    assert h.session.subscribe((Subscription("plain/topic"),), (), 0.0) == 1  # no mid used
    assert [type(p) for p in sent(h)] == [Subscribe]


def test_subscription_identifier_fails_locally_when_unavailable() -> None:
    """§3.2.2.3.12: Subscription Identifiers Available 0 (the server would send 0xA1)."""
    h = connected((SUB_IDS, 0))
    with pytest.raises(FeatureNotAvailableError) as info:
        h.session.subscribe((Subscription("a"),), ((_spec.SUBSCRIPTION_IDENTIFIER, 3),), 0.0)
    assert info.value.property_name == "Subscription Identifiers Available"
    assert info.value.reason_code == 0xA1
    h.session.subscribe((Subscription("a"),), ((_spec.USER_PROPERTY, ("k", "v")),), 0.0)
    assert [type(p) for p in sent(h)] == [Subscribe]


def test_shared_filter_fails_locally_when_shared_unavailable() -> None:
    """§3.2.2.3.13, §4.8.2: Shared Subscription Available 0 (the server would send 0x9E)."""
    h = connected((SHARED, 0))
    with pytest.raises(FeatureNotAvailableError) as info:
        h.session.subscribe((Subscription("$share/group/a"),), (), 0.0)
    assert info.value.property_name == "Shared Subscription Available"
    assert info.value.reason_code == 0x9E
    h.session.subscribe((Subscription("a/+"), Subscription("$sharedish/a")), (), 0.0)
    assert [type(p) for p in sent(h)] == [Subscribe]


def test_resubscribe_skips_what_the_new_server_forbids() -> None:
    h = Harness(5, resubscribe=True)
    h.connect()
    h.session.subscribe((Subscription("a/+"), Subscription("b")), (), 0.0)
    h.take()
    h.feed(Suback(1, (0, 0)))
    h.lose()
    h.connect(properties=((WILDCARD, 0),))
    (resubscribe,) = sent(h)
    assert isinstance(resubscribe, Subscribe)
    assert [s.topic_filter for s in resubscribe.subscriptions] == ["b"]


# --- messages accepted while the limits were unknown -------------------------------------------------


def test_queued_messages_the_connack_forbids_are_reported_not_sent() -> None:
    """Accepted offline, the limits unknown: a QoS 2 message under Maximum QoS 1 and a
    retained one under Retain Available 0 are completed with 0x9B / 0x9A and never sent."""
    h = Harness(5, queue_qos0_offline=True)
    m1 = h.publish("ok", qos=1, token="ok")
    m2 = h.publish("q2", qos=2, token="q2")
    m3 = h.publish("kept", qos=1, retain=True, token="r1")
    m4 = h.publish("q0", qos=0, retain=True, token="r0")
    events = h.connect(properties=((MAX_QOS, 1), (RETAIN, 0)))
    assert isinstance(events[0], ConnectionAccepted)
    assert events[1:] == [
        PublishCompleted("q2", m2, 2, 0x9B),
        PublishCompleted("r1", m3, 1, 0x9A),
        PublishCompleted("r0", m4, 0, 0x9A),
    ]
    assert [(p.topic, p.packet_id) for p in sent(h)] == [("ok", m1)]
    assert h.session.unfinished_count() == 1
    assert h.session.store.load().messages[0].mid == m1  # the store forgot the dropped ones


def test_replay_the_new_connack_forbids_is_reported_and_pubrel_kept() -> None:
    """A QoS 2 message still awaiting PUBREC cannot be re-sent to a server that now allows QoS
    1 at most; one past PUBREC only needs its PUBREL, which is not a PUBLISH."""
    h = Harness(5)
    h.connect()
    m1 = h.publish("a", qos=2, token="a")
    m2 = h.publish("b", qos=2, token="b")
    m3 = h.publish("c", qos=1, token="c")
    sent(h)
    h.feed(Pubrec(m1))
    assert [type(p) for p in sent(h)] == [Pubrel]
    h.lose()
    events = h.connect(session_present=True, properties=((MAX_QOS, 1),))
    assert events[1:] == [PublishCompleted("b", m2, 2, 0x9B)]
    replay = sent(h)
    assert [(type(p).__name__, p.packet_id) for p in replay] == [("Pubrel", m1), ("Publish", m3)]
    assert h.session.inflight_count == 1
    h.feed(Puback(m3))
    assert h.session.unfinished_count() == 1  # m1 waits for its PUBCOMP


def test_nothing_is_dropped_when_the_connack_allows_it() -> None:
    h = Harness(5)
    h.publish("a", qos=1, retain=True)
    h.publish("b", qos=1)
    assert h.connect(properties=((MAX_QOS, 1), (RETAIN, 1)))[1:] == []
    assert [p.topic for p in sent(h)] == ["a", "b"]


# --- the pure functions -------------------------------------------------------------------------


def test_publish_refusal_table() -> None:
    limits = ServerLimits(maximum_qos=1, retain_available=False)
    assert publish_refusal(limits, 1, False) is None
    refusal = publish_refusal(limits, 2, True)
    assert refusal is not None and refusal.property_name == "Maximum QoS"  # QoS checked first
    refusal = publish_refusal(limits, 0, True)
    assert refusal is not None and refusal.property_name == "Retain Available"
    assert publish_refusal(ServerLimits(), 2, True) is None


def test_subscribe_refusal_table() -> None:
    none: Props = ()
    sid: Props = ((_spec.SUBSCRIPTION_IDENTIFIER, 1),)
    a = (Subscription("a"),)
    assert subscribe_refusal(ServerLimits(), (Subscription("$share/g/#"),), sid) is None
    off = ServerLimits(
        wildcard_subscription_available=False,
        subscription_identifiers_available=False,
        shared_subscription_available=False,
    )
    assert subscribe_refusal(off, a, none) is None
    cases = [
        (a, sid, "Subscription Identifiers Available"),
        ((Subscription("$share/g/a"),), none, "Shared Subscription Available"),
        ((Subscription("a/+"),), none, "Wildcard Subscription Available"),
    ]
    for subs, props, name in cases:
        refusal = subscribe_refusal(off, subs, props)
        assert refusal is not None and refusal.property_name == name


def test_state_stays_connected_after_a_refusal() -> None:
    h = connected((MAX_QOS, 0), (WILDCARD, 0))
    with pytest.raises(FeatureNotAvailableError):
        h.publish("t", qos=1)
    with pytest.raises(FeatureNotAvailableError):
        h.session.subscribe((Subscription("#"),), (), 0.0)
    assert h.session.state == SessionState.CONNECTED
