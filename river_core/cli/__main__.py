"""``python -m river_core.cli``: the ``river`` command."""

import sys

from river_core.cli import main

sys.exit(main())
