"""The ``mqttclient`` command line (also ``python -m mqttclient``).

* ``mqttclient pub``: publish messages (``mqttclient._cli_pub``);
* ``mqttclient sub``: subscribe and print messages (``mqttclient._cli_sub``);
* ``mqttclient demo``: a publish/subscribe demo against a private local broker.

``pub`` and ``sub`` follow mosquitto_pub/mosquitto_sub: ``-h`` is the broker host there too, so
their help is ``--help`` only. Every expected failure is one line on stderr and a documented exit
status (:class:`mqttclient._cli_common.ExitCode`); this module is where exceptions become exit
statuses.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Optional

from mqttclient import __version__, _cli_pub, _cli_sub
from mqttclient._cli_common import (
    EXIT_STATUS_HELP,
    ExitCode,
    Failure,
    Parser,
    TimedOut,
    UsageError,
    error_line,
)

__all__ = ["main"]

PROG = "mqttclient"


def _parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description=(
            "MQTT client tools. In 'pub' and 'sub', -h is the broker host (as in "
            "mosquitto_pub/mosquitto_sub): ask them for --help."
        ),
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _cli_pub.add_parser(commands, EXIT_STATUS_HELP)
    _cli_sub.add_parser(commands, EXIT_STATUS_HELP)
    demo = commands.add_parser(
        "demo", help="run a publish/subscribe demo on a private local broker"
    )
    demo.add_argument(
        "--readings", type=int, default=5, help="sensor readings to publish (default 5)"
    )
    demo.add_argument("--port", type=int, help="use a broker already running on 127.0.0.1:PORT")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the process exit status (see ``mqttclient --help``).

    Never raises for expected failures: they are printed as one line on stderr.
    """
    prog = PROG
    try:
        args = _parser().parse_args(argv)
        prog = f"{PROG} {args.command}"
        if args.command == "demo":
            from mqttclient.demo import run_demo

            return run_demo(args.readings, args.port)
        run = _cli_pub.run if args.command == "pub" else _cli_sub.run
        return int(run(args, prog))
    except SystemExit as exc:  # --help and --version exit through argparse
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else int(ExitCode.USAGE))
    except UsageError as exc:
        error_line(exc.prog or prog, str(exc))
        return int(ExitCode.USAGE)
    except Failure as exc:
        error_line(prog, str(exc))
        return int(ExitCode.FAILURE)
    except TimedOut as exc:
        error_line(prog, str(exc))
        return int(ExitCode.TIMEOUT)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
