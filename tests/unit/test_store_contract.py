"""One contract suite for every ``Store`` (DESIGN.md: Memory and SQLite stores pass one suite).

Each test runs over ``MemoryStore`` and ``SqliteStore``. "Reopen" means what a restart does: a
``MemoryStore`` is handed to the next session as the same object; a ``SqliteStore`` is closed and
its file opened again. SQLite-only tests at the end cover what only a file has: exclusive
opening, damaged or foreign files, recovery of a half-written journal, and uncommitted batches.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mqttclient import MemoryStore, SqliteStore, _spec
from mqttclient._core.outbox import AWAIT_PUBACK, AWAIT_PUBCOMP, AWAIT_PUBREC, QUEUED
from mqttclient._core.packets import Publish, Subscription
from mqttclient._core.store import Store, StoreContents, StoredMessage
from mqttclient.errors import MQTTException, StoreError
from tests.unit._stores import STORE_KINDS, AnyStore, Stores


@pytest.fixture(params=STORE_KINDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    with Stores(request.param, tmp_path) as made:
        yield made


def msg(seq: int, state: int = QUEUED, packet_id: int = 0, **fields: Any) -> StoredMessage:
    values: dict[str, Any] = {
        "mid": seq,
        "topic": f"t/{seq}",
        "payload": f"p{seq}".encode(),
        "qos": 1,
        "retain": False,
        "properties": (),
        "expiry_wall": 0.0,
    }
    values.update(fields)
    return StoredMessage(seq=seq, state=state, packet_id=packet_id, **values)


def moved(message: StoredMessage, **changes: Any) -> StoredMessage:
    values = {name: getattr(message, name) for name in StoredMessage.__dataclass_fields__}
    values.update(changes)
    return StoredMessage(**values)


def load_after_reopen(stores: Stores, store: AnyStore) -> tuple[AnyStore, StoreContents]:
    store.commit()
    again = stores.reopen(store)
    return again, again.load()


# --- the contract ------------------------------------------------------------------------------


def test_both_stores_satisfy_the_protocol(stores: Stores) -> None:
    store: Store = stores.open()  # mypy checks the structural match
    assert isinstance(store.commit_on_publish, bool)


def test_a_new_store_is_empty(stores: Stores) -> None:
    assert stores.open().load() == StoreContents()


def test_added_messages_come_back_with_every_field_in_seq_order(stores: Stores) -> None:
    store = stores.open()
    props = ((_spec.MESSAGE_EXPIRY_INTERVAL, 60), (_spec.USER_PROPERTY, ("k", "v")))
    third = msg(3, AWAIT_PUBREC, 9, qos=2, retain=True, properties=props, expiry_wall=1.5e9)
    for message in (msg(2), third, msg(1, AWAIT_PUBACK, 7, payload=b"\x00\xff" * 100)):
        store.add_message(message)
    store, contents = load_after_reopen(stores, store)
    assert [m.seq for m in contents.messages] == [1, 2, 3]
    assert contents.messages[2] == third
    assert contents.messages[0] == msg(1, AWAIT_PUBACK, 7, payload=b"\x00\xff" * 100)
    assert contents.last_seq == 3


def test_update_records_state_and_packet_id(stores: Stores) -> None:
    store = stores.open()
    first = msg(1, qos=2)
    store.add_message(first)
    store.add_message(msg(2))
    for state, packet_id in ((AWAIT_PUBREC, 5), (AWAIT_PUBCOMP, 5)):
        store.update_message(moved(first, state=state, packet_id=packet_id))
        store.commit()
    store, contents = load_after_reopen(stores, store)
    assert contents.messages == (moved(first, state=AWAIT_PUBCOMP, packet_id=5), msg(2))


def test_update_and_remove_of_unknown_messages_are_ignored(stores: Stores) -> None:
    store = stores.open()
    store.add_message(msg(1))
    store.update_message(msg(7, AWAIT_PUBACK, 3))
    store.remove_message(msg(8))
    store.remove_incoming(99)
    store.remove_subscription("nothing/here")
    assert load_after_reopen(stores, store)[1].messages == (msg(1),)


def test_remove_forgets_a_message_but_not_its_seq(stores: Stores) -> None:
    store = stores.open()
    for seq in (1, 2, 3):
        store.add_message(msg(seq))
    store.remove_message(msg(2))
    store, contents = load_after_reopen(stores, store)
    assert [m.seq for m in contents.messages] == [1, 3]
    store.remove_message(msg(1))
    store.remove_message(msg(3))
    store, contents = load_after_reopen(stores, store)
    assert contents.messages == ()
    assert contents.last_seq == 3  # a new message after a restart gets seq 4, never 1 again


def test_adding_the_same_seq_replaces_it(stores: Stores) -> None:
    store = stores.open()
    store.add_message(msg(1))
    store.add_message(msg(1, payload=b"second"))
    assert load_after_reopen(stores, store)[1].messages == (msg(1, payload=b"second"),)


def test_session_fields(stores: Stores) -> None:
    store = stores.open()
    store.set_session("sensor-1", 5)
    store, contents = load_after_reopen(stores, store)
    assert (contents.client_id, contents.protocol_version) == ("sensor-1", 5)
    store.set_session("sensor-2", 4)
    store, contents = load_after_reopen(stores, store)
    assert (contents.client_id, contents.protocol_version) == ("sensor-2", 4)


def test_incoming_qos2_messages(stores: Stores) -> None:
    store = stores.open()
    props = ((_spec.CONTENT_TYPE, "text/plain"), (_spec.SUBSCRIPTION_IDENTIFIER, 3))
    a = Publish("in/a", b"a", 2, False, False, 10, props)
    b = Publish("in/b", b"b", 2, True, False, 3)
    c = Publish("in/c", b"c", 2, False, False, 20)
    for packet in (a, b, c):
        store.add_incoming(packet)
    store.add_incoming(Publish("in/b", b"b", 2, True, True, 3))  # a repeat replaces it
    store.remove_incoming(20)
    store, contents = load_after_reopen(stores, store)
    assert sorted(contents.incoming, key=lambda p: p.packet_id) == [
        Publish("in/b", b"b", 2, True, True, 3),
        a,
    ]
    store.clear_incoming()
    assert load_after_reopen(stores, store)[1].incoming == ()


def test_subscriptions_keep_their_options_properties_and_order(stores: Stores) -> None:
    store = stores.open()
    props = ((_spec.SUBSCRIPTION_IDENTIFIER, 7), (_spec.USER_PROPERTY, ("a", "b")))
    first = Subscription("a/#", 1)
    second = Subscription("b/+", 2, no_local=True, retain_as_published=True, retain_handling=2)
    store.put_subscription(first, ())
    store.put_subscription(second, props)
    store.put_subscription(Subscription("c", 0), ())
    store.remove_subscription("c")
    store, contents = load_after_reopen(stores, store)
    assert contents.subscriptions == ((first, ()), (second, props))
    renewed = Subscription("a/#", 2)
    store.put_subscription(renewed, ())  # made again: replaced, and now the newest
    assert load_after_reopen(stores, store)[1].subscriptions == ((second, props), (renewed, ()))


def test_commit_without_changes_and_close_twice_are_harmless(stores: Stores) -> None:
    store = stores.open()
    store.commit()
    store.commit()
    store.close()
    store.close()


def test_reopen_after_many_changes(stores: Stores) -> None:
    store = stores.open()
    for seq in range(1, 501):
        store.add_message(msg(seq))
        if seq % 3 == 0:
            store.update_message(msg(seq, AWAIT_PUBACK, seq % 65535 + 1))
        if seq % 5 == 0:
            store.remove_message(msg(seq))
        if seq % 50 == 0:
            store.commit()
    store, contents = load_after_reopen(stores, store)
    expected = [seq for seq in range(1, 501) if seq % 5]
    assert [m.seq for m in contents.messages] == expected
    assert all(m.state == (AWAIT_PUBACK if m.seq % 3 == 0 else QUEUED) for m in contents.messages)


# --- SQLite only ---------------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "outbox.db"


def _crash(store: SqliteStore) -> None:
    """Drop the connection without committing, as a killed process would (test-only): the
    open batch is rolled back; the log file keeps what was written to it."""
    conn = store._conn
    store._conn = None
    assert conn is not None
    conn.close()  # rolls the open batch back
    log, store._log = store._log, None
    if log is not None:
        log.close()


def test_sqlite_durability_settings(db: Path) -> None:
    # "normal" makes add_message durable through its log instead of a commit per publish().
    for durability, commits in (("normal", False), ("full", True), ("off", False)):
        with SqliteStore(db, durability) as store:
            assert store.commit_on_publish is commits
            level = {"off": 0, "normal": 1, "full": 2}[durability]
            assert store._conn is not None
            assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == level
            assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(ValueError, match="durability"):
        SqliteStore(db, "sometimes")


def test_sqlite_refuses_a_second_opener_until_closed(db: Path) -> None:
    with SqliteStore(db) as store:
        store.add_message(msg(1))
        store.commit()
        with pytest.raises(StoreError, match="in use by another process or another SqliteStore"):
            SqliteStore(db)
    with SqliteStore(db) as again:
        assert again.load().messages == (msg(1),)


def test_sqlite_uncommitted_batch_is_lost_committed_one_is_kept(db: Path) -> None:
    store = SqliteStore(db, "off")
    store.add_message(msg(1))
    store.commit()
    store.add_message(msg(2))
    store.update_message(msg(1, AWAIT_PUBACK, 1))
    _crash(store)
    with SqliteStore(db, "off") as again:
        contents = again.load()
    assert contents.messages == (msg(1),)
    assert contents.last_seq == 1


def test_sqlite_normal_keeps_added_messages_of_an_uncommitted_batch(db: Path) -> None:
    store = SqliteStore(db)  # "normal": add_message is durable at once, through the log
    store.add_message(msg(1))
    store.commit()
    store.add_message(msg(2))
    store.update_message(msg(1, AWAIT_PUBACK, 1))  # a network change: batched, lost
    _crash(store)
    with SqliteStore(db) as again:
        contents = again.load()
    assert contents.messages == (msg(1), msg(2))
    assert contents.last_seq == 2


def _snapshot(db: Path, name: str) -> Path:
    """Copy the database, its WAL and the store's log while the store is open: the files a
    crash would leave."""
    target = db.with_name(name)
    shutil.copyfile(db, target)
    for suffix in ("-wal", "-log"):
        if Path(f"{db}{suffix}").exists():
            shutil.copyfile(f"{db}{suffix}", f"{target}{suffix}")
    return target


def _checkpointed(store: SqliteStore) -> None:
    """Commit and move everything into the tables (what a long log or ``close()`` does)."""
    store.commit()
    store._checkpoint()


def test_sqlite_recovers_a_half_written_journal(db: Path) -> None:
    with SqliteStore(db) as store:
        store.add_message(msg(1))
        _checkpointed(store)
        whole = _snapshot(db, "whole.db")
        store.add_message(msg(2, payload=b"x" * 20000))  # several WAL frames
        _checkpointed(store)  # ... and the log emptied: only the WAL holds message 2
        torn = _snapshot(db, "torn.db")
    wal = Path(f"{torn}-wal")
    data = wal.read_bytes()
    assert len(data) > Path(f"{whole}-wal").stat().st_size
    wal.write_bytes(data[: len(data) - 100])  # the last frame (the commit) is cut short
    with SqliteStore(torn) as recovered:
        assert recovered.load().messages == (msg(1),)
    with SqliteStore(whole) as earlier:
        assert earlier.load().messages == (msg(1),)


def test_sqlite_sees_a_complete_journal_after_a_crash(db: Path) -> None:
    with SqliteStore(db) as store:
        store.add_message(msg(1))
        store.add_message(msg(2))
        store.commit()
        copy = _snapshot(db, "copy.db")
    with SqliteStore(copy) as recovered:
        assert [m.seq for m in recovered.load().messages] == [1, 2]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"this is not a database at all, just some text\n" * 200, "not a valid SQLite store"),
        (b"", None),  # an empty file is a new, empty database
    ],
)
def test_sqlite_garbage_file(db: Path, content: bytes, match: Any) -> None:
    db.write_bytes(content)
    if match is None:
        with SqliteStore(db) as store:
            assert store.load() == StoreContents()
    else:
        with pytest.raises(StoreError, match=match):
            SqliteStore(db)


def _filled(db: Path) -> None:
    with SqliteStore(db) as store:
        for seq in range(1, 200):
            store.add_message(msg(seq, payload=bytes(500)))
        store.commit()


def test_sqlite_truncated_file_is_refused(db: Path) -> None:
    _filled(db)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError, match="damaged"):
        SqliteStore(db)


def test_sqlite_overwritten_pages_are_refused(db: Path) -> None:
    _filled(db)
    data = bytearray(db.read_bytes())
    page = 4096
    data[page * 3 : page * 5] = b"\xa5" * (page * 2)
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"damaged|not a valid"):
        SqliteStore(db)


def test_sqlite_refuses_a_foreign_database(db: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE readings (value REAL)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not an mqttclient store"):
        SqliteStore(db)


def test_sqlite_refuses_a_newer_format(db: Path) -> None:
    with SqliteStore(db) as store:
        assert store._conn is not None
        store._conn.execute("UPDATE meta SET value = 99 WHERE key = 'format'")
    with pytest.raises(StoreError, match="format 99"):
        SqliteStore(db)


def test_sqlite_closed_store_raises(db: Path) -> None:
    store = SqliteStore(db)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.add_message(msg(1))
    with pytest.raises(StoreError, match="closed"):
        store.load()


def test_store_error_is_an_mqtt_exception() -> None:
    assert issubclass(StoreError, MQTTException)


def test_sqlite_repr_and_path_objects(db: Path) -> None:
    store = SqliteStore(db, durability="full", check=False)
    assert "full" in repr(store) and "open" in repr(store)
    store.close()
    assert "closed" in repr(store)
    assert "MemoryStore" in repr(MemoryStore())


# --- MemoryStore only ----------------------------------------------------------------------------


def test_memory_store_reads_the_sessions_messages_instead_of_indexing_them() -> None:
    # No second index of live messages (memory per message queued offline): once a session
    # restored from it, the store reads that session's outbox, in its current state.
    from mqttclient._core.session import Session, SessionConfig

    store = MemoryStore()
    store.add_message(msg(1))  # before any session: kept by the store itself
    session = Session(SessionConfig(client_id="c", protocol_version=4), store)
    assert store._messages == {}  # handed over to the session
    for n in range(2, 5):
        session.publish("t", b"p%d" % n, 1, False, (), None, 0.0)
    assert store._messages == {}
    contents = store.load()
    assert [m.seq for m in contents.messages] == [1, 2, 3, 4] and contents.last_seq == 4
    assert contents.messages[0] == msg(1)
    # A new session on the same store resumes everything, as a new Client would.
    again = Session(SessionConfig(client_id="c", protocol_version=4), store)
    assert [m.seq for m in store.load().messages] == [1, 2, 3, 4]
    assert again.unfinished_count() == 4
