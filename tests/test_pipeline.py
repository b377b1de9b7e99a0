"""`river edit` / RiverPipeline end to end with the tiny profile: frames, rate, timecode, audio, pixels.

The bundled sample (1280×720, 30000/1001, AAC) is used for the core checks; the issue's own clip
(../shared/media/01_dog.mp4) is used when it is there, and those tests skip with the reason if not.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from river_core.errors import Cancelled
from river_core.media import FrameRange, VideoReader, probe
from river_core.media.rational import frames_to_samples
from river_core.pipeline import EditJob, PipelineError, RiverPipeline
from river_core.progress import CancelToken
from river_core.twin.build import build_twin

RANGE = FrameRange(30, 63)


def largest_object(media: Path, frame_range: FrameRange) -> int:
    """The tiny twin's object with the longest track in the range (the twin is cached for the job)."""
    twin = build_twin(media, frame_range, profile="tiny").twin
    counts: dict[int, int] = {}
    for entry in twin.frames:
        for obj in entry.objects:
            counts[obj.id] = counts.get(obj.id, 0) + 1
    assert counts, "the tiny twin has no object in this range"
    return max(counts, key=lambda i: (counts[i], -i))


def check_delivery(media: Path, out: Path, frame_range: FrameRange, *, lossless: bool) -> dict:
    """The must-show checks on one output folder; returns the provenance."""
    info = probe(media)
    provenance = json.loads((out / "provenance.json").read_text())
    edited_path = out / provenance["files"]["media"]
    edited = probe(edited_path) if edited_path.is_file() else None
    n = len(frame_range)
    mattes = sorted((out / "matte").glob("*.png"))
    assert len(mattes) == n
    assert mattes[0].name.endswith(f"{frame_range.start:06d}.png") or str(frame_range.start) in mattes[0].name
    with VideoReader(media, info) as src:
        source = src.read(frame_range)
    if edited is not None:
        assert edited.frame_count == n
        assert (edited.width, edited.height) == (1280, 720)
        assert edited.rate == info.rate
        assert edited.start_timecode == info.timecode_or_zero + frame_range.start
        samples = frames_to_samples(n, info.rate, info.audio[0].sample_rate)
        assert [a.sample_rate for a in edited.audio] == [a.sample_rate for a in info.audio]
        assert provenance["delivery"]["audio_samples"] == [samples]
        with VideoReader(edited_path, edited) as out_reader:
            output = out_reader.read(FrameRange(0, n))
    else:  # PNG sequence
        pngs = sorted(p for p in edited_path.glob("*.png"))
        assert len(pngs) == n
        output = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in pngs])
    assert output.shape == (n, 720, 1280, 3)
    if lossless:
        outside = np.stack([np.asarray(Image.open(p)) == 0 for p in mattes])
        assert outside.any() and (~outside).any()
        assert np.array_equal(output[outside], source[outside]), "pixels outside the matte changed"
    return provenance


def test_blur_targets_ffv1(tmp_path: Path, sample_clip: Path) -> None:
    target = largest_object(sample_clip, RANGE)
    job = EditJob(
        media=sample_clip,
        out=tmp_path / "blur",
        targets=(str(target),),
        action="blur",
        frame_range=RANGE,
        profile="tiny",
        fmt="ffv1",
    )
    result = RiverPipeline(job).run()
    assert result.twin_cache_hit is True  # built by largest_object above
    provenance = check_delivery(sample_clip, tmp_path / "blur", RANGE, lossless=True)
    assert provenance["qc"]["identical_outside"] is True
    assert provenance["plan"]["operations"][0]["targets"][0]["id"] == target
    for name in ("matte.mov", "preview.mp4", "contact_sheet.png"):
        assert (tmp_path / "blur" / name).is_file()


def test_generate_targets_png_through_the_cli(run_cli, tmp_path: Path, sample_clip: Path) -> None:
    target = largest_object(sample_clip, RANGE)
    out = tmp_path / "gen"
    code, stdout, stderr = run_cli(
        "edit",
        sample_clip,
        "--targets",
        str(target),
        "--op",
        "generate",
        "--prompt",
        "a bronze statue",
        "--range",
        "30:63",
        "--profile",
        "tiny",
        "--format",
        "png",
        "--out",
        out,
        "-q",
    )
    assert code == 0, stderr
    assert "pixels are meaningless" in stdout
    provenance = check_delivery(sample_clip, out, RANGE, lossless=True)
    assert provenance["models"]["editor"]["model_id"] == "tiny:WanVACEPipeline"
    assert provenance["settings"]["render"]["model_size"] == [224, 128]
    assert "bronze statue" in provenance["plan"]["operations"][0]["prompt"]


def test_second_query_on_the_same_clip_reuses_the_twin(tmp_path: Path, sample_clip: Path) -> None:
    target = largest_object(sample_clip, RANGE)  # the first build
    job = EditJob(
        media=sample_clip,
        out=tmp_path / "b",
        targets=(str(target),),
        action="pixelate",
        frame_range=RANGE,
        profile="tiny",
        fmt="h264",
        preview=False,
        sheet=False,
    )
    result = RiverPipeline(job).run()
    assert result.twin_cache_hit is True
    assert json.loads((tmp_path / "b" / "provenance.json").read_text())["twin"]["cache"]["hit"] is True


