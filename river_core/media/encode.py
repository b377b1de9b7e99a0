"""Encode RGB frames and audio into editor deliverables, atomically.

Formats (the literal table :data:`FORMATS`): ProRes 422 HQ, ProRes 4444 with alpha (written from
RGBA frames: mattes) and DNxHR HQ in MOV, H.264 in MP4 with AAC (MP4 needs a compressed codec), FFV1
in Matroska in an RGB pixel format (lossless against the decoded RGB), and PNG sequences (a folder of
numbered PNGs, ``audio.wav`` and ``sequence.json``).
Audio is PCM wherever the container takes it: a PCM source keeps its sample format, anything else
becomes 24-bit PCM. Every output carries the timecode of its first frame.

YUV outputs are converted with, and tagged with, the colour description in :class:`ColorTags` (the
source's, so an NLE treats the output like the source). Movies keep the stored orientation and carry
the rotation as a display-matrix tag; PNGs have no such tag, so PNG sequences are written upright
(as displayed) and ``sequence.json`` says so.

:func:`extract` copies a frame range of a source; :class:`MediaWriter` is the streaming writer the
editing pipeline uses for rendered frames.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import av.error
import numpy as np
from av.video.reformatter import ColorRange, Colorspace
from PIL import Image

from river_core.atomic import atomic_path
from river_core.errors import MediaError, OutputError
from river_core.media.formats import FORMATS, OutputFormat
from river_core.media.rational import Timecode, format_rate, frames_to_samples

# FFmpeg's colour code points (ISO/IEC 23091-2) by the names ffprobe prints. Matrices: only those the
# decoder converts with (river_core.media.decode.source_colorspace), so a YUV output is converted
# with the matrix its source was decoded with.
MATRICES: dict[str, int] = {"bt709": 1, "bt470bg": 5, "smpte170m": 6, "bt2020nc": 9}
PRIMARIES: dict[str, int] = {
    "bt709": 1,
    "bt470m": 4,
    "bt470bg": 5,
    "smpte170m": 6,
    "smpte240m": 7,
    "film": 8,
    "bt2020": 9,
    "smpte428": 10,
    "smpte431": 11,
    "smpte432": 12,
}
TRANSFERS: dict[str, int] = {
    "bt709": 1,
    "bt470m": 4,
    "bt470bg": 5,
    "smpte170m": 6,
    "smpte240m": 7,
    "linear": 8,
    "iec61966-2-1": 13,
    "bt2020-10": 14,
    "bt2020-12": 15,
    "smpte2084": 16,
    "arib-std-b67": 18,
}
_CONVERSION = {
    "bt709": Colorspace.ITU709,
    "bt470bg": Colorspace.ITU601,
    "smpte170m": Colorspace.ITU601,
    "bt2020nc": Colorspace.BT2020,
}
# What a matrix implies when the source does not say: the primaries and transfer usually paired with it.
_DEFAULT_PRIMARIES = {"bt709": "bt709", "bt470bg": "bt470bg", "smpte170m": "smpte170m", "bt2020nc": "bt2020"}
_DEFAULT_TRANSFER = {"bt709": "bt709", "bt470bg": "smpte170m", "smpte170m": "smpte170m", "bt2020nc": "bt709"}
_TV_RANGE = 1  # AVCOL_RANGE_MPEG: every YUV output is limited range (converted so, tagged so)


@dataclass(frozen=True)
class ColorTags:
    """The colour description of a YUV output, by FFmpeg's names (as ffprobe prints them).

    ``matrix`` both tags the output and picks the RGB → YUV coefficients (bt470bg and smpte170m are
    both BT.601); ``primaries`` and ``transfer`` are tags only (None: what the matrix implies). The
    range is always limited ("tv"): outputs are converted to it and tagged so.

    >>> ColorTags("bt470bg").primaries, ColorTags("bt470bg").transfer
    ('bt470bg', 'smpte170m')
    """

    matrix: str = "bt709"
    primaries: str | None = None
    transfer: str | None = None

    def __post_init__(self) -> None:
        if self.matrix not in MATRICES:
            raise OutputError(f"colour matrix {self.matrix!r} is not one of: {', '.join(MATRICES)}")
        if self.primaries is None:
            object.__setattr__(self, "primaries", _DEFAULT_PRIMARIES[self.matrix])
        elif self.primaries not in PRIMARIES:
            raise OutputError(f"colour primaries {self.primaries!r} are not one of: {', '.join(PRIMARIES)}")
        if self.transfer is None:
            object.__setattr__(self, "transfer", _DEFAULT_TRANSFER[self.matrix])
        elif self.transfer not in TRANSFERS:
            raise OutputError(f"colour transfer {self.transfer!r} is not one of: {', '.join(TRANSFERS)}")

    @property
    def conversion(self) -> Colorspace:
        """The swscale matrix for RGB → YUV."""
        return _CONVERSION[self.matrix]

    def apply(self, cc: Any) -> None:
        """Tag an encoder's codec context (before it opens)."""
        cc.colorspace = MATRICES[self.matrix]
        cc.color_primaries = PRIMARIES[str(self.primaries)]
        cc.color_trc = TRANSFERS[str(self.transfer)]
        cc.color_range = _TV_RANGE

    def to_json(self) -> dict[str, str | None]:
        return {"matrix": self.matrix, "primaries": self.primaries, "transfer": self.transfer, "range": "tv"}


