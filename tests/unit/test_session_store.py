"""Session + store: write-through, restore after a restart, replay with DUP, PUBREL resume,
incoming QoS 2 across restarts, subscriptions and ``resubscribe``, offline bounds and policies,
QoS 0 queued offline, and Message Expiry while queued.

A "restart" builds a new ``Session`` on the store the old one used, as a new process would: a
``MemoryStore`` is handed over as the same object, a ``SqliteStore`` is closed and its file
opened again. ``crash`` abandons a ``SqliteStore`` without committing, as ``kill -9`` would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mqttclient import MemoryStore, SqliteStore, _spec
from mqttclient._core.config import DROP_OLDEST
from mqttclient._core.events import (
    MessageReceived,
    PublishCompleted,
    PublishDropped,
    Subscribed,
)
from mqttclient._core.outbox import AWAIT_PUBACK, AWAIT_PUBCOMP, AWAIT_PUBREC, QUEUED
from mqttclient._core.packets import (
    Connack,
    Connect,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
)
from mqttclient._core.session import Session, SessionConfig
from mqttclient._core.store import MessageRecord, StoreContents
from mqttclient.errors import QueueFullError

from ._session_harness import Harness
from ._stores import STORE_KINDS, AnyStore, Stores


@pytest.fixture(params=STORE_KINDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    with Stores(request.param, tmp_path) as made:
        yield made


def on(store: AnyStore, version: int = 4, wall_offset: float = 0.0, **config: Any) -> Harness:
    """A harness whose session writes through to ``store`` (and restores from it)."""
    return Harness(version, store=store, wall_offset=wall_offset, **config)


def step(h: Harness, *packets: Any) -> list[Any]:
    """Feed server packets, commit as the engine does before writing, return what was sent."""
    h.feed(*packets)
    h.session.persist()
    return h.take()


def ids(packets: list[Any]) -> list[tuple[str, int, bool]]:
    return [(type(p).__name__, p.packet_id, getattr(p, "dup", False)) for p in packets]


def states(store: AnyStore) -> list[tuple[int, int, int]]:
    """(seq, state, packet id) of every stored outgoing message."""
    return [(m.seq, m.state, m.packet_id) for m in store.load().messages]


# --- write-through -------------------------------------------------------------------------------


def test_every_state_change_is_written_through(stores: Stores) -> None:
    store = stores.open()
    h = on(store)
    h.connect()
    q1 = h.publish(qos=1)
    q2 = h.publish(qos=2)
    h.publish(qos=0)  # never stored
    assert states(store) == [(1, AWAIT_PUBACK, q1), (2, AWAIT_PUBREC, q2)]
    step(h, Pubrec(q2))
    assert states(store) == [(1, AWAIT_PUBACK, q1), (2, AWAIT_PUBCOMP, q2)]
    step(h, Puback(q1))
    assert states(store) == [(2, AWAIT_PUBCOMP, q2)]
    step(h, Pubcomp(q2))
    assert states(store) == []
    assert store.load().last_seq == 2


def test_messages_queued_while_offline_are_stored_before_publish_returns(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    h = on(store)
    h.publish(qos=1, payload=b"a")
    h.publish(qos=2, payload=b"b")
    # Durable when publish() returns ("normal": in the store's log, not yet committed): a
    # crash now (the connection dropped without a commit, as kill -9 would) keeps both.
    conn, log = store._conn, store._log
    store._conn = store._log = None
    assert conn is not None and log is not None
    conn.close()
    log.close()
    with SqliteStore(tmp_path / "s.db") as again:
        assert [m.payload for m in again.load().messages] == [b"a", b"b"]


def test_durability_off_commits_only_on_persist(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "s.db", durability="off") as store:
        h = on(store)
        h.publish(qos=1)
        assert store._uncommitted is True  # waiting for the engine's once-per-iteration commit
        h.session.persist()
        assert store._uncommitted is False


# --- restart: replay -----------------------------------------------------------------------------


def test_restart_replays_in_flight_with_dup_then_sends_queued(stores: Stores) -> None:
    store = stores.open()
    h = on(store, max_inflight=2)
    h.connect()
    a = h.publish(qos=1, payload=b"a")
    b = h.publish(qos=2, payload=b"b")
    c = h.publish(qos=1, payload=b"c")  # waits for the window
    assert ids(h.take()) == [("Publish", a, False), ("Publish", b, False)]
    step(h, Pubrec(b))  # b is past PUBREC: only its PUBREL may be re-sent
    store = stores.crash(store)

    h2 = on(store, max_inflight=2)
    assert h2.open() == Connect("client-1", 4, True, 60)
    sent = step(h2, Connack(True))
    assert ids(sent) == [("Publish", a, True), ("Pubrel", b, False), ("Publish", c, False)]
    assert [p.payload for p in sent if isinstance(p, Publish)] == [b"a", b"c"]
    events = h2.feed(Puback(a), Pubcomp(b), Puback(c))
    assert events == [
        PublishCompleted(None, a, 1),
        PublishCompleted(None, b, 2),
        PublishCompleted(None, c, 1),
    ]
    h2.session.persist()
    assert states(store) == []


def test_qos2_awaiting_pubrec_is_republished_with_dup(stores: Stores) -> None:
    store = stores.open()
    h = on(store)
    h.connect()
    m = h.publish(qos=2)
    h.take()
    store = stores.crash(store)
    h2 = on(store)
    h2.open()
    assert ids(step(h2, Connack(True))) == [("Publish", m, True)]
    assert step(h2, Pubrec(m)) == [Pubrel(m)]
    assert h2.feed(Pubcomp(m)) == [PublishCompleted(None, m, 2)]


def test_messages_never_sent_before_the_crash_go_out_as_new(stores: Stores) -> None:
    store = stores.open()
    h = on(store)
    mids = [h.publish(qos=q, payload=bytes([q])) for q in (1, 2, 1)]  # offline all along
    store = stores.crash(store)
    h2 = on(store)
    h2.open()
    sent = step(h2, Connack(False))
    assert ids(sent) == [("Publish", mid, False) for mid in mids]
    assert [p.qos for p in sent] == [1, 2, 1]


def test_an_ack_not_committed_before_a_crash_means_a_resend(tmp_path: Path) -> None:
    with Stores("sqlite", tmp_path) as stores:
        store = stores.open()
        h = on(store)
        h.connect()
        m = h.publish(qos=1)
        h.take()
        h.feed(Puback(m))  # processed, but the batch is not committed yet
        store = stores.crash(store)
        h2 = on(store)
        h2.open()
        assert ids(step(h2, Connack(True))) == [("Publish", m, True)]  # at least once


def test_restart_resumes_the_client_id_seq_and_mid_counter(stores: Stores) -> None:
    store = stores.open()
    h = on(store, version=5, client_id="")
    h.open()
    h.feed(Connack(False, 0, ((_spec.ASSIGNED_CLIENT_IDENTIFIER, "auto-7"),)))
    for _ in range(3):
        h.publish(qos=1)
    done = h.publish(qos=1)
    h.take()
    step(h, Puback(done))
    assert h.session.seq == 4
    store = stores.restart(store)

    h2 = on(store, version=5, client_id="")
    assert h2.open().client_id == "auto-7"  # the assigned id is reused after the restart
    assert h2.publish(qos=1) == 4  # mids continue after the newest restored one (3)
    assert h2.session.seq == 5  # never a seq used before, even by a completed message
    assert [m.seq for m in store.load().messages] == [1, 2, 3, 5]


def test_adopt_restored_gives_tokens_in_acceptance_order(stores: Stores) -> None:
    store = stores.open()
    h = on(store)
    h.connect()
    mids = [h.publish(qos=1) for _ in range(3)]
    h.take()
    store = stores.crash(store)
    h2 = on(store)
    tokens = h2.session.adopt_restored(lambda mid, seq: ("token", mid, seq))
    assert tokens == [("token", mid, seq) for seq, mid in enumerate(mids, 1)]
    h2.open()
    step(h2, Connack(True))
    assert h2.feed(Puback(mids[1])) == [PublishCompleted(("token", mids[1], 2), mids[1], 1)]
    assert h2.session.adopt_restored(lambda mid, seq: None) == []  # only once


def test_restored_message_ids_are_not_handed_out_again(stores: Stores) -> None:
    store = stores.open()
    h = on(store, max_inflight=0)
    h.connect()
    for _ in range(3):
        h.publish(qos=1)
    h.take()
    store = stores.crash(store)
    h2 = on(store, max_inflight=0)
    h2.session._outbox.last_mid = 0  # as if the counter had wrapped
    h2.connect(session_present=True)
    assert h2.session.subscribe((Subscription("x"),), (), 0.0) == 4  # 1..3 are in use


# --- incoming QoS 2 ------------------------------------------------------------------------------


def test_incoming_qos2_survives_a_restart_and_is_delivered_once(stores: Stores) -> None:
    store = stores.open()
    h = on(store)
    h.connect()
    incoming = Publish("in", b"x", 2, packet_id=7)
    assert h.feed(incoming) == []
    h.session.persist()  # the engine commits before the PUBREC goes out
    assert h.take() == [Pubrec(7)]
    store = stores.crash(store)

    h2 = on(store)
    h2.open()
    step(h2, Connack(True))
    repeat = Publish("in", b"x", 2, dup=True, packet_id=7)
    assert step(h2, repeat) == [Pubrec(7)]  # answered, not delivered
    assert h2.feed(Pubrel(7)) == [MessageReceived(repeat)]  # delivered once, on PUBREL
    h2.session.ack(7, 2, 0.0)
    h2.session.persist()
    assert h2.take() == [Pubcomp(7)]
    assert store.load().incoming == ()


def test_incoming_qos2_delivered_but_not_acked_before_a_crash_is_delivered_again(
    stores: Stores,
) -> None:
    store = stores.open()
    h = on(store)
    h.connect()
    incoming = Publish("in", b"x", 2, packet_id=7)
    step(h, incoming)
    assert h.feed(Pubrel(7)) == [MessageReceived(incoming)]  # the callback is running...
    store = stores.crash(store)  # ... when the process dies: no PUBCOMP was sent
    h2 = on(store)
    h2.open()
    step(h2, Connack(True))
    assert h2.feed(Pubrel(7)) == [MessageReceived(incoming)]  # at least once, never lost


def test_incoming_qos2_delivered_on_a_lost_connection_is_forgotten(stores: Stores) -> None:
    store = stores.open()
    h = on(store)
    h.connect()
    step(h, Publish("in", b"x", 2, packet_id=7))
    h.feed(Pubrel(7))  # delivered; the connection drops before ack()
    h.lose()
    h.open()
    h.session.persist()
    assert store.load().incoming == ()
    step(h, Connack(True))
    assert step(h, Pubrel(7)) == [Pubcomp(7)]  # answered, not delivered again


def test_session_not_present_clears_stored_incoming(stores: Stores) -> None:
    store = stores.open()
    h = on(store)
    h.connect()
    step(h, Publish("in", b"x", 2, packet_id=7))
    h.lose()
    h.open()
    step(h, Connack(False))
    assert store.load().incoming == ()


# --- subscriptions and resubscribe ---------------------------------------------------------------


def _subscribe(h: Harness, *subs: Subscription, codes: tuple[int, ...]) -> int:
    mid = h.session.subscribe(subs, (), 0.0)
    h.take()
    assert h.feed(Suback(mid, codes)) == [Subscribed(mid, codes)]
    h.session.persist()
    return mid


def test_granted_subscriptions_are_stored_and_unsubscribe_forgets(stores: Stores) -> None:
    store = stores.open()
    h = on(store)
    h.connect()
    a, b, c = Subscription("a/#", 1), Subscription("b", 2), Subscription("c", 0)
    _subscribe(h, a, b, c, codes=(1, 0x80, 0))  # b refused: not kept
    assert [s for s, _ in store.load().subscriptions] == [a, c]
    h.session.unsubscribe(("c",), (), 0.0)
    h.session.persist()
    assert [s for s, _ in store.load().subscriptions] == [a]
    assert [s for s, _ in h.session.subscriptions] == [a]


@pytest.mark.parametrize(
    ("resubscribe", "present", "expected"), [(True, False, 1), (True, True, 0), (False, False, 0)]
)
def test_resubscribe_after_a_restart(
    stores: Stores, resubscribe: bool, present: bool, expected: int
) -> None:
    store = stores.open()
    h = on(store, version=5)
    h.connect()
    subs = (Subscription("a/#", 1, no_local=True), Subscription("b", 2))
    mid = h.session.subscribe(subs, ((_spec.SUBSCRIPTION_IDENTIFIER, 4),), 0.0)
    h.take()
    h.feed(Suback(mid, (1, 2)))
    queued = h.publish(qos=1)
    step(h)
    store = stores.restart(store)

    h2 = on(store, version=5, resubscribe=resubscribe, clean_start=False)
    h2.open()
    sent = step(h2, Connack(present))
    subscribes = [p for p in sent if isinstance(p, Subscribe)]
    assert len(subscribes) == expected
    if expected:
        assert sent[0] == subscribes[0]  # subscriptions before the replay
        assert subscribes[0].subscriptions == subs
        assert subscribes[0].properties == ((_spec.SUBSCRIPTION_IDENTIFIER, 4),)
        events = h2.feed(Suback(subscribes[0].packet_id, (1, 2)))
        assert events == [Subscribed(subscribes[0].packet_id, (1, 2))]
    assert ids([p for p in sent if isinstance(p, Publish)]) == [("Publish", queued, True)]


# --- offline bounds and policies -----------------------------------------------------------------


def test_refuse_when_full_in_messages(stores: Stores) -> None:
    store = stores.open()
    h = on(store, max_queued_messages=2)
    h.publish(qos=1)
    h.publish(qos=2)
    with pytest.raises(QueueFullError, match="queue full"):
        h.publish(qos=1)
    assert h.session.reserve_mid() == 3  # the refused message consumed no mid
    assert len(store.load().messages) == 2


def test_refuse_when_full_in_bytes(stores: Stores) -> None:
    h = on(stores.open(), max_queued_bytes=10)
    h.publish(qos=1, payload=b"123456")
    with pytest.raises(QueueFullError):
        h.publish(qos=1, payload=b"12345")
    h.publish(qos=1, payload=b"1234")  # exactly 10 bytes held
    with pytest.raises(QueueFullError, match="exceeds max_queued_bytes"):
        on(MemoryStore(), max_queued_bytes=10).publish(qos=1, payload=b"x" * 11)


def test_drop_oldest_drops_unsent_messages_and_reports_them(stores: Stores) -> None:
    store = stores.open()
    h = on(store, max_queued_messages=3, queue_full_policy=DROP_OLDEST, max_inflight=1)
    h.connect()
    sent = h.publish(qos=1, token="in flight")  # never dropped: the server may hold it
    h.publish(qos=1, token="old")
    h.publish(qos=1, token="middle")
    newest = h.publish(qos=1, token="new")
    assert h.session.take_events() == [PublishDropped("old", 2, "queue full")]
    assert h.session.take_events() == ()
    assert [m.mid for m in store.load().messages] == [sent, 3, newest]
    h.publish(qos=1, token="newer")
    assert h.session.take_events() == [PublishDropped("middle", 3, "queue full")]


def test_drop_oldest_by_bytes_drops_as_many_as_needed(stores: Stores) -> None:
    h = on(stores.open(), max_queued_bytes=10, queue_full_policy=DROP_OLDEST)
    for token in "abc":
        h.publish(qos=1, payload=b"333", token=token)
    h.publish(qos=1, payload=b"77777", token="d")  # 9 + 5 > 10: drop a and b
    assert [e.token for e in h.session.take_events()] == ["a", "b"]  # type: ignore[union-attr]


def test_drop_oldest_refuses_when_only_sent_messages_fill_the_queue(stores: Stores) -> None:
    h = on(stores.open(), max_queued_messages=2, queue_full_policy=DROP_OLDEST)
    h.connect()
    h.publish(qos=1)
    h.publish(qos=1)
    with pytest.raises(QueueFullError, match="in flight"):
        h.publish(qos=1)
    assert h.session.take_events() == ()


# --- QoS 0 queued offline ------------------------------------------------------------------------


def test_qos0_is_queued_offline_when_asked_and_sent_in_order(stores: Stores) -> None:
    store = stores.open()
    h = on(store, queue_qos0_offline=True)
    first = h.publish(qos=0, payload=b"0", token="q0")
    second = h.publish(qos=1, payload=b"1", token="q1")
    third = h.publish(qos=0, payload=b"2", token="q0b")
    assert h.session.seq == 3
    assert [m.mid for m in store.load().messages] == [second]  # QoS 0 is never stored
    h.open()
    sent = step(h, Connack(False))
    assert [(p.qos, p.payload) for p in sent] == [(0, b"0"), (1, b"1"), (0, b"2")]
    assert PublishCompleted("q0", first, 0) in h.sent_events
    assert PublishCompleted("q0b", third, 0) in h.sent_events


def test_qos0_queued_offline_counts_against_the_bounds(stores: Stores) -> None:
    h = on(stores.open(), queue_qos0_offline=True, max_queued_messages=1)
    h.publish(qos=0)
    with pytest.raises(QueueFullError):
        h.publish(qos=0)


# --- Message Expiry while queued (MQTT 5.0) ------------------------------------------------------


def _expiry(seconds: int) -> tuple[tuple[int, Any], ...]:
    return ((_spec.MESSAGE_EXPIRY_INTERVAL, seconds), (_spec.CONTENT_TYPE, "text"))


def test_expired_while_queued_is_dropped_remaining_interval_sent(stores: Stores) -> None:
    store = stores.open()
    h = on(store, version=5)
    h.at(100.0)
    short = h.publish(qos=1, properties=_expiry(10), token="short")
    long = h.publish(qos=1, properties=_expiry(60), token="long")
    forever = h.publish(qos=1, properties=((_spec.CONTENT_TYPE, "text"),), token="forever")
    h.at(112.5)
    h.open()
    events = h.feed(Connack(False))
    assert PublishDropped("short", short, "expired") in events
    sent = h.take()
    assert [p.packet_id for p in sent] == [long, forever]
    assert sent[0].properties == _expiry(48)  # 47.5 s left, rounded up
    assert sent[1].properties == ((_spec.CONTENT_TYPE, "text"),)
    h.session.persist()
    assert short not in [m.mid for m in store.load().messages]


def test_a_message_sent_at_once_keeps_its_interval() -> None:
    h = on(MemoryStore(), version=5)
    h.connect()
    h.at(50.0)
    h.publish(qos=1, properties=_expiry(30))
    assert h.take()[0].properties == _expiry(30)


def test_expiry_survives_a_restart_on_the_wall_clock(stores: Stores) -> None:
    store = stores.open()
    # Process 1: monotonic 0 is wall-clock 1_000_000.
    h = on(store, version=5, wall_offset=1_000_000.0)
    kept = h.publish(qos=1, properties=_expiry(60))
    lost = h.publish(qos=1, properties=_expiry(20))
    assert [m.expiry_wall for m in store.load().messages] == [1_000_060.0, 1_000_020.0]
    store = stores.crash(store)
    # Process 2 starts 30 s of wall-clock time later; its monotonic clock starts again at 5.
    h2 = on(store, version=5, wall_offset=1_000_025.0)
    h2.at(5.0)
    h2.open()
    events = h2.feed(Connack(False))
    assert [(type(e).__name__, e.mid) for e in events[1:]] == [("PublishDropped", lost)]
    sent = h2.take()
    assert [(p.packet_id, p.properties) for p in sent] == [(kept, _expiry(30))]


def test_expiry_never_grows_when_the_wall_clock_went_back(stores: Stores) -> None:
    store = stores.open()
    h = on(store, version=5, wall_offset=1_700_000_000.0)
    h.publish(qos=1, properties=_expiry(60))
    store = stores.restart(store)
    h2 = on(store, version=5, wall_offset=0.0)  # a board without a clock boots in 1970
    h2.open()
    h2.feed(Connack(False))
    assert h2.take()[0].properties == _expiry(60)


# --- the in-memory store as a handover between sessions ------------------------------------------


def test_memory_store_hands_a_session_over_in_the_same_process() -> None:
    store = MemoryStore()
    h = on(store)
    h.connect()
    m = h.publish(qos=1)
    h.take()
    h2 = on(store)  # e.g. a new Client(store=old_client.store)
    h2.open()
    assert ids(step(h2, Connack(True))) == [("Publish", m, True)]


class Recording(MemoryStore):
    """A MemoryStore that logs the calls the session makes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Any, ...]] = []

    def add_message(self, msg: MessageRecord) -> None:
        self.calls.append(("add", msg.seq, msg.state))
        super().add_message(msg)

    def update_message(self, msg: MessageRecord) -> None:
        self.calls.append(("update", msg.seq, msg.state, msg.packet_id))
        super().update_message(msg)

    def remove_message(self, msg: MessageRecord) -> None:
        self.calls.append(("remove", msg.seq))
        super().remove_message(msg)

    def commit(self) -> None:
        self.calls.append(("commit",))


def test_the_session_commits_once_per_batch_not_per_packet() -> None:
    store = Recording()
    h = on(store, max_inflight=0)
    h.connect()
    mids = [h.publish(qos=1) for _ in range(3)]
    h.take()
    store.calls.clear()
    h.feed(*[Puback(m) for m in mids])  # one read, three acks
    h.session.persist()
    assert store.calls == [("remove", 1), ("remove", 2), ("remove", 3), ("commit",)]


def test_a_queued_message_is_written_once_then_updated_when_sent() -> None:
    store = Recording()
    h = on(store, max_inflight=1)
    h.connect()
    first = h.publish(qos=1)
    h.publish(qos=2)
    h.take()
    h.feed(Puback(first))
    assert store.calls == [
        ("add", 1, AWAIT_PUBACK),
        ("add", 2, QUEUED),
        ("remove", 1),
        ("update", 2, AWAIT_PUBREC, 2),
    ]


def test_store_contents_default() -> None:
    assert MemoryStore().load() == StoreContents()
    config = SessionConfig(client_id="x")
    assert Session(config).store.load() == StoreContents()
