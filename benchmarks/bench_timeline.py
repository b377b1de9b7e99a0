"""Benchmark: a 2,000-clip timeline through RIVER's host side against OTIO's own read + write of it.

Generated in a temporary folder: ``--media`` tiny real movies (64×36 testsrc at 30000/1001, 360 frames,
start timecode 01:00:00:00, made with imageio-ffmpeg's ffmpeg) under ``search/dayN/``, and one ``.otio``
timeline (30000/1001, starting 01:00:00:00) of ``--clips`` clips on ``--tracks`` video tracks with gaps
and cross dissolves (media handles under them), every clip naming its media by a path of another
machine (``C:\\Footage\\day1\\shot_07.mov``, ``/Volumes/RAID/…``, ``file:///…``), so every clip is
relinked by name under the search folder and each movie is really probed (once: the finder caches).

Ours, per run, as ``river timeline edit`` does it, with the batch's jobs answered here instead of by a
server: ``read_timeline`` → ``MediaFinder`` + ``map_clips`` (relink, map time) → ``select all`` (and
``check_output``) → ``clip_specs`` (one EditSpec per clip) → ``finished`` on each job as the server
returns it (results, summary, plan; the clip's record built by ``batch.provenance``) → ``RenderedClip``
→ ``lay_back`` (in place, as ``cmd_edit``: the input timeline is not used after) → ``write_timeline``
(atomic) to a new ``.otio``. Making the fake finished jobs is the
server's part and is not counted. The probe cache (``probe._CACHE``, module-level) is cleared before
each "every file probed" run, so every run relinks and probes from scratch; "probes cached" runs keep
it (a second timeline in the same session).

OTIO, per run: ``otio.adapters.read_from_file`` + ``write_to_file`` of the same input (the reference),
and the same read followed by OTIO's write of the timeline ours wrote (the bigger file), which is what
OTIO alone takes for ours's input and output.

The bound, per run: the least any lay-back could take that bypassed OTIO's objects and spliced the
RIVER tracks into OTIO's text (which we do not do): OTIO reads the input and writes it to a string,
and the RIVER tracks ours made, turned into plain JSON documents before timing (so no relink, mapping,
job spec, result or clip is made in it), are encoded by json's C encoder into that text before the
stack's closing bracket; one write. Its file is checked once to read back as the timeline ours wrote.
What the goal (1.5× the reference) leaves above it, divided by the clips, is every clip's budget for
its own work; a bare EditSpec (the job each clip is submitted as) takes about 13 µs to make.

The five alternate in one process (which goes first rotates), after one untimed warm-up each; medians
and the median of paired ratios are printed.

    .venv/bin/python benchmarks/bench_timeline.py [--clips 2000] [--tracks 4] [--media 20] [--runs 7]

Our output is bigger than OTIO's rewrite of the input (the RIVER track adds a clip, a marker and a small
record of the job per clip, and a gap where clips are apart): the sizes are printed. This prints; it
asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.v1 import bridge_pb2
from host_plugins.otio import probe
from host_plugins.otio.batch import ClipJob, clip_specs, finished, slug
from host_plugins.otio.clips import map_clips
from host_plugins.otio.layback import RenderedClip, is_river_track, lay_back
from host_plugins.otio.rational import rt, time_range
from host_plugins.otio.read import read_timeline
from host_plugins.otio.relink import MediaFinder
from host_plugins.otio.select import parse_selector, select
from host_plugins.otio.write import check_output, write_timeline

RATE = Fraction(30000, 1001)
TC_START = 30 * 3600  # 01:00:00:00 non-drop at 30000/1001, as ffmpeg writes -timecode 01:00:00:00
MEDIA_FRAMES = 360
HANDLE = 12  # media frames kept free before and after each clip's used part (dissolves take ≤ 8)
QUERY = "blur the faces of the people in the crowd"
# What job_settings() gives for `river timeline edit QUERY --select all`.
SETTINGS: dict[str, Any] = {
    "handles": 0, "targets": None, "op": "", "prompt": None, "remove": False, "color": "", "profile": "",
    "format": "", "deliver": None, "confirm": False, "render": None,
}  # fmt: skip
CAPABILITIES = bridge_pb2.Capabilities(
    server_version="0.1.0", api_version="river.bridge.v1", profiles=["paper", "tiny"],
    default_profile="paper",
    models={"twin": "sam2.1-hiera-large", "reasoner": "qwen2.5-vl-7b", "render": "wan2.1-vace-1.3b"},
    ops=["generate", "blur", "pixelate", "mask_out", "recolor", "highlight", "matte"],
    output_root="/srv/river/out", ready=True,
)  # fmt: skip
PHASES = ("read", "relink+map", "select", "specs", "results", "lay back", "write")


# -- the input ----------------------------------------------------------------------------------


def make_media(search: Path, count: int) -> list[tuple[str, str]]:
    """``count`` tiny movies under ``search/dayN/``; for each, (file name, day folder)."""
    from imageio_ffmpeg import get_ffmpeg_exe

    ffmpeg = get_ffmpeg_exe()
    made = []
    for i in range(1, count + 1):
        day = f"day{1 + i % 3}"
        name = f"shot_{i:02d}.mov"
        (search / day).mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x36:rate=30000/1001",
             "-frames:v", str(MEDIA_FRAMES), "-c:v", "mpeg4", "-q:v", "10", "-timecode", "01:00:00:00",
             str(search / day / name)],
            check=True,
        )  # fmt: skip
        made.append((name, day))
    return made


def foreign(name: str, day: str, i: int) -> str:
    """How another machine's NLE names the file: none of these exists here."""
    forms = (
        f"C:\\Footage\\{day}\\{name}",
        f"/Volumes/RAID/Footage/{day}/{name}",
        f"file:///Volumes/RAID/Footage/{day}/{name}",
        f"file:///C:/Footage/{day}/{name}",
    )
    return forms[i % len(forms)]


