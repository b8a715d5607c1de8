"""``python -m plugin_core.cli``: the same as the ``omnifoa`` command."""

import sys

from plugin_core.cli.main import main

sys.exit(main())
