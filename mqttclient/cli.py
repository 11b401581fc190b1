"""The ``mqttclient`` command line.

``mqttclient demo`` runs a publish/subscribe demo against a private local broker.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Optional

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mqttclient", description="MQTT client tools")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="run a publish/subscribe demo on a private local broker"
    )
    demo.add_argument(
        "--readings", type=int, default=5, help="sensor readings to publish (default 5)"
    )
    demo.add_argument("--port", type=int, help="use a broker already running on 127.0.0.1:PORT")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from mqttclient.demo import run_demo

        return run_demo(args.readings, args.port)
    return 2  # pragma: no cover - argparse rejects unknown commands
