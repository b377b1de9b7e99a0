"""The OpenTimelineIO media linker "river_relink": relinks offline clips as an NLE does.

Registered in ``plugin_manifest.json`` beside this file (found through the ``opentimelineio.plugins``
entry point, or ``OTIO_PLUGIN_MANIFEST_PATH``). Any OTIO tool can use it:

    >>> timeline = otio.adapters.read_from_file(  # doctest: +SKIP
    ...     "cut.xml",
    ...     media_linker_name="river_relink",
    ...     media_linker_argument_map={"timeline_dir": "/edit", "search_paths": ["/mnt/footage"]},
    ... )

OTIO loads this file as a module of its own (``opentimelineio.adapters.river_relink``), not as
``host_plugins.otio.media_linker``: imports here must be absolute.
"""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path, PurePath

import opentimelineio as otio

from host_plugins.otio.rational import exact_rate
from host_plugins.otio.relink import MediaFinder

__all__ = ["link_media_reference"]

# OTIO calls the linker once per clip with the same arguments: one finder (one index of the folders)
# serves the whole read. A finder older than this is made again, so a long-lived process sees new files.
_FINDER_TTL_S = 60.0
_FINDERS: dict[tuple[str | None, tuple[str, ...], bool], tuple[float, MediaFinder]] = {}


def link_media_reference(
    in_clip: otio.schema.Clip, media_linker_argument_map: dict | None = None
) -> otio.core.MediaReference | None:
    """Relink the clip's active media reference; returns the new reference, or the clip's own.

    An ExternalReference or MissingReference whose file is found elsewhere becomes an ExternalReference
    to it (a file URL), keeping the available range, name and metadata, and recording
    ``metadata["river"]["relink"] = {"from": <what the timeline said>, "how": <how it was found>}``.
    A relative path found beside the timeline becomes an absolute file URL too. The file must have the
    rate and length of the recorded available range (when PyAV can probe it). A file that is not found
    leaves the reference as it was: this never raises for missing media, only for arguments that name
    no folder.

    Arguments (``media_linker_argument_map``): ``timeline_dir`` (the folder relative paths start from),
    ``search_paths`` (a list of folders searched by file name), ``probe`` (default True: check the
    candidates' rate and length).
    """
    ref = in_clip.media_reference
    if isinstance(ref, otio.schema.ExternalReference):
        target = ref.target_url
    elif isinstance(ref, otio.schema.MissingReference):
        # A missing reference (an EDL's, say) names no file; its name, or the clip's, often is one.
        target = next((n for n in (ref.name, in_clip.name) if n and PurePath(n).suffix), "")
        if not target:
            return ref
    else:  # generators, image sequences: nothing to relink
        return ref

    finder = _finder(media_linker_argument_map or {})
    found = finder.find(target, **_expectation(ref))
    if found.path is None or found.how in ("as written", "file URL"):
        return ref  # not found, or already pointing at the file

    keep = ref.clone()  # holds the metadata while the new reference copies it
    linked = otio.schema.ExternalReference(
        target_url=found.path.as_uri(),
        available_range=ref.available_range,
        available_image_bounds=ref.available_image_bounds,
        metadata=keep.metadata,
    )
    linked.name = ref.name
    river = dict(linked.metadata.get("river", {}))
    river["relink"] = {"from": target, "how": found.how}
    linked.metadata["river"] = river
    return linked


def _finder(arguments: dict) -> MediaFinder:
    timeline_dir = arguments.get("timeline_dir")
    search_paths = arguments.get("search_paths") or ()
    if isinstance(search_paths, (str, Path)):
        raise ValueError(
            f"media linker argument `search_paths` must be a list of folders, but is {search_paths!r}"
        )
    probe = bool(arguments.get("probe", True))
    key = (str(timeline_dir) if timeline_dir else None, tuple(str(p) for p in search_paths), probe)
    now = time.monotonic()
    made, finder = _FINDERS.get(key, (0.0, None))
    if finder is None or now - made > _FINDER_TTL_S:
        finder = MediaFinder(
            Path(timeline_dir) if timeline_dir else None, [Path(p) for p in search_paths], probe=probe
        )
        _FINDERS[key] = (now, finder)
    return finder


def _expectation(ref: otio.core.MediaReference) -> dict[str, Fraction | int]:
    """The rate and frame count the timeline recorded for the media, as find() takes them.

    Without an available range the timeline says nothing about the file: the clip's own source range
    is in the clip's rate, which need not be the media's, so no length is asked for then.
    """
    available = ref.available_range
    if available is None or available.duration.rate <= 0:
        return {}
    duration = available.duration
    expect: dict[str, Fraction | int] = {"rate": exact_rate(duration.rate)}
    if duration.value >= 0 and float(duration.value).is_integer():
        expect["frames"] = int(duration.value)
    return expect
