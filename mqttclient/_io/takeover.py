"""Backing off after a session takeover (MQTT 5.0 DISCONNECT 0x8E, §3.1.4 [MQTT-3.1.4-3]).

When a client connects with a client id that is already connected, the server closes the older
connection [MQTT-3.1.4-3]; under MQTT 5 it may first send DISCONNECT 0x8E "Session taken over".
Two clients sharing one id, both reconnecting at once, kick each other off forever. This module
computes the wait before the next reconnect after a takeover: ``min_delay_s`` doubling with every
takeover in a row, capped by ``max_delay_s`` (by default the reconnect policy's maximum). The
count starts again once a connection has lasted twice that cap: a connection that long was not
part of a fight over the id.

A takeover is recognised by DISCONNECT 0x8E. Without it (MQTT 3.1.1, where the server just
closes the socket, and mosquitto 2.0, which closes the older MQTT 5 connection without sending
0x8E) it looks like the server closing the connection in an orderly way (end of stream, no
DISCONNECT) after accepting it: ``closes_in_a_row`` (3 by default) such closes in a row, each of
a connection shorter than ``short_connection_s`` (10 s; two clients fighting over an id swap
within about a second), are treated as a takeover. Other causes look the same (a broker that
drops a client right after accepting it, for a refused publish say); backing off is right for
them too, and the warning says "probably".

Owns: :class:`TakeoverPolicy` (the user's setting) and :class:`TakeoverBackoff` (the count).
Must not: read the clock, sleep or log; the engine passes durations in and applies the wait, the
façade warns the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = ["CLOSES", "DISCONNECT", "SESSION_TAKEN_OVER", "TakeoverBackoff", "TakeoverPolicy"]

#: DISCONNECT reason code "Session taken over" (MQTT 5.0 §3.14.2.1).
SESSION_TAKEN_OVER = 0x8E
#: ``TakeoverBackoff.cause`` values: DISCONNECT 0x8E, or the pattern of closes.
DISCONNECT = "disconnect"
CLOSES = "closes"


@dataclass(frozen=True)
class TakeoverPolicy:
    """The wait after a takeover: ``min_delay_s`` doubling up to ``max_delay_s`` (None: the
    reconnect policy's ``max_delay_s``). ``min_delay_s`` of 0 turns the extra wait off (the
    ordinary reconnect backoff still applies). ``closes_in_a_row`` > 0 also treats that many
    orderly closes by the server in a row, each of a connection that did not last, as a
    takeover (module docstring); 0 recognises DISCONNECT 0x8E only."""

    min_delay_s: float = 4.0
    max_delay_s: Optional[float] = None
    closes_in_a_row: int = 3
    short_connection_s: float = 10.0

    @property
    def enabled(self) -> bool:
        return self.min_delay_s > 0


class TakeoverBackoff:
    """Counts takeovers in a row and holds the wait the next reconnect must honour.

    The engine calls :meth:`closed` for every connection that ends and :meth:`take` before it
    waits to reconnect; the engine lock or the loop thread serialises the calls.
    """

    __slots__ = ("cause", "closes", "count", "pending_s", "policy")

    def __init__(self, policy: Optional[TakeoverPolicy] = None) -> None:
        self.policy = policy if policy is not None else TakeoverPolicy()
        #: Takeovers in a row (reset by a connection that lasted, see the module docstring).
        self.count = 0
        #: The wait the next reconnect must honour (0: none beyond the reconnect backoff).
        self.pending_s = 0.0
        #: Orderly closes by the server in a row, each of a connection that did not last.
        self.closes = 0
        #: Why the last close counted as a takeover: DISCONNECT, CLOSES, or None (it did not).
        self.cause: Optional[str] = None

    def cap(self, reconnect_max_s: float) -> float:
        """The longest wait, given the reconnect policy's maximum."""
        policy = self.policy
        cap = reconnect_max_s if policy.max_delay_s is None else policy.max_delay_s
        return max(cap, policy.min_delay_s)

    def closed(
        self,
        taken_over: bool,
        server_closed: bool,
        uptime_s: Optional[float],
        reconnect_max_s: float,
    ) -> float:
        """A connection ended. ``taken_over``: it ended with DISCONNECT 0x8E; ``server_closed``:
        the server closed it in an orderly way without DISCONNECT; ``uptime_s``: how long it
        lasted after its CONNACK (None: no CONNACK). Returns the wait now pending."""
        cap = self.cap(reconnect_max_s)
        lasted = uptime_s is not None and uptime_s >= 2 * cap
        if lasted:
            self.count = 0  # a connection that lasted: not part of a fight over the id
        policy = self.policy
        if server_closed and uptime_s is not None and uptime_s < policy.short_connection_s:
            self.closes += 1
        else:
            self.closes = 0
        if taken_over:
            self.cause = DISCONNECT
        elif 0 < policy.closes_in_a_row <= self.closes:
            self.cause = CLOSES
        else:
            self.cause = None
            self.pending_s = 0.0
            return 0.0
        self.count += 1
        if not policy.enabled:
            self.pending_s = 0.0
            return 0.0
        delay = policy.min_delay_s * float(1 << min(self.count - 1, 30))
        self.pending_s = min(cap, delay)
        return self.pending_s

    def take(self) -> float:
        """The pending wait, cleared (the reconnect about to happen honours it)."""
        delay, self.pending_s = self.pending_s, 0.0
        return delay
