"""``omnifoa serve`` with its request deadlines shortened for tests: ``REQUEST_DEADLINE_S``
seconds for a request to arrive, and an upload's body checked over ``BODY_WINDOW_S`` windows
against ``MIN_BODY_RATE`` (low, so a body above it may still outlast the request deadline)."""

from __future__ import annotations

import sys

from plugin_core.cli.main import main
from plugin_core.service import connections

REQUEST_DEADLINE_S = 2.0
BODY_WINDOW_S = 1.0
MIN_BODY_RATE = 8 * 1024

if __name__ == "__main__":
    connections.REQUEST_DEADLINE_S = REQUEST_DEADLINE_S
    connections.BODY_WINDOW_S = BODY_WINDOW_S
    connections.MIN_BODY_RATE = MIN_BODY_RATE
    sys.exit(main(sys.argv[1:]))