# PCM sample formats written as they are; any other source audio becomes 24-bit PCM (or AAC in MP4).
PCM_CODECS = ("pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le")
_AAC_BITRATE = 320_000
_PNG_COMPRESS_LEVEL = 3


@dataclass(frozen=True)
class AudioTrackSpec:
    """One audio track to write: its sample rate, channel layout (e.g. ``"stereo"``) and the PCM
    codec used where the container takes PCM (a PCM source keeps its own sample format)."""

    sample_rate: int
    layout: str
    channels: int
    pcm_codec: str = "pcm_s24le"

    def __post_init__(self) -> None:
        if self.pcm_codec not in PCM_CODECS:
            raise MediaError(f"audio codec {self.pcm_codec!r} is not one of {', '.join(PCM_CODECS)}")

    @classmethod
    def like(cls, sample_rate: int, layout: str, channels: int, source_codec: str) -> AudioTrackSpec:
        """A track matching a source stream: PCM keeps its sample format (big-endian becomes little)."""
        codec = source_codec.replace("be", "le") if source_codec.startswith("pcm_") else ""
        return cls(sample_rate, layout, channels, codec if codec in PCM_CODECS else "pcm_s24le")


def output_path_for(fmt: OutputFormat, out: Path) -> Path:
    """Check that ``out`` has the format's extension (a folder for PNG) and return it."""
    if fmt.extension and out.suffix.lower() != fmt.extension:
        raise OutputError(
            f"--format {fmt.name} writes {fmt.extension} files; "
            f"name the output like {out.stem}{fmt.extension}"
        )
    if not fmt.extension and out.suffix:
        raise OutputError(
            f"--format png writes a folder of PNGs; give a folder name without an extension, not {out.name}"
        )
    return out


