"""Everything an edit delivers, written side by side into one folder, atomically.

For a rendered range of a source, :class:`Delivery` writes into ``out_dir``:

- the edited media (``edited.mov`` … in any deliverable format but ProRes 4444): the output frames
  at source resolution with the source's rotation and YUV matrix, the timecode of its first frame
  (source timecode + range start) and the same range of source audio, sample-accurate;
- ``matte/matte.NNNNNN.png``: the edit region as 8-bit grey PNGs (``round(alpha·255)``), named by
  *source* frame number, and ``matte.mov``: ProRes 4444 with the output as RGB and the matte as
  alpha, for keying the edit over the original in the NLE;
- ``preview.mp4``: a small H.264 before | after for a quick look (upright, each half ≤ 480 px wide);
- ``contact_sheet.png``: before, after and the targets (highlighted) for ~4 frames of the range;
- ``provenance.json``: the caller's provenance plus the files, the render QC
  (:mod:`river_core.editing.qc`) and the delivery's format, frames, rate, timecode and audio.

Everything is staged in a hidden temporary folder beside ``out_dir`` and renamed into place when the
``with`` block ends after :meth:`Delivery.finish`; a failure, a cancel or a block left without
``finish()`` removes the staging folder and leaves ``out_dir`` as it was (an existing folder replaced
with ``overwrite`` survives a failed job intact).

>>> with Delivery(src, info, FrameRange(30, 120), DeliverySpec(Path("out"))) as delivery:  # doctest: +SKIP
...     for frame in rendered:
...         delivery.write(frame.source, frame.output, frame.alpha)
...     result = delivery.finish({"request": ...})
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from river_core.atomic import atomic_path, check_output_path
from river_core.editing.composite import EditInputError, check_alpha, check_frame
from river_core.editing.instant import highlight, matte
from river_core.editing.qc import QCAccumulator, QCReport, QCThresholds
from river_core.errors import OutputError
from river_core.media.encode import FORMATS, MediaWriter
from river_core.media.extract import RangeAudio, audio_tracks, color_tags
from river_core.media.geometry import resize
from river_core.media.probe import MediaInfo
from river_core.media.rational import FrameRange, Timecode, format_rate
from river_core.progress import CancelToken, ProgressCallback, check, report

MATTE_DIR = "matte"
MATTE_MOVIE = "matte.mov"
PREVIEW = "preview.mp4"
SHEET = "contact_sheet.png"
PROVENANCE = "provenance.json"
_RESERVED = (MATTE_DIR, MATTE_MOVIE, PREVIEW, SHEET, PROVENANCE)

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
    without extension (the folder name for ``png``).
    """

    out_dir: Path
    fmt: str = "prores"
    stem: str = "edited"
    matte: bool = True
    preview: bool = True
    sheet: bool = True
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS or FORMATS[self.fmt].alpha:
            choices = ", ".join(name for name, f in FORMATS.items() if not f.alpha)
            raise OutputError(
                f"delivery format {self.fmt!r} is not one of: {choices} "
                "(the edit's alpha is delivered as matte.mov)"
            )
        stem = self.stem
        if not stem or stem in (".", "..") or "/" in stem or "\\" in stem or stem.startswith("."):
            raise OutputError(f"media name {stem!r} must be a plain file name such as 'edited'")
        if self.media_name in _RESERVED:
            raise OutputError(
                f"media name {self.media_name!r} clashes with a file the delivery writes "
                f"({', '.join(_RESERVED)}); choose another stem"
            )

    @property
    def media_name(self) -> str:
        return self.stem + FORMATS[self.fmt].extension


@dataclass(frozen=True)
class DeliveryResult:
    """What a delivery wrote. Paths are final: they exist once the ``with`` block has ended."""

    out_dir: Path
    media: Path
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
            "media": str(self.media),
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


