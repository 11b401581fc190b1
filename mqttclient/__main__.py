"""``python -m mqttclient``: the command line (see ``mqttclient.cli``)."""

from __future__ import annotations

import sys

from mqttclient.cli import main

if __name__ == "__main__":
    sys.exit(main())
