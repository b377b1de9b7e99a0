"""Where models run: the device and dtype, chosen automatically and overridable.

CUDA → bfloat16, Apple MPS → float32 (half precision on MPS still trips some SAM 2 / Qwen ops),
CPU → float32. ``RIVER_DEVICE`` / ``RIVER_DTYPE`` or explicit arguments override the choice.
torch is imported only when a device is actually resolved.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from river_core.errors import RiverError

if TYPE_CHECKING:
    import torch

DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class DevicePlan:
    """A resolved device (``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"cpu"``) and dtype name."""

    device: str
    dtype: str

    @property
    def torch_dtype(self) -> torch.dtype:
        import torch

        return getattr(torch, self.dtype)


def choose_device(device: str | None = None, dtype: str | None = None) -> DevicePlan:
    """Resolve ``device``/``dtype`` (None = automatic, also from RIVER_DEVICE / RIVER_DTYPE)."""
    import torch

    device = device or os.environ.get("RIVER_DEVICE") or None
    dtype = dtype or os.environ.get("RIVER_DTYPE") or None
    if device in (None, "auto"):
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    kind = device.split(":")[0]
    if kind not in ("cuda", "mps", "cpu"):
        raise RiverError(f"device {device!r} is not one of: auto, cpu, cuda, cuda:N, mps")
    if kind == "cuda" and not torch.cuda.is_available():
        raise RiverError(f"device {device!r} was asked for but CUDA is not available; use --device cpu")
    if dtype in (None, "auto"):
        dtype = "bfloat16" if kind == "cuda" else "float32"
    if dtype not in DTYPES:
        raise RiverError(f"dtype {dtype!r} is not one of: auto, {', '.join(DTYPES)}")
    return DevicePlan(device, dtype)
