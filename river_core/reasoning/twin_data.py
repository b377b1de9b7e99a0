"""The twin as plain data: what model-written code sees as ``twin`` and what the helpers compute on.

:func:`twin_data` drops the masks (large, and useless to code that reasons over positions) and
flattens each object's ``spatial`` into the object, so the result is small, JSON-serializable and
needs nothing but the standard library to read. :mod:`~river_core.reasoning.twin_api` builds the
helper functions on exactly this shape.

>>> data = twin_data(doc)                                         # doctest: +SKIP
>>> data["video"]["fps"], data["frames"][0]["objects"][0]["x"]    # doctest: +SKIP
([30000, 1001], 0.25)
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from river_core.twin.schema import TwinDocument, TwinObject


def twin_data(doc: TwinDocument) -> dict[str, Any]:
    """The plain-data view of ``doc``: video facts and, per listed frame, its objects without masks.

    Shape::

        {"video": {"width": 1920, "height": 1080, "rate": "30000/1001", "fps": [30000, 1001],
                   "frame_range": [start, end], "frame_count": 300},
         "frames": [{"frame": t, "objects": [{"id", "category", "attributes",
                                              "x", "y", "depth", "size", "bbox"}]}]}

    ``frame_range`` is the half-open range of source frames the twin covers and ``frame_count`` the
    number of frames in the whole source. ``x``/``y``/``size``/``bbox``/``depth`` keep the twin's
    meaning (normalized to [0, 1], origin top-left; depth 0 = nearest); ``bbox`` is ``None`` when the
    twin has none. Frames keep the twin's order (ascending), objects their order within a frame.
    """
    video = doc.video
    rate = Fraction(video.rate)
    return {
        "video": {
            "width": video.width,
            "height": video.height,
            "rate": f"{rate.numerator}/{rate.denominator}",
            "fps": [rate.numerator, rate.denominator],
            "frame_range": [video.frame_range.start, video.frame_range.end],
            "frame_count": video.frame_count,
        },
        "frames": [
            {"frame": entry.index, "objects": [_object_data(obj) for obj in entry.objects]}
            for entry in doc.frames
        ],
    }


def _object_data(obj: TwinObject) -> dict[str, Any]:
    spatial = obj.spatial
    return {
        "id": obj.id,
        "category": obj.category,
        "attributes": obj.attributes,
        "x": spatial.x,
        "y": spatial.y,
        "depth": spatial.depth,
        "size": spatial.size,
        "bbox": list(spatial.bbox) if spatial.bbox is not None else None,
    }
