"""Enhanced authentication (MQTT 5.0 §4.12): the authenticator interface and SCRAM-SHA-256.

Owns: :class:`Authenticator`, the client side of one authentication method as the session sees
it (initial data, answers to challenges, a last look at the server's final data), and
:class:`ScramSha256Authenticator`, the client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) built
on ``hashlib``/``hmac``/``secrets``.

Must not: do I/O, read the clock or keep threads; an authenticator is a pure state machine that
the session calls with the client's lock held, on the thread that drives the network loop (or
the thread calling ``connect``/``reauthenticate``). Authentication data is secret: it never goes
into a log line, an exception message or a ``repr``.

How the session uses an authenticator, per exchange (``Client.enhanced_auth_set``):

1. ``start()`` gives the initial Authentication Data for CONNECT (or for AUTH 0x19 when the
   client re-authenticates); the Authentication Method is ``method``.
2. Each AUTH 0x18 (Continue authentication) from the server calls ``challenge(data)``; what it
   returns goes back in AUTH 0x18 [MQTT-4.12.0-3].
3. The successful CONNACK (or AUTH 0x00 that ends a re-authentication) calls ``finish(data)``
   with its Authentication Data. Raising there rejects the server (e.g. a wrong SCRAM server
   signature): the client sends DISCONNECT and closes.

Any exception an authenticator raises ends that exchange: the client sends DISCONNECT 0x80 and
closes (``on_disconnect`` is called, a WARNING names the cause). Raise
:class:`~mqttclient.errors.AuthenticationError` with a message that holds no secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import stringprep
import unicodedata
from abc import ABC, abstractmethod
from typing import Callable, Optional

from mqttclient.errors import AuthenticationError, InvalidArgumentError

__all__ = ["Authenticator", "ScramSha256Authenticator", "saslprep"]


class Authenticator(ABC):
    """The client side of one MQTT 5 enhanced-authentication method. Subclass it and give
    ``method`` (the Authentication Method, e.g. ``"SCRAM-SHA-256"``) and ``start``; override
    ``challenge`` for methods with a server challenge and ``finish`` to check the server's final
    data. One exchange runs at a time; ``start`` begins a new one and may be called again for
    every connection and re-authentication. Methods run with the client's lock held: they must
    not block and must not call the client."""

    #: The Authentication Method: a non-empty UTF-8 string agreed with the server.
    method: str = ""

    @abstractmethod
    def start(self) -> Optional[bytes]:
        """Begin an exchange; return the initial Authentication Data (``None``: none)."""

    def challenge(self, data: Optional[bytes]) -> Optional[bytes]:
        """Answer an AUTH 0x18 from the server carrying ``data``; return the Authentication
        Data for the client's AUTH 0x18 (``None``: none). The default refuses every challenge,
        for methods where the server never asks.

        Raises:
            AuthenticationError: the challenge cannot be answered; the connection ends.
        """
        raise AuthenticationError(f"{self.method}: the server sent an unexpected challenge")

    def finish(self, data: Optional[bytes]) -> None:
        """The server accepted (successful CONNACK, or AUTH 0x00 after a re-authentication),
        with ``data`` as its final Authentication Data. The default accepts.

        Raises:
            AuthenticationError: the client does not accept the server; the connection ends.
        """
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} method={self.method!r}>"


# --- SASLprep (RFC 4013) ------------------------------------------------------------------------


def saslprep(text: str) -> str:
    """Prepare a user name or password with the SASLprep profile of stringprep (RFC 4013, tables
    of RFC 3454 as ``stringprep`` provides them) as a query string: unassigned code points are
    allowed. Printable ASCII passes through unchanged.

    Raises:
        InvalidArgumentError: the text holds a prohibited character (control characters,
            private use, surrogates, ...) or breaks the bidirectional rule (RFC 3454 §6).
    """
    if text.isascii() and text.isprintable():
        return text  # every table leaves printable ASCII alone
    # RFC 4013 §2.1: non-ASCII spaces map to SPACE, "commonly mapped to nothing" is removed.
    mapped = "".join(
        " " if stringprep.in_table_c12(ch) else ch for ch in text if not stringprep.in_table_b1(ch)
    )
    # §2.2: Unicode 3.2 NFKC, the version stringprep is defined on.
    prepared = unicodedata.ucd_3_2_0.normalize("NFKC", mapped)
    for ch in prepared:
        if _prohibited(ch):
            raise InvalidArgumentError(
                f"SASLprep: prohibited character U+{ord(ch):04X} (RFC 4013 §2.3)"
            )
    # §2.4 / RFC 3454 §6: a string with right-to-left characters holds no left-to-right ones
    # and starts and ends with a right-to-left character.
    right_to_left = any(stringprep.in_table_d1(ch) for ch in prepared)
    if right_to_left and (
        any(stringprep.in_table_d2(ch) for ch in prepared)
        or not (stringprep.in_table_d1(prepared[0]) and stringprep.in_table_d1(prepared[-1]))
    ):
        raise InvalidArgumentError("SASLprep: mixed text directions (RFC 3454 §6)")
    return prepared


def _prohibited(ch: str) -> bool:
    return (
        stringprep.in_table_c12(ch)
        or stringprep.in_table_c21_c22(ch)
        or stringprep.in_table_c3(ch)
        or stringprep.in_table_c4(ch)
        or stringprep.in_table_c5(ch)
        or stringprep.in_table_c6(ch)
        or stringprep.in_table_c7(ch)
        or stringprep.in_table_c8(ch)
        or stringprep.in_table_c9(ch)
    )


# --- SCRAM-SHA-256 (RFC 5802, RFC 7677) ---------------------------------------------------------

_GS2_HEADER = "n,,"  # no channel binding, no authorization identity (RFC 5802 §7)
_CHANNEL_BINDING = base64.b64encode(_GS2_HEADER.encode("ascii")).decode("ascii")  # "biws"

# Exchange steps.
_IDLE, _SENT_FIRST, _SENT_FINAL, _VERIFIED = 0, 1, 2, 3


def _new_nonce() -> str:
    return secrets.token_urlsafe(24)  # 192 random bits; letters, digits, "-" and "_"


def _check_nonce(nonce: str) -> str:
    # RFC 5802 §7: printable ASCII except ",".
    if not nonce or not all(0x21 <= ord(ch) <= 0x7E and ch != "," for ch in nonce):
        raise InvalidArgumentError("a SCRAM nonce must be printable ASCII without ','")
    return nonce


def _attributes(message: str) -> dict[str, str]:
    """``a=value,b=value`` → ``{"a": "value", ...}``; the first occurrence of a name wins."""
    result: dict[str, str] = {}
    for part in message.split(","):
        if len(part) < 2 or part[1] != "=":
            raise AuthenticationError("SCRAM: malformed message from the server")
        result.setdefault(part[0], part[2:])
    return result


def _b64decode(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise AuthenticationError(f"SCRAM: the server's {what} is not valid base64") from exc


def _text(data: Optional[bytes], what: str) -> str:
    if not data:
        raise AuthenticationError(f"SCRAM: the server sent no {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AuthenticationError(f"SCRAM: the server's {what} is not UTF-8") from exc


class ScramSha256Authenticator(Authenticator):
    """The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677), Authentication Method
    ``"SCRAM-SHA-256"``, without channel binding.

    On the wire (the MQTT 5.0 §4.12 example, with SHA-256): CONNECT carries client-first, the
    server's AUTH 0x18 carries server-first, the client's AUTH 0x18 carries client-final with
    the proof, and the CONNACK carries server-final, whose server signature ``finish`` checks.
    A server may instead send server-final in one more AUTH 0x18; it is checked there and
    answered with an empty AUTH 0x18.

    Arguments:

    * ``username``, ``password``: prepared with SASLprep (:func:`saslprep`); the password is
      kept in memory for the next exchange, never in a ``repr`` or log.
    * ``nonce_factory``: returns the client nonce for each exchange (printable ASCII without
      ``,``); by default 192 random bits from ``secrets``. Meant for tests with a fixed nonce.
    * ``min_iterations``: the smallest iteration count accepted from the server (RFC 7677 §4:
      at least 4096), so that a fake server cannot make the proof cheap to attack offline.
    * ``max_iterations``: the largest accepted (1,000,000 take about 0.3 s), so that a server
      cannot stall the network thread.

    Raises:
        InvalidArgumentError: the user name or password fails SASLprep or is empty, or the
            iteration bounds are not ``1 <= min_iterations <= max_iterations``.
    """

    method = "SCRAM-SHA-256"

    def __init__(
        self,
        username: str,
        password: str,
        *,
        nonce_factory: Optional[Callable[[], str]] = None,
        min_iterations: int = 4096,
        max_iterations: int = 1_000_000,
    ) -> None:
        name = saslprep(username)
        prepared = saslprep(password)
        if not name or not prepared:
            raise InvalidArgumentError("SCRAM needs a non-empty user name and password")
        if not 1 <= min_iterations <= max_iterations:
            raise InvalidArgumentError("need 1 <= min_iterations <= max_iterations")
        self.username = username
        # RFC 5802 §5.1: "=" and "," in the name are escaped as "=3D" and "=2C".
        self._name = name.replace("=", "=3D").replace(",", "=2C")
        self._password = prepared.encode("utf-8")
        self._nonce_factory = nonce_factory or _new_nonce
        self._min_iterations = min_iterations
        self._max_iterations = max_iterations
        self._step = _IDLE
        self._first_bare = ""
        self._nonce = ""
        self._server_signature = b""
        # SaltedPassword of the last (salt, iterations): re-authentication usually reuses them
        # (RFC 5802 §5.1 allows caching it), which saves the costly key derivation.
        self._salted: tuple[bytes, int, bytes] = (b"", 0, b"")

    def __repr__(self) -> str:
        return f"<ScramSha256Authenticator method={self.method!r} username={self.username!r}>"

    def start(self) -> bytes:
        """client-first-message: ``n,,n=<user>,r=<client nonce>``."""
        self._nonce = _check_nonce(self._nonce_factory())
        self._first_bare = f"n={self._name},r={self._nonce}"
        self._step = _SENT_FIRST
        self._server_signature = b""
        return (_GS2_HEADER + self._first_bare).encode("utf-8")

    def challenge(self, data: Optional[bytes]) -> Optional[bytes]:
        """server-first → client-final with the proof; or server-final (checked) → nothing."""
        if self._step == _SENT_FIRST:
            return self._client_final(_text(data, "server-first-message"))
        if self._step == _SENT_FINAL:
            self._verify(data)
            self._step = _VERIFIED
            return None
        raise AuthenticationError("SCRAM: unexpected challenge from the server")

    def finish(self, data: Optional[bytes]) -> None:
        """Check the server signature in server-final (unless a challenge already did)."""
        step, self._step = self._step, _IDLE
        if step == _SENT_FINAL:
            self._verify(data)
        elif step != _VERIFIED or data:
            raise AuthenticationError("SCRAM: the server accepted before the exchange ended")

    def _client_final(self, server_first: str) -> bytes:
        attrs = _attributes(server_first)
        if "m" in attrs:
            raise AuthenticationError("SCRAM: the server requires an unsupported extension")
        nonce, salt_b64, count = attrs.get("r"), attrs.get("s"), attrs.get("i")
        if nonce is None or salt_b64 is None or count is None:
            raise AuthenticationError("SCRAM: server-first-message lacks r=, s= or i=")
        # RFC 5802 §5.1: the server's nonce starts with ours and adds its own part.
        if not nonce.startswith(self._nonce) or len(nonce) == len(self._nonce):
            raise AuthenticationError("SCRAM: the server's nonce does not extend the client's")
        if "," in nonce or not nonce.isascii() or not nonce.isprintable():
            raise AuthenticationError("SCRAM: the server's nonce is not printable ASCII")
        salt = _b64decode(salt_b64, "salt")
        if not (count.isascii() and count.isdigit() and len(count) <= 10):
            raise AuthenticationError("SCRAM: the iteration count is not a number")
        iterations = int(count)
        if not self._min_iterations <= iterations <= self._max_iterations:
            raise AuthenticationError(
                f"SCRAM: iteration count {iterations} outside the accepted "
                f"{self._min_iterations}..{self._max_iterations}"
            )
        salted = self._salted_password(salt, iterations)
        without_proof = f"c={_CHANNEL_BINDING},r={nonce}"
        auth_message = f"{self._first_bare},{server_first},{without_proof}".encode()
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        stored_key = hashlib.sha256(client_key).digest()
        signature = hmac.digest(stored_key, auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        self._server_signature = hmac.digest(server_key, auth_message, "sha256")
        self._step = _SENT_FINAL
        return f"{without_proof},p={base64.b64encode(proof).decode('ascii')}".encode("ascii")

    def _salted_password(self, salt: bytes, iterations: int) -> bytes:
        cached_salt, cached_iterations, cached = self._salted
        if cached and cached_salt == salt and cached_iterations == iterations:
            return cached
        salted = hashlib.pbkdf2_hmac("sha256", self._password, salt, iterations)
        self._salted = (salt, iterations, salted)
        return salted

    def _verify(self, data: Optional[bytes]) -> None:
        attrs = _attributes(_text(data, "server-final-message"))
        if "e" in attrs:
            # RFC 5802 §7 server-error values are fixed words, e.g. "invalid-proof".
            raise AuthenticationError(f"SCRAM: the server reported an error: {attrs['e'][:64]!r}")
        signature = attrs.get("v")
        if signature is None:
            raise AuthenticationError("SCRAM: server-final-message lacks v=")
        if not hmac.compare_digest(_b64decode(signature, "signature"), self._server_signature):
            raise AuthenticationError(
                "SCRAM: the server signature is wrong (the server does not know the password)"
            )