def test_bad_input_is_refused_before_work_and_leaves_nothing(
    tmp_path: Path, sample_clip: Path, copy_of
) -> None:
    media = copy_of(sample_clip)
    out = tmp_path / "out"
    with pytest.raises(PipelineError, match="not in the twin"):
        RiverPipeline(
            EditJob(media=media, out=out, targets=("999",), action="blur", frame_range=RANGE, profile="tiny")
        ).run()
    assert not out.exists()
    from river_core.errors import RiverError

    with pytest.raises(RiverError, match=r"range|frames"):
        RiverPipeline(
            EditJob(
                media=media,
                out=out,
                targets=("1",),
                action="blur",
                frame_range=FrameRange(0, 10_000),
                profile="tiny",
            )
        ).run()
    with pytest.raises(RiverError, match=r"source|media"):
        RiverPipeline(
            EditJob(media=media, out=media, targets=("1",), action="blur", frame_range=RANGE, profile="tiny")
        ).run()
    with pytest.raises(PipelineError, match="exactly one way"):
        EditJob(media=media, out=out, profile="tiny")
    with pytest.raises(PipelineError, match="--prompt"):
        EditJob(media=media, out=out, targets=("1",), action="generate", profile="tiny")
    assert media.read_bytes() == sample_clip.read_bytes()


def test_a_plan_with_unknown_ids_is_refused(tmp_path: Path, sample_clip: Path) -> None:
    target = largest_object(sample_clip, RANGE)
    first = RiverPipeline(
        EditJob(
            media=sample_clip,
            out=tmp_path / "a",
            targets=(str(target),),
            action="matte",
            frame_range=RANGE,
            profile="tiny",
        )
    )
    first.check_inputs()
    first.twin()
    plan = first.plan().to_json()
    plan["operations"][0]["targets"][0]["id"] = 999
    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps(plan))
    from river_core.reasoning.plan import PlanError

    with pytest.raises(PlanError, match="999"):
        RiverPipeline(EditJob(media=sample_clip, out=tmp_path / "b", plan_path=bad, profile="tiny")).run()
    assert not (tmp_path / "b").exists()


def test_cancel_mid_render_leaves_nothing(tmp_path: Path, sample_clip: Path) -> None:
    target = largest_object(sample_clip, RANGE)
    token = CancelToken()
    seen: list[str] = []

    def progress(event) -> None:  # cancel once encoding has started
        seen.append(event.stage)
        if event.stage == "encode" and event.done == 5:
            token.cancel("test")

    out = tmp_path / "cancelled"
    job = EditJob(
        media=sample_clip,
        out=out,
        targets=(str(target),),
        action="blur",
        frame_range=RANGE,
        profile="tiny",
        fmt="ffv1",
    )
    with pytest.raises(Cancelled):
        RiverPipeline(job, progress=progress, cancel=token).run()
    assert "encode" in seen
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name != "cancelled"]  # no temporary left beside it


@pytest.mark.parametrize("op", ["blur", "generate"])
def test_issue_clip_01_dog(op: str, tmp_path: Path, shared_media, run_cli) -> None:
    """The issue's must-show: 01_dog.mp4 --range 30:63 --profile tiny, lossless output."""
    media = shared_media("01_dog.mp4")
    target = largest_object(media, RANGE)
    out = tmp_path / op
    extra = ["--prompt", "a bronze statue"] if op == "generate" else []
    code, _, stderr = run_cli(
        "edit",
        media,
        "--targets",
        str(target),
        "--op",
        op,
        *extra,
        "--range",
        "30:63",
        "--profile",
        "tiny",
        "--format",
        "ffv1",
        "--out",
        out,
        "-q",
    )
    assert code == 0, stderr
    check_delivery(media, out, RANGE, lossless=True)


@pytest.mark.slow
def test_issue_clip_200_frames_through_several_windows(tmp_path: Path, shared_media) -> None:
    """200 frames with the tiny editor's 81-frame windows: every output frame k is source frame k
    outside the matte, and the windows overlapped."""
    media = shared_media("01_dog.mp4")
    frame_range = FrameRange(0, 200)
    target = largest_object(media, frame_range)
    job = EditJob(
        media=media,
        out=tmp_path / "long",
        targets=(str(target),),
        action="generate",
        prompt="bronze",
        frame_range=frame_range,
        profile="tiny",
        fmt="ffv1",
        preview=False,
        sheet=False,
    )
    pipeline = RiverPipeline(job)
    result = pipeline.run()
    windows = pipeline.state.renderer.windows
    assert len(windows) >= 3 and all(b.start < a.end for a, b in itertools.pairwise(windows))
    assert result.rendered_windows + result.skipped_windows == len(windows)
    check_delivery(media, tmp_path / "long", frame_range, lossless=True)
