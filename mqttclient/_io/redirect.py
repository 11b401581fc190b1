"""Server redirection (MQTT 5.0 §4.11): reading a Server Reference and the policy for following it.

A CONNACK refusal or a server DISCONNECT with reason 0x9C "Use another server" (temporary) or
0x9D "Server moved" (permanent) may carry a Server Reference property (§3.2.2.3.16,
§3.14.2.2.5). The standard leaves its format open: "a space separated list of references" whose
form is not specified. This module reads the common forms, ``host``, ``host:port``, ``[ipv6]``,
``[ipv6]:port`` and a bare IPv6 literal, takes the first entry of the list it can use and skips
the others (URLs with a scheme, empty hosts, bad ports). A reference without a port keeps the
port the client used, since the transport settings stay the same.

Owns: :func:`parse_server_reference`, :class:`ServerAddress` and the user's choice
:class:`RedirectPolicy`. Must not: open connections or log; the façade decides what to do with
the result and says so.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Optional

__all__ = [
    "SERVER_MOVED",
    "USE_ANOTHER_SERVER",
    "RedirectPolicy",
    "ServerAddress",
    "first_usable",
    "parse_server_reference",
]

#: DISCONNECT/CONNACK reason codes that may carry a Server Reference (MQTT 5.0 §4.11).
USE_ANOTHER_SERVER = 0x9C
SERVER_MOVED = 0x9D


@dataclass(frozen=True)
class RedirectPolicy:
    """Whether the client follows a Server Reference, and at most how many redirects in a row.

    ``follow`` is off by default (paho-mqtt ignores Server References). ``max_redirects``
    bounds consecutive redirects: a redirect loop between servers ends after that many.
    """

    follow: bool = False
    max_redirects: int = 5


@dataclass(frozen=True)
class ServerAddress:
    """One entry of a Server Reference. ``port`` is None when the entry names none."""

    host: str
    port: Optional[int] = None

    def display(self, default_port: int) -> str:
        """``host:port`` (IPv6 in brackets), with ``default_port`` when the entry has none."""
        port = self.port if self.port is not None else default_port
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{port}"


def _port(text: str) -> Optional[int]:
    if not text.isdigit() or not text.isascii():
        return None
    value = int(text)
    return value if 0 < value <= 0xFFFF else None


def _ipv6(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False


def _entry(text: str) -> Optional[ServerAddress]:
    """One reference, or None if it is not one of the forms this module reads."""
    if "://" in text or "/" in text or "@" in text:
        return None  # a URL: its scheme could ask for another transport; not ours to switch
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            return None
        host, rest = text[1:close], text[close + 1 :]
        if not _ipv6(host):
            return None
        if not rest:
            return ServerAddress(host)
        port = _port(rest[1:]) if rest.startswith(":") else None
        return None if port is None else ServerAddress(host, port)
    if text.count(":") >= 2:
        # A bare IPv6 literal: without brackets a port cannot be told apart, so there is none.
        return ServerAddress(text) if _ipv6(text) else None
    host, sep, port_text = text.partition(":")
    if not host:
        return None
    if not sep:
        return ServerAddress(host)
    port = _port(port_text)
    return None if port is None else ServerAddress(host, port)


def parse_server_reference(reference: str) -> list[ServerAddress]:
    """Every usable entry of a Server Reference, in order (MQTT 5.0 §4.11: space separated).

    Entries in another form are left out; an empty result means there is nothing to follow.
    """
    found: list[ServerAddress] = []
    for item in reference.split():
        entry = _entry(item)
        if entry is not None:
            found.append(entry)
    return found


def first_usable(reference: str, default_port: int) -> Optional[tuple[str, int]]:
    """``(host, port)`` of the first usable entry (``default_port`` when it names none), or
    None when no entry is usable."""
    entries = parse_server_reference(reference)
    if not entries:
        return None
    first = entries[0]
    return first.host, first.port if first.port is not None else default_port
