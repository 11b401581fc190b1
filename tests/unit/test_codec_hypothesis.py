"""Property-based tests: round trips of generated packets in every version, split invariance, and
random or mutated bytes that may only ever raise the typed protocol errors."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqttclient._core.codec import Decoder, decode, encode
from mqttclient._core.packets import Packet
from mqttclient.errors import ProtocolError
from tests.unit.codec_strategies import packets, splits

VERSIONS = [3, 4, 5]
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _feed(decoder: Decoder, pieces: list[bytes]) -> tuple[list[Packet], ProtocolError | None]:
    """Feed ``pieces``; return the packets and the error that stopped decoding, if any."""
    out: list[Packet] = []
    try:
        for piece in pieces:
            out += decoder.feed(piece)
    except ProtocolError as exc:
        assert exc.reason_code in (0x81, 0x82, 0x84, 0x95)
        with pytest.raises(type(exc)):  # the decoder stays failed
            decoder.feed(b"")
        return out, exc
    return out, None


@pytest.mark.parametrize("version", VERSIONS)
@given(data=st.data())
@SETTINGS
def test_round_trip(version: int, data: st.DataObject) -> None:
    packet = data.draw(packets(version))
    wire = encode(packet, version)
    assert decode(wire, version) == packet


@pytest.mark.parametrize("version", VERSIONS)
@given(data=st.data())
@SETTINGS
def test_stream_in_random_splits(version: int, data: st.DataObject) -> None:
    sent = data.draw(st.lists(packets(version), min_size=1, max_size=6))
    stream = b"".join(encode(packet, version) for packet in sent)
    pieces = data.draw(splits(stream))
    received, error = _feed(Decoder(version), pieces)
    assert error is None
    assert received == sent


@pytest.mark.parametrize("version", VERSIONS)
@given(data=st.data())
@SETTINGS
def test_random_bytes_only_raise_typed_errors(version: int, data: st.DataObject) -> None:
    stream = data.draw(st.binary(max_size=300))
    limit = data.draw(st.none() | st.integers(2, 400))
    whole = _feed(Decoder(version, limit), [stream])
    split = _feed(Decoder(version, limit), data.draw(splits(stream)))
    _same_outcome(whole, split)


_MUTATIONS: list[Callable[[bytearray, int, int], None]] = [
    lambda b, i, x: b.__setitem__(i, x),  # replace a byte
    lambda b, i, x: b.insert(i, x),  # insert a byte
    lambda b, i, x: b.__delitem__(i),  # delete a byte
    lambda b, i, x: b.__delitem__(slice(i, None)),  # truncate
    lambda b, i, x: b.__setitem__(i, b[i] ^ (1 << (x % 8))),  # flip one bit
]


@pytest.mark.parametrize("version", VERSIONS)
@given(data=st.data())
@SETTINGS
def test_mutated_packets_only_raise_typed_errors(version: int, data: st.DataObject) -> None:
    sent = data.draw(st.lists(packets(version), min_size=1, max_size=3))
    stream = bytearray(b"".join(encode(packet, version) for packet in sent))
    for _ in range(data.draw(st.integers(1, 3))):
        if not stream:
            break
        mutate = data.draw(st.sampled_from(_MUTATIONS))
        mutate(stream, data.draw(st.integers(0, len(stream) - 1)), data.draw(st.integers(0, 255)))
    wire = bytes(stream)
    limit = data.draw(st.none() | st.integers(2, 2000))
    whole = _feed(Decoder(version, limit), [wire])
    split = _feed(Decoder(version, limit), data.draw(splits(wire)))
    _same_outcome(whole, split)


def _same_outcome(a: tuple[list[Packet], Any], b: tuple[list[Packet], Any]) -> None:
    """However the bytes are split, the same packets come out and the same error stops them
    (packets decoded in the failing ``feed`` call are dropped, so compare only without error)."""
    if a[1] is None or b[1] is None:
        assert a[1] is None and b[1] is None
        assert a[0] == b[0]
    else:
        assert type(a[1]) is type(b[1])
        assert a[1].reason_code == b[1].reason_code
