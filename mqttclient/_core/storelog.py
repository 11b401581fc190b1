"""The append-only log ``SqliteStore("normal")`` keeps next to its database (``path + "-log"``).

Owns: the record format, appending one record with one ``os.write``, reading the records back
after a crash, and emptying the file once the database holds them.

Why: ``publish()`` must not return before its message survives a crash of the process. An
SQLite commit per message costs about 13 µs; appending a record to a file costs one system
call, and what a process wrote to a file is in the operating system's page cache, which
outlives the process. The store moves the logged messages into the database with the batched
commit that runs once per network-loop iteration, then empties the log (``reset``).

Where it lives and why: like ``sqlitestore.py`` (the documented exception to the purity of
``_core``), it does file I/O, through ``os`` only. No sockets, threads or clocks; nothing in
``_core`` but ``sqlitestore`` imports it. Only the holder of the database's exclusive lock
opens the log, so that lock covers it.

Record format (all integers little-endian)::

    length  u32   bytes in body
    crc     u32   zlib.crc32(body)
    body    kind u8, then for ADD (1): seq i64, mid u32, qos u8, retain u8, state u8,
            packet_id u16, expiry_wall f64, topic length u32, topic (UTF-8), properties
            length u32, properties (MQTT property encoding), payload (the rest);
            for REMOVE (2): seq i64.

Reading rule: records are read in order up to the first one that is incomplete (a write cut
short by the crash) or whose checksum does not match; that one and everything after it are
ignored (``LogContents.ignored`` says how many bytes). A complete record with a valid checksum
and an unknown kind was written by a newer mqttclient: ``StoreError``.

Must not: sync the file (``"normal"`` promises survival of a process crash, not of a power
loss); hold a lock of its own; call back.
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import NamedTuple, Union

from mqttclient.errors import StoreError

__all__ = ["ADD", "REMOVE", "AddRecord", "AppendLog", "LogContents", "RemoveRecord"]

ADD = 1
REMOVE = 2

_FRAME = struct.Struct("<II")
_ADD_HEAD = struct.Struct("<BqIBBBHdI")  # kind .. expiry_wall, topic length
_REMOVE = struct.Struct("<Bq")
_LEN = struct.Struct("<I")
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


class RemoveRecord(NamedTuple):
    """``remove_message`` of a message that was never sent (dropped or expired)."""

    seq: int


class LogContents(NamedTuple):
    records: list[Union[AddRecord, RemoveRecord]]
    ignored: int  # bytes after the last valid record (a torn or damaged tail)


def encode_add(record: AddRecord) -> bytes:
    """One framed ADD record."""
    topic = record.topic.encode("utf-8")
    props = record.properties
    body = b"".join(
        (
            _ADD_HEAD.pack(
                ADD,
                record.seq,
                record.mid,
                record.qos,
                record.retain,
                record.state,
                record.packet_id,
                record.expiry_wall,
                len(topic),
            ),
            topic,
            _LEN.pack(len(props)),
            props,
            record.payload,
        )
    )
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


def encode_remove(seq: int) -> bytes:
    """One framed REMOVE record."""
    body = _REMOVE.pack(REMOVE, seq)
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


def decode(data: bytes, path: str) -> LogContents:
    """The records in ``data`` (a whole log file), by the reading rule of the module docstring."""
    records: list[Union[AddRecord, RemoveRecord]] = []
    view = memoryview(data)
    pos = 0
    end = len(data)
    frame = _FRAME.size
    while end - pos >= frame:
        length, crc = _FRAME.unpack_from(view, pos)
        start = pos + frame
        if length < _REMOVE.size or length > end - start:
            break
        body = bytes(view[start : start + length])
        if zlib.crc32(body) != crc:
            break
        kind = body[0]
        try:
            if kind == ADD:
                records.append(_decode_add(body))
            elif kind == REMOVE and length == _REMOVE.size:
                records.append(RemoveRecord(_REMOVE.unpack(body)[1]))
            else:
                raise ValueError(f"unknown record kind {kind}")
        except (ValueError, struct.error) as exc:
            raise StoreError(
                f"the store log {path!r} holds a record this version of mqttclient cannot read "
                f"({exc}); upgrade mqttclient, or move the store and its log away"
            ) from exc
        pos = start + length
    return LogContents(records, end - pos)


def _decode_add(body: bytes) -> AddRecord:
    head = _ADD_HEAD.size
    _, seq, mid, qos, retain, state, packet_id, expiry, topic_len = _ADD_HEAD.unpack_from(body)
    pos = head + topic_len
    if pos + _LEN.size > len(body):
        raise ValueError("ADD record too short")
    topic = body[head:pos].decode("utf-8")
    (props_len,) = _LEN.unpack_from(body, pos)
    pos += _LEN.size
    if pos + props_len > len(body):
        raise ValueError("ADD record too short")
    props = body[pos : pos + props_len]
    payload = body[pos + props_len :]
    return AddRecord(seq, mid, topic, payload, qos, bool(retain), props, state, packet_id, expiry)


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
        """Every valid record in the file (see the reading rule)."""
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

    def append(self, record: bytes) -> None:
        """Append one framed record with one ``os.write``. On failure the file is cut back to
        its previous length, if it can be, and ``StoreError`` raised: the owner must then stop
        appending (a torn record left in place hides every record after it)."""
        try:
            written = os.write(self._fd, record)
        except OSError as exc:
            self._cut_back()
            raise StoreError(f"writing to the store log {self.path!r} failed: {exc}") from exc
        if written != len(record):
            self._cut_back()
            raise StoreError(f"writing to the store log {self.path!r} failed: disk full?")
        self.size += written

    def _cut_back(self) -> None:
        try:
            os.ftruncate(self._fd, self.size)
        except OSError:
            pass  # the reading rule ignores the torn record, and everything after it

    def reset(self) -> None:
        """Empty the file (its records are committed to the database)."""
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
