"""Connection settings as values, and paho's proxy discovery. No sockets."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from mqttclient._io.transport import (
    HTTP,
    SOCKS4,
    SOCKS5,
    ConnectParams,
    ProxySettings,
    discover_proxy,
)
from mqttclient._io.websocket import WebSocketSettings, _request_headers, default_headers
from mqttclient.errors import InvalidArgumentError


@pytest.mark.parametrize(
    "kwargs",
    [
        {"host": "h", "transport": "quic"},
        {"host": ""},
        {"host": "h", "port": 0},
        {"host": "h", "port": 65536},
        {"host": "h", "bind_port": -1},
        {"host": "h", "timeout_s": 0},
    ],
)
def test_connect_params_are_validated(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        ConnectParams(**kwargs)
    with pytest.raises(ValueError):  # paho code catches ValueError
        ConnectParams(**kwargs)


def test_connect_params_defaults_and_label() -> None:
    params = ConnectParams("broker")
    assert (params.port, params.transport, params.timeout_s) == (1883, "tcp", 5.0)
    assert params.label == "broker:1883"
    unix = ConnectParams("/run/mqtt.sock", port=0, transport="unix")
    assert unix.label == "/run/mqtt.sock"


def test_proxy_settings() -> None:
    proxy = ProxySettings(SOCKS5, "proxy.local", proxy_username="u", proxy_password="secret")
    assert proxy.port == 1080
    assert ProxySettings(HTTP, "p").port == 8080
    assert proxy.describe() == "SOCKS5 proxy proxy.local:1080"
    assert "secret" not in repr(proxy)
    with pytest.raises(InvalidArgumentError, match="proxy_type"):
        ProxySettings(9, "p")
    with pytest.raises(InvalidArgumentError, match="proxy_addr"):
        ProxySettings(SOCKS5, "")
    with pytest.raises(InvalidArgumentError, match="proxy_port"):
        ProxySettings(SOCKS5, "p", 70000)


def test_proxy_settings_from_paho_kwargs() -> None:
    proxy = ProxySettings.from_kwargs({"proxy_type": SOCKS4, "proxy_addr": "p", "proxy_port": 1})
    assert proxy == ProxySettings(SOCKS4, "p", 1)
    with pytest.raises(InvalidArgumentError, match="unknown proxy arguments: proxy_colour"):
        ProxySettings.from_kwargs({"proxy_type": SOCKS4, "proxy_addr": "p", "proxy_colour": 1})
    with pytest.raises(InvalidArgumentError, match="required"):
        ProxySettings.from_kwargs({"proxy_addr": "p"})


def test_proxy_types_match_pysocks() -> None:
    import socks

    assert (SOCKS4, SOCKS5, HTTP) == (socks.SOCKS4, socks.SOCKS5, socks.HTTP)


# --- discovery ----------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("mqtt_proxy", "MQTT_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    import socks

    monkeypatch.setattr(socks.socksocket, "default_proxy", None)
    return monkeypatch


def test_no_proxy_anywhere(clean_env: pytest.MonkeyPatch) -> None:
    assert discover_proxy("broker") is None


def test_explicit_proxy_wins(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("mqtt_proxy", "http://env-proxy:3128")
    explicit = ProxySettings(SOCKS4, "mine", 1)
    assert discover_proxy("broker", explicit) is explicit


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://proxy:3128", ProxySettings(HTTP, "proxy", 3128)),
        ("socks://proxy:1080", ProxySettings(SOCKS5, "proxy", 1080)),
        ("socks5://proxy", ProxySettings(SOCKS5, "proxy")),
        ("socks4://proxy:9", ProxySettings(SOCKS4, "proxy", 9)),
        (
            "socks5://us%40er:p%3Ass@proxy:1",
            ProxySettings(SOCKS5, "proxy", 1, True, "us@er", "p:ss"),
        ),
        ("ftp://proxy:21", None),
    ],
)
def test_proxy_from_environment(
    clean_env: pytest.MonkeyPatch, url: str, expected: ProxySettings | None
) -> None:
    clean_env.setenv("mqtt_proxy", url)
    assert discover_proxy("broker") == expected


def test_uppercase_variable_and_no_proxy(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MQTT_PROXY", "http://proxy:3128")
    assert discover_proxy("broker.example") == ProxySettings(HTTP, "proxy", 3128)
    clean_env.setenv("no_proxy", ".example,localhost")
    assert discover_proxy("broker.example") is None
    assert discover_proxy("elsewhere.net") == ProxySettings(HTTP, "proxy", 3128)


def test_pysocks_default_proxy(clean_env: pytest.MonkeyPatch) -> None:
    import socks

    clean_env.setattr(
        socks.socksocket, "default_proxy", (socks.SOCKS5, "dflt", 1081, False, b"u", b"p")
    )
    assert discover_proxy("broker") == ProxySettings(SOCKS5, "dflt", 1081, False, "u", "p")
    clean_env.setenv("mqtt_proxy", "http://proxy:3128")
    assert discover_proxy("broker") == ProxySettings(HTTP, "proxy", 3128)  # env first


def test_without_pysocks_only_explicit(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("mqtt_proxy", "http://proxy:3128")
    clean_env.setitem(sys.modules, "socks", None)
    assert discover_proxy("broker") is None
    explicit = ProxySettings(HTTP, "p")
    assert discover_proxy("broker", explicit) is explicit


# --- WebSocket settings -------------------------------------------------------------------------


def test_websocket_settings_are_validated() -> None:
    assert WebSocketSettings().path == "/mqtt"
    with pytest.raises(InvalidArgumentError, match="path"):
        WebSocketSettings(path="mqtt")
    with pytest.raises(InvalidArgumentError, match="headers"):
        WebSocketSettings(headers=42)  # type: ignore[arg-type]


def test_default_headers() -> None:
    assert default_headers("h", 80, False)["Host"] == "h"
    assert default_headers("h", 443, True)["Origin"] == "https://h"
    assert default_headers("h", 9001, False)["Origin"] == "http://h:9001"
    assert default_headers("::1", 9001, False)["Host"] == "[::1]:9001"


def test_request_headers_merge_and_protect_the_handshake() -> None:
    settings = WebSocketSettings(
        path="/p",
        headers={"Sec-WebSocket-Protocol": "other", "Upgrade": "h2c", "X-A": "1", "Host": "vh"},
    )
    request = _request_headers(settings, "h", 9001, False)
    assert request.host == "vh"
    assert request.target == "/p"
    assert request.subprotocols == ["mqtt"]
    names = [name.lower() for name, _ in request.extra_headers]
    assert b"x-a" in names and b"origin" in names
    assert b"upgrade" not in names and b"sec-websocket-protocol" not in names


def test_request_headers_callable_must_return_a_mapping() -> None:
    settings = WebSocketSettings(headers=lambda defaults: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(InvalidArgumentError, match="must return a dict"):
        _request_headers(settings, "h", 1, False)
