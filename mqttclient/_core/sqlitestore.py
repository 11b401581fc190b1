"""``SqliteStore``: the session state in an SQLite file, so that it survives a crash or a reboot.

Owns: the file format (schema version 1, and the log next to it), opening the file exclusively,
the mapping of each ``Store`` call to the log and to SQL, checkpoints, and the durability levels.

Where it lives and why: this module is the one documented exception to the purity of ``_core``
(DESIGN.md): it does file I/O, through the standard library's ``sqlite3`` only (and ``os``
for its log, in ``storelog.py``). It touches no sockets, threads or clocks; wall-clock times it
stores come in as values. It sits next to the ``Store`` protocol because the session calls it
synchronously, under the engine lock, like any other store; nothing in ``_core`` imports it
(``mqttclient/__init__.py`` re-exports it).

Must not: be opened by two objects at once (refused with ``StoreError``); call back; hold its own
lock (the engine lock serialises every call, from whichever thread holds it, which is why the
connection is opened with ``check_same_thread=False``).

How outgoing messages are kept. Every change to an outgoing message (``add_message``,
``update_message``, ``remove_message``) is appended to the open batch, a few bytes in memory;
the batch is written to the log (``path + "-log"``, ``storelog.py``) as one checksummed frame
with one ``os.write`` by ``commit()``, and with ``durability="normal"`` also by ``add_message``
itself. The SQLite tables are not touched on that path. A **checkpoint** moves into the
``outgoing`` table what the log says, as its net effect: rows for the messages still unfinished
that have none yet, the new state of those that have one, and deletes for those that completed;
a message that was accepted and acknowledged between two checkpoints (almost all of them on a
working connection) never gets a row. The checkpoint commits that, then empties the log. It
runs when the log has grown past ``LOG_LIMIT`` at a commit, at ``close()``, and when a store is
opened: the log a crashed process left is replayed into the tables. Replaying a frame that a
checkpoint already applied (a crash between its commit and the emptying of the log) is harmless:
the log holds every change since the tables' previous checkpoint, in order, and an ADD replaces
its row, so the result is the state the log ends with. Incoming QoS 2 messages, subscriptions
and the session fields are written to SQLite directly, in a transaction committed by
``commit()``.

Durability (the ``durability`` argument). Every setting uses SQLite's WAL journal, so a crash in
the middle of a checkpoint never leaves a half-written state: SQLite recovers the file to its
last commit when it is opened again, and the log still holds what that checkpoint wrote.

``"normal"`` (the default)
    ``add_message`` (called inside ``publish()``) writes the batch to the log before it returns,
    so ``publish()`` needs no commit (``commit_on_publish`` is False); the other changes are
    written by the commit the engine makes once per loop iteration (``Session.persist``), and
    always before the bytes that depend on them are sent. Survives a crash of the process
    (``kill -9``, an unhandled exception, the OOM killer): what a process wrote to a file is in
    the operating system's page cache once ``os.write`` returns. ``PRAGMA synchronous=NORMAL``.
    A power loss or kernel crash may lose the last changes (neither the log nor the WAL is
    synced on each write) but leaves the database consistent.
``"full"``
    ``PRAGMA synchronous=FULL``, ``publish()`` commits, and every commit syncs the log to the
    disk (``fdatasync``) before it returns. Survives a power loss. Costs one sync per
    ``publish()`` (a fraction of a millisecond on an SSD, milliseconds on an SD card).
``"off"``
    ``PRAGMA synchronous=OFF`` and ``publish()`` does not commit: messages accepted since the last
    loop iteration are lost if the process crashes, and a power loss may corrupt the file (which
    is then refused with ``StoreError``). For data you can afford to lose; still survives a clean
    ``close()``.

Replay rules: frames are read up to the first incomplete one or the first whose checksum fails
(a write cut short by the crash, or garbage left by a crash of the machine); that one and all
after it are ignored, with a warning. A frame of an unknown format with a valid checksum (a
newer mqttclient) is refused with ``StoreError``. If a log write or a commit fails, the store
raises ``StoreError`` and refuses every later write and commit, keeping the log for the next
open; reopen it once the storage is fixed.

A clean ``close()`` checkpoints and removes the log. An in-memory database (``":memory:"``) has
no log: its commits are checkpoints.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from typing import Any, Optional, Union

from mqttclient import _spec
from mqttclient._core import storelog
from mqttclient._core.outbox import QUEUED
from mqttclient._core.packets import Props, Publish, Subscription
from mqttclient._core.store import MessageRecord, StoreContents, StoredMessage
from mqttclient._core.wire import decode_properties, encode_properties
from mqttclient.errors import MQTTException, StoreError

__all__ = ["DURABILITY_LEVELS", "LOG_LIMIT", "SqliteStore"]

logger = logging.getLogger(__name__)

#: ``durability`` value -> SQLite ``synchronous`` level.
DURABILITY_LEVELS = {"off": "OFF", "normal": "NORMAL", "full": "FULL"}

_FORMAT = 1  # schema version written in the meta table

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)",
    "CREATE TABLE IF NOT EXISTS outgoing ("
    " seq INTEGER PRIMARY KEY, mid INTEGER NOT NULL, topic TEXT NOT NULL,"
    " payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, properties BLOB,"
    " state INTEGER NOT NULL, packet_id INTEGER NOT NULL, expiry REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS incoming ("
    " packet_id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL,"
    " qos INTEGER NOT NULL, retain INTEGER NOT NULL, dup INTEGER NOT NULL, properties BLOB)",
    "CREATE TABLE IF NOT EXISTS subscriptions ("
    " topic_filter TEXT PRIMARY KEY, qos INTEGER NOT NULL, no_local INTEGER NOT NULL,"
    " retain_as_published INTEGER NOT NULL, retain_handling INTEGER NOT NULL, properties BLOB)",
)

#: A commit checkpoints once the log holds this many bytes (about 20,000 messages of 100 bytes).
#: Larger: fewer messages get a row before they complete, a longer replay after a crash (the log
#: is read whole: tens of milliseconds).
LOG_LIMIT = 4 << 20

_ADD = "INSERT OR REPLACE INTO outgoing VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_UPDATE = "UPDATE outgoing SET state = ?, packet_id = ? WHERE seq = ?"
_REMOVE = "DELETE FROM outgoing WHERE seq = ?"
_SET_META = "INSERT OR REPLACE INTO meta VALUES (?, ?)"

_add_op = storelog.add_op
_update_op = storelog.update_op
_remove_op = storelog.remove_op


class SqliteStore:
    """The session state in the SQLite file ``path`` (created if missing)::

        store = SqliteStore("/var/lib/sensor/outbox.db")
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, "sensor-1", store=store)

    :param path: the database file. SQLite also keeps ``path + "-wal"`` next to it while it is
        open, and the store its log, ``path + "-log"``.
    :param durability: ``"normal"`` (the default: survives a crash of the process), ``"full"``
        (survives a power loss) or ``"off"``; the module docstring and docs/durable-sessions.rst
        give the exact guarantees.
    :param check: run SQLite's ``quick_check`` when opening (it reads the whole file once) and
        refuse a damaged file.
    :raises StoreError: the file is open elsewhere (another process or another
        ``SqliteStore``: the lock is held until ``close()``), is not a store, is damaged, or was
        written by a newer version of mqttclient.
    :raises ValueError: an unknown ``durability``.

    Close it with ``close()``, or use it as a context manager, once the client is done with it
    (after ``disconnect()`` and ``loop_stop()``). Thread: any; the client calls it with its lock
    held.
    """

    def __init__(
        self,
        path: Union[str, os.PathLike[str]],
        durability: str = "normal",
        *,
        check: bool = True,
    ) -> None:
        if durability not in DURABILITY_LEVELS:
            raise ValueError(
                f"durability must be one of {', '.join(DURABILITY_LEVELS)}, not {durability!r}"
            )
        self.path = os.fspath(path)
        self.durability = durability
        #: ``path + "-log"``: the append-only log (module docstring).
        self.log_path = self.path + "-log"
        in_memory = self.path in ("", ":memory:")
        #: See ``Store.commit_on_publish``: True with ``durability="full"`` (and "normal" on an
        #: in-memory database, which has no log); "normal" makes ``add_message`` durable
        #: through the log instead.
        self.commit_on_publish = durability == "full" or (durability == "normal" and in_memory)
        self._eager = durability == "normal" and not in_memory  # add_message writes the log
        self._sync = durability == "full"
        self._log: Optional[storelog.AppendLog] = None
        #: Why the store refuses writes (a failed log write or commit): reopen it.
        self._failed = ""
        self._in_tx = False  # an SQLite transaction is open
        # The open batch: operations not yet written to the log.
        self._batch = bytearray()
        # What the next checkpoint moves into the outgoing table: messages with no row yet
        # (the live objects: their state is read then), new states of messages that have one,
        # and the seqs to delete.
        self._new: dict[int, MessageRecord] = {}
        self._dirty: dict[int, tuple[int, int]] = {}
        self._gone: set[int] = set()
        # Every seq that may have a row is <= _row_seq; a message above it has none.
        self._row_seq = 0
        # The highest seq ever added, and the last_seq row of the meta table.
        self._last_seq = 0
        self._meta_seq = 0
        self._conn: Optional[sqlite3.Connection] = None
        self._conn = self._open(check)
        if not in_memory:
            try:
                self._recover_log()
            except BaseException:
                self._close_files(unlink=False)
                raise

    def __repr__(self) -> str:
        state = "open" if self._conn is not None else "closed"
        return f"SqliteStore({self.path!r}, durability={self.durability!r}) <{state}>"

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- opening ----------------------------------------------------------------------------------
    def _open(self, check: bool) -> sqlite3.Connection:
        path = self.path
        try:
            conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store {path!r}: {exc}") from exc
        try:
            # EXCLUSIVE before WAL: the lock is taken on first access and held until close(),
            # and the WAL index lives in this process's memory (no -shm file). A second opener,
            # in this process or another, fails with SQLITE_BUSY instead of sharing the file.
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                logger.warning("store %r: WAL journal unavailable, using %s", path, mode)
            conn.execute(f"PRAGMA synchronous={DURABILITY_LEVELS[self.durability]}")
            if check:
                problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
                if problems != ["ok"]:
                    raise StoreError(
                        f"the store {path!r} is damaged ({'; '.join(problems[:3])}); move it "
                        "away to start with an empty store"
                    )
            conn.execute("BEGIN EXCLUSIVE")
            self._prepare_schema(conn)
            conn.execute("COMMIT")
        except StoreError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise _open_error(path, exc) from exc
        return conn

    def _prepare_schema(self, conn: sqlite3.Connection) -> None:
        tables = {
            row[0]
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not str(row[0]).startswith("sqlite_")
        }
        if tables and "meta" not in tables:
            raise StoreError(
                f"{self.path!r} is an SQLite database but not an mqttclient store "
                f"(tables: {', '.join(sorted(tables))})"
            )
        for statement in _SCHEMA:
            conn.execute(statement)
        row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        if row is None:
            if tables - {"meta"}:
                raise StoreError(f"the store {self.path!r} has no format marker: not a store")
            conn.execute(_SET_META, ("format", _FORMAT))
        elif not isinstance(row[0], int) or row[0] > _FORMAT:
            raise StoreError(
                f"the store {self.path!r} has format {row[0]!r}; this version of mqttclient "
                f"reads format {_FORMAT} (upgrade mqttclient, or move the file away)"
            )
        row = conn.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
        meta_seq = int(row[0]) if row is not None else 0
        top = conn.execute("SELECT max(seq) FROM outgoing").fetchone()[0] or 0
        self._last_seq = max(meta_seq, top)
        self._row_seq = top
        self._meta_seq = meta_seq

    def _recover_log(self) -> None:
        """Open the log and replay what a crashed process left in it into the tables, then
        empty it. Runs with the database's exclusive lock held, so no other store touches the
        log."""
        path = self.log_path
        try:
            mode = os.stat(self.path).st_mode & 0o777
        except OSError:
            mode = 0o644
        log = self._log = storelog.AppendLog(path, mode)
        if not log.size:
            return
        contents = log.read()
        if contents.ignored:
            logger.warning(
                "store log %r: ignored %d bytes after its last complete record (a write cut "
                "short by a crash, or damage)",
                path,
                contents.ignored,
            )
        conn = self._conn
        assert conn is not None
        try:
            self._begin(conn)
            for record in contents.records:
                kind = type(record)
                if kind is storelog.AddRecord:
                    assert isinstance(record, storelog.AddRecord)
                    conn.execute(
                        _ADD,
                        (
                            record.seq,
                            record.mid,
                            record.topic,
                            record.payload,
                            record.qos,
                            record.retain,
                            record.properties or None,
                            record.state,
                            record.packet_id,
                            record.expiry_wall,
                        ),
                    )
                    self._last_seq = max(self._last_seq, record.seq)
                elif kind is storelog.UpdateRecord:
                    assert isinstance(record, storelog.UpdateRecord)
                    conn.execute(_UPDATE, (record.state, record.packet_id, record.seq))
                else:
                    conn.execute(_REMOVE, (record.seq,))
            top = conn.execute("SELECT max(seq) FROM outgoing").fetchone()[0] or 0
            self._row_seq = max(self._row_seq, top)
            self._save_last_seq(conn)
        except sqlite3.Error as exc:
            self._rollback(conn)
            raise StoreError(f"replaying the log of the store {self.path!r} failed: {exc}") from exc
        self._commit_tx(conn)
        logger.info("store %r: replayed %d changes from its log", self.path, len(contents.records))
        log.reset()

    def _close_files(self, unlink: bool) -> None:
        log, self._log = self._log, None
        if log is not None:
            log.close()
            if unlink:
                _unlink(log.path)
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # --- outgoing messages: the log ---------------------------------------------------------------
    def _refuse(self) -> StoreError:
        if self._failed:
            return StoreError(self._failed)
        return StoreError(f"the store {self.path!r} is closed")

    def add_message(self, msg: MessageRecord) -> None:
        if self._conn is None or self._failed:
            raise self._refuse()
        seq = msg.seq
        props = msg.properties
        self._batch += _add_op(
            seq,
            msg.mid,
            msg.topic.encode("utf-8"),
            msg.payload,
            msg.qos,
            msg.retain,
            encode_properties(props) if props else b"",
            msg.state,
            msg.packet_id,
            msg.expiry_wall,
        )
        self._new[seq] = msg
        if seq > self._last_seq:
            self._last_seq = seq
        if self._eager:
            # "normal": durable against a crash of the process once the log holds it.
            self._write_batch()
            log = self._log
            if log is not None and log.size >= LOG_LIMIT:
                self.commit()  # publishing with no loop iteration to commit

    def update_message(self, msg: MessageRecord) -> None:
        if self._conn is None or self._failed:
            raise self._refuse()
        seq = msg.seq
        new = self._new
        if seq in new:
            new[seq] = msg
        elif seq <= self._row_seq:
            self._dirty[seq] = (msg.state, msg.packet_id)
        else:
            return  # not stored
        self._batch += _update_op(seq, msg.state, msg.packet_id)

    def remove_message(self, msg: MessageRecord) -> None:
        if self._conn is None or self._failed:
            raise self._refuse()
        seq = msg.seq
        if self._new.pop(seq, None) is None:
            if seq > self._row_seq:
                return  # not stored
            self._dirty.pop(seq, None)
            self._gone.add(seq)
        elif seq <= self._row_seq:
            self._gone.add(seq)  # added again over an older row
        self._batch += _remove_op(seq)
        if self._eager and msg.state == QUEUED:
            # Never sent, so dropped by the queue policy or expired, typically inside the
            # publish() that accepted a newer message: a crash must not bring it back.
            self._write_batch()

    def _write_batch(self) -> None:
        """Write the open batch to the log as one frame (and sync it with "full")."""
        log = self._log
        if log is not None:
            try:
                log.append(storelog.frame(self._batch))
                if self._sync:
                    log.sync()
            except StoreError:
                self._failed = f"writing to the log of the store {self.path!r} failed: reopen it"
                raise
        self._batch.clear()

    # --- outgoing messages: checkpoints -----------------------------------------------------------
    def _apply(self, conn: sqlite3.Connection) -> None:
        """Move the net effect of the changes since the last checkpoint into the outgoing table
        (in the open transaction)."""
        new, dirty, gone = self._new, self._dirty, self._gone
        if not (new or dirty or gone or self._last_seq > self._meta_seq):
            return
        try:
            self._begin(conn)
            if gone:
                conn.executemany(_REMOVE, [(seq,) for seq in gone])
            if dirty:
                conn.executemany(_UPDATE, [(s, p, seq) for seq, (s, p) in dirty.items()])
            if new:
                conn.executemany(_ADD, [_row(msg) for msg in new.values()])
                self._row_seq = max(self._row_seq, max(new))
            self._save_last_seq(conn)
        except sqlite3.Error as exc:
            self._failed = f"writing to the store {self.path!r} failed earlier: reopen it"
            raise StoreError(f"writing to the store {self.path!r} failed: {exc}") from exc
        new.clear()
        dirty.clear()
        gone.clear()

    def _save_last_seq(self, conn: sqlite3.Connection) -> None:
        # Kept in meta: the row of the highest seq may be deleted, and seqs are never reused.
        if self._last_seq > self._meta_seq:
            conn.execute(_SET_META, ("last_seq", self._last_seq))
            self._meta_seq = self._last_seq

    def _checkpoint(self) -> None:
        conn = self._conn
        assert conn is not None
        self._apply(conn)
        self._commit_tx(conn)
        log = self._log
        if log is not None and log.size:
            log.reset()  # the tables now hold everything it says

    # --- incoming messages, subscriptions, session fields: SQL ------------------------------------
    def _begin(self, conn: sqlite3.Connection) -> None:
        if not self._in_tx:
            conn.execute("BEGIN")
            self._in_tx = True

    def _write(self, sql: str, params: Any = ()) -> None:
        conn = self._conn
        if conn is None or self._failed:
            raise self._refuse()
        try:
            self._begin(conn)
            conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"writing to the store {self.path!r} failed: {exc}") from exc

    def set_session(self, client_id: str, protocol_version: int) -> None:
        self._write(_SET_META, ("client_id", client_id))
        self._write(_SET_META, ("protocol_version", protocol_version))

    def add_incoming(self, publish: Publish) -> None:
        props = publish.properties
        self._write(
            "INSERT OR REPLACE INTO incoming VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                publish.packet_id,
                publish.topic,
                publish.payload,
                publish.qos,
                publish.retain,
                publish.dup,
                encode_properties(props) if props else None,
            ),
        )

    def remove_incoming(self, packet_id: int) -> None:
        self._write("DELETE FROM incoming WHERE packet_id = ?", (packet_id,))

    def clear_incoming(self) -> None:
        self._write("DELETE FROM incoming")

    def put_subscription(self, subscription: Subscription, properties: Props) -> None:
        sub = subscription
        # DELETE first so that a renewed subscription moves to the end of the rowid order.
        self._write("DELETE FROM subscriptions WHERE topic_filter = ?", (sub.topic_filter,))
        self._write(
            "INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?, ?)",
            (
                sub.topic_filter,
                sub.qos,
                sub.no_local,
                sub.retain_as_published,
                sub.retain_handling,
                encode_properties(properties) if properties else None,
            ),
        )

    def remove_subscription(self, topic_filter: str) -> None:
        self._write("DELETE FROM subscriptions WHERE topic_filter = ?", (topic_filter,))

    # --- committing -------------------------------------------------------------------------------
    def commit(self) -> None:
        """Make every change so far durable: write the open batch to the log (synced with
        "full"), commit the SQL changes, and checkpoint when the log has grown past
        ``LOG_LIMIT``. Cheap when nothing changed.

        Raises:
            StoreError: the write or the commit failed (e.g. the disk is full); the store then
                refuses every later change (reopen it: the log keeps what was written).
        """
        if self._failed:
            raise StoreError(self._failed)
        if self._batch:
            self._write_batch()
        log = self._log
        if log is None:
            if self._conn is not None and (self._new or self._dirty or self._gone or self._in_tx):
                self._checkpoint()  # an in-memory database: no log to hold the changes
        elif log.size >= LOG_LIMIT:
            self._checkpoint()
        elif self._in_tx:
            conn = self._conn
            assert conn is not None  # _in_tx is only set while open
            self._commit_tx(conn)

    @property
    def _uncommitted(self) -> bool:
        """True while changes wait for ``commit()`` (tests)."""
        return bool(self._batch) or self._in_tx

    def _commit_tx(self, conn: sqlite3.Connection) -> None:
        if not self._in_tx:
            return
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(conn)
            # The SQL changes of the batch are lost (the log keeps the outgoing ones): accept
            # nothing more until the store is opened again.
            self._failed = f"committing to the store {self.path!r} failed earlier: reopen it"
            raise StoreError(f"committing to the store {self.path!r} failed: {exc}") from exc
        self._in_tx = False

    def _rollback(self, conn: sqlite3.Connection) -> None:
        self._in_tx = False
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # no transaction left to roll back: SQLite already did

    def close(self) -> None:
        """Commit what is pending, checkpoint, and close the file (releasing the lock) and its
        log (removed: the tables hold everything). Idempotent. If the commit fails, the log
        stays for the next open."""
        if self._conn is None:
            return
        if self._failed:  # already reported; the log keeps what the database lacks
            logger.warning("store %r closed after a failure: its log is kept", self.path)
            self._close_files(unlink=False)
            return
        done = False
        try:
            self.commit()
            self._checkpoint()
            done = True
        finally:
            self._close_files(unlink=done)

    # --- reading ----------------------------------------------------------------------------------
    def load(self) -> StoreContents:
        """Everything the store holds, uncommitted changes included."""
        conn = self._conn
        if conn is None or self._failed:
            raise self._refuse()
        self._apply(conn)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            messages = tuple(
                StoredMessage(
                    seq,
                    mid,
                    topic,
                    bytes(payload),
                    qos,
                    bool(retain),
                    _decode_props(props, _spec.PUBLISH),
                    state,
                    packet_id,
                    float(expiry),
                )
                for seq, mid, topic, payload, qos, retain, props, state, packet_id, expiry in (
                    conn.execute("SELECT * FROM outgoing ORDER BY seq")
                )
            )
            incoming = tuple(
                Publish(
                    topic,
                    bytes(payload),
                    qos,
                    bool(retain),
                    bool(dup),
                    packet_id,
                    _decode_props(props, _spec.PUBLISH),
                )
                for packet_id, topic, payload, qos, retain, dup, props in conn.execute(
                    "SELECT * FROM incoming ORDER BY packet_id"
                )
            )
            subscriptions = tuple(
                (
                    Subscription(flt, qos, bool(no_local), bool(rap), rh),
                    _decode_props(props, _spec.SUBSCRIBE),
                )
                for flt, qos, no_local, rap, rh, props in conn.execute(
                    "SELECT * FROM subscriptions ORDER BY rowid"
                )
            )
        except (sqlite3.Error, MQTTException, ValueError, TypeError) as exc:
            raise StoreError(f"reading the store {self.path!r} failed: {exc}") from exc
        return StoreContents(
            str(meta.get("client_id") or ""),
            int(meta.get("protocol_version") or 0),
            self._last_seq,
            messages,
            incoming,
            subscriptions,
        )


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StoreError(f"cannot remove the store log {path!r}: {exc}") from exc


def _row(msg: MessageRecord) -> tuple[Any, ...]:
    props = msg.properties
    return (
        msg.seq,
        msg.mid,
        msg.topic,
        msg.payload,
        msg.qos,
        msg.retain,
        encode_properties(props) if props else None,
        msg.state,
        msg.packet_id,
        msg.expiry_wall,
    )


def _decode_props(blob: Optional[bytes], packet_type: int) -> Props:
    if not blob:
        return ()
    return decode_properties(blob, packet_type)[0]


def _open_error(path: str, exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreError(
            f"the store {path!r} is in use by another process or another SqliteStore: one "
            "client per store file (close the other one first)"
        )
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return StoreError(
            f"the store {path!r} is not a valid SQLite store or is damaged ({text}); move it "
            "away to start with an empty store"
        )
    return StoreError(f"cannot open the store {path!r}: {text}")
