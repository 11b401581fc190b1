"""Long fuzz run (issue 8): the decoder and the session fuzzers for a given number of inputs.

Run: ``python benchmarks/fuzz.py --inputs 1000000 [--seed 1]``. The drivers are the ones the unit
tests run under hypothesis (``tests/unit/_fuzz_driver.py``); here a seeded ``random.Random``
draws every choice, so the inputs are counted exactly and a failure is reproducible from its
seed and index. One input is one decoder stream or one session step (a session lives for
``--steps`` steps, then a new one starts). Half the inputs go to each fuzzer. Prints the counts
and the first failure (with its traceback); exits 1 on failure.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import time
import traceback

# Appended, not inserted: a copy of the package on PYTHONPATH (a prototype) takes precedence.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tests.unit._fuzz_driver import RandomSource, SessionFuzzer, fuzz_decoder


def run(inputs: int, seed: int, steps: int) -> int:
    decoder_inputs = inputs // 2
    session_inputs = inputs - decoder_inputs
    t0 = time.monotonic()
    done = 0
    try:
        for i in range(decoder_inputs):
            fuzz_decoder(RandomSource(random.Random(f"decoder-{seed}-{i}")))
            done += 1
        print(f"decoder: {done} inputs, no failure ({time.monotonic() - t0:.1f} s)", flush=True)
    except Exception:
        print(f"decoder FAILED at input {done} (seed {seed}, key decoder-{seed}-{done}):")
        traceback.print_exc(file=sys.stdout)
        return 1
    t1 = time.monotonic()
    stepped = sessions = 0
    key = ""
    try:
        while stepped < session_inputs:
            key = f"session-{seed}-{sessions}"
            fuzzer = SessionFuzzer(RandomSource(random.Random(key)))
            sessions += 1
            n = min(steps, session_inputs - stepped)
            try:
                fuzzer.run(n)
            finally:
                stepped += fuzzer.steps
    except Exception:
        print(f"session FAILED at step {fuzzer.steps} of session key {key!r}:")
        traceback.print_exc(file=sys.stdout)
        return 1
    print(
        f"session: {stepped} steps in {sessions} sessions, no failure "
        f"({time.monotonic() - t1:.1f} s)"
    )
    print(f"total: {done + stepped} inputs, 0 failures ({time.monotonic() - t0:.1f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs in all (default 1e5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=500, help="steps per session")
    args = parser.parse_args(argv)
    logging.getLogger("mqttclient").setLevel(logging.ERROR)  # violations are the point
    return run(args.inputs, args.seed, args.steps)


if __name__ == "__main__":
    sys.exit(main())
