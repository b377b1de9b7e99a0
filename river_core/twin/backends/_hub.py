"""What every backend does the same way: find a checkpoint, load it with one clear error, place it.

A checkpoint is a Hugging Face id (read from the local cache; downloaded only where the machine may)
or a local directory written by ``save_pretrained``. Hub failures never reach the user as a
traceback: they become one :class:`~river_core.errors.ModelUnavailableError` line that names the
checkpoint and the remedy.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import torch
from huggingface_hub import constants as hf_constants
from huggingface_hub import try_to_load_from_cache
from huggingface_hub.errors import HFValidationError

from river_core.devices import DevicePlan
from river_core.errors import ModelUnavailableError, RiverError
from river_core.twin.stages import ModelSpec


def resolve(spec: ModelSpec) -> str:
    """The id to hand to ``from_pretrained``: an existing directory, or a Hub id."""
    if spec.model_id.startswith("tiny:"):
        raise RiverError(f"{spec.model_id!r} is a tiny build: use tiny(), or a Hub id or directory here")
    path = Path(spec.model_id).expanduser()
    if path.is_dir():
        return str(path)
    if path.is_absolute() or spec.model_id.startswith((".", "~")) or spec.model_id.count("/") > 1:
        raise ModelUnavailableError(f"model directory {spec.model_id!r} does not exist; check the path")
    return spec.model_id


@dataclass(frozen=True)
class Source:
    """Arguments for ``from_pretrained``: ``Cls.from_pretrained(src.model_id, **src.kwargs)``."""

    model_id: str
    revision: str
    local_only: bool

    @property
    def kwargs(self) -> dict[str, Any]:
        return {"revision": self.revision, "local_files_only": self.local_only}


@contextlib.contextmanager
def loading(spec: ModelSpec, *, what: str, files: str) -> Iterator[Source]:
    """Yield where to load ``spec`` from; turn hub failures into one line.

    Local first: a directory, or a checkpoint already in the Hugging Face cache, is read without
    touching the network (no update checks, no retries on a machine without network). Otherwise
    the hub must be reachable, which is checked in a second instead of after a minute of retries.
    ``what`` names the model family ("OWLv2"), ``files`` what a checkpoint directory must hold.
    """
    model_id = resolve(spec)
    revision = spec.revision or "main"
    local = Path(model_id).is_dir() or hf_constants.HF_HUB_OFFLINE or _cached(model_id, revision)
    if not local and not _hub_reachable():
        raise unavailable(spec, ConnectionError("huggingface.co cannot be reached"), what=what, files=files)
    try:
        yield Source(model_id, revision, local)
    except (OSError, HFValidationError) as exc:
        raise unavailable(spec, exc, what=what, files=files) from None
    except ValueError as exc:  # transformers' word for a folder's missing or unreadable config.json
        if isinstance(exc, RiverError) or not Path(model_id).is_dir():
            raise
        raise unavailable(spec, exc, what=what, files=files) from None


def _cached(model_id: str, revision: str) -> bool:
    try:
        found = try_to_load_from_cache(model_id, "config.json", revision=revision)
    except HFValidationError:
        return False
    return isinstance(found, str)


def _hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the hub's host resolves and accepts a connection (a quick check, no request)."""
    host = urlparse(hf_constants.ENDPOINT).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def unavailable(spec: ModelSpec, exc: BaseException, *, what: str, files: str) -> ModelUnavailableError:
    """Why ``spec`` could not be loaded and what to do about it, in one line."""
    folder = Path(spec.model_id).expanduser()
    if folder.is_dir():
        why = (
            f"{type(exc).__name__}"
            if (folder / "config.json").is_file()
            else "not a model folder: no config.json"
        )
        return ModelUnavailableError(
            f"the directory {spec.model_id!r} does not hold a checkpoint of {what} ({why}); "
            f"it needs the files written by save_pretrained ({files})"
        )
    revision = f" --revision {spec.revision}" if spec.revision else ""
    if hf_constants.HF_HUB_OFFLINE:
        why = "downloads are off (HF_HUB_OFFLINE=1)"
    elif isinstance(exc, ConnectionError):
        why = "huggingface.co cannot be reached from here"
    else:
        why = "it could not be downloaded (no such repository, or no access)"
    return ModelUnavailableError(
        f"the {what} checkpoint {spec.model_id!r} is not in the Hugging Face cache and {why}; run "
        f"`hf download {spec.model_id}{revision}` on a machine with network access (then copy "
        "~/.cache/huggingface here), or point this stage at a local directory"
    )


def place(model: torch.nn.Module, plan: DevicePlan) -> None:
    """Move ``model`` in place to the plan's device and dtype, in eval mode, owning its CPU memory.

    Typed as a Module: transformers' decorated ``PreTrainedModel.to`` confuses mypy. On CPU the
    weights are copied out of the file safetensors memory-maps: mapped tensors sit at unaligned
    offsets where CPU kernels sum differently in the last bits (1e-9 measured), so a save → load
    round trip would not be bit-identical; the copy also releases the file.
    """
    model.to(device=plan.device, dtype=plan.torch_dtype)
    model.eval()
    with torch.no_grad():
        for tensor in itertools.chain(model.parameters(), model.buffers()):
            if tensor.device.type == "cpu":
                tensor.data = tensor.data.clone()


def revision_of(model: torch.nn.Module, spec: ModelSpec) -> str | None:
    """The revision to record: the one asked for, else the hub commit the files came from."""
    return spec.revision or getattr(getattr(model, "config", None), "_commit_hash", None)


def check_image(image: np.ndarray, name: str = "image") -> None:
    """Refuse anything but an H×W×3 uint8 RGB array, naming the argument."""
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3):
        raise RiverError(
            f"`{name}` must be an H×W×3 uint8 RGB array, got "
            f"{getattr(image, 'dtype', type(image).__name__)} of shape {getattr(image, 'shape', '?')}"
        )
    if image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise RiverError(f"`{name}` must be H×W×3 with H, W ≥ 1, got shape {image.shape}")


def check_images(images: Sequence[np.ndarray]) -> None:
    for i, image in enumerate(images):
        check_image(image, f"images[{i}]")
