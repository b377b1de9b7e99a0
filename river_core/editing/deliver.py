"""Everything an edit delivers, written side by side into one folder, atomically.

For a rendered range of a source, :class:`Delivery` writes into ``out_dir`` the deliverables named in
``DeliverySpec.deliver`` (any of :data:`DELIVERABLES`, all by default):

- ``media``, the edited media (``edited.mov`` … in any deliverable format but ProRes 4444): the output
  frames at source resolution with the source's rotation and colour tags, the timecode of its first
  frame (source timecode + range start) and the same range of source audio, sample-accurate;
- ``matte``: ``matte/matte.NNNNNN.png``, the edit region as 8-bit grey PNGs (``round(alpha·255)``),
  named by *source* frame number, and ``matte.mov``: ProRes 4444 with the output as RGB and the matte
  as alpha, for keying the edit over the original in the NLE;
- ``preview``: ``preview.mp4``, a small H.264 before | after for a quick look (upright, each half
  ≤ 480 px wide);
- ``sheet``: ``contact_sheet.png``, before, after and the targets (highlighted) for ~4 frames;

and always ``provenance.json``: the caller's provenance plus the files, the render QC
(:mod:`river_core.editing.qc`) and the delivery's format, frames, rate, timecode, colour and audio.

Movies keep the source's stored orientation and carry its rotation as a tag; PNGs (a ``png`` media
sequence and the matte PNGs) have no such tag, so they are written upright, as displayed, and line up
with each other.

Each deliverable (and the QC) runs in its own worker thread fed through a short queue
(:mod:`river_core.editing.fanout`); the first error in any of them surfaces in :meth:`Delivery.write`
or :meth:`Delivery.finish`. Everything is staged in a hidden temporary folder beside ``out_dir`` and
renamed into place when the ``with`` block ends after :meth:`Delivery.finish`; a failure, a cancel or
a block left without ``finish()`` stops every worker, removes the staging folder and leaves
``out_dir`` as it was (an existing folder replaced with ``overwrite`` survives a failed job intact,
and ``overwrite`` replaces only a folder RIVER wrote: see :mod:`river_core.atomic`).

>>> with Delivery(src, info, FrameRange(30, 120), DeliverySpec(Path("out"))) as delivery:  # doctest: +SKIP
...     for frame in rendered:
...         delivery.write(frame.source, frame.output, frame.alpha)
...     result = delivery.finish({"request": ...})
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from river_core.atomic import MANIFEST, atomic_path, check_output_path
from river_core.editing.composite import EditInputError, check_alpha, check_frame
from river_core.editing.fanout import FanOut
from river_core.editing.instant import highlight, matte
from river_core.editing.qc import QCAccumulator, QCReport, QCThresholds
from river_core.errors import OutputError
from river_core.media.encode import FORMATS, MediaWriter, upright
from river_core.media.extract import RangeAudio, audio_tracks, color_tags
from river_core.media.formats import DELIVERABLES
from river_core.media.geometry import resize
from river_core.media.probe import MediaInfo
from river_core.media.rational import FrameRange, Timecode, format_rate
from river_core.progress import CancelToken, ProgressCallback, check, report

MATTE_DIR = "matte"
MATTE_MOVIE = "matte.mov"
PREVIEW = "preview.mp4"
SHEET = "contact_sheet.png"
PROVENANCE = "provenance.json"
_RESERVED = (MATTE_DIR, MATTE_MOVIE, PREVIEW, SHEET, PROVENANCE, MANIFEST)
_NOT_IN_NAMES = '<>:"|?*'  # refused by Windows (and so by shared volumes), like control characters
_MAX_NAME_BYTES = 200

_PREVIEW_HALF_MAX_W = 480
_PREVIEW_FORMAT = replace(
    FORMATS["h264"],
    name="preview",
    description="H.264 preview, before | after, no audio",
    options={"crf": "23", "preset": "veryfast"},
)
_SHEET_FRAMES = 4
_SHEET_THUMB_MAX_W = 320
_SHEET_LABEL_W = 64
_SHEET_HEADER_H = 30
_SHEET_GAP = 6
_SHEET_BG = (28, 28, 28)
_SHEET_TEXT = (235, 235, 235)
_MATTE_PNG_COMPRESS = 1  # mattes are mostly flat: fast and still small


@dataclass(frozen=True)
class DeliverySpec:
    """What to deliver and where.

    ``fmt``: the edited media's format, any key of :data:`~river_core.media.encode.FORMATS` except
    ``prores4444`` (the alpha version is ``matte.mov``). ``stem``: the edited media's file name
    without extension (the folder name for ``png``). ``deliver``: which of :data:`DELIVERABLES` to
    write (a set, or names separated by commas); at least ``media`` or ``matte``.
    ``provenance.json`` is always written.

    >>> DeliverySpec(Path("out"), fmt="h264", deliver={"media", "preview"}).media_name  # doctest: +SKIP
    'edited.mp4'
    """

    out_dir: Path
    fmt: str = "prores"
    stem: str = "edited"
    deliver: frozenset[str] = frozenset(DELIVERABLES)
    overwrite: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "out_dir", Path(self.out_dir))
        object.__setattr__(self, "deliver", _check_deliver(self.deliver))
        if self.fmt not in FORMATS or FORMATS[self.fmt].alpha:
            choices = ", ".join(name for name, f in FORMATS.items() if not f.alpha)
            raise OutputError(
                f"delivery format {self.fmt!r} is not one of: {choices} "
                "(the edit's alpha is delivered as matte.mov)"
            )
        _check_stem(self.stem, self.media_name)

    @property
    def media_name(self) -> str:
        return self.stem + FORMATS[self.fmt].extension


def _check_deliver(value: Iterable[str] | str) -> frozenset[str]:
    allowed = ", ".join(DELIVERABLES)
    names = value.split(",") if isinstance(value, str) else value
    try:
        chosen = frozenset(str(name).strip() for name in names)
    except TypeError:
        raise OutputError(f"`deliver` must be a set of names from: {allowed}; got {value!r}") from None
    unknown = sorted(chosen - set(DELIVERABLES))
    if unknown:
        raise OutputError(f"`deliver` names {', '.join(map(repr, unknown))}; choose from: {allowed}")
    if not chosen:
        raise OutputError(f"`deliver` is empty; choose one or more of: {allowed} (provenance.json is always)")
    if not chosen & {"media", "matte"}:
        raise OutputError(
            f"`deliver` {{{', '.join(sorted(chosen))}}} has neither media nor matte: a preview or contact "
            "sheet only shows the edit; add media (the edited clip) or matte (to key it in your NLE)"
        )
    return chosen


def _check_stem(stem: object, media_name: str) -> None:
    example = "give a plain file name such as 'edited'"
    if not isinstance(stem, str) or not stem.strip():
        raise OutputError(f"media name (`stem`) {stem!r} is empty; {example}")
    if "/" in stem or "\\" in stem:
        raise OutputError(
            f"media name (`stem`) {stem!r} contains a path separator; {example} (the folder is out_dir)"
        )
    if stem.startswith("."):
        raise OutputError(f"media name (`stem`) {stem!r} starts with a dot and would be hidden; {example}")
    if stem != stem.strip() or any(ord(c) < 32 or c in _NOT_IN_NAMES for c in stem):
        raise OutputError(
            f"media name (`stem`) {stem!r} has surrounding spaces or one of {_NOT_IN_NAMES} or a control "
            f"character, which some systems refuse in file names; {example}"
        )
    if len(media_name.encode()) > _MAX_NAME_BYTES:
        raise OutputError(f"media name (`stem`) is {len(stem)} characters long; {example}")
    reserved = {name.casefold(): name for name in _RESERVED}
    if media_name.casefold() in reserved:  # casefold: macOS and Windows volumes ignore case
        raise OutputError(
            f"media name {media_name!r} clashes with {reserved[media_name.casefold()]!r}, a file the "
            f"delivery writes ({', '.join(_RESERVED[:-1])}); choose another stem"
        )


@dataclass(frozen=True)
class DeliveryResult:
    """What a delivery wrote. Paths are final: they exist once the ``with`` block has ended; a
    deliverable that was not asked for (or could not be written, see the provenance notes) is None."""

    out_dir: Path
    media: Path | None
    matte_dir: Path | None
    matte_movie: Path | None
    preview: Path | None
    sheet: Path | None
    provenance: Path
    qc: QCReport
    frames: int
    timecode: Timecode
    audio_samples: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        def name(path: Path | None) -> str | None:
            return None if path is None else str(path)

        return {
            "out_dir": str(self.out_dir),
            "media": name(self.media),
            "matte_dir": name(self.matte_dir),
            "matte_movie": name(self.matte_movie),
            "preview": name(self.preview),
            "sheet": name(self.sheet),
            "provenance": str(self.provenance),
            "frames": self.frames,
            "timecode": str(self.timecode),
            "audio_samples": list(self.audio_samples),
            "qc": self.qc.to_json(),
        }


# -- sinks: one per deliverable, each fed every frame in order ------------------------------------


@dataclass(frozen=True)
class _Frame:
    """One frame of the range as the sinks see it (arrays they must not modify)."""

    k: int  # position in the range
    time: Fraction | None  # the first frame's presentation time (audio starts there); None after it
    source: np.ndarray  # [H, W, 3] uint8, stored orientation
    output: np.ndarray  # [H, W, 3] uint8
    alpha: np.ndarray  # [H, W] float in [0, 1]
    matte: np.ndarray  # [H, W] uint8


class _MovieSink:
    """One movie: each frame drawn by ``picture``; with ``audio``, the range's audio passes through."""

    def __init__(
        self,
        name: str,
        writer: MediaWriter,
        picture: Callable[[_Frame], np.ndarray],
        audio: RangeAudio | None = None,
    ) -> None:
        self.name, self.writer, self.picture, self.audio = name, writer, picture, audio
        self.writer.__enter__()
        self._live = True

    def write(self, frame: _Frame) -> None:
        if self.audio is not None and frame.time is not None:
            self.audio.start(frame.time)
        self.writer.write_video(self.picture(frame))
        if self.audio is not None:
            self.audio.feed(self.writer)

    def finish(self) -> None:
        if self.audio is not None:
            self.audio.flush(self.writer)
            self.audio.close()
        self._live = False
        self.writer.__exit__(None, None, None)  # flush the encoder, rename inside the staging folder

    def abort(self, exc: BaseException) -> None:
        if self.audio is not None:
            self.audio.close()
        if self._live:
            self._live = False
            with contextlib.suppress(Exception):  # its temporary goes with the staging folder anyway
                self.writer.__exit__(type(exc), exc, exc.__traceback__)


