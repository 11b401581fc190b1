"""Proxy settings as values, and paho's proxy discovery.

Owns: :class:`ProxySettings` (the arguments of paho's ``proxy_set``), the proxy type constants,
:func:`discover_proxy` (explicit settings, then ``mqtt_proxy`` from the environment honouring
``no_proxy``, then PySocks' default proxy) and the guarded import of PySocks. Connecting through
a proxy is done by :mod:`mqttclient._io.transport`.

Must not: open sockets, or show a proxy password in a repr, a message or a log line.
"""

from __future__ import annotations

import importlib
import logging
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Optional, Union

from mqttclient.errors import InvalidArgumentError

__all__ = ["HTTP", "SOCKS4", "SOCKS5", "ProxySettings", "discover_proxy", "require_socks"]

log = logging.getLogger(__name__)

#: Proxy types, equal to PySocks' ``socks.SOCKS4``, ``socks.SOCKS5`` and ``socks.HTTP``.
SOCKS4 = 1
SOCKS5 = 2
HTTP = 3
_PROXY_NAMES = {SOCKS4: "SOCKS4", SOCKS5: "SOCKS5", HTTP: "HTTP"}
_PROXY_DEFAULT_PORTS = {SOCKS4: 1080, SOCKS5: 1080, HTTP: 8080}


@dataclass(frozen=True)
class ProxySettings:
    """A SOCKS4, SOCKS5 or HTTP CONNECT proxy; the arguments of paho's ``proxy_set``.

    ``proxy_type`` is :data:`SOCKS4`, :data:`SOCKS5` or :data:`HTTP` (equal to PySocks'
    constants); ``proxy_port`` ``None`` means 1080 for SOCKS and 8080 for HTTP; ``proxy_rdns``
    lets the proxy resolve the broker's name.
    """

    proxy_type: int
    proxy_addr: str
    proxy_port: Optional[int] = None
    proxy_rdns: bool = True
    proxy_username: Optional[str] = None
    proxy_password: Optional[str] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.proxy_type not in _PROXY_NAMES:
            raise InvalidArgumentError(
                f"proxy_type must be socks.SOCKS4, socks.SOCKS5 or socks.HTTP, not "
                f"{self.proxy_type!r}"
            )
        if not self.proxy_addr or not isinstance(self.proxy_addr, str):
            raise InvalidArgumentError("proxy_addr must be a non-empty host name or address")
        if self.proxy_port is not None and not 0 < self.proxy_port < 65536:
            raise InvalidArgumentError(f"proxy_port out of range: {self.proxy_port!r}")

    @classmethod
    def from_kwargs(cls, proxy_args: Mapping[str, Any]) -> ProxySettings:
        """Build from paho's ``proxy_set(**proxy_args)`` keyword arguments."""
        unknown = set(proxy_args) - {
            "proxy_type",
            "proxy_addr",
            "proxy_port",
            "proxy_rdns",
            "proxy_username",
            "proxy_password",
        }
        if unknown:
            raise InvalidArgumentError(f"unknown proxy arguments: {', '.join(sorted(unknown))}")
        if "proxy_type" not in proxy_args or "proxy_addr" not in proxy_args:
            raise InvalidArgumentError("proxy_type and proxy_addr are required")
        return cls(**proxy_args)

    @property
    def port(self) -> int:
        """The proxy's port, with the default for its type filled in."""
        return self.proxy_port or _PROXY_DEFAULT_PORTS[self.proxy_type]

    def describe(self) -> str:
        """E.g. ``"SOCKS5 proxy 127.0.0.1:1080"`` (never the password)."""
        return f"{_PROXY_NAMES[self.proxy_type]} proxy {self.proxy_addr}:{self.port}"


def _socks_module() -> Optional[ModuleType]:
    try:
        return importlib.import_module("socks")
    except ImportError:
        return None


def require_socks() -> ModuleType:
    """The PySocks module; :class:`InvalidArgumentError` if it is not installed."""
    module = _socks_module()
    if module is None:
        raise InvalidArgumentError(
            "connecting through a proxy needs PySocks: pip install mqttclient[proxy]"
        )
    return module


def discover_proxy(host: str, explicit: Optional[ProxySettings] = None) -> Optional[ProxySettings]:
    """Find the proxy for a connection to ``host`` the way paho does.

    Order: ``explicit`` (``proxy_set``); else the ``mqtt_proxy`` environment variable (read by
    :func:`urllib.request.getproxies`) unless ``host`` matches ``no_proxy``
    (:func:`urllib.request.proxy_bypass`), where ``http://`` means HTTP CONNECT and ``socks://``,
    ``socks5://`` SOCKS5 (``socks4://`` SOCKS4); else PySocks' global default proxy. Returns
    ``None`` for a direct connection. Without PySocks only ``explicit`` is returned (as paho,
    which ignores the environment then).

    Thread: any; reads the environment on every call (call it on every (re)connect).
    """
    if explicit is not None:
        return explicit
    socks = _socks_module()
    if socks is None:
        return None
    if not urllib.request.proxy_bypass(host):
        url = urllib.request.getproxies().get("mqtt")
        if url:
            found = _proxy_from_url(url)
            if found is not None:
                return found
    default = socks.get_default_proxy()
    if default and default[0] in _PROXY_NAMES and default[1]:
        proxy_type, addr, port, rdns, username, password = (tuple(default) + (None,) * 6)[:6]
        return ProxySettings(
            int(proxy_type),
            _text(addr),
            port,
            True if rdns is None else bool(rdns),
            _text(username) if username else None,
            _text(password) if password else None,
        )
    return None


def _text(value: Union[str, bytes]) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _proxy_from_url(url: str) -> Optional[ProxySettings]:
    parts = urllib.parse.urlparse(url)
    kinds = {"http": HTTP, "socks": SOCKS5, "socks5": SOCKS5, "socks5h": SOCKS5, "socks4": SOCKS4}
    kind = kinds.get(parts.scheme.lower())
    if kind is None or not parts.hostname:
        log.debug("ignoring mqtt_proxy with unsupported scheme %r", parts.scheme)
        return None
    return ProxySettings(
        kind,
        parts.hostname,
        parts.port,
        True,
        urllib.parse.unquote(parts.username) if parts.username else None,
        urllib.parse.unquote(parts.password) if parts.password else None,
    )
