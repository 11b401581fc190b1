"""Session: outgoing MQTT 5.0 topic aliases (§3.3.2.3.4; rules §3.8), automatic and manual.

Every PUBLISH the session writes is read back by :class:`ServerView`, which resolves aliases as
a server does (a fresh map per connection) and fails on anything a server would refuse: alias 0
[MQTT-3.3.2-8], an alias above the CONNACK Topic Alias Maximum [MQTT-3.3.2-9], an alias with no
maximum [MQTT-3.2.2-18], an empty topic whose alias is unknown on this connection
[MQTT-3.3.2-7] (Protocol Error, §3.3.4).
"""

from __future__ import annotations

import random
from typing import Any, Optional

import pytest

from mqttclient import _spec
from mqttclient._core.events import Event, PublishCompleted, PublishDropped
from mqttclient._core.packets import (
    Connack,
    Props,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    get_prop,
)
from mqttclient._core.session import SessionState
from mqttclient.errors import FeatureNotAvailableError, InvalidArgumentError, PayloadTooLargeError

from ._session_harness import Harness

TAM = _spec.TOPIC_ALIAS_MAXIMUM
ALIAS = _spec.TOPIC_ALIAS


class ServerView:
    """The server's side of the client → server alias map of one connection."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.map: dict[int, str] = {}

    def read(self, publish: Publish) -> tuple[str, Optional[int]]:
        """(resolved topic, alias carried) of ``publish``; fails on an invalid alias use."""
        alias = get_prop(publish.properties, ALIAS)
        if alias is None:
            assert publish.topic, "an empty topic without an alias (§3.3.2.1)"
            return publish.topic, None
        assert 1 <= alias <= self.maximum, f"alias {alias} outside 1..{self.maximum}"
        if publish.topic:
            self.map[alias] = publish.topic
            return publish.topic, alias
        assert alias in self.map, f"alias {alias} unknown on this connection"
        return self.map[alias], alias


class Link:
    """A harness plus the server's alias view, renewed on every connection."""

    def __init__(self, auto: int = 0, **config: Any) -> None:
        self.h = Harness(5, topic_alias_auto=auto, **config)
        self.view = ServerView(0)

    def connect(
        self, maximum: Optional[int], session_present: bool = False, extra: Props = ()
    ) -> list[Event]:
        """Connect; the CONNACK carries Topic Alias Maximum ``maximum`` (None: absent)."""
        pairs: Props = () if maximum is None else ((TAM, maximum),)
        pairs += extra
        self.view = ServerView(maximum or 0)
        connect = self.h.open()
        # A server has no session to present after Clean Start 1 [MQTT-3.2.2-2].
        present = session_present and not connect.clean_start
        return self.h.feed(Connack(present, 0, pairs))

    def publish(self, topic: str, qos: int = 0, **kwargs: Any) -> int:
        return self.h.publish(topic, b"p", qos, **kwargs)

    def wire(self) -> list[tuple[str, str, Optional[int]]]:
        """(topic on the wire, resolved topic, alias) of every PUBLISH written since last time."""
        result = []
        for packet in self.h.take():
            if isinstance(packet, Publish):
                topic, alias = self.view.read(packet)
                result.append((packet.topic, topic, alias))
        return result

    def publishes(self) -> list[Publish]:
        return [p for p in self.h.take() if isinstance(p, Publish)]


# --- off by default ------------------------------------------------------------------------------


def test_off_by_default_no_alias_even_when_the_server_allows_them() -> None:
    link = Link()
    link.connect(10)
    for topic in ("a", "a", "b", "a"):
        link.publish(topic)
    assert link.wire() == [
        ("a", "a", None),
        ("a", "a", None),
        ("b", "b", None),
        ("a", "a", None),
    ]
    assert link.h.session._outbox.aliases is None  # the hot path sees one attribute, None


# --- assignment, reuse, bytes -----------------------------------------------------------------------


def test_first_use_sends_topic_and_alias_later_uses_an_empty_topic_bytes() -> None:
    """§3.3.2.3.4: establish with topic + alias, then use with an empty topic + alias."""
    link = Link(auto=5)
    link.connect(10)
    link.publish("a")
    link.publish("a")
    data = bytes(link.h.session.out)
    # 30 08 | 00 01 'a' | props 03: 23 00 01 | payload 'p'
    first = bytes.fromhex("30 08 0001 61 03 230001 70")
    # 30 07 | 00 00 (empty topic) | props 03: 23 00 01 | payload 'p'
    second = bytes.fromhex("30 07 0000 03 230001 70")
    assert data == first + second


def test_aliases_numbered_from_one_per_new_topic() -> None:
    link = Link(auto=5)
    link.connect(10)
    for topic in ("a", "b", "a", "c", "b"):
        link.publish(topic)
    assert link.wire() == [
        ("a", "a", 1),
        ("b", "b", 2),
        ("", "a", 1),
        ("c", "c", 3),
        ("", "b", 2),
    ]


