"""paho's network-loop methods for ``Client`` (which inherits :class:`LoopMixin`): ``loop``,
``loop_forever``, ``loop_start``/``loop_stop`` and the calls for external event loops
(``loop_read``, ``loop_write``, ``loop_misc``, ``want_write``, ``socket``).

Owns: driving the engine (``mqttclient._io.loop.Engine``) from the caller's thread or from the
``loop_start`` thread, and the reconnect loop of ``loop_forever`` (backoff, paho's immediate
retries after some CONNACK refusals, redirects without backoff).

Must not: hold the engine lock while calling back into the client, or import
``mqttclient.client``. The work of one loop step is the engine's.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Optional

from mqttclient._client_constants import MQTT_ERR_INVAL, MQTT_ERR_SUCCESS
from mqttclient._core.session import Session
from mqttclient._io.loop import ConnState, Engine
from mqttclient.enums import MQTTErrorCode
from mqttclient.message import network_loop

__all__ = ["LoopMixin"]


class LoopMixin:
    """The network loop for ``Client`` (module docstring)."""

    # Provided by Client (set in Client.__init__).
    _engine: Engine
    _session: Session
    _client_id: str
    _reconnect_on_failure: bool
    _retry_now: bool
    _thread: Optional[threading.Thread]

    if TYPE_CHECKING:
        # Provided by Client, CallbackMixin and ServerPolicyMixin.
        def reconnect(self) -> MQTTErrorCode: ...

        def _connect_failed(self, error: BaseException) -> None: ...

        def _skip_backoff(self) -> bool: ...

    def loop(self, timeout: float = 1.0) -> MQTTErrorCode:
        """Process network events once, waiting at most ``timeout`` seconds. Does not
        reconnect. Returns SUCCESS or the code of the problem."""
        if timeout < 0.0:
            raise ValueError("Invalid timeout.")
        rc = self._engine.run_once(timeout)
        if self._retry_now:
            # paho's automatic retry after some CONNACK refusals (see _refused).
            return self.reconnect()
        return rc

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read what the socket has (for external event loops)."""
        return self._engine.service_once(read=True)

    def loop_write(self) -> MQTTErrorCode:
        """Write what is queued (for external event loops)."""
        return self._engine.service_once(read=False)

    def loop_misc(self) -> MQTTErrorCode:
        """Run keepalive timers (for external event loops); call it every few seconds."""
        return self._engine.service_once(read=False)

    def want_write(self) -> bool:
        """True when bytes wait to be written (for external event loops)."""
        return bool(self._session.out)

    def socket(self) -> Any:
        """The connected socket (or WebSocket wrapper), or None."""
        transport = self._engine.transport
        return None if transport is None else transport.socket

    def loop_forever(
        self, timeout: float = 1.0, retry_first_connection: bool = False
    ) -> MQTTErrorCode:
        """Run the network loop in this thread until ``disconnect()`` or ``loop_stop()``,
        reconnecting with backoff after failures (unless ``reconnect_on_failure`` is False).

        If the first connection fails and ``retry_first_connection`` is False, the error is
        raised; otherwise it is retried like any other. ``timeout`` is accepted for paho
        compatibility and ignored: the loop sleeps until there is I/O, a deadline or a wake-up
        (``disconnect()``/``loop_stop()`` wake it), never polling."""
        if timeout < 0.0:
            raise ValueError("Invalid timeout.")
        engine = self._engine
        owned = engine.loop_thread is None
        if owned:
            engine.loop_thread = threading.current_thread()
        network_loop.depth = getattr(network_loop, "depth", 0) + 1
        try:
            return self._loop_forever(timeout, retry_first_connection)
        finally:
            network_loop.depth -= 1
            if owned:
                engine.loop_thread = None

    def _loop_forever(self, timeout: float, retry_first_connection: bool) -> MQTTErrorCode:
        engine = self._engine
        if engine.state == ConnState.CONNECT_ASYNC:
            try:
                self.reconnect()
            except OSError as exc:
                self._connect_failed(exc)
                if not retry_first_connection:
                    raise
        rc = MQTT_ERR_SUCCESS
        while not engine.stopping():
            rc = MQTT_ERR_SUCCESS
            while rc == MQTT_ERR_SUCCESS and not engine.stopping():
                # No polling: sleep until I/O, a deadline or a wake-up (``timeout`` is accepted
                # for paho compatibility; stop and disconnect wake the loop themselves).
                rc = engine.run_once(None)
                if self._retry_now:
                    break
            if engine.stopping():
                engine.flush_before_stop()
                break
            if engine.state in (ConnState.DISCONNECTING, ConnState.DISCONNECTED):
                break
            if not self._reconnect_on_failure:
                break
            if not self._retry_now and not self._skip_backoff():  # a redirect: at once
                engine.wait_backoff()
                if engine.stopping() or engine.state in (
                    ConnState.DISCONNECTING,
                    ConnState.DISCONNECTED,
                ):
                    break
            try:
                self.reconnect()
            except OSError as exc:
                self._connect_failed(exc)
        return rc

    def loop_start(self) -> MQTTErrorCode:
        """Run the network loop in a daemon thread (it connects, and reconnects, by itself)."""
        if self._thread is not None:
            return MQTT_ERR_INVAL
        self._engine.stop_requested = False
        thread = threading.Thread(
            target=self._thread_main, name=f"paho-mqtt-client-{self._client_id}", daemon=True
        )
        self._thread = thread
        self._engine.thread = thread
        self._engine.loop_thread = thread
        thread.start()
        return MQTT_ERR_SUCCESS

    def _thread_main(self) -> None:
        try:
            self.loop_forever(retry_first_connection=True)
        finally:
            me = threading.current_thread()
            if self._engine.thread is me:
                self._engine.thread = None
            if self._engine.loop_thread is me:
                self._engine.loop_thread = None
            if self._thread is me:
                self._thread = None
                self._engine.stop_requested = False

    def loop_stop(self) -> MQTTErrorCode:
        """Stop the ``loop_start`` thread (the connection stays open). May be called from a
        callback; it then returns at once and the thread ends after the callback."""
        thread = self._thread
        if thread is None:
            return MQTT_ERR_INVAL
        self._engine.stop_requested = True
        self._engine.wake()
        if threading.current_thread() is not thread:
            thread.join()
            self._thread = None
            self._engine.stop_requested = False
        # From a callback on the loop thread itself: the thread ends once the callback returns
        # and clears self._thread then (a loop_start() before that returns MQTT_ERR_INVAL).
        return MQTT_ERR_SUCCESS