class MediaWriter:
    """Streams RGB frames (and audio) into one deliverable; renames it into place on success.

    Use as a context manager. If the block raises (cancel included), nothing is left at ``path``.
    """

    def __init__(
        self,
        path: Path | str,
        fmt: str | OutputFormat,
        *,
        width: int,
        height: int,
        rate: Fraction,
        timecode: Timecode,
        first_frame: int = 0,
        audio: Sequence[AudioTrackSpec] = (),
        rotation: int = 0,
        color: ColorTags | None = None,
        sources: Sequence[Path] = (),
        overwrite: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(fmt, str) and fmt not in FORMATS:
            raise OutputError(f"format {fmt!r} is not one of: {', '.join(FORMATS)}")
        self.format = FORMATS[fmt] if isinstance(fmt, str) else fmt
        self.path = output_path_for(self.format, Path(path))
        if self.format.even_size and (width % 2 or height % 2):
            raise OutputError(
                f"{self.format.name} needs an even width and height but the frames are {width}×{height}; "
                "use --format ffv1 or png for odd sizes"
            )
        self.width, self.height, self.rate = width, height, rate
        self.timecode, self.first_frame, self.rotation = timecode, first_frame, rotation % 360
        self.color = color or ColorTags()
        self.audio_specs = tuple(audio)
        self.metadata = metadata or {}
        self._sources, self._overwrite = tuple(Path(s) for s in sources), overwrite
        self.frames_written = 0
        self.samples_written = [0] * len(self.audio_specs)

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> MediaWriter:
        self._atomic = atomic_path(
            self.path, directory=self.format.muxer is None, sources=self._sources, overwrite=self._overwrite
        )
        self._tmp = self._atomic.__enter__()
        try:
            self._open()
        except BaseException as exc:
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        try:
            if exc is None:
                self._finish()
            else:
                self._abort()
        except BaseException as finish_exc:
            self._atomic.__exit__(type(finish_exc), finish_exc, finish_exc.__traceback__)
            raise
        return self._atomic.__exit__(exc_type, exc, tb)

    def _open(self) -> None:
        fmt = self.format
        self._containers: list[av.container.OutputContainer] = []
        if fmt.muxer is None:
            self._video = None
            self._audio = [self._open_wav(i, spec) for i, spec in enumerate(self.audio_specs)]
            return
        try:
            out = av.open(str(self._tmp), mode="w", format=fmt.muxer, container_options=fmt.muxer_options)
        except av.error.FFmpegError as exc:
            raise OutputError(f"cannot create {self.path}: {exc}") from None
        self._containers.append(out)
        out.metadata["timecode"] = str(self.timecode)
        for key, value in self.metadata.items():
            out.metadata[key] = str(value)
        vs = out.add_stream(fmt.codec, rate=self.rate, options=dict(fmt.options))
        assert isinstance(vs, av.video.stream.VideoStream)
        vs.width, vs.height, vs.pix_fmt = self.width, self.height, fmt.pix_fmt
        if fmt.pix_fmt.startswith("yuv"):
            self.color.apply(vs.codec_context)
        if self.rotation:
            vs.set_display_rotation(self.rotation)
        self._video = vs
        self._audio = [
            (out, self._add_audio_stream(out, "aac" if fmt.audio_codec == "aac" else spec.pcm_codec, spec))
            for spec in self.audio_specs
        ]

    def _open_wav(self, i: int, spec: AudioTrackSpec) -> tuple[av.container.OutputContainer, av.AudioStream]:
        name = "audio.wav" if i == 0 else f"audio_{i + 1}.wav"
        wav = av.open(str(self._tmp / name), mode="w", format="wav")
        self._containers.append(wav)
        return wav, self._add_audio_stream(wav, spec.pcm_codec, spec)

    @staticmethod
    def _add_audio_stream(
        out: av.container.OutputContainer, codec: str, spec: AudioTrackSpec
    ) -> av.AudioStream:
        stream = out.add_stream(codec, rate=spec.sample_rate, layout=spec.layout)
        assert isinstance(stream, av.audio.stream.AudioStream)
        if codec == "aac":
            stream.bit_rate = _AAC_BITRATE
        return stream

    # -- writing -----------------------------------------------------------------------------

    @property
    def display_size(self) -> tuple[int, int]:
        """Width × height as displayed (after the rotation)."""
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)

    def write_video(self, image: np.ndarray) -> None:
        """Append one frame at the writer's (stored) size: H×W×3 uint8 RGB, or H×W×4 RGBA (straight
        alpha) for a format that carries alpha (``prores4444``). A PNG sequence stores it upright."""
        channels = 4 if self.format.alpha else 3
        if image.shape != (self.height, self.width, channels) or image.dtype != np.uint8:
            if image.dtype == np.uint8 and image.shape[:2] == (self.height, self.width) and image.ndim == 3:
                if image.shape[2] == 4:
                    raise MediaError(
                        f"frame {self.frames_written} is RGBA but {self.format.name} has no alpha channel; "
                        "drop the alpha (image[..., :3]) or write the prores4444 format"
                    )
                if image.shape[2] == 3:
                    raise MediaError(
                        f"frame {self.frames_written} is RGB but {self.format.name} carries alpha; "
                        "pass H×W×4 RGBA frames (np.dstack((rgb, alpha)))"
                    )
            kind = "RGBA" if self.format.alpha else "RGB"
            raise MediaError(
                f"frame {self.frames_written} is {image.shape} {image.dtype}; "
                f"expected ({self.height}, {self.width}, {channels}) uint8 {kind}"
            )
        if self._video is None:
            name = f"frame_{self.first_frame + self.frames_written:06d}.png"
            Image.fromarray(upright(image, self.rotation)).save(
                self._tmp / name, compress_level=_PNG_COMPRESS_LEVEL
            )
        else:
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(image), format="rgba" if channels == 4 else "rgb24"
            )
            if self.format.pix_fmt.startswith("yuv"):
                frame = frame.reformat(
                    format=self.format.pix_fmt,
                    dst_colorspace=self.color.conversion,
                    dst_color_range=ColorRange.MPEG,
                )
            elif self.format.pix_fmt != "rgb24":
                frame = frame.reformat(format=self.format.pix_fmt)
            frame.pts = self.frames_written
            frame.time_base = 1 / self.rate
            frame.duration = 1
            self._mux(self._containers[0], self._video, frame)
        self.frames_written += 1

    def write_audio(self, track: int, samples: np.ndarray) -> None:
        """Append float32 ``[channels, n]`` samples to audio track ``track``."""
        spec = self.audio_specs[track]
        if samples.ndim != 2 or samples.shape[0] != spec.channels:
            raise MediaError(
                f"audio for track {track} must be [channels={spec.channels}, n], got {samples.shape}"
            )
        if samples.shape[1] == 0:
            return
        out, stream = self._audio[track]
        planar = np.ascontiguousarray(samples, dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=spec.layout)
        frame.sample_rate = spec.sample_rate
        frame.pts = self.samples_written[track]
        frame.time_base = Fraction(1, spec.sample_rate)
        self._mux(out, stream, frame)
        self.samples_written[track] += samples.shape[1]

    def audio_target(self, track: int) -> int:
        """How many samples track ``track`` should hold to match the video written so far."""
        return frames_to_samples(self.frames_written, self.rate, self.audio_specs[track].sample_rate)

    def _mux(
        self,
        out: av.container.OutputContainer,
        stream: av.video.stream.VideoStream | av.audio.stream.AudioStream,
        frame: Any,
    ) -> None:
        try:
            for packet in stream.encode(frame):
                if stream.type == "video" and not packet.duration:
                    packet.duration = 1
                out.mux(packet)
        except av.error.FFmpegError as exc:
            raise OutputError(f"encoding {self.path} failed: {exc}") from exc

    def _finish(self) -> None:
        if self._video is not None:
            self._mux(self._containers[0], self._video, None)  # flush the encoder
        for out, audio_stream in self._audio:
            self._mux(out, audio_stream, None)
        for out in self._containers:
            out.close()
        if self.format.muxer is None:
            width, height = self.display_size
            sidecar = {
                "format": "png-sequence",
                "pattern": "frame_%06d.png",
                "first_frame": self.first_frame,
                "frame_count": self.frames_written,
                "rate": format_rate(self.rate),
                "timecode": str(self.timecode),
                "drop_frame": self.timecode.drop_frame,
                "width": width,  # as the PNGs are stored: upright
                "height": height,
                "orientation": "upright",
                "source_rotation": self.rotation,  # the source's display rotation, applied to the PNGs
                "audio": [
                    "audio.wav" if i == 0 else f"audio_{i + 1}.wav" for i in range(len(self.audio_specs))
                ],
                "metadata": self.metadata,
            }
            (self._tmp / "sequence.json").write_text(json.dumps(sidecar, indent=2) + "\n")

    def _abort(self) -> None:
        for out in self._containers:
            with contextlib.suppress(Exception):  # the temporary is deleted anyway
                out.close()


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """``image`` (stored orientation, [H, W, ...]) as displayed under a display ``rotation`` (degrees
    counter-clockwise, as :attr:`~river_core.media.probe.MediaInfo.rotation` gives it)."""
    turns = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image
