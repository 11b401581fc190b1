"""What ``mqttclient pub`` and ``mqttclient sub`` share: the options for connecting (broker,
transport, TLS, proxy, credentials, will, protocol version), the exit codes and the errors that
map to them, and turning parsed options into a configured :class:`~mqttclient.client.Client`
(connecting it is ``mqttclient._cli_link``).

Owns the rule that every expected failure reaches the user as one line on stderr: a
:class:`UsageError` (exit 2) or a :class:`Failure` (exit 1), never a traceback. Must not print
passwords or payloads in error messages.
"""

from __future__ import annotations

import argparse
import enum
import logging
import os
import sys
import urllib.parse
from typing import Any, Literal, NoReturn, Optional

import mqttclient.client as mqtt
from mqttclient._io.proxy import HTTP, SOCKS4, SOCKS5
from mqttclient.errors import MQTTException
from mqttclient.properties import Properties

__all__ = [
    "EXIT_STATUS_HELP",
    "ExitCode",
    "Failure",
    "Parser",
    "TimedOut",
    "UsageError",
    "add_common_options",
    "build_client",
    "check_common",
    "default_port",
    "error_line",
    "user_properties",
]

#: Where the default password comes from when ``-u`` is given without ``-P``/``--password-env``.
PASSWORD_ENV = "MQTTCLIENT_PASSWORD"

_VERSIONS = {
    "31": mqtt.MQTTv31,
    "3.1": mqtt.MQTTv31,
    "mqttv31": mqtt.MQTTv31,
    "311": mqtt.MQTTv311,
    "3.1.1": mqtt.MQTTv311,
    "mqttv311": mqtt.MQTTv311,
    "5": mqtt.MQTTv5,
    "5.0": mqtt.MQTTv5,
    "mqttv5": mqtt.MQTTv5,
}
_PROXY_SCHEMES = {
    "socks4": SOCKS4,
    "socks4a": SOCKS4,
    "socks5": SOCKS5,
    "socks5h": SOCKS5,
    "http": HTTP,
}


class ExitCode(enum.IntEnum):
    """Exit statuses of ``mqttclient pub`` and ``mqttclient sub`` (a documented contract)."""

    OK = 0
    FAILURE = 1  # the connection or the protocol failed
    USAGE = 2  # bad options or unreadable input files
    TIMEOUT = 3  # -W/--timeout ran out
    INTERRUPTED = 130  # SIGINT (Ctrl-C), as shells report it


EXIT_STATUS_HELP = """\
exit status:
  0    success
  1    connection or protocol failure (cannot connect, refused, TLS, lost, rejected by broker)
  2    usage error (bad or conflicting options, unreadable file)
  3    timeout (-W): sub: fewer than -C messages arrived in time;
       pub: the broker acknowledged nothing for -W seconds
  130  interrupted (Ctrl-C)
Errors are reported as one line on stderr."""


class UsageError(Exception):
    """Bad options or input: reported as one line, exit status 2. ``prog`` names the
    (sub)command whose parser found the error, when it was a parser."""

    def __init__(self, message: str, prog: Optional[str] = None) -> None:
        super().__init__(message)
        self.prog = prog


class Failure(Exception):
    """The connection or the protocol failed: reported as one line, exit status 1."""


