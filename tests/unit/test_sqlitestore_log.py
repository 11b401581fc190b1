"""The append-only log of ``SqliteStore`` (``path + "-log"``, ``_core/storelog.py``) and its
checkpoints.

A "crash" here drops the store's SQLite connection without a commit (SQLite rolls the open
batch back, as it would after ``kill -9``) and closes the log's file descriptor, leaving the log
file as the killed process would. tests/integration/test_durable.py does the real ``kill -9``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mqttclient import SqliteStore, _spec
from mqttclient._core import sqlitestore, storelog
from mqttclient._core.outbox import AWAIT_PUBACK, AWAIT_PUBCOMP, AWAIT_PUBREC, QUEUED
from mqttclient._core.store import StoredMessage
from mqttclient.errors import StoreError


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


def crash(store: SqliteStore) -> None:
    conn, log = store._conn, store._log
    store._conn = store._log = None
    assert conn is not None
    conn.close()
    if log is not None:
        log.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "outbox.db"


def log_of(db: Path) -> Path:
    return Path(f"{db}-log")


def crashed_with(db: Path, *messages: StoredMessage, committed: int = 0) -> None:
    """A "normal" store that added ``messages`` (committing after the first ``committed``)
    and crashed."""
    store = SqliteStore(db)
    for index, message in enumerate(messages):
        store.add_message(message)
        if index + 1 == committed:
            store.commit()
    crash(store)


def reopened(db: Path, durability: str = "normal") -> tuple[StoredMessage, ...]:
    with SqliteStore(db, durability) as store:
        return store.load().messages


def rows(store: SqliteStore) -> list[int]:
    """The seqs the outgoing table holds (as committed or in the open transaction)."""
    assert store._conn is not None
    return [row[0] for row in store._conn.execute("SELECT seq FROM outgoing ORDER BY seq")]


def statements(store: SqliteStore) -> list[str]:
    """Every SQL statement the store's connection runs from now on."""
    seen: list[str] = []
    assert store._conn is not None
    store._conn.set_trace_callback(seen.append)
    return seen


# --- the log and checkpoints -----------------------------------------------------------------------


def test_logged_messages_survive_a_crash_with_every_field(db: Path) -> None:
    props = ((_spec.MESSAGE_EXPIRY_INTERVAL, 60), (_spec.USER_PROPERTY, ("k", "v")))
    third = msg(3, AWAIT_PUBACK, 9, qos=2, retain=True, properties=props, expiry_wall=1.5e9)
    crashed_with(db, msg(1), msg(2, topic="ü/€", payload=bytes(70000)), third, committed=1)
    assert log_of(db).stat().st_size > 70000
    with SqliteStore(db) as store:
        assert log_of(db).stat().st_size == 0  # replayed into the tables, then emptied
        assert rows(store) == [1, 2, 3]
        contents = store.load()
        assert contents.messages == (msg(1), msg(2, topic="ü/€", payload=bytes(70000)), third)
        assert contents.last_seq == 3
    assert not log_of(db).exists()  # a clean close removes it
    assert reopened(db) == contents.messages


def test_changes_go_to_the_log_and_reach_the_tables_at_a_checkpoint(db: Path) -> None:
    store = SqliteStore(db)
    assert store._log is not None
    store.add_message(msg(1))  # "normal": written at once
    size = log_of(db).stat().st_size
    assert size > 0 and store._log.size == size
    store.update_message(msg(1, AWAIT_PUBACK, 1))  # batched until the commit
    assert log_of(db).stat().st_size == size
    store.commit()
    assert log_of(db).stat().st_size > size  # one more frame ...
    assert rows(store) == []  # ... and no row
    store._checkpoint()
    assert rows(store) == [1] and log_of(db).stat().st_size == 0
    store.add_message(msg(2))
    store.close()
    assert not log_of(db).exists()
    assert reopened(db) == (msg(1, AWAIT_PUBACK, 1), msg(2))


