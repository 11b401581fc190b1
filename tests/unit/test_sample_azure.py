"""samples/azure_iot_hub.py: the SAS token, the connection string and the credentials provider
(pure; the run against a local broker is in tests/integration/test_samples_transport.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
from pathlib import Path
from types import ModuleType
from urllib.parse import parse_qs, quote_plus

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "azure_iot_hub.py"

KEY = base64.b64encode(b"mqttclient-test-device-key-0123456789").decode()
URI = "myhub.azure-devices.net/devices/device-1"
EXPIRY = 1_700_000_000
# Computed with the openssl command line, not with Python:
#   printf '%s\n%s' 'myhub.azure-devices.net%2Fdevices%2Fdevice-1' 1700000000 \
#     | openssl dgst -sha256 -mac HMAC -macopt hexkey:<hex of the decoded key> -binary | base64
SIGNATURE = "0zlpj1LvRBEIELs+DTI/YuerSoUGGYbQWI+g8dOAKt4="
TOKEN = (
    "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdevice-1"
    "&sig=0zlpj1LvRBEIELs%2BDTI%2FYuerSoUGGYbQWI%2Bg8dOAKt4%3D&se=1700000000"
)


def load_sample() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sample_azure_iot_hub", SAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def azure() -> ModuleType:
    return load_sample()


def reference_token(uri: str, key: str, expiry: int) -> str:
    """The SAS token rule written out with hmac directly."""
    to_sign = (quote_plus(uri) + "\n" + str(expiry)).encode()
    digest = hmac.new(base64.b64decode(key), to_sign, hashlib.sha256).digest()
    sig = base64.b64encode(digest).decode()
    return f"SharedAccessSignature sr={quote_plus(uri)}&sig={quote_plus(sig)}&se={expiry}"


def test_sas_token_known_vector(azure: ModuleType) -> None:
    assert azure.sas_token(URI, KEY, EXPIRY) == TOKEN
    assert reference_token(URI, KEY, EXPIRY) == TOKEN


def test_sas_token_fields(azure: ModuleType) -> None:
    token = azure.sas_token(URI, KEY, EXPIRY)
    scheme, _, query = token.partition(" ")
    assert scheme == "SharedAccessSignature"
    fields = parse_qs(query, keep_blank_values=True)
    assert fields == {"sr": [URI], "sig": [SIGNATURE], "se": [str(EXPIRY)]}


@pytest.mark.parametrize(
    ("uri", "expiry"),
    [
        ("hub-2.azure-devices.net/devices/room 7/sensor+1", 1),
        ("x.azure-devices.net/devices/d", 4_102_444_800),
    ],
)
def test_sas_token_matches_the_reference(azure: ModuleType, uri: str, expiry: int) -> None:
    key = base64.b64encode(bytes(range(32))).decode()
    assert azure.sas_token(uri, key, expiry) == reference_token(uri, key, expiry)


def test_sas_token_rejects_a_key_that_is_not_base64(azure: ModuleType) -> None:
    with pytest.raises(ValueError, match="base64"):
        azure.sas_token(URI, "not base64!", EXPIRY)


def test_connection_string(azure: ModuleType) -> None:
    text = f"HostName=myhub.azure-devices.net;DeviceId=device-1;SharedAccessKey={KEY}"
    assert azure.parse_connection_string(text) == ("myhub.azure-devices.net", "device-1", KEY)
    with pytest.raises(ValueError, match="SharedAccessKey"):
        azure.parse_connection_string("HostName=h;DeviceId=d")


def test_provider_signs_a_fresh_token_on_every_call(azure: ModuleType) -> None:
    now = [float(EXPIRY - 3600)]

    def clock() -> float:
        return now[0]

    provider = azure.device_credentials(
        "myhub.azure-devices.net", "device-1", KEY, ttl_s=3600, clock=clock
    )
    first = provider()
    assert first.username == "myhub.azure-devices.net/device-1/?api-version=2021-04-12"
    assert first.password == TOKEN
    now[0] += 1800
    second = provider()
    assert second.username == first.username
    assert second.password == reference_token(URI, KEY, EXPIRY + 1800)
    assert "Credentials(" in repr(second) and TOKEN not in repr(first)  # no secret in repr


def test_help_needs_no_network(azure: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        azure.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--websockets" in out and "--connection-string" in out


def test_missing_device_settings(
    azure: ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(azure.CONNECTION_STRING_ENV, raising=False)
    assert azure.main(["--hub-host", "h.azure-devices.net"]) == 2
    assert "--device-key" in capsys.readouterr().err