class _MattePNGSink:
    """``matte/matte.NNNNNN.png``: the 8-bit matte, upright (PNGs carry no rotation tag)."""

    name = "matte-png"

    def __init__(self, folder: Path, first_frame: int, rotation: int) -> None:
        self.folder, self.first_frame, self.rotation = folder, first_frame, rotation
        folder.mkdir()

    def write(self, frame: _Frame) -> None:
        path = self.folder / f"matte.{self.first_frame + frame.k:06d}.png"
        Image.fromarray(upright(frame.matte, self.rotation)).save(path, compress_level=_MATTE_PNG_COMPRESS)

    def finish(self) -> None:
        pass

    def abort(self, exc: BaseException) -> None:
        pass


class _QCSink:
    """The render QC, measured on every frame (it is work too: ~35 ms a 720p frame)."""

    name = "qc"

    def __init__(self, accumulator: QCAccumulator) -> None:
        self.accumulator = accumulator

    def write(self, frame: _Frame) -> None:
        self.accumulator.add(frame.source, frame.output, frame.alpha)

    def finish(self) -> None:
        pass

    def abort(self, exc: BaseException) -> None:
        pass


_AnySink = _MovieSink | _MattePNGSink | _QCSink


class Delivery:
    """Streams one edited range into its deliverables; use as a context manager (see the module).

    ``concurrent=False`` encodes every deliverable in the caller's thread, one after another (the
    outputs are the same; kept to measure what the worker threads gain).
    """

    def __init__(
        self,
        source: Path,
        info: MediaInfo,
        frame_range: FrameRange,
        spec: DeliverySpec,
        *,
        qc: QCThresholds | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        concurrent: bool = True,
    ) -> None:
        frame_range.check_within(info.frame_count)
        self.source, self.info, self.frame_range, self.spec = Path(source), info, frame_range, spec
        self.out_dir = Path(spec.out_dir)
        # Refuses the source, a folder holding it, and (with overwrite) a folder RIVER did not write.
        check_output_path(self.out_dir, sources=[self.source], overwrite=spec.overwrite, directory=True)
        self.progress, self.cancel, self.concurrent = progress, cancel, concurrent
        self.timecode = info.timecode_or_zero + frame_range.start
        self.color = color_tags(info)
        self.frames_written = 0
        self.notes: list[str] = []
        self._qc = QCAccumulator(qc or QCThresholds())
        n = len(frame_range)
        m = min(n, _SHEET_FRAMES)  # evenly spaced, first and last included
        self._sheet_at = {round(i * (n - 1) / max(1, m - 1)) for i in range(m)}
        self._sheet: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []  # (k, before, after, targets)
        self._wants = spec.deliver
        self._matte_movie = "matte" in spec.deliver
        if self._matte_movie and (info.width % 2 or info.height % 2):
            self._matte_movie = False
            self.notes.append(
                f"matte.mov was not written: ProRes 4444 needs an even frame size and the source is "
                f"{info.width}×{info.height}; use the matte PNGs"
            )
        if info.rotation and ((spec.fmt == "png" and "media" in spec.deliver) or "matte" in spec.deliver):
            self.notes.append(
                f"the source is displayed rotated by {info.rotation}°: PNGs are stored upright (as "
                "displayed), movies in the stored orientation with the rotation tag"
            )
        self._entered = self._finished = False

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Delivery:
        if self._entered:
            raise OutputError("a Delivery can be used once; make a new one for another delivery")
        self._entered = True
        self._atomic = atomic_path(
            self.out_dir, directory=True, sources=[self.source], overwrite=self.spec.overwrite
        )
        self._staging = self._atomic.__enter__()
        self._sinks: list[_AnySink] = []
        self._media: MediaWriter | None = None
        self._fan: FanOut[_Frame] | None = None
        try:
            self._open()
            self._fan = FanOut(self._sinks, concurrent=self.concurrent, cancel=self.cancel)
        except BaseException as exc:
            self._abort(exc)
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self._abort(exc)
            return
        if not self._finished:
            error = OutputError(
                f"the delivery to {self.out_dir} ended without finish(); nothing was written there"
            )
            self._abort(error)
            raise error
        self._atomic.__exit__(None, None, None)  # the rename into place

    def _abort(self, exc: BaseException) -> None:
        """Stop every worker, close every writer (their temporaries go), remove the staging folder."""
        try:
            if self._fan is not None:
                self._fan.stop()
            for sink in self._sinks:
                sink.abort(exc)
        finally:
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)

    def _open(self) -> None:
        info, spec, staging = self.info, self.spec, self._staging
        common: dict[str, Any] = {
            "width": info.width,
            "height": info.height,
            "rate": info.rate,
            "timecode": self.timecode,
            "first_frame": self.frame_range.start,
            "color": self.color,
            "sources": [self.source],
        }
        comment = (
            f"RIVER NLE edit of {self.source.name} frames {self.frame_range} at {format_rate(info.rate)}"
        )
        if "media" in self._wants:
            self._media = MediaWriter(
                staging / spec.media_name,
                spec.fmt,
                audio=audio_tracks(info),
                rotation=info.rotation,
                metadata={"comment": comment},
                **common,
            )
            audio = RangeAudio(self.source, info, len(self.frame_range))
            self._sinks.append(_MovieSink("media", self._media, lambda f: f.output, audio))
        if "matte" in self._wants:
            self._sinks.append(_MattePNGSink(staging / MATTE_DIR, self.frame_range.start, info.rotation))
        if self._matte_movie:
            writer = MediaWriter(
                staging / MATTE_MOVIE,
                "prores4444",
                rotation=info.rotation,
                metadata={"comment": f"{comment}; alpha = the edit's matte"},
                **common,
            )
            self._sinks.append(_MovieSink("matte-movie", writer, lambda f: np.dstack((f.output, f.matte))))
        if "preview" in self._wants:
            upright_w, upright_h = info.display_size
            scale = min(1.0, _PREVIEW_HALF_MAX_W / upright_w)
            half_w = max(2, round(upright_w * scale / 2) * 2)
            half_h = max(2, round(upright_h * scale / 2) * 2)
            self._preview_size = (half_w, half_h)
            writer = MediaWriter(
                staging / PREVIEW,
                _PREVIEW_FORMAT,
                metadata={"comment": f"{comment}; before | after"},
                **{**common, "width": 2 * half_w, "height": half_h},
            )
            self._sinks.append(_MovieSink("preview", writer, self._preview_frame))
        self._sinks.append(_QCSink(self._qc))

    # -- frames ------------------------------------------------------------------------------

    def write(
        self,
        source_frame: np.ndarray,
        output_frame: np.ndarray,
        alpha: np.ndarray,
        *,
        time: Fraction | None = None,
    ) -> None:
        """The next frame of the range (frames strictly in order) at the source's stored size.

        ``time`` is the frame's presentation time (``DecodedFrame.time``); only the first frame's is
        used, to start the audio, and only a variable-frame-rate source with audio needs it. The
        arrays are copied: the caller may reuse them once this returns. An error in a worker that
        encodes an earlier frame is raised here.
        """
        if not self._entered or self._finished or self._fan is None:
            raise OutputError("write frames inside `with Delivery(...) as delivery:` and before finish()")
        check(self.cancel)
        n, k = len(self.frame_range), self.frames_written
        if k >= n:
            raise OutputError(
                f"all {n} frames of {self.frame_range} are written already; call finish() instead"
            )
        shape = (self.info.height, self.info.width, 3)
        for name, frame in (("source_frame", source_frame), ("output_frame", output_frame)):
            check_frame(name, frame)
            if frame.shape != shape:
                raise EditInputError(
                    f"`{name}` of frame {self.frame_range.start + k} is {frame.shape[1]}×{frame.shape[0]} "
                    f"but the source is {self.info.width}×{self.info.height} (stored, before rotation); "
                    "deliver frames at source resolution"
                )
        check_alpha(alpha, shape)

        start = None
        if k == 0 and self._media is not None:
            start = time if time is not None else self._first_frame_time()
        if self.concurrent:  # the workers read them after this returns; the caller may reuse its own
            source_frame, output_frame, alpha = (_private(a) for a in (source_frame, output_frame, alpha))
        item = _Frame(k, start, source_frame, output_frame, alpha, matte(alpha))
        if "sheet" in self._wants and k in self._sheet_at:
            before, after = self._thumb(source_frame), self._thumb(output_frame)
            self._sheet.append((k, before, after, self._thumb(highlight(source_frame, alpha))))
        self._fan.put(item)
        self.frames_written += 1
        report(self.progress, "deliver", k + 1, n)

    def _first_frame_time(self) -> Fraction:
        if self.info.variable_frame_rate and self.info.audio:
            raise OutputError(
                f"{self.source} has a variable frame rate: pass the first frame's time "
                "(write(..., time=decoded.time)) so its audio lines up"
            )
        return self.info.video_start_time + Fraction(self.frame_range.start) / self.info.rate

    def _preview_frame(self, frame: _Frame) -> np.ndarray:
        halves = [
            resize(upright(f, self.info.rotation), self._preview_size) for f in (frame.source, frame.output)
        ]
        return np.concatenate(halves, axis=1)

    def _thumb(self, image: np.ndarray) -> np.ndarray:
        image = upright(image, self.info.rotation)
        h, w = image.shape[:2]
        tw = min(w, _SHEET_THUMB_MAX_W)
        return resize(image, (tw, max(1, round(h * tw / w))))

    # -- the end -----------------------------------------------------------------------------

    def finish(self, provenance: dict[str, Any]) -> DeliveryResult:
        """Flush every file, write the contact sheet and ``provenance.json``; the folder is renamed
        into place when the ``with`` block ends."""
        if not self._entered or self._finished or self._fan is None:
            raise OutputError("call finish() once, inside `with Delivery(...) as delivery:`")
        n = len(self.frame_range)
        if self.frames_written < n:
            raise OutputError(
                f"only {self.frames_written} of the {n} frames of {self.frame_range} were written; "
                "write every frame of the range before finish() (nothing was delivered)"
            )
        check(self.cancel)
        self._fan.finish()  # each worker flushes its encoder; each file is renamed inside the staging
        audio_samples = tuple(self._media.samples_written) if self._media is not None else ()

        spec, out, wants = self.spec, self.out_dir, self._wants
        written = {
            "media": "media" in wants,
            "matte": "matte" in wants,
            "matte_movie": self._matte_movie,
            "preview": "preview" in wants,
            "contact_sheet": "sheet" in wants,
        }
        files: dict[str, str] = {}
        if written["media"]:
            files["media"] = spec.media_name + ("/" if spec.fmt == "png" else "")
        if written["matte"]:
            files["matte"] = f"{MATTE_DIR}/"
        if written["matte_movie"]:
            files["matte_movie"] = MATTE_MOVIE
        if written["preview"]:
            files["preview"] = PREVIEW
        if written["contact_sheet"]:
            self._contact_sheet().save(self._staging / SHEET)
            files["contact_sheet"] = SHEET
        files["provenance"] = PROVENANCE
        qc = self._qc.result()
        document = {
            **provenance,
            "files": files,
            "qc": qc.to_json(),
            "delivery": {
                "source": str(self.source),
                "format": spec.fmt,
                "deliver": [name for name in DELIVERABLES if name in wants],
                "frames": self.frames_written,
                "range": str(self.frame_range),
                "first_frame": self.frame_range.start,
                "rate": format_rate(self.info.rate),
                "timecode": str(self.timecode),
                "drop_frame": self.timecode.drop_frame,
                "width": self.info.width,
                "height": self.info.height,
                "rotation": self.info.rotation,
                "png_orientation": "upright",
                "color": self.color.to_json(),
                "audio_samples": list(audio_samples),
                "notes": list(self.notes),
            },
        }
        try:
            text = json.dumps(document, indent=2, allow_nan=False, default=_json_default)
        except (TypeError, ValueError) as exc:
            raise OutputError(f"the provenance cannot be written as JSON: {exc}") from None
        (self._staging / PROVENANCE).write_text(text + "\n")
        self._finished = True
        return DeliveryResult(
            out_dir=out,
            media=out / spec.media_name if written["media"] else None,
            matte_dir=out / MATTE_DIR if written["matte"] else None,
            matte_movie=out / MATTE_MOVIE if written["matte_movie"] else None,
            preview=out / PREVIEW if written["preview"] else None,
            sheet=out / SHEET if written["contact_sheet"] else None,
            provenance=out / PROVENANCE,
            qc=qc,
            frames=self.frames_written,
            timecode=self.timecode,
            audio_samples=audio_samples,
        )

    def _contact_sheet(self) -> Image.Image:
        """Rows before / after / targets, one column per sampled frame, labelled with its source
        frame number and timecode."""
        th, tw = self._sheet[0][1].shape[:2]
        cols = len(self._sheet)
        width = _SHEET_LABEL_W + cols * (tw + _SHEET_GAP) + _SHEET_GAP
        height = _SHEET_HEADER_H + 3 * (th + _SHEET_GAP) + _SHEET_GAP
        sheet = Image.new("RGB", (width, height), _SHEET_BG)
        draw = ImageDraw.Draw(sheet)
        for row, label in enumerate(("before", "after", "targets")):
            y = _SHEET_HEADER_H + _SHEET_GAP + row * (th + _SHEET_GAP)
            draw.text((_SHEET_GAP, y + th // 2 - 6), label, fill=_SHEET_TEXT)
        for col, (k, *thumbs) in enumerate(self._sheet):
            x = _SHEET_LABEL_W + _SHEET_GAP + col * (tw + _SHEET_GAP)
            draw.text((x, 3), f"frame {self.frame_range.start + k}", fill=_SHEET_TEXT)
            draw.text((x, 16), str(self.timecode + k), fill=_SHEET_TEXT)
            for row, thumb in enumerate(thumbs):
                y = _SHEET_HEADER_H + _SHEET_GAP + row * (th + _SHEET_GAP)
                sheet.paste(Image.fromarray(thumb), (x, y))
        return sheet


def _private(array: np.ndarray) -> np.ndarray:
    """A read-only copy of ``array``."""
    copy = np.array(array, copy=True)
    copy.flags.writeable = False
    return copy


def _json_default(value: object) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Fraction):
        return format_rate(value)
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON-serialisable")
