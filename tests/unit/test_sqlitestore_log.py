"""The append-only log of ``SqliteStore("normal")`` (``path + "-log"``, ``_core/storelog.py``).

A "crash" here drops the store's SQLite connection without a commit (SQLite rolls the open
batch back, as it would after ``kill -9``) and closes the log's file descriptor, leaving the log
file as the killed process would. tests/integration/test_durable.py does the real ``kill -9``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mqttclient import SqliteStore, _spec
from mqttclient._core import sqlitestore, storelog
from mqttclient._core.outbox import AWAIT_PUBACK, AWAIT_PUBCOMP, QUEUED
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
    """A "normal" store that committed the first ``committed`` messages, logged the rest and
    crashed."""
    store = SqliteStore(db)
    for index, message in enumerate(messages):
        store.add_message(message)
        if index + 1 == committed:
            store.commit()
    crash(store)


def reopened(db: Path, durability: str = "normal") -> tuple[StoredMessage, ...]:
    with SqliteStore(db, durability) as store:
        return store.load().messages


# --- replay ----------------------------------------------------------------------------------------


def test_logged_messages_survive_a_crash_with_every_field(db: Path) -> None:
    props = ((_spec.MESSAGE_EXPIRY_INTERVAL, 60), (_spec.USER_PROPERTY, ("k", "v")))
    third = msg(3, AWAIT_PUBACK, 9, qos=2, retain=True, properties=props, expiry_wall=1.5e9)
    crashed_with(db, msg(1), msg(2, topic="ü/€", payload=bytes(70000)), third, committed=1)
    assert log_of(db).stat().st_size > 70000
    with SqliteStore(db) as store:
        assert log_of(db).stat().st_size == 0  # moved into the database, then emptied
        contents = store.load()
        assert contents.messages == (msg(1), msg(2, topic="ü/€", payload=bytes(70000)), third)
        assert contents.last_seq == 3
    assert not log_of(db).exists()  # a clean close removes it
    assert reopened(db) == contents.messages


def test_commit_empties_the_log_and_close_removes_it(db: Path) -> None:
    store = SqliteStore(db)
    assert log_of(db).exists() and store._log is not None
    store.add_message(msg(1))
    size = log_of(db).stat().st_size
    assert size > 0 and store._log.size == size
    store.update_message(msg(1, AWAIT_PUBACK, 1))  # batched: not logged
    assert log_of(db).stat().st_size == size
    store.commit()
    assert log_of(db).stat().st_size == 0
    store.add_message(msg(2))
    store.close()
    assert not log_of(db).exists()
    assert reopened(db) == (msg(1, AWAIT_PUBACK, 1), msg(2))


def test_replay_never_reverts_what_a_commit_recorded_after_the_log(db: Path) -> None:
    # A crash between the COMMIT and the emptying of the log: the log still holds messages the
    # database has, with later states, or already completed.
    store = SqliteStore(db)
    for seq in (1, 2, 3):
        store.add_message(msg(seq))
    store.remove_message(msg(3))  # dropped, never sent
    stale = log_of(db).read_bytes()
    store.update_message(msg(1, AWAIT_PUBCOMP, 4))
    store.remove_message(msg(2, AWAIT_PUBACK, 5))  # completed
    store.commit()
    crash(store)
    log_of(db).write_bytes(stale)
    with SqliteStore(db) as again:
        contents = again.load()
    assert contents.messages == (msg(1, AWAIT_PUBCOMP, 4),)
    assert contents.last_seq == 3


def test_a_message_dropped_while_publishing_stays_dropped_after_a_crash(db: Path) -> None:
    # Policy drop_oldest: publish() adds the new message and removes a never-sent one.
    crashed_with(db, msg(1), msg(2), committed=2)
    store = SqliteStore(db)
    store.add_message(msg(3))
    store.remove_message(msg(1))  # QUEUED: logged too
    crash(store)
    assert reopened(db) == (msg(2), msg(3))


def test_a_completed_message_removal_is_batched_not_logged(db: Path) -> None:
    with SqliteStore(db) as store:
        store.add_message(msg(1, AWAIT_PUBACK, 1))
        store.commit()
        store.remove_message(msg(1, AWAIT_PUBACK, 1))
        assert store._log is not None and store._log.size == 0


def test_every_durability_recovers_a_log_left_by_normal_and_removes_it(db: Path) -> None:
    for seq, durability in ((1, "off"), (2, "full")):
        crashed_with(db, msg(seq))
        assert log_of(db).stat().st_size > 0
        with SqliteStore(db, durability) as store:
            assert store._log is None and not log_of(db).exists()
            assert store.load().messages == (msg(seq),)
            store.remove_message(msg(seq, AWAIT_PUBACK, 1))


def test_off_and_full_use_no_log(db: Path) -> None:
    for durability in ("off", "full"):
        with SqliteStore(db, durability) as store:
            store.add_message(msg(1))
            assert not log_of(db).exists()


def test_an_in_memory_database_has_no_log_and_commits_on_publish() -> None:
    with SqliteStore(":memory:") as store:
        assert store._log is None and store.commit_on_publish is True
        store.add_message(msg(1))
        assert store.load().messages == (msg(1),)
    assert not Path(":memory:-log").exists()


def test_the_log_is_moved_early_when_it_grows(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlitestore, "LOG_LIMIT", 1000)
    with SqliteStore(db) as store:
        for seq in range(1, 20):
            store.add_message(msg(seq, payload=bytes(300)))
            assert store._log is not None and store._log.size < 1000
        assert not store._in_tx or store._log.size > 0


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_the_log_has_the_permissions_of_the_database(db: Path) -> None:
    SqliteStore(db).close()
    os.chmod(db, 0o600)
    with SqliteStore(db):
        assert log_of(db).stat().st_mode & 0o777 == 0o600


# --- damaged logs ----------------------------------------------------------------------------------


def test_a_torn_last_record_is_ignored(db: Path, caplog: pytest.LogCaptureFixture) -> None:
    crashed_with(db, msg(1), msg(2), msg(3))
    data = log_of(db).read_bytes()
    log_of(db).write_bytes(data[:-3])  # the last write was cut short
    with caplog.at_level(logging.WARNING, "mqttclient._core.sqlitestore"):
        assert reopened(db) == (msg(1), msg(2))
    assert "ignored" in caplog.text
    assert reopened(db) == (msg(1), msg(2))  # the log was emptied: the same after a restart


def test_a_torn_frame_header_is_ignored(db: Path) -> None:
    crashed_with(db, msg(1))
    with open(log_of(db), "ab") as f:
        f.write(b"\x10\x00")
    assert reopened(db) == (msg(1),)


def test_a_damaged_record_ends_the_replay(db: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Documented rule: records are replayed up to the first one that is incomplete or fails
    # its checksum (a crash of the machine can leave garbage in a file never synced); that one
    # and every later one are ignored, with a warning.
    crashed_with(db, msg(1), msg(2), msg(3))
    one = len(storelog.encode_add(_record(msg(1))))
    data = bytearray(log_of(db).read_bytes())
    data[one + 12] ^= 0xFF  # inside the second record's body
    log_of(db).write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, "mqttclient._core.sqlitestore"):
        assert reopened(db) == (msg(1),)
    assert "ignored" in caplog.text


def test_a_zero_filled_log_is_ignored(db: Path) -> None:
    crashed_with(db, msg(1), committed=1)
    log_of(db).write_bytes(bytes(4096))
    assert reopened(db) == (msg(1),)


def test_a_record_of_an_unknown_kind_is_refused(db: Path) -> None:
    crashed_with(db, msg(1))
    body = bytes([9]) + bytes(20)
    with open(log_of(db), "ab") as f:
        f.write(storelog._FRAME.pack(len(body), storelog.zlib.crc32(body)) + body)
    with pytest.raises(StoreError, match="cannot read"):
        SqliteStore(db)
    assert log_of(db).stat().st_size > 0  # left for a newer mqttclient
    with pytest.raises(StoreError, match="cannot read"):
        SqliteStore(db)  # and the database is not locked by the failed attempt


def _record(message: StoredMessage) -> storelog.AddRecord:
    return storelog.AddRecord(
        message.seq,
        message.mid,
        message.topic,
        message.payload,
        message.qos,
        message.retain,
        b"",
        message.state,
        message.packet_id,
        message.expiry_wall,
    )


def test_records_round_trip() -> None:
    records = [
        _record(msg(1)),
        storelog.AddRecord(2**40, 65535, "", b"", 2, True, b"\x01\x02", 3, 65535, 1.25),
        storelog.RemoveRecord(7),
    ]
    data = b"".join(
        storelog.encode_remove(r.seq)
        if isinstance(r, storelog.RemoveRecord)
        else storelog.encode_add(r)
        for r in records
    )
    assert storelog.decode(data, "x") == storelog.LogContents(records, 0)  # type: ignore[arg-type]
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
            store.commit()  # would hide the logged message 1 from the next open
        store.close()  # no error: already reported; the log is kept
    finally:
        os.close(real_fd)
    assert log_of(db).stat().st_size > 0
    assert reopened(db) == (msg(1),)


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
