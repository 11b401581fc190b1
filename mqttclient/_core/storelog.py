"""The append-only log ``SqliteStore`` keeps next to its database (``path + "-log"``).

Owns: the record format, appending one framed batch of changes with one ``os.write``, syncing
the file (``durability="full"``), reading the batches back after a crash, and emptying the file
once the database holds what it says.

Why: every change to an outgoing message (accepted, sent with a packet id, PUBREC received,
completed) must be durable before ``publish()`` returns or before the engine writes the bytes
that depend on it, and most messages complete within milliseconds. An SQLite transaction per
change costs an insert, an update and a delete with their index and page writes; appending a
few dozen bytes to a file costs one system call, and what a process wrote to a file is in the
operating system's page cache, which outlives the process. ``SqliteStore`` therefore logs every
change here and moves into its tables, at a checkpoint, only the messages still unfinished then.

Where it lives and why: like ``sqlitestore.py`` (the documented exception to the purity of
``_core``), it does file I/O, through ``os`` only. No sockets, threads or clocks; nothing in
``_core`` but ``sqlitestore`` imports it. Only the holder of the database's exclusive lock
opens the log, so that lock covers it.

Format (all integers little-endian). The file is a sequence of frames, one per batch (the
changes of one ``commit``, or one ``publish()`` with ``durability="normal"``)::

    length  u32   bytes in body
    crc     u32   zlib.crc32(body)
    body    one or more operations, each starting with its kind (u8):
            ADD (1)     seq i64, mid u32, qos u8, retain u8, state u8, packet_id u16,
                        expiry_wall f64, topic length u32, properties length u32,
                        payload length u32, topic (UTF-8), properties (MQTT property
                        encoding), payload
            REMOVE (2)  seq i64
            UPDATE (3)  seq i64, state u8, packet_id u16

Reading rule: frames are read in order up to the first one that is incomplete (a write cut
short by the crash) or whose checksum does not match; that one and everything after it are
ignored (``LogContents.ignored`` says how many bytes), so a batch is replayed whole or not at
all. A frame with a valid checksum that holds an unknown operation, or operations that do not
fill it exactly, was written by a newer mqttclient: ``StoreError``.

Must not: sync the file unless asked (``"normal"`` promises survival of a process crash, not of
a power loss); hold a lock of its own; call back.
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import NamedTuple, Union

from mqttclient.errors import StoreError

__all__ = [
    "ADD",
    "REMOVE",
    "UPDATE",
    "AddRecord",
    "AppendLog",
    "LogContents",
    "RemoveRecord",
    "UpdateRecord",
    "add_op",
    "decode",
    "frame",
    "remove_op",
    "update_op",
]

ADD = 1
REMOVE = 2
UPDATE = 3

_FRAME = struct.Struct("<II")
_ADD = struct.Struct("<BqIBBBHdIII")  # kind .. expiry_wall, topic/properties/payload lengths
_REMOVE = struct.Struct("<Bq")
_UPDATE = struct.Struct("<BqBH")
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


class AddRecord(NamedTuple):
    """An outgoing message as ``add_message`` logged it (``properties``: encoded)."""

    seq: int
    mid: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: bytes
    state: int
    packet_id: int
    expiry_wall: float


class UpdateRecord(NamedTuple):
    """``update_message``: the message's new state and packet id."""

    seq: int
    state: int
    packet_id: int


class RemoveRecord(NamedTuple):
    """``remove_message``: the message completed or was dropped."""

    seq: int


Record = Union[AddRecord, UpdateRecord, RemoveRecord]


class LogContents(NamedTuple):
    records: list[Record]  # every operation of every valid frame, in order
    ignored: int  # bytes after the last valid frame (a torn or damaged tail)


def add_op(
    seq: int,
    mid: int,
    topic: bytes,
    payload: bytes,
    qos: int,
    retain: bool,
    properties: bytes,
    state: int,
    packet_id: int,
    expiry_wall: float,
) -> bytes:
    """One ADD operation (``topic`` already UTF-8 encoded)."""
    head = _ADD.pack(
        ADD,
        seq,
        mid,
        qos,
        retain,
        state,
        packet_id,
        expiry_wall,
        len(topic),
        len(properties),
        len(payload),
    )
    return b"".join((head, topic, properties, payload))


def update_op(seq: int, state: int, packet_id: int) -> bytes:
    """One UPDATE operation."""
    return _UPDATE.pack(UPDATE, seq, state, packet_id)


def remove_op(seq: int) -> bytes:
    """One REMOVE operation."""
    return _REMOVE.pack(REMOVE, seq)


def frame(ops: Union[bytes, bytearray]) -> bytes:
    """Frame a batch of operations (length, checksum, body)."""
    return _FRAME.pack(len(ops), zlib.crc32(ops)) + ops


