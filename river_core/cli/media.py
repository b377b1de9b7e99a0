"""``river media probe`` and ``river media extract``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from river_core.cli.common import print_json as _print_json
from river_core.cli.common import progress_bar
from river_core.errors import OutputError, RangeError, UsageError

if TYPE_CHECKING:
    from river_core.media.probe import MediaInfo
    from river_core.media.rational import FrameRange

RANGE_HELP = (
    "source frames, half-open: 30:120 is frames 30 to 119 (275: and :17 leave a side open), or "
    "timecodes of the clip, 01:00:01:00-01:00:02:10 (';' before the frames for drop-frame)"
)


def parse_range_flag(text: str, info: MediaInfo) -> FrameRange:
    """``--range`` of a clip: frames or timecodes (from the clip's start timecode); a bad range is a
    usage error (exit 2) naming the flag, e.g. ``--range 80:200 is outside the clip: it has 90 frames…``."""
    from river_core.media.rational import FrameRange

    try:
        return FrameRange.parse(text, info.frame_count, start_timecode=info.timecode_or_zero)
    except RangeError as exc:
        message = str(exc)
        message = "--" + message if message.startswith("range ") else f"--range {text!r}: {message}"
        raise UsageError(message, field="range") from None


def add_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    from river_core.request import DELIVERY_FORMATS as FORMAT_CHOICES

    media = groups.add_parser("media", help="inspect and extract media", parents=[common])
    media_cmds = media.add_subparsers(title="media commands", metavar="COMMAND")
    p = media_cmds.add_parser(
        "probe", parents=[common], help="container, codec, exact rate, frames, timecode, audio"
    )
    p.add_argument("media", type=Path)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_media_probe)

    p = media_cmds.add_parser(
        "extract", parents=[common], help="write a frame range with its audio and timecode"
    )
    p.add_argument("media", type=Path)
    p.add_argument("--range", required=True, metavar="START:END", help=RANGE_HELP)
    p.add_argument("--format", required=True, choices=FORMAT_CHOICES)
    p.add_argument(
        "--out",
        required=True,
        type=Path,
        help="output file (.mov for prores/dnxhr, .mp4 for h264, .mkv for ffv1) or folder (png)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output (never a source)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_media_extract)


def cmd_media_probe(args: argparse.Namespace) -> int:
    from river_core.media.probe import probe

    info = probe(args.media)
    if args.json:
        _print_json(info.to_json())
        return 0
    from river_core.media.rational import format_rate

    tc = info.start_timecode
    lines = [
        f"{info.path}  ({info.container}, {info.size_bytes / 1e6:.1f} MB)",
        f"  video     stream {info.video_index}: {info.codec}{' ' + info.profile if info.profile else ''}, "
        f"{info.width}×{info.height}, {info.pix_fmt}, {info.colorspace}/{info.color_range}",
        f"  rate      {format_rate(info.rate)} ({float(info.rate):.3f} fps), "
        + ("VARIABLE frame rate" if info.variable_frame_rate else "constant"),
        f"  frames    {info.frame_count} "
        f"(duration {format_rate(info.duration)} s ≈ {float(info.duration):.3f} s)",
        f"  timecode  {tc} ({'drop-frame' if tc.drop_frame else 'non-drop'}, {info.timecode_source})"
        if tc
        else "  timecode  none (counted from 00:00:00:00)",
    ]
    if info.rotation:
        w, h = info.display_size
        lines.append(f"  rotation  {info.rotation}° (displayed as {w}×{h})")
    if not info.audio:
        lines.append("  audio     none")
    for a in info.audio:
        lines.append(
            f"  audio     stream {a.index}: {a.codec}, {a.sample_rate} Hz, {a.layout} ({a.channels} ch)"
        )
    lines += [f"  warning   {w}" for w in info.warnings]
    print("\n".join(lines))
    return 0


def cmd_media_extract(args: argparse.Namespace) -> int:
    from river_core.media.encode import FORMATS, output_path_for
    from river_core.media.extract import extract
    from river_core.media.probe import probe

    try:  # the flags first: a wrong extension is known before the media is opened
        output_path_for(FORMATS[args.format], args.out)
    except OutputError as exc:
        raise UsageError(str(exc), field="output") from None
    info = probe(args.media)
    frame_range = parse_range_flag(args.range, info)
    with progress_bar(args) as progress:
        result = extract(
            args.media,
            frame_range,
            args.format,
            args.out,
            overwrite=args.overwrite,
            info=info,
            progress=progress,
        )
    if args.json:
        _print_json(result.to_json())
    else:
        print(
            f"wrote {result.path}: {result.frame_count} frames ({result.frame_range}) at "
            f"{result.to_json()['rate']}, first frame {result.timecode}, "
            f"{len(result.audio_samples)} audio track(s)"
        )
    return 0
