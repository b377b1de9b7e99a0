"""The digital twin: schema, RLE masks, and synthetic scenes with an exact ground truth.

>>> from river_core.twin import load_twin, validate_twin, twin_json_schema   # doctest: +SKIP
"""

from river_core.twin.masks import decode_mask, encode_mask, mask_area, median_depth, spatial_from_mask
from river_core.twin.rle import rle_problem, rle_runs
from river_core.twin.schema import (
    RLE,
    TWIN_SCHEMA_VERSION,
    FrameEntry,
    MaskRef,
    ModelRef,
    Provenance,
    Spatial,
    TrackSummary,
    TwinDocument,
    TwinObject,
    VideoInfo,
    load_twin,
    save_twin,
    summarize_tracks,
    twin_json_schema,
    twin_problems,
    validate_twin,
)

__all__ = [
    "RLE",
    "TWIN_SCHEMA_VERSION",
    "FrameEntry",
    "MaskRef",
    "ModelRef",
    "Provenance",
    "Spatial",
    "TrackSummary",
    "TwinDocument",
    "TwinObject",
    "VideoInfo",
    "decode_mask",
    "encode_mask",
    "load_twin",
    "mask_area",
    "median_depth",
    "rle_problem",
    "rle_runs",
    "save_twin",
    "spatial_from_mask",
    "summarize_tracks",
    "twin_json_schema",
    "twin_problems",
    "validate_twin",
]
