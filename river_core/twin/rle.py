"""COCO RLE ``counts`` strings, parsed defensively.

pycocotools parses the compressed counts string without bounds checks: a truncated or corrupt string
(one an LLM wrote into an edited twin, say) makes it read past the end or write out of bounds. Every
string is checked here before pycocotools sees it, and the parsed runs also serve decoding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pycocotools.mask as coco_mask

# A COCO counts number is at most 7 characters (5 bits each): enough for a signed 32-bit run length.
_MAX_RLE_CHARS_PER_NUMBER = 7


def rle_runs(counts: str | bytes) -> np.ndarray:
    """Decode a compressed COCO counts string into run lengths (int64; zeros first, then alternating).

    This is pycocotools' ``rleFrString`` in numpy, with the checks pycocotools skips: it reads past
    the end of a truncated string and writes out of bounds for negative runs. Raises ``ValueError``
    with the reason.

    >>> rle_runs("714").tolist()
    [7, 1, 4]
    """
    if isinstance(counts, str):
        if not counts.isascii():
            at = next(i for i, ch in enumerate(counts) if not ch.isascii())
            raise ValueError(
                f"character {counts[at]!r} at offset {at} is outside the COCO RLE alphabet '0'..'o'"
            )
        counts = counts.encode("ascii")
    raw = bytes(counts)
    c = np.frombuffer(raw, dtype=np.uint8).astype(np.int64) - 48
    if c.size == 0:
        return np.zeros(0, dtype=np.int64)
    bad = np.flatnonzero((c < 0) | (c > 63))
    if bad.size:
        raise ValueError(
            f"character {chr(raw[bad[0]])!r} at offset {bad[0]} is outside the COCO RLE alphabet '0'..'o'"
        )
    more = (c & 0x20) != 0
    if more[-1]:
        raise ValueError(
            "the string ends inside a number (last character has the continuation bit); truncated"
        )
    ends = np.flatnonzero(~more)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    if lengths.max() > _MAX_RLE_CHARS_PER_NUMBER:
        at = int(starts[np.argmax(lengths)])
        raise ValueError(
            f"the number at offset {at} is {lengths.max()} characters long; COCO RLE uses at most 7"
        )
    shift = 5 * (np.arange(c.size) - np.repeat(starts, lengths))
    values = np.add.reduceat((c & 0x1F) << shift, starts)
    negative = (c[ends] & 0x10) != 0
    values[negative] -= np.left_shift(1, 5 * lengths[negative])  # sign-extend, as `x |= -1 << 5*k`
    # Runs from the fourth on are stored as differences to the run two before (same colour).
    runs = values.copy()
    runs[1::2] = np.cumsum(values[1::2])
    runs[2::2] = np.cumsum(values[2::2])
    if (runs < 0).any():
        j = int(np.argmax(runs < 0))
        raise ValueError(f"run {j} decodes to a negative length {runs[j]}; the string is corrupt")
    return runs


def rle_problem(rle: Any) -> str | None:
    """Why ``rle`` (a ``{"size", "counts"}`` dict or the twin's RLE model) cannot be decoded, or None
    when pycocotools can decode it safely."""
    size, counts = (rle["size"], rle["counts"]) if isinstance(rle, dict) else (rle.size, rle.counts)
    h, w = int(size[0]), int(size[1])
    try:
        runs = rle_runs(counts)
    except ValueError as exc:
        return str(exc)
    if int(runs.sum()) != h * w:
        return (
            f"runs cover {int(runs.sum())} pixels but size [{h}, {w}] has {h * w}; "
            "the mask was encoded at another size or the string is corrupt"
        )
    # Safe now: let pycocotools parse it too, so "ours decodes" means "theirs decodes".
    area = int(coco_mask.area({"size": [h, w], "counts": counts}))
    if area != int(runs[1::2].sum()):
        return f"pycocotools reads area {area}, expected {int(runs[1::2].sum())}; the string is corrupt"
    return None
