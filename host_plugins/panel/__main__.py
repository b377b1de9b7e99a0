"""``python -m host_plugins.panel …``: see :mod:`host_plugins.panel.cli`."""

import sys

from host_plugins.panel.cli import main

if __name__ == "__main__":
    sys.exit(main())
