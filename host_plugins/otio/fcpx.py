"""Exact NTSC time for otio-fcpx-xml-adapter 1.0, which gets it wrong both ways.

- Its reader turns a format's ``frameDuration="1001/30000s"`` into ``int(29.97…) = 29`` fps and
  truncates every time with ``int()``: a 29.97 FCPXML (what Final Cut and Resolve write for NTSC)
  comes back one frame early and at the wrong rate — a silent mis-edit.
- Its writer looks a rate up by ``int(rate)`` or the rounded floats 23.98/29.97/59.94, so the exact
  rate (29.97002997…) finds no ``frameDuration`` and it writes ``frameDuration=""``, which no reader
  accepts.

:func:`make_exact` replaces the three time helpers of the module OTIO's plugin system loaded with
exact ones (times as Fractions of seconds; a time that is not a whole frame keeps its fraction, so the
time mapping refuses it instead of rounding) and teaches the writer's table the exact NTSC doubles.
It also reads an asset's file from FCPXML 1.9's ``<media-rep>`` (see ``_asset_with_src``).
Idempotent; it touches only the loaded adapter module, in this process.
"""

from __future__ import annotations

from fractions import Fraction
from types import ModuleType
from typing import Any

import opentimelineio as otio

from host_plugins.otio.rational import frames_at


def _seconds(text: str | None) -> Fraction:
    if text is None or text == "0s":
        return Fraction(0)
    return Fraction(text.strip().removesuffix("s"))


def _value(frames: Fraction) -> int | float:
    return frames.numerator if frames.denominator == 1 else float(frames)


def _to_rational_time(rational_number: str | None, fps: Any) -> otio.opentime.RationalTime:
    rate = Fraction(fps) if not isinstance(fps, float) else Fraction(fps).limit_denominator(1001)
    return otio.opentime.RationalTime(_value(_seconds(rational_number) * rate), float(rate))


def _frame_rate(self: Any, format_id: str) -> float:
    total, rate = self._format_frame_duration(format_id)
    return float(Fraction(rate) / Fraction(total))


def _number_of_frames(self: Any, time_value: str | None, format_id: str) -> int | float:
    total, rate = self._format_frame_duration(format_id)
    return _value(_seconds(time_value) * Fraction(rate) / Fraction(total))


def _asset_with_src(original: Any) -> Any:
    """FCPXML 1.9 and later (what Final Cut writes now) name an asset's file in a ``<media-rep
    kind="original-media" src=…>`` child, not in its ``src``: the reader, which looks only there, made a
    MissingReference of every clip. The parsed asset (the adapter's tree, not the file) gets the src."""

    def asset_by_id(self: Any, asset_id: str) -> Any:
        asset = original(self, asset_id)
        if asset is not None and not asset.get("src"):
            reps = asset.findall("media-rep")
            rep = next((r for r in reps if r.get("kind") == "original-media"), reps[0] if reps else None)
            if rep is not None and rep.get("src"):
                asset.set("src", rep.get("src"))
        return asset

    return asset_by_id


def _exact_rate_of(self: Any, format_id: str) -> Fraction:
    total, rate = self._format_frame_duration(format_id)
    return Fraction(rate) / Fraction(total)


def _offset_and_lane(self: Any, clip: Any, default_format: str) -> tuple[otio.opentime.RationalTime, str]:
    """Where a clip sits, in frames of its sequence (``default_format``), exactly. The adapter counted
    the clip's offset in frames of the clip's own format and its parent's start and offset in the
    parent's, then added the counts: a 25p clip connected to a 29.97 clip landed minutes away. FCPXML
    times are seconds, so they are added as seconds and counted once, at the sequence's rate."""
    clip = self._timing_clip(clip)
    parent = self.child_parent_map.get(clip)
    if parent.tag == "spine" and parent.get("lane", None):  # (the adapter's reading of storylines)
        lane = parent.get("lane")
        parent = self.child_parent_map.get(parent)
        parent_start = Fraction(0)
    else:
        lane = clip.get("lane", "0")
        parent_start = _seconds(parent.get("start", None))
    seconds = _seconds(clip.get("offset")) - parent_start + _seconds(parent.get("offset", None))
    rate = _exact_rate_of(self, default_format)
    return otio.opentime.RationalTime(_value(seconds * rate), float(rate)), lane


def _sequence_to_stack(self: Any, sequence_element: Any, name: str = "", source_range: Any = None) -> Any:
    """The adapter's sequence reader with each lane's gaps counted exactly at the sequence's rate (it took
    ``int()`` of the offset and subtracted the track's duration in whatever rate that sum came out)."""
    fmt = sequence_element.get("format")
    rate = _exact_rate_of(self, fmt)
    items = []
    for element in sequence_element.iter():
        if element.tag not in self._composable_elements:
            continue
        composable = self._build_composable(element, fmt)
        offset, lane = self._offset_and_lane(element, fmt)
        items.append({"track": lane, "offset": offset, "composable": composable,
                      "audio_only": self._audio_only(element)})  # fmt: skip
    stack = otio.schema.Stack(name=name, source_range=source_range)
    for lane in sorted({item["track"] for item in items}):
        lane_items = self._sorted_items(lane, items)
        track = otio.schema.Track(name=lane, kind=self._track_type(lane_items))
        end = Fraction(0)  # frames of the sequence filled so far
        for item in lane_items:
            at = Fraction(item["offset"].value)
            if at > end:
                track.append(self._create_gap(0, _value(at - end), fmt))
                end = at
            track.append(item["composable"])
            end += frames_at(item["composable"].duration(), rate)
        stack.append(track)
    return stack


def make_exact() -> ModuleType:
    """Patch the loaded fcpx_xml adapter module (see the module docstring); returns it."""
    module = otio.adapters.from_name("fcpx_xml").module()
    if getattr(module, "_river_exact", False):
        return module
    module.to_rational_time = _to_rational_time
    module.FcpxXml._format_frame_rate = _frame_rate
    module.FcpxXml._number_of_frames = _number_of_frames
    module.FcpxXml._asset_by_id = _asset_with_src(module.FcpxXml._asset_by_id)
    module.FcpxXml._offset_and_lane = _offset_and_lane
    module.FcpxXml._composable_elements = module.COMPOSABLE_ELEMENTS
    module.FcpxXml._squence_to_stack = _sequence_to_stack
    table = module.FRAMERATE_FRAMEDURATION
    for n in (24, 30, 48, 60):
        table.setdefault(n * 1000 / 1001, f"1001/{n * 1000}s")
    table.setdefault(48, "1/48s")
    module._river_exact = True
    return module