def test_qos1_and_qos2_use_aliases_too() -> None:
    link = Link(auto=5)
    link.connect(10)
    link.publish("a", qos=1)
    link.publish("a", qos=2)
    link.publish("a", qos=0)
    assert [w[0] for w in link.wire()] == ["a", "", ""]


# --- LRU eviction -----------------------------------------------------------------------------------


def test_full_map_reassigns_the_least_recently_used_alias() -> None:
    link = Link(auto=2)
    link.connect(10)
    for topic in ("a", "b", "a", "c", "b", "c", "a"):
        link.publish(topic)
    assert link.wire() == [
        ("a", "a", 1),
        ("b", "b", 2),
        ("", "a", 1),  # a is now the most recently used
        ("c", "c", 2),  # b was least recently used: its alias goes to c
        ("b", "b", 1),  # then a was: b takes alias 1
        ("", "c", 2),
        ("a", "a", 1),  # b (alias 1) was least recently used
    ]


# --- the bound: min(option, server maximum), none at 0 ----------------------------------------------


@pytest.mark.parametrize(("option", "server", "bound"), [(5, 2, 2), (2, 10, 2), (3, 3, 3)])
def test_bound_is_min_of_option_and_server_maximum(option: int, server: int, bound: int) -> None:
    """[MQTT-3.3.2-9], [MQTT-3.2.2-17]: never above the server's maximum, nor the user's."""
    link = Link(auto=option)
    link.connect(server)
    topics = [f"t{i}" for i in range(bound + 3)]
    for topic in topics + topics:
        link.publish(topic)
    wire = link.wire()  # ServerView fails on an alias above the server's maximum
    aliases = {alias for _, _, alias in wire}
    assert aliases == set(range(1, bound + 1))
    assert [resolved for _, resolved, _ in wire] == topics + topics


@pytest.mark.parametrize("server", [None, 0])
def test_no_alias_when_the_server_maximum_is_zero_or_absent(server: Optional[int]) -> None:
    """[MQTT-3.2.2-18]: Topic Alias Maximum 0 or absent: no aliases."""
    link = Link(auto=5)
    link.connect(server)
    link.publish("a")
    link.publish("a", qos=1)
    assert link.wire() == [("a", "a", None), ("a", "a", None)]


def test_no_alias_before_connack() -> None:
    """The server's maximum is unknown until CONNACK [MQTT-3.2.2-18]."""
    link = Link(auto=5)
    link.h.open()
    link.publish("a")
    link.publish("a")
    assert [(p.topic, get_prop(p.properties, ALIAS)) for p in link.publishes()] == [
        ("a", None),
        ("a", None),
    ]


def test_not_under_mqtt_3() -> None:
    h = Harness(4, topic_alias_auto=5)
    h.connect()
    h.publish("a", qos=0)
    h.publish("a", qos=0)
    assert [p.topic for p in h.take()] == ["a", "a"]


# --- per connection -----------------------------------------------------------------------------


def test_aliases_reset_on_every_new_connection() -> None:
    """[MQTT-3.3.2-7]: mappings die with the connection."""
    link = Link(auto=5)
    link.connect(10)
    link.publish("a")
    link.publish("b")
    assert link.wire() == [("a", "a", 1), ("b", "b", 2)]
    link.h.lose()
    link.connect(10)
    link.publish("b")
    link.publish("b")
    assert link.wire() == [("b", "b", 1), ("", "b", 1)]


def test_replay_after_reconnect_carries_the_topic() -> None:
    """[MQTT-3.3.2-7], rules §3.5: a re-sent PUBLISH (DUP) never relies on the old map."""
    link = Link(auto=5)
    link.connect(10)
    link.publish("a", qos=1)
    link.publish("a", qos=1)
    link.publish("b", qos=2)
    assert [w[0] for w in link.wire()] == ["a", "", "b"]
    link.h.lose()
    link.connect(10, session_present=True)
    replays = link.publishes()
    assert [p.dup for p in replays] == [True, True, True]
    view = ServerView(10)
    assert [view.read(p)[0] for p in replays] == ["a", "a", "b"]
    assert replays[0].topic == "a"  # the first replay establishes the alias again


def test_replay_to_a_server_without_aliases_sends_full_topics() -> None:
    link = Link(auto=5)
    link.connect(10)
    link.publish("a", qos=1)
    link.publish("a", qos=1)
    link.wire()
    link.h.lose()
    link.connect(0, session_present=True)
    assert [(p.topic, p.properties) for p in link.publishes()] == [("a", ()), ("a", ())]


