"""TLS settings: building contexts from paho's tls_set arguments, reading certificates for error
messages, and the messages themselves. No sockets."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest

from mqttclient._io.tlsconfig import (
    build_tls_context,
    certificate_expiry,
    certificate_names,
    explain_tls_error,
)
from mqttclient.errors import InvalidArgumentError, TLSError
from tests.brokers import Certs


def der(path: str) -> bytes:
    return ssl.PEM_cert_to_DER_cert(
        Path(path).read_text().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    )


# --- build_tls_context --------------------------------------------------------------------------


def test_secure_by_default() -> None:
    context = build_tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.get_ca_certs()  # certifi's bundle is loaded


def test_system_trust_store() -> None:
    context = build_tls_context(trust_store="system")
    assert context.verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(InvalidArgumentError, match="trust_store"):
        build_tls_context(trust_store="windows")


def test_ca_certs_replaces_the_default_bundle(certs: Certs) -> None:
    context = build_tls_context(ca_certs=certs.ca)
    assert len(context.get_ca_certs()) == 1


def test_insecure_turns_off_only_the_hostname_check(certs: Certs) -> None:
    context = build_tls_context(ca_certs=certs.ca, insecure=True)
    assert context.check_hostname is False
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_cert_none_turns_off_verification() -> None:
    context = build_tls_context(cert_reqs=ssl.CERT_NONE)
    assert context.verify_mode == ssl.CERT_NONE
    assert context.check_hostname is False


def test_paho_protocol_constants_pin_a_version() -> None:
    context = build_tls_context(tls_version=ssl.PROTOCOL_TLSv1_2)
    assert context.minimum_version == context.maximum_version == ssl.TLSVersion.TLSv1_2
    for default in (ssl.PROTOCOL_TLS, ssl.PROTOCOL_TLS_CLIENT):
        assert build_tls_context(tls_version=default).minimum_version == ssl.TLSVersion.TLSv1_2
    with pytest.raises(InvalidArgumentError, match="cannot be used by a TLS client"):
        build_tls_context(tls_version=ssl.PROTOCOL_TLS_SERVER)


def test_tls_version_enum_is_a_minimum() -> None:
    context = build_tls_context(tls_version=ssl.TLSVersion.TLSv1_3)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3


def test_ciphers_and_alpn() -> None:
    build_tls_context(ciphers="ECDHE+AESGCM", alpn_protocols=["mqtt"])
    with pytest.raises(InvalidArgumentError, match="no usable cipher"):
        build_tls_context(ciphers="NOT-A-CIPHER")


def test_missing_and_bad_files_are_named(certs: Certs, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pem")
    with pytest.raises(InvalidArgumentError, match=r"ca_certs file not found: .*missing.pem"):
        build_tls_context(ca_certs=missing)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(InvalidArgumentError, match=r"garbage.pem"):
        build_tls_context(ca_certs=str(garbage))
    with pytest.raises(InvalidArgumentError, match=r"certfile not found: .*missing.pem"):
        build_tls_context(certfile=missing)
    with pytest.raises(InvalidArgumentError, match=r"keyfile not found: .*missing.pem"):
        build_tls_context(certfile=certs.client_cert, keyfile=missing)
    with pytest.raises(InvalidArgumentError, match="keyfile was given without certfile"):
        build_tls_context(keyfile=certs.client_key)


def test_client_certificate_and_keys(certs: Certs) -> None:
    build_tls_context(certfile=certs.client_cert, keyfile=certs.client_key)
    build_tls_context(
        certfile=certs.client_cert,
        keyfile=certs.client_key_encrypted,
        keyfile_password=Certs.KEY_PASSWORD,
    )
    # never prompts on the terminal for a missing password
    with pytest.raises(InvalidArgumentError, match=r"client-encrypted.key is encrypted"):
        build_tls_context(certfile=certs.client_cert, keyfile=certs.client_key_encrypted)
    with pytest.raises(InvalidArgumentError, match=r"cannot decrypt .*client-encrypted.key"):
        build_tls_context(
            certfile=certs.client_cert, keyfile=certs.client_key_encrypted, keyfile_password="no"
        )
    with pytest.raises(InvalidArgumentError, match="does not belong"):
        build_tls_context(certfile=certs.client_cert, keyfile=certs.server_key)


# --- reading certificates -----------------------------------------------------------------------


def test_certificate_names(certs: Certs) -> None:
    assert certificate_names(der(certs.server_cert)) == [
        "DNS:localhost",
        "IP:127.0.0.1",
        "IP:::1",
    ]
    assert certificate_names(der(certs.wrong_host_cert)) == [
        "DNS:wrong.example",
        "DNS:other.example",
    ]
    assert certificate_names(der(certs.client_cert)) == [
        "DNS:client-1.example",
        f"CN={Certs.CLIENT_CN}",
    ]


def test_certificate_expiry(certs: Certs) -> None:
    expiry = certificate_expiry(der(certs.expired_cert))
    year = datetime.datetime.now(datetime.timezone.utc).year - 1
    assert expiry is not None and expiry.startswith(f"{year}-") and expiry.endswith(" UTC")


def test_unparsable_certificates() -> None:
    for junk in (b"", b"\x30", b"\x30\x82\xff\xff", b"garbage" * 10):
        assert certificate_names(junk) == []
        assert certificate_expiry(junk) is None


# --- messages -----------------------------------------------------------------------------------


def _verification_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {message}")
    error.verify_code = code
    error.verify_message = message
    return error


def _ssl_error(reason: str) -> ssl.SSLError:
    error = ssl.SSLError(1, f"[SSL: {reason}] something")
    error.reason = reason
    return error


def test_message_unknown_ca() -> None:
    error = explain_tls_error(
        _verification_error(20, "unable to get local issuer certificate"), host="h", port=8883
    )
    assert isinstance(error, TLSError)
    assert "h:8883" in str(error) and "unknown CA" in str(error) and "ca_certs" in str(error)


def test_message_hostname_mismatch_lists_names(certs: Certs) -> None:
    error = explain_tls_error(
        _verification_error(62, "Hostname mismatch"),
        host="localhost",
        port=1,
        peer_certificate=der(certs.wrong_host_cert),
    )
    assert "DNS:wrong.example, DNS:other.example" in str(error)
    error = explain_tls_error(_verification_error(62, "Hostname mismatch"), host="x", port=1)
    assert "does not match the host name 'x'" in str(error)


def test_message_expired(certs: Certs) -> None:
    error = explain_tls_error(
        _verification_error(10, "certificate has expired"),
        host="h",
        port=1,
        peer_certificate=der(certs.expired_cert),
    )
    assert "expired on " in str(error)


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "refused the client certificate"),
        ("TLSV1_ALERT_UNKNOWN_CA", "refused the client certificate"),
        ("SSLV3_ALERT_HANDSHAKE_FAILURE", "may require a client certificate"),
        ("WRONG_VERSION_NUMBER", "is this a plain MQTT port?"),
        ("UNSUPPORTED_PROTOCOL", "no TLS version acceptable"),
        ("NO_SHARED_CIPHER", "no cipher acceptable"),
        ("SOMETHING_ELSE", "TLS handshake with h:1 failed"),
    ],
)
def test_messages_for_ssl_reasons(reason: str, words: str) -> None:
    assert words in str(explain_tls_error(_ssl_error(reason), host="h", port=1))


def test_message_eof_during_handshake() -> None:
    eof = ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
    assert "is this a plain MQTT port?" in str(explain_tls_error(eof, host="h", port=1))
    reset = ConnectionResetError(104, "reset")
    assert "is this a plain MQTT port?" in str(explain_tls_error(reset, host="h", port=1))
