"""A fault-injection TCP proxy for tests: sits between a client and a real broker on 127.0.0.1.

    with FaultProxy(("127.0.0.1", broker_port)) as proxy:
        client.connect("127.0.0.1", proxy.port)
        proxy.cut()                      # reset every open connection now
        proxy.cut_after(random_bytes)    # cut each connection after N more client→broker bytes
        proxy.stall(True)                # stop forwarding either way (a half-open link)
        proxy.fragment(1)                # forward in 1-byte writes
        proxy.refuse(True)               # refuse new connections

One background thread forwards with ``selectors``; every operation is bounded and ``close()``
stops the thread and closes every socket.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
from typing import Optional

__all__ = ["FaultProxy", "RecordingRelay"]


class _Pair:
    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.cut_after: Optional[int] = None  # client→broker bytes still allowed


class FaultProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[_Pair] = []
        self._stalled = False
        self._refusing = False
        self._fragment: Optional[int] = None
        self._cut_after: Optional[int] = None
        self._stop = False
        self.connections = 0  # accepted so far
        self.cuts = 0  # connections cut by a fault
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()

    # --- controls -------------------------------------------------------------------------------
    def cut(self) -> int:
        """Reset every open connection now; returns how many were cut."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            self._reset(pair)
        self.cuts += len(pairs)
        self._poke()
        return len(pairs)

    def cut_after(self, nbytes: Optional[int]) -> None:
        """Cut each open (and future) connection once ``nbytes`` more client bytes passed."""
        with self._lock:
            self._cut_after = nbytes
            for pair in self._pairs:
                pair.cut_after = nbytes
        self._poke()

    def stall(self, on: bool) -> None:
        """Stop (or resume) forwarding in both directions, keeping connections open."""
        self._stalled = on
        self._poke()

    def fragment(self, size: Optional[int]) -> None:
        """Forward in writes of at most ``size`` bytes (None: as received)."""
        self._fragment = size
        self._poke()

    def refuse(self, on: bool) -> None:
        """Refuse (accept and reset at once) new connections while ``on``."""
        self._refusing = on

    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def close(self) -> None:
        self._stop = True
        self._poke()
        self._thread.join(5)
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            self._reset(pair)
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- machinery ------------------------------------------------------------------------------
    def _poke(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    @staticmethod
    def _reset(pair: _Pair) -> None:
        for sock in (pair.client, pair.upstream):
            try:
                # SO_LINGER 0: close with RST, as a broken network path would look.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            sock.close()

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        if self._refusing:
            self._reset(_Pair(client, socket.socket()))
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=2)
        except OSError:
            client.close()
            return
        for sock in (client, upstream):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair = _Pair(client, upstream)
        pair.cut_after = self._cut_after
        with self._lock:
            self._pairs.append(pair)
        self.connections += 1

    def _forward(self, pair: _Pair, src: socket.socket, dst: socket.socket) -> bool:
        try:
            data = src.recv(65536)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        if src is pair.client and pair.cut_after is not None:
            if len(data) >= pair.cut_after:
                dst_part = data[: pair.cut_after]
                self._send_all(dst, dst_part)
                self.cuts += 1
                return False
            pair.cut_after -= len(data)
        return self._send_all(dst, data)

    def _send_all(self, dst: socket.socket, data: bytes) -> bool:
        step = self._fragment or len(data) or 1
        view = memoryview(data)
        while view:
            chunk = view[:step]
            try:
                dst.setblocking(True)
                dst.settimeout(2)
                dst.sendall(chunk)
            except OSError:
                return False
            finally:
                try:
                    dst.setblocking(False)
                except OSError:
                    pass
            view = view[step:]
        return True

    def _run(self) -> None:
        while not self._stop:
            with self._lock:
                pairs = list(self._pairs)
            readers: list[socket.socket] = [self._listener, self._wake_r]
            if not self._stalled:
                for pair in pairs:
                    readers += [pair.client, pair.upstream]
            sel = selectors.DefaultSelector()
            try:
                for sock in readers:
                    try:
                        sel.register(sock, selectors.EVENT_READ)
                    except (ValueError, KeyError, OSError):
                        pass
                ready = sel.select(0.2)
            finally:
                sel.close()
            for key, _ in ready:
                sock = key.fileobj
                if sock is self._wake_r:
                    try:
                        self._wake_r.recv(4096)
                    except OSError:
                        pass
                    continue
                if sock is self._listener:
                    self._accept()
                    continue
                for pair in pairs:
                    if sock is pair.client or sock is pair.upstream:
                        other = pair.upstream if sock is pair.client else pair.client
                        if not self._forward(pair, sock, other):  # type: ignore[arg-type]
                            with self._lock:
                                if pair in self._pairs:
                                    self._pairs.remove(pair)
                            self._reset(pair)
                        break


class RecordingRelay(FaultProxy):
    """A TCP relay that keeps every byte the client sent to the broker (``seen()``); ``cut()``
    resets the connections, which makes the client reconnect."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.sent = bytearray()
        self._record_lock = threading.Lock()
        super().__init__(upstream)

    def _send_all(self, dst: socket.socket, data: bytes) -> bool:
        try:
            to_broker = dst.getpeername() == self.upstream
        except OSError:
            to_broker = False
        if to_broker:
            with self._record_lock:
                self.sent += data
        return super()._send_all(dst, data)

    def seen(self) -> bytes:
        with self._record_lock:
            return bytes(self.sent)