def test_messages_queued_offline_use_aliases_after_connack() -> None:
    link = Link(auto=5)
    for _ in range(3):
        link.publish("a", qos=1)
    link.connect(10)
    assert link.wire() == [("a", "a", 1), ("", "a", 1), ("", "a", 1)]


def test_byte_order_is_respected_when_qos0_overtakes_queued_messages() -> None:
    """A QoS 1 message waiting for the window is encoded when it is sent, after a QoS 0 one
    that overtook it: the map follows the order of bytes on the wire."""
    link = Link(auto=5, max_inflight=1)
    link.connect(10)
    link.publish("x", qos=1)  # takes the only window slot
    link.publish("a", qos=1)  # waits
    link.publish("a", qos=0)  # written now: it establishes "a"
    assert link.wire() == [("x", "x", 1), ("a", "a", 2)]
    link.h.feed(Puback(1))
    assert link.wire() == [("", "a", 2)]


def test_a_publish_refused_for_size_establishes_nothing() -> None:
    """[MQTT-3.2.2-15]: a PUBLISH never sent must not change the map."""
    link = Link(auto=5)
    link.connect(10, extra=((_spec.MAXIMUM_PACKET_SIZE, 40),))
    with pytest.raises(PayloadTooLargeError):
        link.h.publish("big", b"x" * 64, 0)
    with pytest.raises(PayloadTooLargeError):
        link.h.publish("big", b"x" * 64, 1)
    link.publish("big")
    assert link.wire() == [("big", "big", 1)]


def test_a_queued_message_dropped_for_size_establishes_nothing() -> None:
    """A message queued offline and found too large when the CONNACK's Maximum Packet Size is
    known is dropped [MQTT-3.2.2-15]; the alias it would have established is not recorded."""
    link = Link(auto=5, queue_qos0_offline=True)
    link.h.publish("big", b"x" * 64, 1, token="big1")
    link.h.publish("big", b"x" * 64, 0, token="big0")
    events = link.connect(10, extra=((_spec.MAXIMUM_PACKET_SIZE, 40),))
    dropped = [(e.token, e.reason) for e in events if isinstance(e, PublishDropped)]
    assert dropped == [("big1", "packet too large"), ("big0", "packet too large")]
    link.publish("big")
    assert link.wire() == [("big", "big", 1)]


def test_alias_change_of_option_applies_from_the_next_connection() -> None:
    link = Link(auto=0)
    link.connect(10)
    link.h.config.topic_alias_auto = 3
    link.publish("a")
    link.publish("a")
    assert link.wire() == [("a", "a", None), ("a", "a", None)]
    link.h.lose()
    link.connect(10)
    link.publish("a")
    link.publish("a")
    assert link.wire() == [("a", "a", 1), ("", "a", 1)]


# --- manual aliases (the user's TopicAlias property) ------------------------------------------------


def test_manual_alias_within_the_maximum_is_sent() -> None:
    link = Link()
    link.connect(3)
    link.publish("a", properties=((ALIAS, 3),))
    link.publish("", properties=((ALIAS, 3),))
    assert link.wire() == [("a", "a", 3), ("", "a", 3)]


def test_manual_alias_above_the_server_maximum_fails_locally() -> None:
    """[MQTT-3.3.2-9]: the server would disconnect with 0x94."""
    link = Link()
    link.connect(3)
    mid = link.publish("ok")
    with pytest.raises(FeatureNotAvailableError) as info:
        link.publish("a", properties=((ALIAS, 4),))
    assert info.value.property_name == "Topic Alias Maximum"
    assert info.value.reason_code == 0x94
    assert link.publish("ok") == mid + 1  # no mid consumed by the refused one
    assert link.wire() == [("ok", "ok", None), ("ok", "ok", None)]


@pytest.mark.parametrize("server", [None, 0])
def test_manual_alias_without_server_aliases_fails_locally(server: Optional[int]) -> None:
    link = Link()
    link.connect(server)
    with pytest.raises(FeatureNotAvailableError, match="Topic Alias Maximum"):
        link.publish("a", properties=((ALIAS, 1),))
    assert link.wire() == []


def test_manual_alias_zero_is_refused() -> None:
    """[MQTT-3.3.2-8]."""
    link = Link()
    link.connect(3)
    with pytest.raises(InvalidArgumentError, match="0"):
        link.publish("a", properties=((ALIAS, 0),))


def test_manual_empty_topic_with_an_alias_never_given_a_topic_is_refused() -> None:
    link = Link()
    link.connect(3)
    with pytest.raises(InvalidArgumentError, match="no topic"):
        link.publish("", properties=((ALIAS, 2),))
    assert link.wire() == []


def test_manual_alias_is_refused_while_automatic_aliases_are_on() -> None:
    """Mixing would produce colliding aliases: refused with a clear error."""
    link = Link(auto=5)
    link.connect(10)
    with pytest.raises(InvalidArgumentError, match="automatic topic aliases"):
        link.publish("a", properties=((ALIAS, 1),))
    with pytest.raises(InvalidArgumentError, match="automatic topic aliases"):
        link.publish("a", qos=1, properties=((ALIAS, 1),))
    assert link.wire() == []