def make_timeline(path: Path, media: list[tuple[str, str]], clips: int, tracks: int, seed: int = 7) -> dict:
    rng = random.Random(seed)
    timeline = otio.schema.Timeline(name="bench 2000", global_start_time=rt(TC_START, RATE))
    counts = {"clips": 0, "gaps": 0, "dissolves": 0}
    for t in range(tracks):
        track = otio.schema.Track(name=f"V{t + 1}", kind=otio.schema.TrackKind.Video)
        after_clip = False
        for _ in range(clips // tracks + (1 if t < clips % tracks else 0)):
            if after_clip and rng.random() < 0.15:
                before, after = rng.choice(((4, 4), (6, 6), (8, 4), (4, 8)))
                track.append(
                    otio.schema.Transition(
                        name="Cross Dissolve", transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                        in_offset=rt(before, RATE), out_offset=rt(after, RATE),
                    )
                )  # fmt: skip
                counts["dissolves"] += 1
            elif track and rng.random() < 0.2:
                track.append(otio.schema.Gap(source_range=time_range(0, rng.randint(5, 60), RATE)))
                counts["gaps"] += 1
            m = rng.randrange(len(media))
            name, day = media[m]
            length = rng.randint(24, 90)
            start = rng.randint(HANDLE, MEDIA_FRAMES - HANDLE - length)
            ref = otio.schema.ExternalReference(
                target_url=foreign(name, day, m), available_range=time_range(TC_START, MEDIA_FRAMES, RATE)
            )
            track.append(
                otio.schema.Clip(
                    name=name, media_reference=ref, source_range=time_range(TC_START + start, length, RATE)
                )
            )
            counts["clips"] += 1
            after_clip = True
        timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(path))
    return counts


# -- the server's part: jobs as a finished batch returns them (not timed) ---------------------------


def fake_finished(jobs: list[ClipJob], renders: Path) -> None:
    """Each job SUCCEEDED, as ``Batch`` holds it after GetJob: spec, plan, results, summary."""
    for n, j in enumerate(jobs, 1):
        e, spec = j.entry, j.spec
        a, b = e.render  # type: ignore[misc]
        folder = renders / spec.output
        plan = {
            "plan_version": "1.0", "query": QUERY,
            "twin": {"path": str(folder / "twin.json"), "content_hash": "sha256:" + "ab" * 32,
                     "frame_range": {"start": a, "end": b}, "rate": "30000/1001", "twin_digest": "cd" * 32},
            "operations": [{"id": "op1", "kind": "blur", "prompt": "",
                            "targets": [{"id": k, "category": "person", "attributes": "in the crowd",
                                         "frames": [{"start": a, "end": b}]} for k in (1, 4, 7)]}],
            "trace": {"thinking": "", "rollout": "", "executions": [], "attempts": [], "view": {}},
        }  # fmt: skip
        summary = {
            "rendered": f"{a}:{b}",
            "range": f"{a}:{b}",
            "frames": b - a,
            "media": str(spec.media.path),
        }
        j.job = bridge_pb2.Job(
            id=f"job{n:05d}", request_id=f"req{n:05d}", batch_id="batch0001", kind=spec.kind,
            state=bridge_pb2.JOB_STATE_SUCCEEDED, spec=spec,
            plan=bridge_pb2.PlanPreview(plan_json=json.dumps(plan), explanation="Blur the three faces.",
                                        confirmed=True),
            results=bridge_pb2.Results(
                output_dir=str(folder), media=str(folder / f"{slug(e.name)}_edit.mov"),
                provenance=str(folder / "provenance.json"), plan=str(folder / "plan.json"),
                twin=str(folder / "twin.json"), frames=b - a, timecode=spec.media.timecode, qc_passed=True,
                summary_json=json.dumps(summary),
            ),
        )  # fmt: skip