class TimedOut(Exception):
    """``-W/--timeout`` ran out: reported as one line, exit status 3."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line and raise :class:`UsageError` instead
    of exiting, so that ``main()`` can return the exit status to an in-process caller."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)", self.prog)


def error_line(prog: str, message: str) -> None:
    """Print ``prog: error: message`` as one line on stderr."""
    text = " ".join(str(message).split())  # no embedded newlines: one line, always
    print(f"{prog}: error: {text}", file=sys.stderr, flush=True)


# --- options --------------------------------------------------------------------------------------


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"port out of range 1..65535: {value}")
    return value


def _qos(text: str) -> int:
    if text not in ("0", "1", "2"):
        raise argparse.ArgumentTypeError(f"QoS must be 0, 1 or 2, not {text!r}")
    return int(text)


def _version(text: str) -> mqtt.MQTTProtocolVersion:
    version = _VERSIONS.get(text.lower())
    if version is None:
        raise argparse.ArgumentTypeError(f"protocol version must be 31, 311 or 5, not {text!r}")
    return version


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value}")
    return value


qos_type = _qos
seconds_type = _seconds


def add_common_options(parser: argparse.ArgumentParser) -> Any:
    """Add the options both ``pub`` and ``sub`` take; return the MQTT 5 argument group (for
    the command to add its own MQTT 5 options to)."""
    net = parser.add_argument_group("broker and connection")
    net.add_argument(
        "-h",
        "--host",
        default="localhost",
        help="broker host (default localhost); -h as in mosquitto",
    )
    net.add_argument(
        "-p",
        "--port",
        type=_port,
        help="broker port (default 1883; 8883 with TLS; 80 with --ws, 443 with --wss)",
    )
    net.add_argument("--unix", metavar="PATH", help="connect to the broker's Unix socket PATH")
    net.add_argument(
        "-i", "--id", dest="client_id", default="", help="client id (default: broker assigns)"
    )
    net.add_argument(
        "-k",
        "--keepalive",
        type=non_negative_int,
        default=60,
        metavar="SECONDS",
        help="keepalive interval (default 60)",
    )
    net.add_argument(
        "-V",
        "--protocol-version",
        type=_version,
        default=mqtt.MQTTv311,
        metavar="{31,311,5}",
        help="MQTT protocol version (default 311)",
    )
    net.add_argument(
        "-c",
        "--no-clean-session",
        action="store_true",
        help="keep the session on the broker (needs -i; with -V 5 also -x)",
    )
    net.add_argument(
        "-x",
        "--session-expiry",
        type=non_negative_int,
        metavar="SECONDS",
        help="MQTT 5 session expiry interval",
    )
    net.add_argument(
        "--connect-timeout",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="bound on connecting, handshakes and CONNACK together (default 10)",
    )
    net.add_argument("-d", "--debug", action="store_true", help="log protocol details to stderr")

    auth = parser.add_argument_group("credentials")
    auth.add_argument("-u", "--username")
    auth.add_argument(
        "-P", "--password", help=f"password (prefer --password-env or ${PASSWORD_ENV})"
    )
    auth.add_argument(
        "--password-env",
        metavar="VAR",
        help=f"read the password from environment variable VAR (default: ${PASSWORD_ENV} when -u is given)",
    )

    tls = parser.add_argument_group("TLS")
    tls.add_argument("--tls", action="store_true", help="use TLS (implied by the options below)")
    tls.add_argument("--cafile", metavar="FILE", help="trust the CA certificates in FILE (PEM)")
    tls.add_argument("--cert", metavar="FILE", help="client certificate (PEM)")
    tls.add_argument("--key", metavar="FILE", help="client private key (PEM)")
    tls.add_argument(
        "--insecure",
        action="store_true",
        help="do not check that the server certificate matches the host name",
    )
    tls.add_argument(
        "--alpn", action="append", default=[], metavar="PROTOCOL", help="ALPN protocol (repeat)"
    )

    transport = parser.add_argument_group("transport")
    transport.add_argument("--ws", action="store_true", help="MQTT over WebSocket")
    transport.add_argument("--wss", action="store_true", help="MQTT over WebSocket over TLS")
    transport.add_argument(
        "--ws-path", default="/mqtt", metavar="PATH", help="WebSocket path (default /mqtt)"
    )
    transport.add_argument(
        "--proxy",
        metavar="URL",
        help="socks5://[user:pass@]host:port, socks4://host:port or http://host:port",
    )

    will = parser.add_argument_group("last will")
    will.add_argument("--will-topic", metavar="TOPIC")
    will.add_argument("--will-payload", metavar="TEXT", default="")
    will.add_argument("--will-qos", type=_qos, default=0, metavar="{0,1,2}")
    will.add_argument("--will-retain", action="store_true")

    v5 = parser.add_argument_group("MQTT 5 (with -V 5)")
    v5.add_argument(
        "-D",
        "--user-property",
        nargs=2,
        action="append",
        default=[],
        metavar=("KEY", "VALUE"),
        help="user property (repeat for more)",
    )
    return v5


def check_common(args: argparse.Namespace, v5_only: list[str]) -> None:
    """Check option combinations argparse cannot express; raise :class:`UsageError`.

    ``v5_only`` names the options the command has set that need MQTT 5.
    """
    v5 = args.protocol_version == mqtt.MQTTv5
    if args.user_property:
        v5_only.append("-D/--user-property")
    if args.session_expiry is not None:
        v5_only.append("-x/--session-expiry")
    if v5_only and not v5:
        verb = "needs" if len(v5_only) == 1 else "need"
        raise UsageError(f"{', '.join(v5_only)} {verb} MQTT 5: add -V 5")
    if args.unix and (args.ws or args.wss or args.proxy):
        raise UsageError("--unix cannot be combined with --ws, --wss or --proxy")
    if args.ws and args.wss:
        raise UsageError("choose one of --ws and --wss")
    if args.no_clean_session and not args.client_id:
        raise UsageError("-c/--no-clean-session needs a client id (-i)")
    if args.no_clean_session and v5 and args.session_expiry is None:
        raise UsageError("with -V 5, -c/--no-clean-session needs -x/--session-expiry SECONDS")
    if (args.will_payload or args.will_qos or args.will_retain) and not args.will_topic:
        raise UsageError("--will-payload, --will-qos and --will-retain need --will-topic")
    if args.key and not args.cert:
        raise UsageError("--key needs --cert")
    for name in ("cafile", "cert", "key"):
        path = getattr(args, name)
        if path and not os.path.isfile(path):
            raise UsageError(f"--{name}: no such file: {path}")


def _tls_wanted(args: argparse.Namespace) -> bool:
    return bool(args.tls or args.wss or args.cafile or args.cert or args.insecure or args.alpn)


def _password(args: argparse.Namespace) -> Optional[str]:
    if args.password is not None:
        return str(args.password)
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            raise UsageError(f"--password-env: environment variable {args.password_env} is not set")
        return value
    if args.username is not None:
        return os.environ.get(PASSWORD_ENV)
    return None


def _proxy(url: str) -> dict[str, Any]:
    parts = urllib.parse.urlsplit(url)
    kind = _PROXY_SCHEMES.get(parts.scheme.lower())
    if kind is None:
        raise UsageError(
            f"--proxy: unsupported scheme {parts.scheme!r}; use socks5, socks4 or http"
        )
    try:
        port = parts.port
    except ValueError:
        raise UsageError("--proxy: invalid port") from None
    if not parts.hostname:
        raise UsageError("--proxy: the URL has no host")
    proxy: dict[str, Any] = {"proxy_type": kind, "proxy_addr": parts.hostname, "proxy_rdns": True}
    if port is not None:
        proxy["proxy_port"] = port
    if parts.username:
        proxy["proxy_username"] = urllib.parse.unquote(parts.username)
    if parts.password:
        proxy["proxy_password"] = urllib.parse.unquote(parts.password)
    return proxy


def user_properties(args: argparse.Namespace, packet_type: int) -> Optional[Properties]:
    """``-D KEY VALUE`` options as MQTT 5 properties of ``packet_type`` (None if none)."""
    if not args.user_property:
        return None
    props = Properties(packet_type)
    props.UserProperty = [(key, value) for key, value in args.user_property]
    return props


def default_port(args: argparse.Namespace) -> int:
    if args.port is not None:
        return int(args.port)
    if args.ws:
        return 443 if _tls_wanted(args) else 80
    if args.wss:
        return 443
    return 8883 if _tls_wanted(args) else 1883


def build_client(args: argparse.Namespace) -> mqtt.Client:
    """A client configured from the common options (not connected). Raises
    :class:`UsageError` for settings the library rejects (unreadable key, missing PySocks)."""
    v5 = args.protocol_version == mqtt.MQTTv5
    transport: Literal["tcp", "websockets", "unix"] = "tcp"
    if args.unix:
        transport = "unix"
    elif args.ws or args.wss:
        transport = "websockets"
    try:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=args.client_id,
            clean_session=None if v5 else not args.no_clean_session,
            protocol=args.protocol_version,
            transport=transport,
        )
        client.connect_timeout = args.connect_timeout
        password = _password(args)
        if password is not None and args.username is None and not v5:
            raise UsageError("a password needs a username (-u) before MQTT 5")
        if args.username is not None or password is not None:
            client.username_pw_set(args.username, password)
        if args.will_topic:
            client.will_set(args.will_topic, args.will_payload, args.will_qos, args.will_retain)
        if _tls_wanted(args):
            client.tls_set(
                ca_certs=args.cafile,
                certfile=args.cert,
                keyfile=args.key,
                alpn_protocols=args.alpn or None,
            )
            if args.insecure:
                client.tls_insecure_set(True)
        if args.ws or args.wss:
            client.ws_set_options(path=args.ws_path)
        if args.proxy:
            client.proxy_set(**_proxy(args.proxy))
    except (ValueError, OSError, MQTTException) as exc:
        raise UsageError(str(exc)) from exc
    if args.debug:
        client.enable_logger(_debug_logger())
    return client


def _debug_logger() -> logging.Logger:
    """``mqttclient.cli``'s logger, writing to the current stderr (``-d``)."""
    logger = logging.getLogger("mqttclient.cli")
    for old in [h for h in logger.handlers if h.get_name() == "mqttclient-cli"]:
        logger.removeHandler(old)  # an earlier main() in this process may have had another stderr
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name("mqttclient-cli")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger
