"""The engine: owns the transport, the session, the one lock, the wake-up socket and the thread.

Rules it keeps (docs/architecture.rst):

* One lock (``Engine.lock``) guards the session and the transport. It is never held while user
  code runs or while blocking I/O happens; reads and writes under it are non-blocking.
* Events are collected under the lock and handed to the sink (the façade) after releasing it, on
  the thread that runs the loop. Every callback may call back into the client.
* The thread running the loop (``loop_forever``, ``loop_start``'s thread, or a user calling
  ``loop()``) reads and writes. Other threads append to the session's out buffer and wake it
  through a socketpair, once per batch; while the loop thread waits idle, the first of them
  writes its own bytes instead (``kick``: one thread hand-off less per round trip). Every read
  and write happens under the lock. When no thread runs the loop, callers write directly
  (non-blocking), as paho-mqtt does, so scripts that never start a loop still send.
* Sleeping is exact: the selector waits until the session's next deadline, never polls.
"""

from __future__ import annotations

import enum
import logging
import random
import select
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol

from mqttclient._core import events as ev
from mqttclient._core.codec import Decoder
from mqttclient._core.packets import Packet, Props
from mqttclient._core.session import Session, SessionState
from mqttclient._io.takeover import SESSION_TAKEN_OVER, TakeoverBackoff
from mqttclient._io.transport import ConnectParams, Transport, open_transport
from mqttclient.enums import MQTTErrorCode
from mqttclient.errors import ConnectionClosedError, ProtocolError

__all__ = [
    "ConnState",
    "ConnectionClosed",
    "Engine",
    "EngineEvent",
    "PacketTrace",
    "ReconnectPolicy",
    "Sink",
    "SocketClosed",
    "SocketOpened",
    "SocketWantWrite",
]

log = logging.getLogger(__name__)

_READ_SIZE = 256 * 1024
# The first read of an iteration asks for less: a 256 KiB request makes CPython allocate (mmap),
# shrink (mremap) and free (munmap) 256 KiB for every read, 3 system calls and page faults per
# read (strace of a QoS 0 round trip: 3 of 8 system calls; the round trip's system time halved
# without them). A read that fills the first size is followed by full-size reads.
_FIRST_READ = 16 * 1024
# How long a graceful close waits for the broker to close its side after our DISCONNECT.
_DRAIN_TIMEOUT_S = 2.0


class ConnState(enum.Enum):
    """The connection lifecycle as the user drives it (paho's ``_ConnectionState``)."""

    NEW = 0
    CONNECT_ASYNC = 1
    CONNECTING = 2
    CONNECTED = 3
    CONNECTION_LOST = 4
    DISCONNECTING = 5
    DISCONNECTED = 6


@dataclass(frozen=True)
class ReconnectPolicy:
    """Exponential backoff between reconnect attempts: ``min_delay_s`` doubling up to
    ``max_delay_s``; ``jitter`` (0..1) randomises each wait by up to that fraction."""

    min_delay_s: float = 1.0
    max_delay_s: float = 120.0
    jitter: float = 0.0

    def delay(self, attempt: int) -> float:
        base = min(self.max_delay_s, self.min_delay_s * float(1 << min(attempt, 30)))
        if self.jitter:
            base *= 1.0 - self.jitter * random.random()
        return base


@dataclass
class SocketOpened:
    sock: Any


@dataclass
class SocketClosed:
    sock: Any


@dataclass
class SocketWantWrite:
    """The out buffer went from empty to non-empty (``want``) or back (paho's
    on_socket_register_write / on_socket_unregister_write)."""

    sock: Any
    want: bool


@dataclass
class ConnectionClosed:
    """The connection ended. ``rc`` is paho's error code for it (SUCCESS after our DISCONNECT,
    CONN_LOST, KEEPALIVE, CONN_REFUSED, PROTOCOL); ``reason_code``/``properties`` are the
    MQTT 5 reason (from the server's DISCONNECT when ``from_server``)."""

    rc: MQTTErrorCode
    reason_code: Optional[int] = None
    properties: Props = ()
    from_server: bool = False
    error: Optional[BaseException] = None


@dataclass
class PacketTrace:
    """A packet went out (``sent``) or came in, for the user's log."""

    sent: bool
    packet: Packet


