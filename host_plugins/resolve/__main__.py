"""``python -m host_plugins.resolve …``: see :mod:`host_plugins.resolve.cli`."""

import sys

from host_plugins.resolve.cli import main

sys.exit(main())
