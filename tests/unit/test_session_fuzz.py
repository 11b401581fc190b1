"""Session fuzzing (issue 8, short form): a ``Session`` fed valid server packets of every type in
random order (random ids, aliases, properties and reason codes), random and mutated bytes,
partial writes, time steps, user operations, connection losses and reconnects.

Only ``ProtocolError`` may come out of a broken server, and only as a ``ProtocolViolation``
event (``receive`` never raises); after every step: in flight <= window, packet ids unique
among what is in flight, ``out`` holds only whole decodable packets, every accepted QoS 1/2
message is in flight, queued, or finished exactly once. The drivers live in ``_fuzz_driver``;
``benchmarks/fuzz.py`` runs them for a million inputs.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ._fuzz_driver import HypothesisSource, RandomSource, SessionFuzzer, fuzz_decoder

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    """The fuzzed server breaks the protocol on purpose: thousands of WARNING lines, slow to
    capture and of no interest here."""
    logger = logging.getLogger("mqttclient")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@given(data=st.data())
@SETTINGS
def test_session_survives_random_server_traffic(data: st.DataObject) -> None:
    fuzzer = SessionFuzzer(HypothesisSource(data))
    fuzzer.run(data.draw(st.integers(1, 60)))


@given(data=st.data())
@SETTINGS
def test_decoder_only_raises_protocol_errors(data: st.DataObject) -> None:
    src = HypothesisSource(data)
    for _ in range(5):
        fuzz_decoder(src)


def test_session_seeded_long_runs() -> None:
    """Longer histories than hypothesis builds cheaply: 50 seeded sessions × 500 steps."""
    for seed in range(50):
        SessionFuzzer(RandomSource(random.Random(seed))).run(500)