def test_messages_completed_between_checkpoints_never_get_a_row(db: Path) -> None:
    with SqliteStore(db) as store:
        store.add_message(msg(1))
        store._checkpoint()  # message 1 has a row
        sql = statements(store)
        for seq in range(2, 102):
            store.add_message(msg(seq))
            store.update_message(msg(seq, AWAIT_PUBACK, seq))
            if seq % 10 == 0:
                store.commit()
            if seq != 101:
                store.remove_message(msg(seq, AWAIT_PUBACK, seq))
        store.update_message(msg(1, AWAIT_PUBACK, 1))
        store.commit()
        assert sql == []  # nothing but the log so far
        store._checkpoint()
        assert rows(store) == [1, 101]
        inserts = [s for s in sql if s.startswith("INSERT OR REPLACE INTO outgoing")]
        assert len(inserts) == 1  # message 101 only (message 1 is updated, not inserted)
        assert not any(s.startswith("DELETE") for s in sql)
        assert store.load().messages == (msg(1, AWAIT_PUBACK, 1), msg(101, AWAIT_PUBACK, 101))


def test_a_checkpoint_deletes_and_updates_rows_of_earlier_checkpoints(db: Path) -> None:
    with SqliteStore(db) as store:
        for seq in (1, 2, 3, 4):
            store.add_message(msg(seq))
        store._checkpoint()
        store.update_message(msg(1, AWAIT_PUBREC, 7, qos=2))
        store.remove_message(msg(2, AWAIT_PUBACK, 8))
        store.add_message(msg(3, payload=b"again"))  # the same seq: replaces the row
        store.add_message(msg(4, payload=b"again"))
        store.remove_message(msg(4))  # ... and its removal deletes the older row
        store.commit()
        assert rows(store) == [1, 2, 3, 4]
        store._checkpoint()
        assert rows(store) == [1, 3]
    assert reopened(db) == (msg(1, AWAIT_PUBREC, 7), msg(3, payload=b"again"))


def test_replaying_a_log_the_tables_already_hold_changes_nothing(db: Path) -> None:
    # A crash between a checkpoint's COMMIT and the emptying of the log: the next open replays
    # frames whose changes the tables have. The result is the state the log ends with.
    store = SqliteStore(db)
    for seq in (1, 2, 3, 4):
        store.add_message(msg(seq))
    store._checkpoint()  # rows 1..4
    store.update_message(msg(1, AWAIT_PUBREC, 4))
    store.remove_message(msg(2, AWAIT_PUBACK, 5))  # completed
    store.add_message(msg(5))
    store.add_message(msg(6))
    store.remove_message(msg(6))  # dropped, never sent
    store.commit()
    store.load()  # moves the changes into the open transaction ...
    store.update_message(msg(1, AWAIT_PUBCOMP, 4))
    store.remove_message(msg(3, AWAIT_PUBACK, 6))
    store.commit()  # ... which this commit writes, with the log left as it is
    log = log_of(db).read_bytes()
    store._checkpoint()
    crash(store)
    log_of(db).write_bytes(log)  # the log as it was before the checkpoint emptied it
    expected = (msg(1, AWAIT_PUBCOMP, 4), msg(4), msg(5))
    with SqliteStore(db) as again:
        contents = again.load()
    assert contents.messages == expected
    assert contents.last_seq == 6
    assert reopened(db) == expected


def test_a_message_dropped_while_publishing_stays_dropped_after_a_crash(db: Path) -> None:
    # Policy drop_oldest: publish() adds the new message and removes a never-sent one.
    crashed_with(db, msg(1), msg(2), committed=2)
    store = SqliteStore(db)
    store.add_message(msg(3))
    store.remove_message(msg(1))  # QUEUED: written at once
    crash(store)
    assert reopened(db) == (msg(2), msg(3))


def test_a_completed_message_removal_waits_for_the_commit(db: Path) -> None:
    store = SqliteStore(db)
    store.add_message(msg(1, AWAIT_PUBACK, 1))
    store.commit()
    assert store._log is not None
    size = store._log.size
    store.remove_message(msg(1, AWAIT_PUBACK, 1))
    assert store._log.size == size and store._uncommitted
    crash(store)
    assert reopened(db) == (msg(1, AWAIT_PUBACK, 1),)  # lost with the batch: sent again


def test_off_writes_the_log_only_when_committing(db: Path) -> None:
    store = SqliteStore(db, "off")
    assert store.commit_on_publish is False and store._log is not None
    store.add_message(msg(1))
    assert store._log.size == 0 and store._uncommitted
    store.commit()
    assert store._log.size > 0 and not store._uncommitted
    store.add_message(msg(2))
    crash(store)
    assert reopened(db, "off") == (msg(1),)


