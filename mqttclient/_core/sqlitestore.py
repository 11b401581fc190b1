"""``SqliteStore``: the session state in an SQLite file, so that it survives a crash or a reboot.

Owns: the file format (schema version 1), opening the file exclusively, the mapping of each
``Store`` call to SQL, batching those writes into transactions, and SQLite's durability levels.

Where it lives and why: this module is the one documented exception to the purity of ``_core``
(DESIGN.md): it does file I/O, through the standard library's ``sqlite3`` only (and ``os``
for the log of ``durability="normal"``, in ``storelog.py``). It touches no
sockets, threads or clocks; wall-clock times it stores come in as values. It sits next to the
``Store`` protocol because the session calls it synchronously, under the engine lock, like any
other store; nothing in ``_core`` imports it (``mqttclient/__init__.py`` re-exports it).

Must not: be opened by two objects at once (refused with ``StoreError``); call back; hold its own
lock (the engine lock serialises every call, from whichever thread holds it, which is why the
connection is opened with ``check_same_thread=False``).

Durability (the ``durability`` argument). Every setting uses SQLite's WAL journal, so a crash in
the middle of a write never leaves a half-written state: SQLite recovers the file to its last
commit when it is opened again.

``"normal"`` (the default)
    ``PRAGMA synchronous=NORMAL``, plus an append-only log next to the database,
    ``path + "-log"`` (``storelog.py``). ``add_message`` (called inside ``publish()``) appends
    one length-prefixed, checksummed record to the log with one ``os.write`` and adds the row to
    the open batch; ``publish()`` does not commit (``commit_on_publish`` is False). The batched
    commit (``Session.persist``, once per loop iteration) moves the messages into the database
    and then empties the log. Survives a crash of the process (``kill -9``, an unhandled
    exception, the OOM killer): every message ``publish()`` accepted is in the database or in
    the log, whose writes live in the operating system's page cache once ``os.write`` returns;
    the next open replays the log into the database. A power loss or kernel crash may lose the
    last commits and logged messages (neither the WAL nor the log is synced to the disk on each
    write) but leaves the database consistent.
``"full"``
    ``PRAGMA synchronous=FULL``: every commit is synced to the disk (``fsync``) before
    ``publish()`` returns. Survives a power loss. Costs one ``fsync`` per ``publish()`` (a
    fraction of a millisecond on an SSD, milliseconds on an SD card).
``"off"``
    ``PRAGMA synchronous=OFF`` and ``publish()`` does not commit: messages accepted since the last
    loop iteration are lost if the process crashes, and a power loss may corrupt the file (which
    is then refused with ``StoreError``). For data you can afford to lose; still survives a clean
    ``close()``.

The log. Only "normal" writes it, but every setting replays a log left by a crashed "normal"
store when it opens (then removes it); a clean ``close()`` removes it too. It is opened only
after the database's exclusive lock is held, so that lock covers it: a refused second opener
never reads, replays or empties it. Replay rules: records are read up to the first incomplete
one or the first whose checksum fails (a write cut short by the crash, or garbage left by a
crash of the machine); that one and all after it are ignored, with a warning. A logged message
whose ``seq`` is not above the highest ``seq`` the database holds was already committed (the
crash came between the commit and the emptying of the log; seqs only grow) and is skipped, so a
later committed state is never reverted. Removals are logged only for messages never sent (the
``drop_oldest`` policy, expiry), so that a crash does not bring back a message ``publish()``
dropped; removals on acknowledgement are batched as before. A record of an unknown kind with a
valid checksum (a newer mqttclient) is refused with ``StoreError``. If a log write or a commit
with messages in the log fails, the store raises ``StoreError`` and refuses every later write
and commit, keeping the log for the next open (a later commit would hide the logged messages
from the replay); reopen it once the storage is fixed.

In every setting the changes the network causes (PUBACK, PUBREC, PUBCOMP, incoming QoS 2
messages, packet ids assigned when a message is sent) are batched: one transaction per loop
iteration, committed before the engine writes anything that depends on them (write-ahead), so
the file is never behind what the broker was told.
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

__all__ = ["DURABILITY_LEVELS", "SqliteStore"]

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

#: The log is moved into the database early when it grows past this many bytes (a client
#: publishing while its network loop does not run).
LOG_LIMIT = 1 << 20

_ADD = "INSERT OR REPLACE INTO outgoing VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_UPDATE = "UPDATE outgoing SET state = ?, packet_id = ? WHERE seq = ?"
_REMOVE = "DELETE FROM outgoing WHERE seq = ?"
_SET_META = "INSERT OR REPLACE INTO meta VALUES (?, ?)"


class SqliteStore:
    """The session state in the SQLite file ``path`` (created if missing)::

        store = SqliteStore("/var/lib/sensor/outbox.db")
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, "sensor-1", store=store)

    :param path: the database file. SQLite also keeps ``path + "-wal"`` next to it while it is
        open, and ``durability="normal"`` its log, ``path + "-log"``.
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
        #: ``path + "-log"``: the append-only log of ``durability="normal"`` (module docstring).
        self.log_path = self.path + "-log"
        in_memory = self.path in ("", ":memory:")
        self._use_log = durability == "normal" and not in_memory
        #: See ``Store.commit_on_publish``: True only with ``durability="full"`` (and "normal"
        #: on an in-memory database, which has no log); "normal" makes ``add_message`` durable
        #: through the log instead.
        self.commit_on_publish = durability == "full" or (durability == "normal" and in_memory)
        self._log: Optional[storelog.AppendLog] = None
        #: Why the store refuses writes (a failed log write or commit): reopen it.
        self._failed = ""
        self._in_tx = False
        # The highest seq ever added (in memory), and the last_seq row of the meta table as the
        # open batch leaves it and as committed. The row is written only when the message with
        # the highest stored seq is removed: until then max(seq) of the outgoing table says it,
        # and a publish() commit touches one table page instead of two.
        self._last_seq = 0
        self._meta_seq = 0
        self._meta_saved = 0
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
        self._meta_seq = self._meta_saved = meta_seq

    def _recover_log(self) -> None:
        """Move what a crashed "normal" store left in the log into the database, then empty the
        log (kept open for "normal", removed otherwise). Runs with the database's exclusive lock
        held, so no other store touches the log."""
        path = self.log_path
        if not self._use_log and not os.path.exists(path):
            return
        try:
            mode = os.stat(self.path).st_mode & 0o777
        except OSError:
            mode = 0o644
        log = self._log = storelog.AppendLog(path, mode)
        if log.size:
            contents = log.read()
            if contents.ignored:
                logger.warning(
                    "store log %r: ignored %d bytes after its last complete record (a write "
                    "cut short by a crash, or damage)",
                    path,
                    contents.ignored,
                )
            # Messages logged before the last commit are in the database already, maybe with
            # a later state: only those above its last seq are new (seqs only grow).
            committed = self._last_seq
            added = 0
            for record in contents.records:
                if isinstance(record, storelog.RemoveRecord):
                    self._delete(record.seq)  # idempotent: seqs are never reused
                elif record.seq > committed:
                    self._insert(record)
                    added += 1
            if added:
                logger.info("store %r: recovered %d messages from its log", self.path, added)
            self.commit()
            if log.size:  # nothing to replay: the commit did not empty it
                log.reset()
        if not self._use_log:
            log.close()
            self._log = None
            _unlink(path)

    def _close_files(self, unlink: bool) -> None:
        log, self._log = self._log, None
        if log is not None:
            log.close()
            if unlink:
                _unlink(log.path)
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # --- writing ----------------------------------------------------------------------------------
    def _write(self, sql: str, params: Any = ()) -> None:
        conn = self._conn
        if conn is None:
            raise StoreError(f"the store {self.path!r} is closed")
        if self._failed:
            raise StoreError(self._failed)
        try:
            if not self._in_tx:
                conn.execute("BEGIN")
                self._in_tx = True
            conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"writing to the store {self.path!r} failed: {exc}") from exc

    def set_session(self, client_id: str, protocol_version: int) -> None:
        self._write(_SET_META, ("client_id", client_id))
        self._write(_SET_META, ("protocol_version", protocol_version))

    def add_message(self, msg: MessageRecord) -> None:
        props = msg.properties
        record = storelog.AddRecord(
            msg.seq,
            msg.mid,
            msg.topic,
            msg.payload,
            msg.qos,
            msg.retain,
            _encode_props(props) if props else b"",
            msg.state,
            msg.packet_id,
            msg.expiry_wall,
        )
        log = self._log
        if log is None:
            self._insert(record)
            return
        # Durable against a crash of the process once the log holds it; the database gets it
        # in the open batch (committed by the next persist()).
        self._log_append(log, storelog.encode_add(record))
        try:
            self._insert(record)
        except StoreError:
            self._failed = f"writing to the store {self.path!r} failed earlier: reopen it"
            raise
        if log.size >= LOG_LIMIT:
            self.commit()

    def _log_append(self, log: storelog.AppendLog, record: bytes) -> None:
        if self._conn is None:
            raise StoreError(f"the store {self.path!r} is closed")
        if self._failed:
            raise StoreError(self._failed)
        try:
            log.append(record)
        except StoreError:
            self._failed = f"writing to the log of the store {self.path!r} failed: reopen it"
            raise

    def _insert(self, record: storelog.AddRecord) -> None:
        seq = record.seq
        self._write(
            _ADD,
            (
                seq,
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
        if seq > self._last_seq:
            self._last_seq = seq

    def update_message(self, msg: MessageRecord) -> None:
        self._write(_UPDATE, (msg.state, msg.packet_id, msg.seq))

    def remove_message(self, msg: MessageRecord) -> None:
        log = self._log
        if log is not None and msg.state == QUEUED:
            # Never sent, so dropped by the queue policy or expired, typically inside the
            # publish() that accepted a newer message: a crash must not bring it back.
            self._log_append(log, storelog.encode_remove(msg.seq))
        self._delete(msg.seq)

    def _delete(self, seq: int) -> None:
        self._write(_REMOVE, (seq,))
        if seq > self._meta_seq:  # it may have been the highest seq stored: keep it in meta
            self._write(_SET_META, ("last_seq", self._last_seq))
            self._meta_seq = self._last_seq

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
                _encode_props(props) if props else None,
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
                _encode_props(properties) if properties else None,
            ),
        )

    def remove_subscription(self, topic_filter: str) -> None:
        self._write("DELETE FROM subscriptions WHERE topic_filter = ?", (topic_filter,))

    def commit(self) -> None:
        """Commit the open batch (no-op when nothing was written since the last commit).

        Raises:
            StoreError: the commit failed (e.g. the disk is full); the batch is rolled back.
        """
        if self._failed:
            raise StoreError(self._failed)
        if not self._in_tx:
            return
        conn = self._conn
        assert conn is not None  # _in_tx is only set while open
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(conn)
            if self._log is not None and self._log.size:
                # The log holds messages the database just lost: keep it as it is for the next
                # open, and accept nothing more (later commits would hide them from replay).
                self._failed = f"committing to the store {self.path!r} failed earlier: reopen it"
            raise StoreError(f"committing to the store {self.path!r} failed: {exc}") from exc
        self._in_tx = False
        self._meta_saved = self._meta_seq
        log = self._log
        if log is not None and log.size:
            log.reset()

    def _rollback(self, conn: sqlite3.Connection) -> None:
        self._in_tx = False
        self._meta_seq = self._meta_saved
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # no transaction left to roll back: SQLite already did

    def close(self) -> None:
        """Commit what is pending and close the file (releasing the lock) and its log (removed:
        it is empty). Idempotent. If the commit fails, the log stays for the next open."""
        if self._conn is None:
            return
        if self._failed:  # already reported; the log keeps what the database lacks
            logger.warning("store %r closed after a failure: its log is kept", self.path)
            self._close_files(unlink=False)
            return
        done = False
        try:
            self.commit()
            done = True
        finally:
            self._close_files(unlink=done)

    # --- reading ----------------------------------------------------------------------------------
    def load(self) -> StoreContents:
        conn = self._conn
        if conn is None:
            raise StoreError(f"the store {self.path!r} is closed")
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
        last_seq = max(self._last_seq, messages[-1].seq if messages else 0)
        return StoreContents(
            str(meta.get("client_id") or ""),
            int(meta.get("protocol_version") or 0),
            last_seq,
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


def _encode_props(props: Props) -> bytes:
    return encode_properties(props)


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