def test_manual_empty_topic_message_is_replayed_with_its_topic() -> None:
    """A message published as empty topic + alias is stored with its topic, so the replay on
    a new connection (where the alias is unknown) is valid [MQTT-3.3.2-7]."""
    link = Link()
    link.connect(3)
    link.publish("a", qos=1, properties=((ALIAS, 1),))
    link.publish("", qos=1, properties=((ALIAS, 1),))
    assert link.wire() == [("a", "a", 1), ("", "a", 1)]
    link.h.lose()
    link.connect(3, session_present=True)
    assert link.wire() == [("a", "a", 1), ("", "a", 1)]
    link.h.lose()
    link.connect(None, session_present=True)  # the new server allows no alias: full topics
    assert [(p.topic, p.properties) for p in link.publishes()] == [("a", ()), ("a", ())]


def test_manual_alias_queued_offline_above_the_new_maximum_is_sent_without_it() -> None:
    link = Link()
    link.publish("a", qos=1, properties=((ALIAS, 5),))  # offline: the limit is unknown
    link.connect(2)
    assert link.wire() == [("a", "a", None)]


def test_manual_remap_while_a_message_waits_keeps_each_topic() -> None:
    """The user maps alias 1 to a, then to b, while the a message waits for the window: each
    message still reaches the server under its own topic."""
    link = Link(max_inflight=1)
    link.connect(3)
    link.publish("x", qos=1)
    link.publish("a", qos=1, properties=((ALIAS, 1),))  # waits for the window
    link.publish("b", qos=0, properties=((ALIAS, 1),))  # written now: 1 -> b
    assert link.wire() == [("x", "x", None), ("b", "b", 1)]
    link.h.feed(Puback(1))
    assert link.wire() == [("a", "a", 1)]
    link.publish("", qos=0, properties=((ALIAS, 1),))  # the user's last topic for 1: b
    assert link.wire() == [("b", "b", 1)]


def test_manual_alias_check_uses_the_limits_only_once_known() -> None:
    """Before CONNACK the maximum is unknown: the message is accepted and sent without the
    alias (always valid) rather than refused."""
    link = Link()
    link.h.open()
    link.publish("a", properties=((ALIAS, 7),))
    assert [(p.topic, p.properties) for p in link.publishes()] == [("a", ())]


# --- events are untouched -----------------------------------------------------------------------


def test_completion_events_unchanged_with_aliases() -> None:
    link = Link(auto=2)
    link.connect(10)
    mid = link.h.publish("a", b"p", 1, token="tok")
    link.wire()
    events = link.h.feed(Puback(mid))
    assert events == [PublishCompleted("tok", mid, 1, 0, ())]
    assert not any(isinstance(e, PublishDropped) for e in link.h.sent_events)


# --- random conversations ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(25))
def test_random_conversations_keep_every_alias_valid(seed: int) -> None:
    """Publishes of a few topics at every QoS, acks, lost connections, replays and servers with
    different maximums, in a seeded random order (bounded: 400 steps): the server view accepts
    every PUBLISH ([MQTT-3.3.2-7..9], [MQTT-3.2.2-18]) and resolves each to the topic it was
    published with."""
    rnd = random.Random(seed)
    link = Link(auto=rnd.choice([1, 2, 3, 8]), max_inflight=rnd.choice([0, 1, 2]))
    topics = [f"t/{i}" for i in range(5)]
    published: dict[bytes, str] = {}
    acks: list[Any] = []
    seen = 0
    for n in range(400):
        if link.h.session.state == SessionState.DISCONNECTED:
            link.connect(rnd.choice([None, 0, 1, 2, 5]), session_present=rnd.random() < 0.7)
            acks.clear()
            continue
        op = rnd.random()
        if op < 0.45:
            payload = str(n).encode()
            topic = rnd.choice(topics)
            published[payload] = topic
            link.h.publish(topic, payload, rnd.choice([0, 1, 2]))
        elif op < 0.7:
            for packet in link.h.take():
                if isinstance(packet, Publish):
                    assert link.view.read(packet)[0] == published[packet.payload]
                    seen += 1
                    if packet.qos:
                        acks.append((Puback if packet.qos == 1 else Pubrec)(packet.packet_id))
                elif isinstance(packet, Pubrel):
                    acks.append(Pubcomp(packet.packet_id))
        elif op < 0.9 and acks:
            rnd.shuffle(acks)
            count = rnd.randint(1, len(acks))
            link.h.feed(*acks[:count])
            del acks[:count]
        elif op >= 0.95:
            link.h.lose()
    assert seen > 50
