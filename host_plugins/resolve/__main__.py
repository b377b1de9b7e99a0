"""``python -m host_plugins.resolve …``: see :mod:`host_plugins.resolve.cli`."""

import sys

from host_plugins.resolve.cli import main

if __name__ == "__main__":
    sys.exit(main())