EngineEvent = Any  # a session event or one of the dataclasses above


class _Tracer:
    """Decodes copies of both byte streams for logging; stops quietly on bytes it can't decode
    (the session reports those itself)."""

    def __init__(self, version: int) -> None:
        self._out: Optional[Decoder] = Decoder(version)
        self._in: Optional[Decoder] = Decoder(version)

    def sent(self, data: bytes) -> list[EngineEvent]:
        decoder = self._out
        if decoder is None:
            return []
        try:
            return [PacketTrace(True, p) for p in decoder.feed(data)]
        except ProtocolError:
            self._out = None
            return []

    def received(self, data: bytes) -> list[EngineEvent]:
        decoder = self._in
        if decoder is None:
            return []
        try:
            return [PacketTrace(False, p) for p in decoder.feed(data)]
        except ProtocolError:
            self._in = None
            return []


class Sink(Protocol):
    """The façade side: receives events on the loop thread without the lock held."""

    def dispatch(self, events: Sequence[EngineEvent]) -> None: ...

    def pre_connect(self) -> None: ...

    def acks_after_delivery(self) -> bool: ...

    def tracing(self) -> bool: ...

    def dispatch_anywhere(self, events: Sequence[EngineEvent]) -> bool:
        """True when dispatching ``events`` runs no user code, so that a thread other than the
        loop's may do it (``Engine.kick``)."""
        ...


