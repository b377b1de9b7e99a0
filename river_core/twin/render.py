"""Looking at a twin: masks colored by id with id, category and depth labels.

``render_video`` writes the overlay as a movie (same size, rate and timecode as the range);
``render_sheet`` writes a PNG contact sheet of evenly spaced frames (:func:`sheet_frames`). It is
the picture an editor checks before trusting a twin.
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from river_core.atomic import atomic_path
from river_core.errors import OutputError, RiverError
from river_core.media import FrameRange, MediaWriter, Timecode, VideoReader, parse_rate, probe, resize
from river_core.progress import CancelToken, ProgressCallback, report
from river_core.twin.masks import decode_mask
from river_core.twin.schema import FrameEntry, TwinDocument

VIDEO_FORMATS = {".mp4": "h264", ".mov": "prores", ".mkv": "ffv1"}
_ALPHA = 0.45


def color_of(object_id: int) -> tuple[int, int, int]:
    """A stable, well-separated color per id (golden-ratio hues)."""
    hue = (object_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return (round(r * 255), round(g * 255), round(b * 255))


def overlay(image: np.ndarray, frame: FrameEntry, *, scale: float = 1.0) -> np.ndarray:
    """``image`` (the source frame) with ``frame``'s masks tinted, outlined and labelled."""
    out = image.astype(np.float32)
    labels = []
    for obj in frame.objects:
        mask = decode_mask(obj.mask.rle)
        if mask.shape != image.shape[:2]:
            raise RiverError(
                f"frame {frame.index}: object {obj.id}'s mask is {mask.shape[1]}×{mask.shape[0]} but the "
                f"media frame is {image.shape[1]}×{image.shape[0]}; is this the twin's media?"
            )
        color = np.array(color_of(obj.id), dtype=np.float32)
        out[mask] = out[mask] * (1 - _ALPHA) + color * _ALPHA
        edge = mask & ~_eroded(mask)
        out[edge] = color
        rows, cols = np.nonzero(mask)
        labels.append(
            (int(cols.min()), int(rows.min()), f"#{obj.id} {obj.category} d={obj.spatial.depth:.2f}", color)
        )
    canvas = Image.fromarray(out.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    font = _font(max(10, round(14 * scale * image.shape[0] / 480)))
    placed: list[tuple[float, float, float, float]] = []
    for x, y, text, color in labels:
        left, top, right, bottom = draw.textbbox((x, max(0, y - 2)), text, font=font, anchor="lb")
        if top < 0:  # no room above the object: write inside it
            left, top, right, bottom = draw.textbbox((x, y), text, font=font, anchor="lt")
        for _ in range(6):  # step down past labels already drawn, so none hides another
            if not any(left < r and right > lft and top < b and bottom > t for lft, t, r, b in placed):
                break
            shift = bottom - top + 6
            top, bottom = top + shift, bottom + shift
        placed.append((left - 2, top - 2, right + 2, bottom + 2))
        draw.rectangle(placed[-1], fill=(0, 0, 0))
        draw.text((left, top), text, font=font, fill=tuple(int(c) for c in color))
    return np.asarray(canvas)


def render_video(
    twin: TwinDocument,
    media: Path,
    out: Path,
    *,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """The overlay movie of the twin's range (.mp4 H.264, .mov ProRes or .mkv FFV1)."""
    fmt = VIDEO_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise OutputError(f"overlay {out} must end in .mp4, .mov or .mkv (or .png for a contact sheet)")
    info = probe(media)
    video = twin.video
    frames = {f.index: f for f in twin.frames}
    rate = parse_rate(video.rate)
    with (
        VideoReader(media, info) as reader,
        MediaWriter(
            out, fmt, width=info.width, height=info.height, rate=rate,
            timecode=Timecode.parse(video.start_timecode, rate), sources=[media], overwrite=overwrite,
            metadata={"comment": f"RIVER twin overlay of {Path(video.path).name}"},
        ) as writer,
    ):  # fmt: skip
        frame_range = video.frame_range
        for k, decoded in enumerate(reader.frames(frame_range, cancel=cancel)):
            entry = frames.get(decoded.index, FrameEntry(index=decoded.index, objects=[]))
            writer.write_video(overlay(decoded.image, entry))
            report(progress, "render", k + 1, len(frame_range))
    return out


def sheet_frames(frame_range: FrameRange, count: int) -> list[int]:
    """The frames a contact sheet of ``count`` frames shows: ``min(count, len(frame_range))`` distinct
    frames, evenly spaced, the range's first and last frame always among them (one frame: the first).

    >>> sheet_frames(FrameRange(0, 17), 5)
    [0, 4, 8, 12, 16]
    >>> sheet_frames(FrameRange(30, 47), 100) == list(range(30, 47))
    True
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a whole number of frames, at least 1; got {count!r}")
    n = len(frame_range)
    k = min(count, n)
    if k == 1:
        return [frame_range.start]
    # start + i·(n-1)/(k-1) rounded half up, in integers: consecutive picks are at least one frame
    # apart (k ≤ n), so none repeats, and i = k-1 lands exactly on the last frame.
    return [frame_range.start + (2 * i * (n - 1) + (k - 1)) // (2 * (k - 1)) for i in range(k)]


def render_sheet(
    twin: TwinDocument, media: Path, out: Path, *, count: int = 12, width: int = 480, overwrite: bool = False
) -> Path:
    """A PNG contact sheet of the twin's range, ``width`` wide per frame: the frames
    :func:`sheet_frames` picks, each captioned with its frame number and timecode (a frame of the
    range the twin does not describe is drawn without masks and captioned so)."""
    if out.suffix.lower() != ".png":
        raise OutputError(f"contact sheet {out} must end in .png")
    picks = sheet_frames(twin.video.frame_range, count)
    frames = {f.index: f for f in twin.frames}
    rate = parse_rate(twin.video.rate)
    first_tc = Timecode.parse(twin.video.start_timecode, rate)
    tiles = []
    with VideoReader(media) as reader:
        for index in picks:
            image = reader.read(FrameRange(index, index + 1))[0]
            entry = frames.get(index)
            shown = overlay(image, entry or FrameEntry(index=index, objects=[]), scale=image.shape[1] / width)
            tile_h = round(width * image.shape[0] / image.shape[1])
            tile = Image.fromarray(resize(shown, (width, tile_h), "area"))
            caption = f"frame {index}  {first_tc + (index - twin.video.frame_range.start)}"
            if entry is None:
                caption += "  (not described)"
            ImageDraw.Draw(tile).text(
                (6, tile_h - 6), caption, font=_font(14), fill=(255, 255, 255), anchor="lb"
            )
            tiles.append(tile)
    columns = min(4, len(tiles))
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * width, rows * tiles[0].height), (16, 16, 16))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * width, (i // columns) * tiles[0].height))
    # The frame numbers shown, also as text in the PNG, so a script can tell what the sheet holds.
    text = PngInfo()
    text.add_text("river:frames", " ".join(str(i) for i in picks))
    with atomic_path(out, sources=[media], overwrite=overwrite) as tmp:
        sheet.save(tmp, format="PNG", pnginfo=text)
    return out


def render_overlay_assets(
    twin: TwinDocument, media: Path, out_dir: Path, *, count: int = 4, width: int = 320
) -> tuple[Path, list[int], Path]:
    """What a front-end needs to draw any set of the twin's objects over a few frames itself: a PNG
    strip of the frames :func:`sheet_frames` picks (``width`` wide each, side by side, no drawing) and,
    in ``out_dir/masks``, one 8-bit PNG per object id the same size as the strip (255 inside its mask).
    Returns ``(strip, frame numbers, masks folder)``. Written atomically; an earlier set is replaced."""
    picks = sheet_frames(twin.video.frame_range, count)
    entries = {f.index: f for f in twin.frames}
    tiles: list[np.ndarray] = []
    masks: dict[int, list[np.ndarray | None]] = {}
    with VideoReader(media) as reader:
        for slot, index in enumerate(picks):
            image = reader.read(FrameRange(index, index + 1))[0]
            height = max(1, round(width * image.shape[0] / image.shape[1]))
            tiles.append(resize(image, (width, height), "area"))
            entry = entries.get(index)
            for obj in entry.objects if entry is not None else []:
                mask = decode_mask(obj.mask.rle)
                if mask.shape != image.shape[:2]:
                    raise RiverError(
                        f"frame {index}: object {obj.id}'s mask is {mask.shape[1]}×{mask.shape[0]} but the "
                        f"media frame is {image.shape[1]}×{image.shape[0]}; is this the twin's media?"
                    )
                masks.setdefault(obj.id, [None] * len(picks))[slot] = resize(mask, (width, height), "nearest")
    strip = np.concatenate(tiles, axis=1)
    frames_png = out_dir / "frames.png"
    masks_dir = out_dir / "masks"
    masks_dir.mkdir(parents=True, exist_ok=True)
    for stale in masks_dir.glob("*.png"):
        stale.unlink()
    with atomic_path(frames_png, sources=[media], overwrite=True) as tmp:
        Image.fromarray(strip).save(tmp, format="PNG")
    for object_id, per_frame in masks.items():
        alpha = np.zeros(strip.shape[:2], dtype=np.uint8)
        for slot, shown in enumerate(per_frame):
            if shown is not None:
                alpha[:, slot * width : (slot + 1) * width][shown] = 255
        with atomic_path(masks_dir / f"{object_id}.png", sources=[media], overwrite=True) as tmp:
            Image.fromarray(alpha).save(tmp, format="PNG")
    return frames_png, picks, masks_dir


def _eroded(mask: np.ndarray) -> np.ndarray:
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return inner


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()