def decode(data: bytes, path: str) -> LogContents:
    """The operations in ``data`` (a whole log file), by the reading rule of the module
    docstring."""
    records: list[Record] = []
    view = memoryview(data)
    pos = 0
    end = len(data)
    head = _FRAME.size
    while end - pos >= head:
        length, crc = _FRAME.unpack_from(view, pos)
        start = pos + head
        if length < _REMOVE.size or length > end - start:
            break
        body = bytes(view[start : start + length])
        if zlib.crc32(body) != crc:
            break
        try:
            records += _operations(body)
        except (ValueError, struct.error, UnicodeDecodeError) as exc:
            raise StoreError(
                f"the store log {path!r} holds a record this version of mqttclient cannot read "
                f"({exc}); upgrade mqttclient, or move the store and its log away"
            ) from exc
        pos = start + length
    return LogContents(records, end - pos)


def _operations(body: bytes) -> list[Record]:
    ops: list[Record] = []
    pos = 0
    end = len(body)
    while pos < end:
        kind = body[pos]
        if kind == ADD:
            (_, seq, mid, qos, retain, state, packet_id, expiry, topic_len, props_len,
             payload_len) = _ADD.unpack_from(body, pos)  # fmt: skip
            pos += _ADD.size
            stop = pos + topic_len + props_len + payload_len
            if stop > end:
                raise ValueError("ADD operation longer than its frame")
            topic = body[pos : pos + topic_len].decode("utf-8")
            pos += topic_len
            props = body[pos : pos + props_len]
            pos += props_len
            ops.append(
                AddRecord(
                    seq, mid, topic, body[pos:stop], qos, bool(retain), props, state,
                    packet_id, expiry,
                )
            )  # fmt: skip
            pos = stop
        elif kind == UPDATE:
            _, seq, state, packet_id = _UPDATE.unpack_from(body, pos)
            ops.append(UpdateRecord(seq, state, packet_id))
            pos += _UPDATE.size
        elif kind == REMOVE:
            ops.append(RemoveRecord(_REMOVE.unpack_from(body, pos)[1]))
            pos += _REMOVE.size
        else:
            raise ValueError(f"unknown record kind {kind}")
    return ops


class AppendLog:
    """The log file at ``path``, opened (created if missing, with ``mode`` permissions) for
    appending. ``size`` is its current length in bytes. Close it with ``close()``."""

    __slots__ = ("_fd", "path", "size")

    def __init__(self, path: str, mode: int = 0o644) -> None:
        self.path = path
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | _BINARY, mode)
        except OSError as exc:
            raise StoreError(f"cannot open the store log {path!r}: {exc}") from exc
        try:
            self.size = os.fstat(self._fd).st_size
        except OSError as exc:
            self.close()
            raise StoreError(f"cannot open the store log {path!r}: {exc}") from exc

    def read(self) -> LogContents:
        """Every valid operation in the file (see the reading rule)."""
        chunks = []
        try:
            os.lseek(self._fd, 0, os.SEEK_SET)
            while True:
                chunk = os.read(self._fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        except OSError as exc:
            raise StoreError(f"reading the store log {self.path!r} failed: {exc}") from exc
        return decode(b"".join(chunks), self.path)

    def append(self, data: bytes) -> None:
        """Append one framed batch with one ``os.write``. On failure the file is cut back to
        its previous length, if it can be, and ``StoreError`` raised: the owner must then stop
        appending (a torn frame left in place hides every frame after it)."""
        try:
            written = os.write(self._fd, data)
        except OSError as exc:
            self._cut_back()
            raise StoreError(f"writing to the store log {self.path!r} failed: {exc}") from exc
        if written != len(data):
            self._cut_back()
            raise StoreError(f"writing to the store log {self.path!r} failed: disk full?")
        self.size += written

    def sync(self) -> None:
        """Force what was appended to the disk (``durability="full"``)."""
        try:
            _datasync(self._fd)
        except OSError as exc:
            raise StoreError(f"syncing the store log {self.path!r} failed: {exc}") from exc

    def _cut_back(self) -> None:
        try:
            os.ftruncate(self._fd, self.size)
        except OSError:
            pass  # the reading rule ignores the torn frame, and everything after it

    def reset(self) -> None:
        """Empty the file (the database holds what it said)."""
        try:
            os.ftruncate(self._fd, 0)
        except OSError as exc:
            raise StoreError(f"emptying the store log {self.path!r} failed: {exc}") from exc
        self.size = 0

    def close(self) -> None:
        """Close the file descriptor (the file stays). Idempotent."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


_datasync = getattr(os, "fdatasync", os.fsync)  # macOS and Windows have no fdatasync