class Engine:
    """Drives one client's connections. See the module docstring for the threading rules."""

    def __init__(self, session: Session, sink: Sink) -> None:
        self.lock = threading.Lock()
        self.session = session
        self.sink = sink
        self.transport: Optional[Transport] = None
        self.state = ConnState.NEW
        self.params: Optional[ConnectParams] = None
        self.policy = ReconnectPolicy()
        self.reconnect_on_failure = True
        self.stop_requested = False
        self._attempt = 0
        # Session takeover (DISCONNECT 0x8E): the extra wait before reconnecting (takeover.py).
        self.takeover = TakeoverBackoff()
        # When the current connection's CONNACK arrived (None before it), how long the last
        # connection lasted after its CONNACK (None: it got none), and the last wait chosen by
        # wait_backoff(). Read by the façade (redirect and takeover decisions) and by tests.
        self.connected_at: Optional[float] = None
        self.last_uptime_s: Optional[float] = None
        self.last_backoff_s = 0.0
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._wake_pending = False
        # The loop thread waits with nothing to write: the next operation from another thread
        # writes its bytes itself (kick). Set before each wait, cleared by that write.
        self._loop_idle = False
        # Events of such a write that must be dispatched on the loop thread (user callbacks).
        self._handoff: list[EngineEvent] = []
        # The thread currently running the loop (loop_forever/loop_start); None when the user
        # drives the loop by hand or not at all.
        self.loop_thread: Optional[threading.Thread] = None
        self.thread: Optional[threading.Thread] = None
        self._want_write_reported = False
        self._closed = False
        # How many times the loop woke up (select returned): idle clients should stay near zero
        # between keepalive deadlines. Read by tests and benchmarks.
        self.wakeups = 0
        # Decodes a copy of the traffic into PacketTrace events while the user logs (on_log or
        # enable_logger), as paho logs every packet; None (no cost) otherwise.
        self._tracer: Optional[_Tracer] = None

    # ------------------------------------------------------------------------------------------
    # connecting

    def connect_with(self, prepare: Callable[[], ConnectParams]) -> None:
        """Close any current connection, call the sink's ``pre_connect``, then open a transport
        with the parameters ``prepare()`` returns and queue CONNECT. Blocks for at most the
        connect timeout. Raises ``OSError``/``ConnectionFailedError`` subclasses when the
        transport cannot be opened. Thread: any; no lock held by the caller."""
        self.drop_connection()
        self.connected_at = None
        self.sink.pre_connect()
        params = prepare()
        self.params = params
        self.state = ConnState.CONNECTING
        transport = open_transport(params)
        events: list[EngineEvent] = [SocketOpened(transport.socket)]
        try:
            with self.lock:
                self.session.connection_opened(time.monotonic())
                self.transport = transport
                self._want_write_reported = False
                version = self.session.config.protocol_version
                self._tracer = _Tracer(version) if self.sink.tracing() else None
                events += self._flush_locked()
        except BaseException:
            transport.close()
            raise
        self.sink.dispatch(events)

    def drop_connection(self) -> None:
        """Close the current connection, if any, without on_disconnect (paho closes the old
        socket the same way when connecting again)."""
        old = self._detach_transport()
        if old is not None:
            self._close_transport(old)

    def _detach_transport(self) -> Optional[Transport]:
        with self.lock:
            transport, self.transport = self.transport, None
            if transport is not None:
                dropped = self.session.connection_lost(time.monotonic())
            else:
                dropped = []
        if dropped:
            self.sink.dispatch(dropped)
        return transport

    def _close_transport(self, transport: Transport) -> None:
        # on_socket_close runs while the socket is still open (external event loops
        # unregister its file descriptor there), as in paho.
        try:
            self.sink.dispatch(self._closing_socket_events(transport, self._want_write_reported))
        finally:
            transport.close()

    @staticmethod
    def _closing_socket_events(transport: Transport, write_registered: bool) -> list[EngineEvent]:
        sock = transport.socket
        events: list[EngineEvent] = []
        if write_registered:
            events.append(SocketWantWrite(sock, False))
        events.append(SocketClosed(sock))
        return events

    # ------------------------------------------------------------------------------------------
    # writing

    def _flush_locked(self, raise_errors: bool = False) -> list[EngineEvent]:
        """Write what the session has queued, without blocking. Lock held. A failed send is
        left for the reader to notice (it closes the connection), or raised with
        ``raise_errors``."""
        transport = self.transport
        session = self.session
        # Write-ahead: the session's store commits the state changes of this batch before any
        # byte reporting them (PUBREC, PUBREL, PUBCOMP, a PUBLISH's packet id) leaves.
        session.persist()
        if transport is None or not session.out:
            return []
        try:
            sent = transport.send(session.out)
        except OSError as exc:
            if raise_errors:
                raise
            log.debug("send failed: %s", exc)
            return []  # the reader notices the broken connection and closes it
        events: list[EngineEvent] = []
        if sent:
            if self._tracer is not None:
                events += self._tracer.sent(bytes(session.out[:sent]))
            events += session.sent(sent, time.monotonic())
        want = bool(session.out)
        if want != self._want_write_reported:
            self._want_write_reported = want
            events.append(SocketWantWrite(transport.socket, want))
        return events

    def kick(self) -> list[EngineEvent]:
        """Called after a user operation queued bytes. Lock held.

        With no loop thread, write now from the caller's thread (non-blocking). With a loop
        thread waiting idle, the caller's thread also writes its bytes itself, once: one
        ``send`` instead of waking the loop thread to make it, which takes a thread hand-off
        and a wake-up of the loop thread off every round trip (round trip QoS 0 p50, broker
        and client on one core: 0.072 -> 0.059 ms with this alone, client CPU per round trip
        64 -> 51 us; docs/performance.rst). The write happens under the lock like every other, so
        the bytes keep their order; the loop thread, still waiting, reads the answer. Otherwise
        (a burst: the loop thread has not waited since the last such write; bytes left over;
        a callback to run) the loop thread is woken once per batch and writes.
        """
        loop_thread = self.loop_thread
        if loop_thread is not None:
            if threading.current_thread() is loop_thread:
                return []  # a callback: the loop writes once it returns
            # Not while disconnecting: the loop thread writes DISCONNECT and closes.
            if (
                self._loop_idle
                and self.transport is not None
                and self.session.state == SessionState.CONNECTED
            ):
                self._loop_idle = False
                events = self._flush_locked()
                if not self.session.out and (not events or self.sink.dispatch_anywhere(events)):
                    return events
                self._handoff += events  # dispatched by the loop thread, which we wake
            if not self._wake_pending:
                self._wake_pending = True
                try:
                    self._wake_w.send(b"\0")
                except (BlockingIOError, OSError):
                    pass
            return []
        return self._flush_locked()

    def wake(self) -> None:
        """Wake the loop thread out of its wait (e.g. for loop_stop or disconnect)."""
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass

    # ------------------------------------------------------------------------------------------
    # one iteration

    def run_once(self, timeout: Optional[float]) -> MQTTErrorCode:
        """Wait for I/O or the next deadline (at most ``timeout`` s; ``None``: only until the
        next deadline, however far), then read, write and run timers. Returns SUCCESS, NO_CONN (nothing to drive) or the code of a connection that just
        ended (CONN_LOST, KEEPALIVE, ...). Thread: the loop's."""
        with self.lock:
            transport = self.transport
            if transport is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            deadline = self.session.next_deadline()
            want_write = bool(self.session.out) or transport.wants_write()
            pending = transport.pending()
            self._loop_idle = not want_write and threading.current_thread() is self.loop_thread
        now = time.monotonic()
        wait: Optional[float] = None if timeout is None else max(0.0, timeout)
        if deadline is not None:
            until = max(0.0, deadline - now)
            wait = until if wait is None else min(wait, until)
        if pending:
            wait = 0.0
        fileno = transport.fileno()
        wake = self._wake_r.fileno()
        try:
            readable, writable, _ = select.select(
                [fileno, wake], [fileno] if want_write else [], [], wait
            )
        except (OSError, ValueError) as exc:
            return self._connection_broken(transport, exc)
        self.wakeups += 1
        if wake in readable:
            self._drain_wake()
        return self._service(transport, fileno in readable or pending, bool(writable))

    def _drain_wake(self) -> None:
        # Under the lock, and the flag cleared after reading: a kick() racing this drain either
        # sees the flag still set (and its bytes are written by the service pass that follows,
        # which takes the lock after us) or sends a byte that the next select sees.
        with self.lock:
            try:
                while self._wake_r.recv(4096):
                    pass
            except (BlockingIOError, OSError):
                pass
            self._wake_pending = False

    def _service(self, transport: Transport, readable: bool, writable: bool) -> MQTTErrorCode:
        events: list[EngineEvent] = []
        closing: Optional[ConnectionClosed] = None
        with self.lock:
            if self.transport is not transport:
                return MQTTErrorCode.MQTT_ERR_SUCCESS  # replaced meanwhile (reconnect())
            if self._handoff:
                events, self._handoff = self._handoff, events
            session = self.session
            now = time.monotonic()
            if readable:
                closing = self._read_locked(transport, events, now)
            if closing is None:
                events += self._flush_locked()
                deadline = session.next_deadline()
                if deadline is not None and deadline <= time.monotonic():
                    events += session.tick(time.monotonic())
            if closing is None and session.state == SessionState.CLOSING:
                # Every event that ends the connection puts the session in CLOSING; looking
                # for it only then keeps isinstance checks off the per-message path.
                closing = self._closing_from(events)
            if closing is None and session.state == SessionState.DISCONNECTING and not session.out:
                closing = ConnectionClosed(MQTTErrorCode.MQTT_ERR_SUCCESS, 0)
        return self._deliver(transport, events, closing)

    def _read_locked(
        self, transport: Transport, events: list[EngineEvent], now: float
    ) -> Optional[ConnectionClosed]:
        session = self.session
        size = _FIRST_READ
        for _ in range(8):
            try:
                data = transport.recv(size)
            except (OSError, ConnectionClosedError) as exc:
                return ConnectionClosed(MQTTErrorCode.MQTT_ERR_CONN_LOST, error=exc)
            if data is None:
                return None
            if not data:
                return ConnectionClosed(
                    MQTTErrorCode.MQTT_ERR_CONN_LOST,
                    error=ConnectionClosedError("connection closed by the broker"),
                )
            if session.state == SessionState.CLOSING:
                continue
            if self._tracer is not None:
                events += self._tracer.received(data)
            events += session.receive(data, now)
            if len(data) < size and not transport.pending():
                return None
            size = _READ_SIZE
        return None

    @staticmethod
    def _closing_from(events: list[EngineEvent]) -> Optional[ConnectionClosed]:
        for event in events:
            if isinstance(event, ev.ConnectionRefused):
                return ConnectionClosed(MQTTErrorCode.MQTT_ERR_CONN_REFUSED, event.reason_code)
            if isinstance(event, ev.ServerDisconnected):
                return ConnectionClosed(
                    MQTTErrorCode.MQTT_ERR_CONN_LOST,
                    event.reason_code,
                    event.properties,
                    from_server=True,
                )
            if isinstance(event, ev.ProtocolViolation):
                return ConnectionClosed(
                    MQTTErrorCode.MQTT_ERR_PROTOCOL, event.error.reason_code, error=event.error
                )
            if isinstance(event, ev.KeepaliveTimeout):
                return ConnectionClosed(MQTTErrorCode.MQTT_ERR_KEEPALIVE, 0x8D)
        return None

    def _deliver(
        self, transport: Transport, events: list[EngineEvent], closing: Optional[ConnectionClosed]
    ) -> MQTTErrorCode:
        """Dispatch events (no lock held), send the acks they call for, close if needed."""
        if events:
            if self.state == ConnState.CONNECTING:
                for event in events:
                    if type(event) is ev.ConnectionAccepted:
                        self.state = ConnState.CONNECTED
                        self._attempt = 0
                        self.connected_at = time.monotonic()
            self.sink.dispatch(events)
            received = ev.MessageReceived
            acks = (
                [e.publish for e in events if type(e) is received and e.publish.qos]
                if self.sink.acks_after_delivery()
                else []
            )
            # The acks, and what the callbacks published, go out now rather than after one more
            # wait in select() (request/response: the answer leaves right after on_message).
            # Not a DISCONNECT a callback queued: the service pass writes it and then closes.
            session = self.session
            if acks or (
                closing is None and session.out and session.state == SessionState.CONNECTED
            ):
                with self.lock:
                    if self.transport is transport:
                        now = time.monotonic()
                        for publish in acks:
                            self.session.ack(publish.packet_id, publish.qos, now)
                        more = self._flush_locked()
                    else:
                        more = []
                if more:
                    self.sink.dispatch(more)
        if closing is not None:
            self._finish_close(transport, closing)
            return (
                closing.rc
                if closing.rc != MQTTErrorCode.MQTT_ERR_SUCCESS
                else MQTTErrorCode.MQTT_ERR_SUCCESS
            )
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def service_once(self, read: bool) -> MQTTErrorCode:
        """One non-waiting pass for external event loops: read if ``read``, then write and run
        timers (paho's loop_read / loop_write / loop_misc)."""
        with self.lock:
            transport = self.transport
        if transport is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        return self._service(transport, read, True)

    def flush_before_stop(self) -> None:
        """Write what is queued before the loop thread stops (loop_stop)."""
        transport = self.transport
        if transport is not None:
            self._flush_blocking(transport, _DRAIN_TIMEOUT_S)

    def send_ack(self, packet_id: int, qos: int) -> None:
        """Manual acknowledgement (paho's ``ack``). Thread: any."""
        with self.lock:
            if self.transport is None:
                return
            self.session.ack(packet_id, qos, time.monotonic())
            events = self.kick()
        if events:
            self.sink.dispatch(events)

    # ------------------------------------------------------------------------------------------
    # closing

    def _connection_broken(self, transport: Transport, exc: BaseException) -> MQTTErrorCode:
        self._finish_close(transport, ConnectionClosed(MQTTErrorCode.MQTT_ERR_CONN_LOST, error=exc))
        return MQTTErrorCode.MQTT_ERR_CONN_LOST

    def _finish_close(self, transport: Transport, closing: ConnectionClosed) -> None:
        graceful = closing.rc == MQTTErrorCode.MQTT_ERR_SUCCESS
        if graceful or closing.rc == MQTTErrorCode.MQTT_ERR_PROTOCOL:
            self._flush_blocking(transport, _DRAIN_TIMEOUT_S)
        if graceful:
            self._drain(transport, _DRAIN_TIMEOUT_S)
        with self.lock:
            if self.transport is not transport:
                return
            self.transport = None
            dropped = self.session.connection_lost(time.monotonic())
            if self.state in (ConnState.DISCONNECTING, ConnState.DISCONNECTED) or graceful:
                self.state = ConnState.DISCONNECTED
            else:
                self.state = ConnState.CONNECTION_LOST
            write_registered, self._want_write_reported = self._want_write_reported, False
            self._note_closed(closing)
        if closing.error is not None and not graceful:
            log.debug("connection lost: %s", closing.error)
        try:
            self.sink.dispatch(self._closing_socket_events(transport, write_registered))
        finally:
            transport.close()
        self.sink.dispatch([*dropped, closing])

    def _flush_blocking(self, transport: Transport, timeout_s: float) -> None:
        """Write everything queued, waiting for the socket at most ``timeout_s``."""
        end = time.monotonic() + timeout_s
        while True:
            with self.lock:
                if self.transport is not transport:
                    return
                if not self.session.out and not transport.wants_write():
                    return
                try:
                    events = self._flush_locked(raise_errors=True)
                except OSError as exc:
                    log.debug("send failed while closing: %s", exc)
                    return  # a dead socket: nothing more can be written
            if events:
                self.sink.dispatch(events)
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            try:
                select.select([], [transport.fileno()], [], min(remaining, 0.5))
            except (OSError, ValueError):
                return

    def _drain(self, transport: Transport, timeout_s: float) -> None:
        """Half-close and read until the broker closes, so it never sees a reset that would
        discard our last packets (a close with unread data sends RST)."""
        try:
            transport.shutdown_write()
        except OSError:
            return
        end = time.monotonic() + timeout_s
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            try:
                if not transport.pending():
                    readable, _, _ = select.select([transport.fileno()], [], [], remaining)
                    if not readable:
                        return
                data = transport.recv(_READ_SIZE)
            except (OSError, ValueError, ConnectionClosedError):
                return
            if data == b"":
                return

    def disconnect_now(self) -> None:
        """Flush, half-close and close the connection from the caller's thread (used when no
        loop thread runs, so that ``disconnect()`` alone delivers everything queued)."""
        transport = self.transport
        if transport is not None:
            self._finish_close(transport, ConnectionClosed(MQTTErrorCode.MQTT_ERR_SUCCESS, 0))

    def close_now(self, rc: MQTTErrorCode = MQTTErrorCode.MQTT_ERR_CONN_LOST) -> None:
        """Drop the connection at once (no flush)."""
        transport = self.transport
        if transport is not None:
            self._finish_close(transport, ConnectionClosed(rc))

    # ------------------------------------------------------------------------------------------
    # loop_forever and the thread

    def wait_backoff(self) -> None:
        """Sleep the reconnect backoff, cut short by ``wake()`` (disconnect/loop_stop)."""
        delay = self.policy.delay(self._attempt)
        self._attempt += 1
        # After DISCONNECT 0x8E the takeover wait applies when it is longer (takeover.py).
        delay = max(delay, self.takeover.take())
        self.last_backoff_s = delay
        end = time.monotonic() + delay
        while not self.stop_requested and self.state not in (
            ConnState.DISCONNECTING,
            ConnState.DISCONNECTED,
        ):
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            try:
                readable, _, _ = select.select([self._wake_r], [], [], remaining)
            except (OSError, ValueError):
                return
            if readable:
                self._drain_wake()

    def _note_closed(self, closing: ConnectionClosed) -> None:
        """Record how long the ending connection lasted and whether the server said another
        client took the session over (MQTT 5.0 DISCONNECT 0x8E, [MQTT-3.1.4-3]); the façade
        reads both when it reports the close. Lock held."""
        started, self.connected_at = self.connected_at, None
        uptime = None if started is None else time.monotonic() - started
        self.last_uptime_s = uptime
        taken_over = closing.from_server and closing.reason_code == SESSION_TAKEN_OVER
        # End of stream from the server, no DISCONNECT: how brokers without 0x8E show a
        # takeover (3.1.1; mosquitto 2.0 under 5.0 too). A reset (OSError) is not counted.
        server_closed = type(closing.error) is ConnectionClosedError
        self.takeover.closed(taken_over, server_closed, uptime, self.policy.max_delay_s)

    def stopping(self) -> bool:
        """True once loop_stop() asked the loop to end."""
        return self.stop_requested

    def shutdown(self) -> None:
        """Release the sockets (the client is being discarded): the wake-up pair and, like a
        file object's finalizer, a connection still open (without callbacks)."""
        if not self._closed:
            self._closed = True
            self._wake_r.close()
            self._wake_w.close()
            transport, self.transport = self.transport, None
            if transport is not None:
                transport.close()

    def __del__(self) -> None:
        try:
            self.shutdown()
        except Exception:
            pass
