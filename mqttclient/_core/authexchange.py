"""The enhanced-authentication exchange of one connection (MQTT 5.0 §4.12, §3.15).

Owns: the Authentication Method the CONNECT carried and the authenticator answering for it,
where the exchange stands (during CONNECT, during a re-authentication, or idle), the checks on
each AUTH and on the successful CONNACK, and turning the authenticator's answers into AUTH
packets. ``Session`` feeds it packets and writes what it returns.

Must not: write to the wire, read the clock, or log Authentication Data (it is secret): log
lines and exception messages name methods and reason codes only.
"""

from __future__ import annotations

from typing import Callable, Optional

from mqttclient import _spec
from mqttclient._core.packets import Auth, Props, get_prop
from mqttclient.auth import Authenticator
from mqttclient.errors import (
    AuthenticationError,
    ConnectionFailedError,
    InvalidStateError,
    RemoteProtocolError,
)

__all__ = ["AuthExchange"]

# Where the exchange stands.
IDLE = 0  # nothing in progress (or no enhanced authentication on this connection)
CONNECTING = 1  # CONNECT carried a method; CONNACK ends the exchange
REAUTHENTICATING = 2  # our AUTH 0x19 went out; AUTH 0x00 ends the exchange

CONTINUE = 0x18  # Continue authentication
REAUTHENTICATE = 0x19  # Re-authenticate (client → server only, §3.15.2.1)
_AUTH_PROPS = (_spec.AUTHENTICATION_METHOD, _spec.AUTHENTICATION_DATA)