# -- the two sides ----------------------------------------------------------------------------------


def ours(
    src: Path, search: Path, out: Path, renders: Path, *, cold: bool
) -> tuple[dict, otio.schema.Timeline]:
    """One ``river timeline edit --select all`` with the server's part faked: seconds per phase, and
    the timeline written."""
    if cold:
        probe._CACHE.clear()  # module-level: every file is probed again
    times: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[phase] = now - clock
        clock = now

    loaded = read_timeline(src)
    lap("read")
    finder = MediaFinder(src.resolve().parent, [search.resolve()])
    clip_map = map_clips(loaded, finder)
    lap("relink+map")
    sel = select(clip_map, [parse_selector("all")])
    check_output(src, out, source=loaded)  # as cmd_edit does, before any job
    lap("select")
    context = {"host": "otio", "timeline": str(loaded.path), "timeline_name": loaded.timeline.name or ""}
    jobs = clip_specs(sel.chosen, kind="edit", folder=slug(src.stem), settings=SETTINGS, query=QUERY,
                      host_context=context)  # fmt: skip
    lap("specs")
    fake_finished(jobs, renders)
    lap("server")
    results = []
    for j in jobs:
        f = finished(j, capabilities=CAPABILITIES, query=QUERY)
        results.append(RenderedClip(entry=j.entry, media=f.media, rendered=f.rendered, job_id=j.job.id,  # type: ignore[union-attr]
                                    label=QUERY, provenance=f.provenance, provenance_path=f.provenance_path,
                                    matte=f.matte))  # fmt: skip
    lap("results")
    timeline = lay_back(loaded, results, in_place=True)  # as cmd_edit: the input is not used after
    lap("lay back")
    write_timeline(timeline, out, source=loaded)
    lap("write")
    times["total"] = sum(times[k] for k in PHASES)
    return times, timeline


def otio_read_write(src: Path, out: Path, written: otio.schema.Timeline | None = None) -> float:
    """OTIO's own read of ``src`` and write to ``out``: of what it read, or of ``written``."""
    started = time.perf_counter()
    timeline = otio.adapters.read_from_file(str(src))
    otio.adapters.write_to_file(timeline if written is None else written, str(out))
    return time.perf_counter() - started


def river_tracks_json(timeline: otio.schema.Timeline) -> list[dict]:
    """The RIVER tracks of ``timeline`` as plain JSON documents (made before timing: the bound below)."""
    return [json.loads(t.to_json_string()) for t in timeline.tracks if is_river_track(t.name)]