class Delivery:
    """Streams one edited range into its deliverables; use as a context manager (see the module)."""

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
    ) -> None:
        frame_range.check_within(info.frame_count)
        self.source, self.info, self.frame_range, self.spec = Path(source), info, frame_range, spec
        self.out_dir = Path(spec.out_dir)
        check_output_path(self.out_dir, sources=[self.source], overwrite=spec.overwrite)
        if _inside(self.source, self.out_dir):  # replacing the folder would delete the source
            raise OutputError(
                f"output folder {self.out_dir} contains the source media {self.source}; "
                "deliver into another folder (sources are never overwritten)"
            )
        self.progress, self.cancel = progress, cancel
        self.timecode = info.timecode_or_zero + frame_range.start
        self.frames_written = 0
        self.notes: list[str] = []
        self._qc = QCAccumulator(qc or QCThresholds())
        self._turns = (info.rotation // 90) % 4
        n = len(frame_range)
        m = min(n, _SHEET_FRAMES)  # evenly spaced, first and last included
        self._sheet_at = {round(i * (n - 1) / max(1, m - 1)) for i in range(m)}
        self._sheet: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []  # (k, before, after, targets)
        self._matte_movie = spec.matte
        if spec.matte and (info.width % 2 or info.height % 2):
            self._matte_movie = False
            self.notes.append(
                f"matte.mov was not written: ProRes 4444 needs an even frame size and the source is "
                f"{info.width}×{info.height}; use the matte PNGs"
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
        self._writers = contextlib.ExitStack()
        try:
            self._open()
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
        """Close every writer (their temporaries go) and remove the staging folder."""
        try:
            self._writers.__exit__(type(exc), exc, exc.__traceback__)
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
            "sources": [self.source],
        }
        comment = (
            f"RIVER NLE edit of {self.source.name} frames {self.frame_range} at {format_rate(info.rate)}"
        )
        self._audio = self._writers.enter_context(RangeAudio(self.source, info, len(self.frame_range)))
        self._media = self._writers.enter_context(
            MediaWriter(
                staging / spec.media_name,
                spec.fmt,
                audio=audio_tracks(info),
                rotation=info.rotation,
                color=color_tags(info),
                metadata={"comment": comment},
                **common,
            )
        )
        self._matte_writer: MediaWriter | None = None
        if spec.matte:
            (staging / MATTE_DIR).mkdir()
        if self._matte_movie:
            self._matte_writer = self._writers.enter_context(
                MediaWriter(
                    staging / MATTE_MOVIE,
                    "prores4444",
                    rotation=info.rotation,
                    color=color_tags(info),
                    metadata={"comment": f"{comment}; alpha = the edit's matte"},
                    **common,
                )
            )
        self._preview_writer: MediaWriter | None = None
        if spec.preview:
            upright_w, upright_h = info.display_size
            scale = min(1.0, _PREVIEW_HALF_MAX_W / upright_w)
            half_w = max(2, round(upright_w * scale / 2) * 2)
            half_h = max(2, round(upright_h * scale / 2) * 2)
            self._preview_size = (half_w, half_h)
            self._preview_writer = self._writers.enter_context(
                MediaWriter(
                    staging / PREVIEW,
                    _PREVIEW_FORMAT,
                    metadata={"comment": f"{comment}; before | after"},
                    **{**common, "width": 2 * half_w, "height": half_h},
                )
            )

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
        used, to start the audio, and only a variable-frame-rate source with audio needs it.
        """
        if not self._entered or self._finished:
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

        if k == 0:
            self._audio.start(time if time is not None else self._first_frame_time())
        self._media.write_video(output_frame)
        self._audio.feed(self._media)
        matte8 = matte(alpha)  # [H, W] uint8
        if self.spec.matte:
            name = f"matte.{self.frame_range.start + k:06d}.png"
            Image.fromarray(matte8, mode="L").save(
                self._staging / MATTE_DIR / name, compress_level=_MATTE_PNG_COMPRESS
            )
        if self._matte_writer is not None:
            self._matte_writer.write_video(np.dstack((output_frame, matte8)))
        if self._preview_writer is not None:
            self._preview_writer.write_video(self._preview_frame(source_frame, output_frame))
        if self.spec.sheet and k in self._sheet_at:
            self._sheet.append(
                (
                    k,
                    self._thumb(source_frame),
                    self._thumb(output_frame),
                    self._thumb(highlight(source_frame, alpha)),
                )
            )
        self._qc.add(source_frame, output_frame, alpha)
        self.frames_written += 1
        report(self.progress, "deliver", k + 1, n)

    def _first_frame_time(self) -> Fraction:
        if self.info.variable_frame_rate and self.info.audio:
            raise OutputError(
                f"{self.source} has a variable frame rate: pass the first frame's time "
                "(write(..., time=decoded.time)) so its audio lines up"
            )
        return self.info.video_start_time + Fraction(self.frame_range.start) / self.info.rate

    def _upright(self, image: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.rot90(image, self._turns)) if self._turns else image

    def _preview_frame(self, source_frame: np.ndarray, output_frame: np.ndarray) -> np.ndarray:
        halves = [resize(self._upright(f), self._preview_size) for f in (source_frame, output_frame)]
        return np.concatenate(halves, axis=1)

    def _thumb(self, image: np.ndarray) -> np.ndarray:
        upright = self._upright(image)
        h, w = upright.shape[:2]
        tw = min(w, _SHEET_THUMB_MAX_W)
        return resize(upright, (tw, max(1, round(h * tw / w))))

    # -- the end -----------------------------------------------------------------------------

    def finish(self, provenance: dict[str, Any]) -> DeliveryResult:
        """Flush every file, write the contact sheet and ``provenance.json``; the folder is renamed
        into place when the ``with`` block ends."""
        if not self._entered or self._finished:
            raise OutputError("call finish() once, inside `with Delivery(...) as delivery:`")
        n = len(self.frame_range)
        if self.frames_written < n:
            raise OutputError(
                f"only {self.frames_written} of the {n} frames of {self.frame_range} were written; "
                "write every frame of the range before finish() (nothing was delivered)"
            )
        check(self.cancel)
        self._audio.flush(self._media)
        audio_samples = tuple(self._media.samples_written)
        self._writers.close()  # flush the encoders; each file is renamed inside the staging folder

        spec, out = self.spec, self.out_dir
        files: dict[str, str] = {"media": spec.media_name + ("/" if spec.fmt == "png" else "")}
        if spec.matte:
            files["matte"] = f"{MATTE_DIR}/"
        if self._matte_writer is not None:
            files["matte_movie"] = MATTE_MOVIE
        if spec.preview:
            files["preview"] = PREVIEW
        if spec.sheet:
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
                "frames": self.frames_written,
                "range": str(self.frame_range),
                "first_frame": self.frame_range.start,
                "rate": format_rate(self.info.rate),
                "timecode": str(self.timecode),
                "drop_frame": self.timecode.drop_frame,
                "width": self.info.width,
                "height": self.info.height,
                "rotation": self.info.rotation,
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
            media=out / spec.media_name,
            matte_dir=out / MATTE_DIR if spec.matte else None,
            matte_movie=out / MATTE_MOVIE if self._matte_writer is not None else None,
            preview=out / PREVIEW if spec.preview else None,
            sheet=out / SHEET if spec.sheet else None,
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


def _inside(path: Path, folder: Path) -> bool:
    """True when ``path`` (symlinks resolved) lies somewhere under ``folder``."""
    try:
        return folder.resolve() in path.resolve().parents
    except OSError:
        return False


def _json_default(value: object) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Fraction):
        return format_rate(value)
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON-serialisable")
