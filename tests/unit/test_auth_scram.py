"""SCRAM-SHA-256 client (RFC 5802, RFC 7677) and SASLprep (RFC 4013), without any network.

The reference is the example exchange of RFC 7677 §3: user "user", password "pencil", client
nonce "rOprNGfwEbeRWgbNEkqO", salt "W22ZaJ0SNY7soEsUEjb6gQ==", 4096 iterations.
"""

from __future__ import annotations

from typing import Optional

import pytest

from mqttclient.auth import Authenticator, ScramSha256Authenticator, saslprep
from mqttclient.errors import AuthenticationError, InvalidArgumentError, ProtocolError

# RFC 7677 §3.
NONCE = "rOprNGfwEbeRWgbNEkqO"
CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_FIRST = (
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
CLIENT_FINAL = (
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
# Another server signature of the right length: what a server without the password sends.
WRONG_FINAL = b"v=" + b"A" * 43 + b"="


def rfc_client(password: str = "pencil") -> ScramSha256Authenticator:
    return ScramSha256Authenticator("user", password, nonce_factory=lambda: NONCE)


def test_rfc7677_exchange() -> None:
    scram = rfc_client()
    assert scram.method == "SCRAM-SHA-256"
    assert scram.start() == CLIENT_FIRST
    assert scram.challenge(SERVER_FIRST) == CLIENT_FINAL
    scram.finish(SERVER_FINAL)  # the server signature verifies: no exception


def test_rfc7677_exchange_twice_with_the_cached_key() -> None:
    # Re-authentication reuses SaltedPassword for the same salt and count; the proof must not
    # change because of it.
    scram = rfc_client()
    for _ in range(2):
        assert scram.start() == CLIENT_FIRST
        assert scram.challenge(SERVER_FIRST) == CLIENT_FINAL
        scram.finish(SERVER_FINAL)


def test_wrong_password_gives_another_proof() -> None:
    scram = rfc_client("pencil2")
    scram.start()
    final = scram.challenge(SERVER_FIRST)
    assert final is not None and final.split(b",p=")[0] == CLIENT_FINAL.split(b",p=")[0]
    assert final != CLIENT_FINAL


def test_wrong_server_signature_is_rejected() -> None:
    scram = rfc_client()
    scram.start()
    scram.challenge(SERVER_FIRST)
    with pytest.raises(AuthenticationError, match="server signature is wrong"):
        scram.finish(WRONG_FINAL)


def test_server_signature_for_another_password_is_rejected() -> None:
    # The server final of the RFC exchange does not fit a client with another password.
    scram = rfc_client("pencil2")
    scram.start()
    scram.challenge(SERVER_FIRST)
    with pytest.raises(AuthenticationError):
        scram.finish(SERVER_FINAL)


@pytest.mark.parametrize(
    ("final", "match"),
    [
        (None, "no server-final-message"),
        (b"", "no server-final-message"),
        (b"e=invalid-proof", "invalid-proof"),
        (b"x=1", "lacks v="),
        (b"v=***", "not valid base64"),
        (b"garbage", "malformed"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_server_final_is_rejected(final: Optional[bytes], match: str) -> None:
    scram = rfc_client()
    scram.start()
    scram.challenge(SERVER_FIRST)
    with pytest.raises(AuthenticationError, match=match):
        scram.finish(final)


def test_server_final_in_a_challenge() -> None:
    # A server may send server-final in one more AUTH 0x18; the client checks it there,
    # answers with no data, and the CONNACK then carries none.
    scram = rfc_client()
    scram.start()
    scram.challenge(SERVER_FIRST)
    assert scram.challenge(SERVER_FINAL) is None
    scram.finish(None)
    scram.start()
    scram.challenge(SERVER_FIRST)
    with pytest.raises(AuthenticationError, match="server signature is wrong"):
        scram.challenge(WRONG_FINAL)


def test_accepting_before_the_proof_is_rejected() -> None:
    # A server that accepts without ever checking the client proof has proved nothing.
    scram = rfc_client()
    scram.start()
    with pytest.raises(AuthenticationError, match="before the exchange ended"):
        scram.finish(None)
    with pytest.raises(AuthenticationError, match="before the exchange ended"):
        rfc_client().finish(SERVER_FINAL)  # no exchange started


def test_a_third_challenge_is_rejected() -> None:
    scram = rfc_client()
    scram.start()
    scram.challenge(SERVER_FIRST)
    scram.challenge(SERVER_FINAL)
    with pytest.raises(AuthenticationError, match="unexpected challenge"):
        scram.challenge(SERVER_FIRST)


@pytest.mark.parametrize(
    ("server_first", "match"),
    [
        # The server's nonce must start with the client's and add to it (RFC 5802 §5.1).
        (b"r=OTHERNONCE123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "does not extend"),
        (b"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "does not extend"),
        (b"r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==", "lacks"),
        (b"r=rOprNGfwEbeRWgbNEkqOabc,s=!!,i=4096", "salt is not valid base64"),
        (b"r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=x", "not a number"),
        (b"r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=" + b"9" * 5000, "not a number"),
        # RFC 7677 §4: at least 4096 iterations; fewer make the proof cheap to attack.
        (b"r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1", "iteration count 1"),
        (b"r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999", "iteration"),
        # RFC 5802 §5.1: an unknown mandatory extension ends the exchange.
        (b"m=ext,r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "extension"),
        (None, "no server-first-message"),
    ],
)
def test_bad_server_first_is_rejected(server_first: Optional[bytes], match: str) -> None:
    scram = rfc_client()
    scram.start()
    with pytest.raises(AuthenticationError, match=match):
        scram.challenge(server_first)


def test_iteration_bounds_are_settable() -> None:
    scram = ScramSha256Authenticator(
        "user", "pencil", nonce_factory=lambda: NONCE, min_iterations=4097
    )
    scram.start()
    with pytest.raises(AuthenticationError, match="iteration count 4096"):
        scram.challenge(SERVER_FIRST)
    with pytest.raises(InvalidArgumentError):
        ScramSha256Authenticator("user", "pencil", min_iterations=10, max_iterations=9)


def test_user_name_is_escaped() -> None:
    # RFC 5802 §5.1: "=" and "," in a saslname are sent as "=3D" and "=2C".
    scram = ScramSha256Authenticator("a=b,c", "pw", nonce_factory=lambda: "N")
    assert scram.start() == b"n,,n=a=3Db=2Cc,r=N"


def test_default_nonce_is_fresh_and_printable() -> None:
    scram = ScramSha256Authenticator("user", "pencil")
    first, second = scram.start(), scram.start()
    assert first != second
    nonce = first.split(b",r=")[1]
    assert len(nonce) >= 24 and b"," not in nonce and nonce.isascii()


@pytest.mark.parametrize("nonce", ["", "a,b", "caf\u00e9", "sp ace"])
def test_bad_injected_nonce_is_refused(nonce: str) -> None:
    scram = ScramSha256Authenticator("user", "pencil", nonce_factory=lambda: nonce)
    with pytest.raises(InvalidArgumentError):
        scram.start()


def test_errors_are_typed() -> None:
    assert issubclass(AuthenticationError, ProtocolError)
    assert AuthenticationError("x").reason_code == 0x80  # a code a client may send


def test_password_is_not_in_repr() -> None:
    scram = ScramSha256Authenticator("user", "pencil-SECRET")
    scram.start()
    assert "pencil-SECRET" not in repr(scram) and "pencil-SECRET" not in str(scram)
    assert "SCRAM-SHA-256" in repr(scram)


def test_bad_credentials_are_refused_at_construction() -> None:
    with pytest.raises(InvalidArgumentError):
        ScramSha256Authenticator("", "pw")
    with pytest.raises(InvalidArgumentError):
        ScramSha256Authenticator("user", "")
    with pytest.raises(InvalidArgumentError):
        ScramSha256Authenticator("user", "bell\u0007")


# --- SASLprep: the examples of RFC 4013 §3 --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "prepared"),
    [
        ("I\u00adX", "IX"),  # SOFT HYPHEN mapped to nothing
        ("user", "user"),  # no transformation
        ("USER", "USER"),  # case preserved
        ("\u00aa", "a"),  # output is NFKC
        ("\u2168", "IX"),  # output is NFKC
        ("a\u00a0b", "a b"),  # non-ASCII space mapped to SPACE (§2.1)
        ("\u0627\u0628", "\u0627\u0628"),  # right-to-left only: allowed
    ],
)
def test_saslprep(text: str, prepared: str) -> None:
    assert saslprep(text) == prepared


@pytest.mark.parametrize(
    "text",
    [
        "\u0007",  # prohibited character (RFC 4013 §3)
        "\u0627\u0031",  # bidirectional check (RFC 4013 §3)
        "a\ue000",  # private use (C.3)
        "a\u200eb",  # change display property (C.8)
    ],
)
def test_saslprep_refuses(text: str) -> None:
    with pytest.raises(InvalidArgumentError):
        saslprep(text)


# --- the Authenticator base class ---------------------------------------------------------------


class TokenAuthenticator(Authenticator):
    method = "TOKEN"

    def start(self) -> Optional[bytes]:
        return b"token"


def test_authenticator_defaults() -> None:
    auth = TokenAuthenticator()
    assert auth.start() == b"token"
    auth.finish(None)  # accepts by default
    with pytest.raises(AuthenticationError, match="unexpected challenge"):
        auth.challenge(b"x")  # refuses challenges by default
    assert repr(auth) == "<TokenAuthenticator method='TOKEN'>"


def test_authenticator_needs_start() -> None:
    class NoStart(Authenticator):
        method = "X"

    with pytest.raises(TypeError):
        NoStart()  # type: ignore[abstract]
