"""RIVER NLE engine: media I/O, digital twins, reasoning, editing.

Everything that imports torch lives under this package; the host side (``bridge.client``,
``host_plugins``) never imports it.
"""

__version__ = "0.1.0"