class AuthExchange:
    """See the module docstring. Called by the session, under the engine lock."""

    __slots__ = ("_authenticator", "_phase", "method")

    def __init__(self) -> None:
        #: The Authentication Method of the current connection's CONNECT, or None.
        self.method: Optional[str] = None
        self._authenticator: Optional[Authenticator] = None
        self._phase = IDLE

    @property
    def active(self) -> bool:
        """True while an exchange is in progress (before CONNACK, or re-authenticating)."""
        return self._phase != IDLE

    def connect_properties(self, props: Props, authenticator: Optional[Authenticator]) -> Props:
        """A connection opens: return the CONNECT properties. With an ``authenticator``, its
        method and ``start()`` data replace any Authentication Method/Data in ``props``;
        without one, a method the user put in ``props`` is taken as given (paho style) and the
        server may still answer with CONNACK directly.

        Raises:
            ConnectionFailedError: the authenticator's ``start()`` failed; nothing changed.
        """
        if authenticator is None:
            self._authenticator = None
            self.method = get_prop(props, _spec.AUTHENTICATION_METHOD)
            self._phase = IDLE if self.method is None else CONNECTING
            return props
        method = authenticator.method
        try:
            data = _checked(authenticator.start())
        except Exception as exc:
            raise ConnectionFailedError(
                f"enhanced authentication ({method}) could not start: {_cause(exc)}"
            ) from exc
        self._authenticator = authenticator
        self.method = method
        self._phase = CONNECTING
        kept = tuple(p for p in props if p[0] not in _AUTH_PROPS)
        return kept + _auth_props(method, data)

    def connection_lost(self) -> None:
        """An exchange cannot outlive its connection."""
        self._phase = IDLE

    def on_auth(self, packet: Auth) -> Optional[Auth]:
        """An AUTH from the server; return the AUTH to answer with, if any.

        Raises:
            RemoteProtocolError: the AUTH breaks the rules (0x82).
            AuthenticationError: the authenticator refused, or there is none to answer (0x80).
        """
        method = self.method
        if method is None:
            # [MQTT-4.12.0-6]: no method in CONNECT, so the server must not send AUTH.
            raise RemoteProtocolError("protocol error: AUTH without Authentication Method")
        got = get_prop(packet.properties, _spec.AUTHENTICATION_METHOD)
        if got != method:
            # [MQTT-4.12.0-5]: every AUTH carries the method of the CONNECT (§3.15.2.2.2).
            raise RemoteProtocolError(
                f"protocol error: AUTH Authentication Method {got!r}, CONNECT had {method!r} "
                "[MQTT-4.12.0-5]"
            )
        data = get_prop(packet.properties, _spec.AUTHENTICATION_DATA)
        code = packet.reason_code
        if code == CONTINUE and self._phase != IDLE:
            authenticator = self._authenticator
            if authenticator is None:
                raise AuthenticationError(
                    f"the server asks to continue {method} authentication, but no "
                    "authenticator is set to answer (Client.enhanced_auth_set)"
                )
            # [MQTT-4.12.0-3]: answer AUTH 0x18 with AUTH 0x18.
            return Auth(CONTINUE, _auth_props(method, self._call(authenticator.challenge, data)))
        if code == 0x00 and self._phase == REAUTHENTICATING:
            self._phase = IDLE
            if self._authenticator is not None:
                self._call(_finisher(self._authenticator), data)
            return None
        if code not in (0x00, CONTINUE):
            why = "not a reason code a server may send in AUTH [MQTT-3.15.2-1]"
        elif self._phase == IDLE:
            why = "with no authentication in progress (only the client starts one, §4.12.1)"
        else:
            why = "before CONNACK (CONNACK ends the first exchange, §4.12)"
        raise RemoteProtocolError(f"protocol error: AUTH 0x{code:02X} from the server {why}")

    def on_connack(self, props: Props) -> None:
        """A successful CONNACK with ``props`` ends the exchange the CONNECT started; the
        authenticator checks the server's final data.

        Raises:
            AuthenticationError: the authenticator does not accept the server.
        """
        if self._phase != CONNECTING:
            return
        self._phase = IDLE
        if self._authenticator is not None:
            data = get_prop(props, _spec.AUTHENTICATION_DATA)
            self._call(_finisher(self._authenticator), data)

    def reauthenticate(self) -> Optional[Auth]:
        """Start a re-authentication: return AUTH 0x19 with the method and the authenticator's
        initial data [MQTT-4.12.1-1], or None when an exchange is already in progress.

        Raises:
            InvalidStateError: the connection was not authenticated with an authenticator.
            AuthenticationError: the authenticator's ``start()`` failed.
        """
        authenticator = self._authenticator
        if authenticator is None or self.method is None:
            raise InvalidStateError(
                "cannot re-authenticate: the connection was not made with an authenticator "
                "(Client.enhanced_auth_set)"
            )
        if self._phase != IDLE:
            return None
        data = self._call(lambda _: authenticator.start(), None)
        self._phase = REAUTHENTICATING
        return Auth(REAUTHENTICATE, _auth_props(self.method, data))

    def _call(
        self, step: Callable[[Optional[bytes]], Optional[bytes]], data: Optional[bytes]
    ) -> Optional[bytes]:
        """Run one authenticator step; any failure becomes an AuthenticationError and ends the
        exchange."""
        try:
            return _checked(step(data))
        except AuthenticationError:
            self._phase = IDLE
            raise
        except Exception as exc:
            self._phase = IDLE
            raise AuthenticationError(
                f"the {self.method} authenticator failed: {_cause(exc)}"
            ) from exc


def _finisher(authenticator: Authenticator) -> Callable[[Optional[bytes]], None]:
    def finish(data: Optional[bytes]) -> None:
        authenticator.finish(data)  # its return value means nothing

    return finish


def _auth_props(method: str, data: Optional[bytes]) -> Props:
    if data is None:
        return ((_spec.AUTHENTICATION_METHOD, method),)
    return ((_spec.AUTHENTICATION_METHOD, method), (_spec.AUTHENTICATION_DATA, data))


def _checked(data: object) -> Optional[bytes]:
    if data is None or type(data) is bytes:
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"an authenticator returned {type(data).__name__}, not bytes or None")


def _cause(exc: BaseException) -> str:
    """The exception's type and message (authenticators keep secrets out of messages)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
