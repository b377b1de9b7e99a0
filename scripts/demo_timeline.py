"""Write an editor's cut of the footage as .otio, FCP7 XML and FCPXML, for `river timeline`.

    .venv/bin/python scripts/demo_timeline.py OUT_DIR [--media ../shared/media]

The cut places four shots of three 29.97 clips with source offsets on V1 and V2 of a timeline that
starts at 01:00:00:00. The clips are copied into OUT_DIR/media with a start timecode (01:00:00:00,
10:00:00:00, …), as camera media has, so every source range is in timecode and the time mapping
must subtract the media's start. Then, for example:

    river timeline info OUT_DIR/cut.xml
    river timeline edit OUT_DIR/cut.xml --targets 1 --op blur --select all --out OUT_DIR/cut_river.xml
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from host_plugins.otio.fcpx import make_exact  # noqa: E402

NTSC = Fraction(30000, 1001)
# (file, start timecode in frames at 30 fps nominal, non-drop) — and the shots cut from it below.
MEDIA = {"01_dog.mp4": 108000, "02_cups.mp4": 1080000, "04_coffee.mp4": 216000}
# (track, record start frame, file, first source frame in the file, length)
SHOTS = [
    ("V1", 0, "01_dog.mp4", 40, 45),
    ("V1", 45, "02_cups.mp4", 120, 36),
    ("V1", 96, "04_coffee.mp4", 10, 30),  # 15 frames of gap before it
    ("V2", 60, "01_dog.mp4", 200, 24),  # over the cups shot, on V2
]


def rt(frames: int) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, float(NTSC))


def tr(start: int, duration: int) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(rt(start), rt(duration))


def timecoded_copies(media_dir: Path, out: Path) -> dict[str, tuple[Path, int]]:
    """Stream copies of the clips with a start timecode (the ffmpeg of imageio-ffmpeg, no re-encode)."""
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    out.mkdir(parents=True, exist_ok=True)
    copies = {}
    for name, start in MEDIA.items():
        source = media_dir / name
        if not source.is_file():
            raise SystemExit(f"demo_timeline: {source} is missing; pass --media DIR (the footage folder)")
        target = out / name.replace(".mp4", ".mov")
        tc = otio.opentime.to_timecode(rt(start), float(NTSC), False)
        copy = ["-map", "0", "-c", "copy", "-timecode", tc]
        subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(source), *copy, str(target)], check=True)
        copies[name] = (target, start)
    return copies


def frames_of(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        return container.streams.video[0].frames


def build(copies: dict[str, tuple[Path, int]]) -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(name="RIVER demo cut")
    timeline.global_start_time = rt(108000)
    for track_name in ("V1", "V2"):
        track = otio.schema.Track(name=track_name, kind=otio.schema.TrackKind.Video)
        position = 0
        for t, record, name, first, length in SHOTS:
            if t != track_name:
                continue
            if record > position:
                track.append(otio.schema.Gap(source_range=tr(0, record - position)))
            path, start = copies[name]
            ref = otio.schema.ExternalReference(
                target_url=path.resolve().as_uri(), available_range=tr(start, frames_of(path))
            )
            clip_name = f"{Path(name).stem} @{first}"
            source_range = tr(start + first, length)
            track.append(otio.schema.Clip(name=clip_name, media_reference=ref, source_range=source_range))
            position = record + length
        timeline.tracks.append(track)
    return timeline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="folder for the timelines and the timecoded media")
    parser.add_argument("--media", type=Path, default=ROOT.parent / "shared" / "media", help="the footage")
    args = parser.parse_args(argv)
    timeline = build(timecoded_copies(args.media, args.out / "media"))
    make_exact()  # the FCPXML adapter cannot write exact 29.97 otherwise (host_plugins/otio/fcpx.py)
    for suffix in (".otio", ".xml", ".fcpxml"):
        path = args.out / f"cut{suffix}"
        otio.adapters.write_to_file(timeline, str(path))
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
