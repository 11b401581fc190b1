"""Pure parts of redirects and takeover backoff: Server Reference parsing (MQTT 5.0 §4.11) and
the wait after DISCONNECT 0x8E Session taken over ([MQTT-3.1.4-3]). No sockets, no clock."""

from __future__ import annotations

import pytest

from mqttclient._io.redirect import ServerAddress, first_usable, parse_server_reference
from mqttclient._io.takeover import TakeoverBackoff, TakeoverPolicy

# --- Server Reference (§4.11: a space-separated list; the form of each entry is open) --------


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("broker-2.example.com", ("broker-2.example.com", 1883)),
        ("broker-2:8883", ("broker-2", 8883)),
        ("10.0.0.7:1884", ("10.0.0.7", 1884)),
        ("[2001:db8::1]:1885", ("2001:db8::1", 1885)),
        ("[::1]", ("::1", 1883)),
        ("2001:db8::2", ("2001:db8::2", 1883)),  # bare IPv6: no port can be told apart
        ("  b1:1  b2:2 ", ("b1", 1)),  # a list: the first entry
        ("mqtt://x:1 b2:2", ("b2", 2)),  # URLs are skipped
        (":1884 b3", ("b3", 1883)),  # no host
        ("b4:0 b5:65536 b6:x b7:65535", ("b7", 65535)),  # ports 1..65535 only
        ("[not-ipv6]:1 [::1 [::1]x b8", ("b8", 1883)),
        ("user@host:1 /path b9:9", ("b9", 9)),
        ("b10:١٢", None),  # non-ASCII digits are not a port
    ],
)
def test_first_usable(reference: str, expected: tuple[str, int] | None) -> None:
    assert first_usable(reference, 1883) == expected


@pytest.mark.parametrize("reference", ["", "   ", "mqtt://a:1", "a:b:c", "[::1]:", "a:"])
def test_nothing_usable(reference: str) -> None:
    assert first_usable(reference, 1883) is None
    assert parse_server_reference(reference) == []


def test_every_usable_entry_in_order() -> None:
    assert parse_server_reference("a:1 bad:0 [::1]:2 c") == [
        ServerAddress("a", 1),
        ServerAddress("::1", 2),
        ServerAddress("c"),
    ]


def test_display() -> None:
    assert ServerAddress("::1", 2).display(1883) == "[::1]:2"
    assert ServerAddress("h").display(1883) == "h:1883"


# --- takeover backoff ------------------------------------------------------------------------

TAKEN_OVER, CLOSED, OTHER = (True, False), (False, True), (False, False)


def close(backoff: TakeoverBackoff, kind: tuple[bool, bool], uptime: float | None = 0.5) -> float:
    return backoff.closed(*kind, uptime, 120.0)


def test_takeover_delay_doubles_from_the_floor_to_the_cap() -> None:
    backoff = TakeoverBackoff(TakeoverPolicy(min_delay_s=2.0, max_delay_s=10.0))
    waits = [close(backoff, TAKEN_OVER) for _ in range(5)]
    assert waits == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff.count == 5 and backoff.cause == "disconnect"
    assert backoff.take() == 10.0 and backoff.take() == 0.0  # taken once


def test_cap_defaults_to_the_reconnect_maximum() -> None:
    backoff = TakeoverBackoff(TakeoverPolicy(min_delay_s=4.0))
    waits = [backoff.closed(True, False, None, 20.0) for _ in range(4)]
    assert waits == [4.0, 8.0, 16.0, 20.0]


def test_other_closes_hold_no_wait_and_keep_the_count() -> None:
    backoff = TakeoverBackoff(TakeoverPolicy(min_delay_s=1.0, max_delay_s=60.0))
    close(backoff, TAKEN_OVER)
    assert close(backoff, OTHER) == 0.0 and backoff.take() == 0.0
    assert backoff.cause is None
    # A short connection ended otherwise: still the same fight over the id.
    assert close(backoff, TAKEN_OVER) == 2.0


def test_a_connection_that_lasted_resets_the_count() -> None:
    """Twice the cap: a connection that long was not part of a takeover ping-pong."""
    backoff = TakeoverBackoff(TakeoverPolicy(min_delay_s=1.0, max_delay_s=8.0))
    for _ in range(3):
        close(backoff, TAKEN_OVER)
    assert close(backoff, TAKEN_OVER, 15.9) == 8.0  # not long enough
    assert close(backoff, TAKEN_OVER, 16.0) == 1.0  # lasted 2 x 8 s: from the floor again
    assert backoff.count == 1


def test_disabled_counts_but_never_waits() -> None:
    backoff = TakeoverBackoff(TakeoverPolicy(min_delay_s=0.0))
    assert close(backoff, TAKEN_OVER) == 0.0
    assert backoff.count == 1 and backoff.take() == 0.0


def test_three_short_server_closes_in_a_row_count_by_default() -> None:
    """3.1.1 (and mosquitto 2.0 under 5.0) close the older connection without DISCONNECT
    0x8E: by default three orderly closes in a row, each of a connection shorter than 10 s,
    count as a takeover; longer connections never do, and ``closes_in_a_row=0`` turns the
    pattern off (0x8E only)."""
    backoff = TakeoverBackoff(TakeoverPolicy(min_delay_s=1.0, max_delay_s=8.0))
    assert [close(backoff, CLOSED) for _ in range(5)] == [0.0, 0.0, 1.0, 2.0, 4.0]
    assert backoff.cause == "closes"
    steady = TakeoverBackoff(TakeoverPolicy(min_delay_s=1.0, max_delay_s=8.0))
    assert [close(steady, CLOSED, 10.0) for _ in range(5)] == [0.0] * 5  # each lasted 10 s
    assert steady.closes == 0 and steady.count == 0
    off = TakeoverBackoff(TakeoverPolicy(min_delay_s=1.0, max_delay_s=8.0, closes_in_a_row=0))
    assert [close(off, CLOSED) for _ in range(5)] == [0.0] * 5
    assert off.closes == 5 and off.count == 0 and off.cause is None


def test_closes_in_a_row_count_as_a_takeover_when_opted_in() -> None:
    backoff = TakeoverBackoff(TakeoverPolicy(1.0, 8.0, closes_in_a_row=2))
    assert [close(backoff, CLOSED) for _ in range(4)] == [0.0, 1.0, 2.0, 4.0]
    assert backoff.cause == "closes"
    # Anything else in between starts the row again: a reset, a refusal (no CONNACK) ...
    assert close(backoff, OTHER) == 0.0
    assert close(backoff, CLOSED) == 0.0
    assert close(backoff, CLOSED, None) == 0.0  # closed before its CONNACK: not counted
    assert close(backoff, CLOSED) == 0.0
    assert close(backoff, CLOSED) == 8.0  # the count of takeovers went on (capped)
    # ... or a connection that lasted.
    assert close(backoff, CLOSED, 16.0) == 0.0 and backoff.count == 0