def bypass_bound(src: Path, out: Path, tracks: list[dict]) -> float:
    """The least a lay-back that bypasses OTIO's objects could take: OTIO reads the input and writes it
    to a string, and the RIVER tracks, already made as plain documents (no relink, mapping, spec,
    result or clip made here), are encoded by json's C encoder (compact) into the text before the
    stack's closing bracket, and the file is written in one go."""
    started = time.perf_counter()
    timeline = otio.adapters.read_from_file(str(src))
    text = otio.adapters.write_to_string(timeline)
    encode = json.JSONEncoder(ensure_ascii=False).encode
    at = text.rindex("]")  # the stack's children end: "…\n        ]\n    }\n}"
    text = text[:at].rstrip() + ",\n" + ",\n".join(encode(t) for t in tracks) + "\n" + text[at:]
    out.write_bytes(text.encode("utf-8"))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--tracks", type=int, default=4)
    parser.add_argument("--media", type=int, default=20)
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each side (default 7)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rbt-", dir="/tmp"))
    try:
        search, project, renders = tmp / "search", tmp / "project", tmp / "renders"
        project.mkdir()
        started = time.perf_counter()
        media = make_media(search, args.media)
        src = project / "cut.otio"
        counts = make_timeline(src, media, args.clips, args.tracks)
        print(f"input: {counts['clips']} clips on {args.tracks} video tracks, {counts['gaps']} gaps, "
              f"{counts['dissolves']} dissolves, 30000/1001 from 01:00:00:00 ({src.stat().st_size / 1e6:.1f} "
              f"MB); {args.media} movies of {MEDIA_FRAMES} frames named by other machines' paths, "
              f"relinked by name (made in {time.perf_counter() - started:.1f} s)")  # fmt: skip
        laid: list[otio.schema.Timeline] = []

        def ours_side(out: Path, cold: bool) -> dict:
            times, timeline = ours(src, search, out, renders, cold=cold)
            laid[:] = [timeline]
            return times

        bypass: list[list[dict]] = []

        def bound_side(out: Path) -> dict:
            if not bypass:  # made once, untimed; the bound's file is checked once against ours's
                bypass.append(river_tracks_json(laid[0]))
                bypass_bound(src, out, bypass[0])
                if not otio.adapters.read_from_file(str(out)).is_equivalent_to(laid[0]):
                    raise SystemExit("bench: the bypass bound's file is not the timeline ours wrote")
            return {"total": bypass_bound(src, out, bypass[0])}

        sides: dict[str, Callable[[Path], Any]] = {
            OURS: lambda out: ours_side(out, cold=True),
            OURS_WARM: lambda out: ours_side(out, cold=False),
            OTIO: lambda out: {"total": otio_read_write(src, out)},
            FLOOR: lambda out: {"total": otio_read_write(src, out, laid[0])},
            BOUND: bound_side,
        }
        names = list(sides)
        runs: dict[str, list[dict]] = {name: [] for name in names}
        sizes: dict[str, int] = {}
        for n in range(args.runs + 1):  # run 0 warms up (ours first: the floor writes what ours made)
            for name in names[n % len(names) :] + names[: n % len(names)]:
                out = project / f"out_{names.index(name)}.otio"
                got = sides[name](out)
                sizes[name] = out.stat().st_size
                out.unlink()
                if n:
                    runs[name].append(got)
        report(runs, sizes, src.stat().st_size, counts["clips"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


OTIO = "OTIO: read + write the input"
OURS = "ours, every file probed"
OURS_WARM = "ours, probes cached"
FLOOR = "OTIO: read the input + write ours"
BOUND = "bound: OTIO text + RIVER JSON spliced"


def report(runs: dict[str, list[dict]], sizes: dict[str, int], input_size: int, clips: int) -> None:
    def median(name: str, key: str = "total") -> float:
        return statistics.median(r[key] for r in runs[name])

    def paired(name: str, against: str) -> float:
        pairs = zip(runs[name], runs[against], strict=True)
        return statistics.median(a["total"] / b["total"] for a, b in pairs)

    n = len(runs[OTIO])
    print(f"\nmedians of {n} runs each, alternating (s); ratios to '{OTIO}' (median of paired ratios)")
    for name in (OTIO, OURS, OURS_WARM, FLOOR, BOUND):
        size = f"{input_size / 1e6:.1f} MB in, {sizes[name] / 1e6:.1f} MB out"
        ratio = f"{median(name) / median(OTIO):5.2f}× ({paired(name, OTIO):.2f}×)" if name != OTIO else ""
        print(f"  {name:34s} {median(name):6.3f}  {size:22s}  {ratio}")
        if name in (OURS, OURS_WARM):
            print("      " + "  ".join(f"{k} {median(name, k):.3f}" for k in PHASES))
    print(f"  ours / '{FLOOR}': {median(OURS) / median(FLOOR):.2f}× ({paired(OURS, FLOOR):.2f}×)")
    print(f"  (not counted: faking the finished jobs, the server's part: {median(OURS, 'server'):.3f} s)")
    print(
        "  Ours writes a bigger file than OTIO's rewrite of the input: a RIVER track of as many clips, each"
    )
    print("  with a marker and its job's record in metadata['river']; the last line is the same")
    print("  read and that bigger write by OTIO alone, nothing of ours.")
    print(f"  '{BOUND}': the least a lay-back bypassing OTIO's objects could take — OTIO reads the input")
    print("  and writes it to a string, the RIVER tracks (made before timing, no relink, mapping, spec or")
    print("  result) are encoded by json's C encoder into that text, one write. What the goal leaves above")
    budget = (1.5 * median(OTIO) - median(BOUND)) / clips * 1e6
    print(f"  it for all of a clip's own work: {budget:.0f} µs a clip (of {clips}).")


if __name__ == "__main__":
    sys.exit(main())