def test_full_syncs_the_log_on_every_commit(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    monkeypatch.setattr(storelog, "_datasync", synced.append)
    store = SqliteStore(db, "full")
    assert store.commit_on_publish is True
    store.add_message(msg(1))
    assert synced == []  # publish() commits, and the commit syncs
    store.commit()
    assert len(synced) == 1
    store.commit()  # nothing new: no write, no sync
    assert len(synced) == 1
    crash(store)
    assert reopened(db, "full") == (msg(1),)


def test_every_durability_replays_the_log_and_close_removes_it(db: Path) -> None:
    for seq, durability in ((1, "off"), (2, "full"), (3, "normal")):
        crashed_with(db, msg(seq))
        with SqliteStore(db, durability) as store:
            assert store.load().messages == (msg(seq),)
            store.remove_message(msg(seq, AWAIT_PUBACK, 1))
        assert not log_of(db).exists()
    assert reopened(db) == ()


def test_an_in_memory_database_has_no_log_and_commits_on_publish() -> None:
    with SqliteStore(":memory:") as store:
        assert store._log is None and store.commit_on_publish is True
        store.add_message(msg(1))
        store.commit()
        assert rows(store) == [1]
        assert store.load().messages == (msg(1),)
    assert not Path(":memory:-log").exists()


def test_the_log_is_checkpointed_when_it_grows(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlitestore, "LOG_LIMIT", 1000)
    with SqliteStore(db) as store:
        for seq in range(1, 20):
            store.add_message(msg(seq, payload=bytes(300)))
            assert store._log is not None and store._log.size < 1000
        assert rows(store)[-1] >= 15
    assert [m.seq for m in reopened(db)] == list(range(1, 20))


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_the_log_has_the_permissions_of_the_database(db: Path) -> None:
    SqliteStore(db).close()
    os.chmod(db, 0o600)
    with SqliteStore(db):
        assert log_of(db).stat().st_mode & 0o777 == 0o600


# --- damaged logs ----------------------------------------------------------------------------------


def test_a_torn_last_frame_is_ignored_whole(db: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SqliteStore(db)
    store.add_message(msg(1))
    store.add_message(msg(2))
    store.update_message(msg(1, AWAIT_PUBACK, 1))
    store.remove_message(msg(2, AWAIT_PUBACK, 2))
    store.add_message(msg(3))  # one frame: the update, the removal and message 3
    crash(store)
    data = log_of(db).read_bytes()
    log_of(db).write_bytes(data[:-3])  # the last write was cut short
    with caplog.at_level(logging.WARNING, "mqttclient._core.sqlitestore"):
        assert reopened(db) == (msg(1), msg(2))  # none of the torn batch's changes
    assert "ignored" in caplog.text
    assert reopened(db) == (msg(1), msg(2))  # the log was emptied: the same after a restart


def test_a_torn_frame_header_is_ignored(db: Path) -> None:
    crashed_with(db, msg(1))
    with open(log_of(db), "ab") as f:
        f.write(b"\x10\x00")
    assert reopened(db) == (msg(1),)


def test_a_damaged_frame_ends_the_replay(db: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Documented rule: frames are replayed up to the first one that is incomplete or fails its
    # checksum (a crash of the machine can leave garbage in a file never synced); that one and
    # every later one are ignored, with a warning.
    crashed_with(db, msg(1), msg(2), msg(3))
    one = log_of(db).stat().st_size // 3  # three frames of the same size
    data = bytearray(log_of(db).read_bytes())
    data[one + 12] ^= 0xFF  # inside the second frame's body
    log_of(db).write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, "mqttclient._core.sqlitestore"):
        assert reopened(db) == (msg(1),)
    assert "ignored" in caplog.text


def test_a_zero_filled_log_is_ignored(db: Path) -> None:
    store = SqliteStore(db)
    store.add_message(msg(1))
    store._checkpoint()
    crash(store)
    log_of(db).write_bytes(bytes(4096))
    assert reopened(db) == (msg(1),)


@pytest.mark.parametrize(
    "body",
    [
        bytes([9]) + bytes(20),  # an unknown operation
        storelog.remove_op(1) + b"\x02\x00",  # operations that do not fill the frame
    ],
)
def test_a_frame_this_version_cannot_read_is_refused(db: Path, body: bytes) -> None:
    crashed_with(db, msg(1))
    with open(log_of(db), "ab") as f:
        f.write(storelog.frame(body))
    with pytest.raises(StoreError, match="cannot read"):
        SqliteStore(db)
    assert log_of(db).stat().st_size > 0  # left for a newer mqttclient
    with pytest.raises(StoreError, match="cannot read"):
        SqliteStore(db)  # and the database is not locked by the failed attempt


def test_operations_round_trip() -> None:
    records = [
        storelog.AddRecord(1, 1, "t/1", b"p1", 1, False, b"", QUEUED, 0, 0.0),
        storelog.AddRecord(2**40, 65535, "ü", b"", 2, True, b"\x01\x02", AWAIT_PUBREC, 65535, 1.25),
        storelog.UpdateRecord(2**40, AWAIT_PUBCOMP, 65535),
        storelog.RemoveRecord(7),
    ]
    first = storelog.add_op(1, 1, b"t/1", b"p1", 1, False, b"", QUEUED, 0, 0.0)
    second = storelog.add_op(
        2**40, 65535, "ü".encode(), b"", 2, True, b"\x01\x02", AWAIT_PUBREC, 65535, 1.25
    )
    rest = storelog.update_op(2**40, AWAIT_PUBCOMP, 65535) + storelog.remove_op(7)
    data = storelog.frame(first) + storelog.frame(second + rest)
    assert storelog.decode(data, "x") == storelog.LogContents(records, 0)
    assert storelog.decode(data + b"\x00" * 7, "x").ignored == 7


# --- failures and exclusivity --------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_failed_log_write_refuses_the_message_and_later_writes(db: Path) -> None:
    store = SqliteStore(db)
    store.add_message(msg(1))
    log = store._log
    assert log is not None
    real_fd = log._fd
    log._fd = os.open("/dev/full", os.O_WRONLY)  # every write: ENOSPC
    try:
        with pytest.raises(StoreError, match="log"):
            store.add_message(msg(2))
        with pytest.raises(StoreError, match="reopen"):
            store.add_message(msg(3))
        with pytest.raises(StoreError, match="reopen"):
            store.commit()
        store.close()  # no error: already reported; the log is kept
    finally:
        os.close(real_fd)
    assert log_of(db).stat().st_size > 0
    assert reopened(db) == (msg(1),)


class _FailingCommits:
    """The store's connection, except that COMMIT fails (a full disk at a checkpoint)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def test_a_failed_checkpoint_keeps_the_log_and_refuses_later_writes(db: Path) -> None:
    store = SqliteStore(db)
    store.add_message(msg(1))
    store.add_message(msg(2))
    store.remove_message(msg(1, AWAIT_PUBACK, 1))
    store.commit()
    real = store._conn
    assert real is not None
    store._conn = _FailingCommits(real)  # type: ignore[assignment]
    with pytest.raises(StoreError, match="disk is full"):
        store._checkpoint()
    with pytest.raises(StoreError, match="reopen"):
        store.add_message(msg(3))
    store.close()  # the log is kept
    real.close()
    assert log_of(db).stat().st_size > 0
    assert reopened(db) == (msg(2),)


def test_a_second_opener_is_refused_and_does_not_touch_the_log(db: Path) -> None:
    with SqliteStore(db) as store:
        store.add_message(msg(1))
        size = log_of(db).stat().st_size
        with pytest.raises(StoreError, match="in use by another process or another SqliteStore"):
            SqliteStore(db)
        assert log_of(db).stat().st_size == size  # not replayed, not emptied
        store.add_message(msg(2))
    assert reopened(db) == (msg(1), msg(2))


def test_another_process_is_refused(db: Path) -> None:
    probe = (
        "import sys\n"
        "from mqttclient import SqliteStore\n"
        "from mqttclient.errors import StoreError\n"
        "try:\n"
        "    SqliteStore(sys.argv[1])\n"
        "except StoreError as exc:\n"
        "    print('refused:', exc)\n"
    )
    with SqliteStore(db) as store:
        store.add_message(msg(1))
        size = log_of(db).stat().st_size
        result = subprocess.run(
            [sys.executable, "-c", probe, str(db)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert "refused: " in result.stdout and "in use" in result.stdout
        assert log_of(db).stat().st_size == size
