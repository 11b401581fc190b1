"""TLS settings as values, and TLS failures in words a user can act on.

Owns: :class:`TLSSettings`, :func:`build_tls_context` (paho's ``tls_set`` arguments turned into a
secure-by-default :class:`ssl.SSLContext`), :func:`explain_tls_error` (an ``ssl`` exception turned
into a :class:`~mqttclient.errors.TLSError` with a useful message) and the few facts read from a
DER certificate for those messages (its names and its expiry date).

Must not: open sockets, log secrets (key passwords), or import anything beyond the standard
library, ``certifi`` and ``mqttclient.errors``.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Callable, Optional, Union

from mqttclient.errors import InvalidArgumentError, TLSError

__all__ = [
    "KeyPassword",
    "TLSSettings",
    "build_tls_context",
    "certificate_expiry",
    "certificate_names",
    "explain_tls_error",
]

#: What ``keyfile_password`` may be, as in :meth:`ssl.SSLContext.load_cert_chain`.
KeyPassword = Union[str, bytes, bytearray, Callable[[], Union[str, bytes, bytearray]]]
_PathLike = Union[str, "os.PathLike[str]"]

# OpenSSL X509_V_ERR_* codes carried by ssl.SSLCertVerificationError.verify_code.
_UNKNOWN_ISSUER = {2, 18, 19, 20, 21}
_NOT_YET_VALID = 9
_EXPIRED = 10
_NAME_MISMATCH = {62, 64}

# OpenSSL reasons meaning the server did not speak TLS at all.
_NOT_TLS = {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL", "PACKET_LENGTH_TOO_LONG"}
_CLIENT_CERT_ALERTS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    "SSLV3_ALERT_BAD_CERTIFICATE",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED",
    "SSLV3_ALERT_CERTIFICATE_REVOKED",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
    "TLSV1_ALERT_UNKNOWN_CA",
    "TLSV1_ALERT_ACCESS_DENIED",
}
_VERSION_MISMATCH = {
    "UNSUPPORTED_PROTOCOL",
    "NO_PROTOCOLS_AVAILABLE",
    "TLSV1_ALERT_PROTOCOL_VERSION",
}


@dataclass(frozen=True)
class TLSSettings:
    """TLS for one connection.

    ``context`` is used as is (build it with :func:`build_tls_context`, or pass the user's own from
    ``tls_set_context``); whether the host name is checked is ``context.check_hostname``.
    ``server_hostname`` is the name sent in SNI and checked against the certificate; ``None``
    means the host the client connects to.
    """

    context: ssl.SSLContext
    server_hostname: Optional[str] = None


def build_tls_context(
    ca_certs: Optional[_PathLike] = None,
    certfile: Optional[_PathLike] = None,
    keyfile: Optional[_PathLike] = None,
    cert_reqs: Optional[ssl.VerifyMode] = None,
    tls_version: Optional[int] = None,
    ciphers: Optional[str] = None,
    keyfile_password: Optional[KeyPassword] = None,
    alpn_protocols: Optional[Sequence[str]] = None,
    *,
    insecure: bool = False,
    trust_store: str = "certifi",
) -> ssl.SSLContext:
    """Build a client :class:`ssl.SSLContext` from paho's ``tls_set`` arguments.

    Secure by default: the certificate is verified and its host name checked; TLS 1.2 is the
    minimum. Without ``ca_certs`` the CA bundle of ``certifi`` is trusted (``trust_store="system"``
    trusts the operating system's store instead, as paho does).

    Args:
        ca_certs: PEM file (or directory of hashed PEM files) of the CAs to trust.
        certfile, keyfile: the client certificate and its private key (the key may be inside
            ``certfile``).
        cert_reqs: ``ssl.CERT_REQUIRED`` (default), ``CERT_OPTIONAL`` or ``CERT_NONE`` (no
            verification at all, which also turns off the host name check).
        tls_version: an ``ssl.PROTOCOL_*`` constant as paho takes (``PROTOCOL_TLSv1_2`` pins that
            exact version; ``PROTOCOL_TLS``/``PROTOCOL_TLS_CLIENT`` keep the default) or an
            :class:`ssl.TLSVersion`, taken as the minimum version.
        ciphers: an OpenSSL cipher string.
        keyfile_password: password of an encrypted private key. The library never prompts on
            the terminal: an encrypted key without a password is an error.
        alpn_protocols: protocols offered with ALPN, e.g. ``["mqtt"]``.
        insecure: do not check the host name (paho's ``tls_insecure_set(True)``); the chain is
            still verified unless ``cert_reqs`` is ``CERT_NONE``.
        trust_store: ``"certifi"`` or ``"system"``; used only when ``ca_certs`` is not given.

    Raises:
        InvalidArgumentError: a file is missing or unreadable, the key password is wrong, or an
            argument is out of range; the message names the file.

    Thread: any.
    """
    if trust_store not in ("certifi", "system"):
        raise InvalidArgumentError(
            f"trust_store must be 'certifi' or 'system', not {trust_store!r}"
        )
    if keyfile is not None and certfile is None:
        raise InvalidArgumentError("keyfile was given without certfile")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _apply_tls_version(context, tls_version)

    verify_mode = ssl.CERT_REQUIRED if cert_reqs is None else ssl.VerifyMode(cert_reqs)
    if verify_mode == ssl.CERT_NONE or insecure:
        # check_hostname must be off before verify_mode may become CERT_NONE.
        context.check_hostname = False
    context.verify_mode = verify_mode

    if ca_certs is not None:
        _load_ca(context, ca_certs)
    elif trust_store == "certifi":
        import certifi

        context.load_verify_locations(cafile=certifi.where())
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)

    if certfile is not None:
        _load_cert_chain(context, certfile, keyfile, keyfile_password)
    if ciphers is not None:
        try:
            context.set_ciphers(ciphers)
        except ssl.SSLError as exc:
            raise InvalidArgumentError(f"no usable cipher in {ciphers!r}: {exc}") from exc
    if alpn_protocols:
        try:
            context.set_alpn_protocols(list(alpn_protocols))
        except (ValueError, TypeError, NotImplementedError) as exc:
            raise InvalidArgumentError(f"invalid alpn_protocols {alpn_protocols!r}: {exc}") from exc
    return context


def _apply_tls_version(context: ssl.SSLContext, tls_version: Optional[int]) -> None:
    if tls_version is None:
        return
    value = int(tls_version)
    if isinstance(tls_version, ssl.TLSVersion) or value >= 0x300 or value < 0:
        try:
            context.minimum_version = ssl.TLSVersion(value)
        except ValueError as exc:
            raise InvalidArgumentError(f"unknown TLS version {tls_version!r}") from exc
        return
    # paho passes ssl.PROTOCOL_* constants; the version-specific ones pin one version. They are
    # mapped to minimum/maximum so that no deprecated protocol constant is instantiated.
    pinned = {
        getattr(ssl, "PROTOCOL_TLSv1", None): ssl.TLSVersion.TLSv1,
        getattr(ssl, "PROTOCOL_TLSv1_1", None): ssl.TLSVersion.TLSv1_1,
        getattr(ssl, "PROTOCOL_TLSv1_2", None): ssl.TLSVersion.TLSv1_2,
    }
    if value in (int(ssl.PROTOCOL_TLS), int(ssl.PROTOCOL_TLS_CLIENT)):
        return
    for protocol, version in pinned.items():
        if protocol is not None and value == int(protocol):
            context.minimum_version = version
            context.maximum_version = version
            return
    raise InvalidArgumentError(f"tls_version {tls_version!r} cannot be used by a TLS client")


def _load_ca(context: ssl.SSLContext, ca_certs: _PathLike) -> None:
    path = os.fspath(ca_certs)
    try:
        if os.path.isdir(path):
            context.load_verify_locations(capath=path)
        else:
            context.load_verify_locations(cafile=path)
    except FileNotFoundError as exc:
        raise InvalidArgumentError(f"ca_certs file not found: {path}") from exc
    except (ssl.SSLError, OSError) as exc:
        raise InvalidArgumentError(
            f"cannot load CA certificates from {path}: {exc} (expected PEM certificates)"
        ) from exc


class _EncryptedKeyError(Exception):
    """The key needs a password and none was given (raised from the password callback)."""


def _no_password() -> bytes:
    # Without a callback OpenSSL would prompt on the terminal and block a background thread.
    raise _EncryptedKeyError


def _load_cert_chain(
    context: ssl.SSLContext,
    certfile: _PathLike,
    keyfile: Optional[_PathLike],
    password: Optional[KeyPassword],
) -> None:
    cert_path = os.fspath(certfile)
    key_path = os.fspath(keyfile) if keyfile is not None else None
    for what, path in (("certfile", cert_path), ("keyfile", key_path)):
        if path is not None and not os.path.isfile(path):
            raise InvalidArgumentError(f"{what} not found: {path}")
    key_name = key_path or cert_path
    try:
        context.load_cert_chain(
            cert_path, key_path, password if password is not None else _no_password
        )
    except _EncryptedKeyError as exc:
        raise InvalidArgumentError(
            f"the private key in {key_name} is encrypted: pass keyfile_password"
        ) from exc
    except ssl.SSLError as exc:
        text = str(exc).lower()
        if password is not None and ("decrypt" in text or "password" in text or "pem lib" in text):
            raise InvalidArgumentError(
                f"cannot decrypt the private key in {key_name}: is keyfile_password right? ({exc})"
            ) from exc
        if "key values mismatch" in text:
            raise InvalidArgumentError(
                f"the private key in {key_name} does not belong to the certificate in {cert_path}"
            ) from exc
        raise InvalidArgumentError(
            f"cannot load the client certificate {cert_path} / key {key_name}: {exc}"
        ) from exc
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read {cert_path} / {key_name}: {exc}") from exc


# --- explaining failures ------------------------------------------------------------------------


def explain_tls_error(
    exc: BaseException,
    *,
    host: str,
    port: int,
    peer_certificate: Optional[bytes] = None,
    during_handshake: bool = True,
) -> TLSError:
    """Return a :class:`TLSError` whose message says what went wrong and what to try.

    ``exc`` is the exception from the handshake (or from the first reads after it: under TLS 1.3
    a server refuses a client certificate only after the client finished its handshake).
    ``peer_certificate`` is the server's DER certificate when the caller could fetch it; it lets
    the message list the names the certificate holds or its expiry date.
    """
    where = f"{host}:{port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TLSError(_explain_verification(exc, host, where, peer_certificate))
    reason = str(getattr(exc, "reason", "") or "").upper()
    text = str(exc)
    if reason in _CLIENT_CERT_ALERTS:
        message = (
            f"TLS to {where}: the broker refused the client certificate, or requires one and "
            f"none was sent (TLS alert {reason}). Give a certificate the broker trusts with "
            "tls_set(certfile=..., keyfile=...)."
        )
    elif reason == "SSLV3_ALERT_HANDSHAKE_FAILURE":
        message = (
            f"TLS to {where}: the broker aborted the handshake (handshake failure): it may "
            "require a client certificate (tls_set(certfile=..., keyfile=...)), or no TLS "
            "version or cipher is acceptable to both sides."
        )
    elif reason in _NOT_TLS:
        message = (
            f"TLS to {where}: the server did not answer TLS; is this a plain MQTT port? "
            f"(OpenSSL: {reason.lower()})"
        )
    elif reason in _VERSION_MISMATCH:
        message = (
            f"TLS to {where}: no TLS version acceptable to both sides ({reason.lower()}); this "
            "client allows TLS 1.2 and newer unless tls_version lowers the minimum."
        )
    elif reason in (
        "NO_SHARED_CIPHER",
        "NO_CIPHERS_AVAILABLE",
        "SSLV3_ALERT_INSUFFICIENT_SECURITY",
    ):
        message = f"TLS to {where}: no cipher acceptable to both sides ({reason.lower()})."
    elif during_handshake and isinstance(
        exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError, BrokenPipeError)
    ):
        message = (
            f"TLS to {where}: the server closed the connection during the TLS handshake without "
            "answering TLS; is this a plain MQTT port? (or the broker refused this client)"
        )
    elif during_handshake:
        message = f"TLS handshake with {where} failed: {text}"
    else:
        message = f"TLS connection to {where} failed: {text}"
    return TLSError(message)


def _explain_verification(
    exc: ssl.SSLCertVerificationError, host: str, where: str, der: Optional[bytes]
) -> str:
    code = exc.verify_code
    detail = exc.verify_message or str(exc)
    if code in _NAME_MISMATCH:
        names = certificate_names(der) if der else []
        held = "it is valid for " + ", ".join(names) if names else "it does not list that name"
        return (
            f"TLS to {where}: the broker's certificate does not match the host name {host!r}: "
            f"{held}. Connect using one of the certificate's names, or call "
            "tls_insecure_set(True) to skip the host name check (insecure)."
        )
    if code == _EXPIRED:
        when = certificate_expiry(der) if der else None
        at = f" on {when}" if when else ""
        return (
            f"TLS to {where}: the broker's certificate expired{at} ({detail}); the broker needs "
            "a new certificate (or the local clock is wrong)."
        )
    if code == _NOT_YET_VALID:
        return (
            f"TLS to {where}: the broker's certificate is not valid yet ({detail}); check the "
            "local clock."
        )
    if code in _UNKNOWN_ISSUER:
        return (
            f"TLS to {where}: the broker's certificate is not trusted: it is self-signed or "
            f"signed by an unknown CA ({detail}). Pass the CA certificate that signed it with "
            "tls_set(ca_certs=...); without ca_certs only public CAs (certifi's bundle) are "
            "trusted."
        )
    return f"TLS to {where}: the broker's certificate failed verification: {detail}"


# --- reading a DER certificate ------------------------------------------------------------------
# Only what error messages need: subject CN, subjectAltName entries, notAfter. A tiny DER walker
# keeps the _io layer free of third-party X.509 parsers.

_OID_CN = b"\x55\x04\x03"
_OID_SAN = b"\x55\x1d\x11"
_Item = tuple[int, int, int]  # (tag, content start, content end)


def _items(der: bytes, start: int, end: int) -> Iterator[_Item]:
    pos = start
    while pos < end:
        tag = der[pos]
        length = der[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(der[pos : pos + count], "big")
            pos += count
        if pos + length > end:
            raise ValueError("truncated DER")
        yield tag, pos, pos + length
        pos += length


def _tbs_fields(der: bytes) -> list[_Item]:
    (_, cert_start, cert_end) = next(_items(der, 0, len(der)))
    (_, tbs_start, tbs_end) = next(_items(der, cert_start, cert_end))
    fields = list(_items(der, tbs_start, tbs_end))
    if fields and fields[0][0] == 0xA0:  # explicit [0] version
        fields = fields[1:]
    return fields


def certificate_names(der: bytes) -> list[str]:
    """Return ``["DNS:name", "IP:addr", ..., "CN=name"]`` read from a DER certificate.

    Returns an empty list if the certificate cannot be parsed.
    """
    names: list[str] = []
    try:
        fields = _tbs_fields(der)
        for tag, start, end in fields[5:]:
            if tag == 0xA3:
                names.extend(_san_names(der, start, end))
        common_names = _common_names(der, fields[4])
        names.extend(f"CN={cn}" for cn in common_names)
    except (ValueError, IndexError, StopIteration):
        return names
    return names


def _san_names(der: bytes, start: int, end: int) -> list[str]:
    names: list[str] = []
    (_, seq_start, seq_end) = next(_items(der, start, end))
    for _, ext_start, ext_end in _items(der, seq_start, seq_end):
        parts = list(_items(der, ext_start, ext_end))
        if der[parts[0][1] : parts[0][2]] != _OID_SAN:
            continue
        _, value_start, value_end = parts[-1]
        (_, gn_start, gn_end) = next(_items(der, value_start, value_end))
        for tag, s, e in _items(der, gn_start, gn_end):
            if tag == 0x82:
                names.append("DNS:" + der[s:e].decode("ascii", "replace"))
            elif tag == 0x87:
                names.append("IP:" + str(ipaddress.ip_address(der[s:e])))
    return names


def _common_names(der: bytes, subject: _Item) -> list[str]:
    found: list[str] = []
    for _, rdn_start, rdn_end in _items(der, subject[1], subject[2]):
        for _, atv_start, atv_end in _items(der, rdn_start, rdn_end):
            (_, os_, oe), (_, vs, ve) = list(_items(der, atv_start, atv_end))[:2]
            if der[os_:oe] == _OID_CN:
                found.append(der[vs:ve].decode("utf-8", "replace"))
    return found


def certificate_expiry(der: bytes) -> Optional[str]:
    """Return the certificate's notAfter as ``"YYYY-MM-DD HH:MM:SS UTC"``, or ``None``."""
    try:
        validity = _tbs_fields(der)[3]
        times = list(_items(der, validity[1], validity[2]))
        tag, start, end = times[1]
        text = der[start:end].decode("ascii")
    except (ValueError, IndexError, StopIteration, UnicodeDecodeError):
        return None
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ (RFC 5280 §4.1.2.5.1: YY < 50 means 20YY)
        year = int(text[:2])
        text = str(2000 + year if year < 50 else 1900 + year) + text[2:]
    if len(text) < 14:
        return None
    return f"{text[0:4]}-{text[4:6]}-{text[6:8]} {text[8:10]}:{text[10:12]}:{text[12:14]} UTC"
