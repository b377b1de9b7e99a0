"""The sample clip shipped with the package (``river_core/data/samples``, Apache-2.0; see its README)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from river_core.errors import RiverError


def bundled_sample() -> Path:
    """The 3-second 1280×720 30000/1001 sample clip with AAC audio shipped in ``river_core/data/samples``."""
    path = Path(str(resources.files("river_core") / "data" / "samples" / "dog_3s.mp4"))
    if not path.is_file():
        raise RiverError(f"the bundled sample clip is missing ({path}); reinstall river-nle")
    return path
