"""The one request type every front-end builds: what to edit, how, and what to deliver."""

from __future__ import annotations

from typing import Final

from river_core.media.encode import FORMATS

DELIVERY_FORMATS: Final = tuple(name for name, fmt in FORMATS.items() if not fmt.alpha)
"""Formats the edited media can be delivered in (ProRes 4444 with alpha is the matte movie)."""
