"""Keepalive and CONNACK timers of one connection, as pure arithmetic on ``now`` values.

Owns: when the next PINGREQ is due, when an unanswered PINGREQ means a dead link, and when a
missing CONNACK means a failed connect (MQTT §2.4 rules: v3 §3.1.2.10 / v5 §3.1.2.10, §3.2).
The session feeds it the times packets were queued and received and asks for the deadline.

Must not: read the clock, send anything or raise; the session acts on what it reports.
"""

from __future__ import annotations

from typing import Optional

__all__ = ["Keepalive"]

OFF = 0  # no timer (no connection, or closing)
AWAIT_CONNACK = 1  # CONNECT queued: the CONNACK timeout runs
RUNNING = 2  # connected: PINGREQ and dead-link timers run


class Keepalive:
    """Timer state; every time is a monotonic ``now`` value in seconds.

    Rule: a PINGREQ is due when nothing was queued for sending for ``interval`` seconds (the
    keepalive bounds the gap between client packets, v3 [MQTT-3.1.2-23] / v5 [MQTT-3.1.2-20]) or
    nothing was received for ``interval`` seconds, whichever comes first, and no PINGREQ is
    outstanding. Any received packet answers it. If nothing arrives within ``interval / 2`` of
    the PINGREQ the link is dead, so a dead link is noticed at most 1.5 times ``interval`` after
    the last packet received (the server's own limit, v3 [MQTT-3.1.2-24] / v5 [MQTT-3.1.2-22]).
    """

    __slots__ = (
        "connack_timeout_s",
        "connect_at",
        "interval",
        "last_recv",
        "last_send",
        "may_ping",
        "phase",
        "ping_at",
    )

    def __init__(self) -> None:
        self.phase = OFF
        self.interval = 0  # effective keepalive in seconds; 0 = off
        self.connack_timeout_s = 0.0
        self.connect_at = 0.0  # when CONNECT was queued
        self.last_send = 0.0  # when a packet was last queued for sending
        self.last_recv = 0.0  # when a packet last arrived
        self.ping_at: Optional[float] = None  # when the outstanding PINGREQ was queued
        self.may_ping = True  # False once our DISCONNECT is queued: nothing more may be sent

    def start(self, now: float, connack_timeout_s: float) -> None:
        """CONNECT was queued at ``now``."""
        self.phase = AWAIT_CONNACK
        self.connack_timeout_s = connack_timeout_s
        self.connect_at = self.last_send = self.last_recv = now
        self.ping_at = None
        self.may_ping = True

    def connected(self, now: float, interval: int) -> None:
        """A successful CONNACK arrived at ``now``; ``interval`` is the effective keepalive."""
        self.phase = RUNNING
        self.interval = interval
        self.last_recv = now

    def stop(self) -> None:
        self.phase = OFF
        self.ping_at = None

    def deadline(self) -> Optional[float]:
        """The next instant the session must act, or None when no timer runs."""
        phase = self.phase
        if phase == RUNNING:
            interval = self.interval
            if not interval:
                return None
            if self.ping_at is not None:
                return self.ping_at + interval / 2
            if not self.may_ping:
                return None
            return min(self.last_send, self.last_recv) + interval
        if phase == AWAIT_CONNACK and self.connack_timeout_s > 0:
            return self.connect_at + self.connack_timeout_s
        return None
