"""`river edit` / RiverPipeline end to end with the tiny profile: frames, rate, timecode, audio, pixels;
one pipeline loaded once for many jobs; ranges, handles and targets as the editor means them.

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

from river_core.errors import Cancelled, RiverError
from river_core.media import FrameRange, VideoReader, probe
from river_core.media.rational import frames_to_samples
from river_core.pipeline import PipelineError, RiverPipeline
from river_core.progress import CancelToken
from river_core.reasoning.plan import load_plan, twin_ref
from river_core.request import EditRequest, RequestError
from river_core.targets import TargetError
from river_core.twin.build import build_twin
from tests.twin.doubles import Events, SceneIndex, handles_scene, loader

RANGE = FrameRange(30, 63)


@pytest.fixture(scope="module")
def tiny() -> RiverPipeline:
    """One tiny pipeline for the module's jobs: its models load once, when first needed."""
    return RiverPipeline.from_pretrained("tiny")


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


def test_blur_targets_ffv1(tmp_path: Path, sample_clip: Path, tiny: RiverPipeline) -> None:
    target = largest_object(sample_clip, RANGE)
    request = EditRequest(
        sample_clip, targets=(str(target),), op="blur", range=RANGE, output=tmp_path / "blur", format="ffv1"
    )
    result = tiny(request)
    assert result.twin_cache_hit is True  # built by largest_object above
    provenance = check_delivery(sample_clip, tmp_path / "blur", RANGE, lossless=True)
    assert provenance["qc"]["identical_outside"] is True
    (op,) = provenance["plan"]["operations"]
    assert op["kind"] == "blur" and op["targets"][0]["id"] == target
    for name in ("matte.mov", "preview.mp4", "contact_sheet.png"):
        assert (tmp_path / "blur" / name).is_file()


def test_generate_targets_png_through_the_cli(run_cli, tmp_path: Path, sample_clip: Path) -> None:
    target = largest_object(sample_clip, RANGE)
    out = tmp_path / "gen"
    code, stdout, stderr = run_cli(
        "edit", sample_clip, "--targets", str(target), "--op", "generate", "--prompt", "a bronze statue",
        "--range", "30:63", "--profile", "tiny", "--format", "png", "--out", out, "-q",
    )  # fmt: skip
    assert code == 0, stderr
    assert "pixels are meaningless" in stdout
    provenance = check_delivery(sample_clip, out, RANGE, lossless=True)
    assert provenance["models"]["editor"]["model_id"] == "tiny:WanVACEPipeline"
    assert provenance["settings"]["render"]["model_size"] == [224, 128]
    assert "bronze statue" in provenance["plan"]["operations"][0]["prompt"]


@pytest.mark.timeout(900)  # three jobs with the tiny models: minutes on a busy 2-core machine
def test_one_pipeline_runs_three_different_jobs_loading_each_model_once(
    tmp_path: Path, sample_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The must-show: loaded once, a pipeline runs a query edit, a reviewed-plan edit and an instant op
    with no further model load — counted by the pipeline and, independently, at the loaders."""
    from river_core.editing import vace
    from river_core.twin import build as build_module

    counted: dict[str, int] = {}

    def counting(name: str, real):
        def load(*args, **kwargs):
            counted[name] = counted.get(name, 0) + 1
            return real(*args, **kwargs)

        return load

    rollout = write_rollout(tmp_path, sample_clip)
    monkeypatch.setattr(vace, "load_editor", counting("editor", vace.load_editor))
    monkeypatch.setattr(build_module, "load_stage", counting("twin stage", build_module.load_stage))
    pipe = RiverPipeline.from_pretrained("tiny", llm=f"replay:{rollout}")
    assert counted == {} and pipe.loads["editor"] == 0  # nothing loads before it is needed
    pipe.preload(twin=True)
    loaded = dict(counted)
    assert loaded == {"editor": 1, "twin stage": 4}
    query = pipe(
        EditRequest(sample_clip, query="make the dog look like bronze", range=RANGE, output=tmp_path / "q")
    )
    assert query.plan is not None and query.plan.operations[0].kind == "appearance"
    reviewed = query.plan.model_copy(update={"query": "the reviewed plan"})
    rendered = pipe(
        EditRequest(sample_clip, plan=reviewed, output=tmp_path / "plan", deliver=frozenset({"media"}))
    )
    # the plan's twin is found again (built for the query's nouns), so its ids mean what they meant
    assert (
        rendered.twin_cache_hit is True and twin_ref(rendered.twin).twin_digest == reviewed.twin.twin_digest
    )
    blur = pipe(EditRequest(sample_clip, targets=("1",), op="blur", range="40:50", output=tmp_path / "blur"))
    assert blur.twin_cache_hit is False  # a new range: built with the warm stages
    assert counted == loaded, "a loaded pipeline loads nothing more"
    assert pipe.loads == {"editor": 1, "reasoner": 0, "detector": 1, "tracker": 1, "depth": 1, "describer": 1}
    assert sorted(p.name for p in (tmp_path / "plan").iterdir() if not p.name.startswith(".")) == [
        "dog_3s_edit.mov",
        "provenance.json",
    ]


def test_a_pipeline_folder_names_its_components(tmp_path: Path, sample_clip: Path) -> None:
    """`from_pretrained(DIR)`: river_pipeline.json points the editor at a saved checkpoint and the
    reasoner at a spec, relative to the folder; the profile gives the settings."""
    from river_core.editing.vace import tiny_pipeline

    folder = tmp_path / "my-pipeline"
    tiny_pipeline(seed=0).save_pretrained(folder / "editor")
    (folder / "rollout.txt").write_text("x</think><edit>{}</edit>")
    manifest = {
        "profile": "tiny",
        "editor": "editor",
        "reasoner": "replay:rollout.txt",
        "twin": {"depth": "tiny:depth"},
    }
    (folder / "river_pipeline.json").write_text(json.dumps(manifest))
    pipe = RiverPipeline.from_pretrained(folder)
    assert pipe.profile == "tiny" and pipe.llm_spec == f"replay:{folder / 'rollout.txt'}"
    target = largest_object(sample_clip, FrameRange(30, 39))
    request = EditRequest(
        sample_clip, targets=(str(target),), prompt="bronze", range="30:39", output=tmp_path / "out",
        deliver=frozenset({"media"}), format="ffv1",
    )  # fmt: skip
    pipe(request)
    provenance = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert provenance["models"]["editor"]["model_id"] == str(folder / "editor")
    assert provenance["settings"]["render"]["model_size"] == [224, 128]  # the tiny profile's settings
    assert pipe.loads["editor"] == 1
    (folder / "river_pipeline.json").write_text('{"profile": "huge"}')
    with pytest.raises(RiverError, match='needs "profile": one of paper, tiny'):
        RiverPipeline.from_pretrained(folder)
    with pytest.raises(RiverError, match="not a profile"):
        RiverPipeline.from_pretrained(tmp_path / "nowhere")


def write_rollout(tmp_path: Path, media: Path) -> Path:
    """A rollout that asks the twin for its largest object and makes it bronze (a stand-in LLM)."""
    target = largest_object(media, RANGE)
    code = "print(largest())"
    edit = json.dumps({"objects": [{"id": target, "category": "cat", "attributes": "a cat cast in bronze"}]})
    twin = build_twin(media, RANGE, profile="tiny").twin
    category = next(t.category for t in twin.tracks if t.id == target)
    edit = edit.replace('"cat"', json.dumps(category))
    path = tmp_path / "rollout.txt"
    path.write_text(
        f"Find it.</think>\n<execute>\n{code}\n</execute>\n<think>That one.</think>\n<edit>{edit}</edit>"
    )
    return path


def test_a_redaction_query_blurs_without_the_video_model(tmp_path: Path, sample_clip: Path) -> None:
    """ "blur whoever …" plans an instant blur: the plan says blur, the editor is never loaded, and the
    pixels outside the blur's matte are the source's."""
    target = largest_object(sample_clip, RANGE)
    twin = build_twin(sample_clip, RANGE, profile="tiny").twin
    category = next(t.category for t in twin.tracks if t.id == target)
    edit = json.dumps({"objects": [{"id": target, "category": category, "attributes": "blurred"}]})
    rollout = tmp_path / "r.txt"
    rollout.write_text(f"Whoever it is.</think>\n<edit>{edit}</edit>")
    pipe = RiverPipeline.from_pretrained("tiny", llm=f"replay:{rollout}")
    out = tmp_path / "redacted"
    result = pipe(
        EditRequest(
            sample_clip, query="blur whoever touches the ball last", range=RANGE, output=out, format="ffv1"
        )
    )
    assert result.plan is not None and [op.kind for op in result.plan.operations] == ["blur"]
    assert pipe.loads["editor"] == 0
    provenance = check_delivery(sample_clip, out, RANGE, lossless=True)
    assert provenance["settings"]["operations"] == ["blur"] and "render" not in provenance["settings"]


def test_target_ids_mean_the_twin_of_the_chosen_range_not_of_its_handles(tmp_path: Path) -> None:
    """`--range 5:22 --handles 5 --targets 1`: id 1 is the object of the 5:22 twin (the circle), even
    though the twin of 0:27 would call the square, seen only in frames 0–4, 1. The handles render the
    circle there too, and never the square."""
    scene = handles_scene()
    clip = scene.write_clip(tmp_path / "clip.mkv")
    stage_loader = loader(SceneIndex(scene), Events())
    wide = build_twin(clip, FrameRange(0, 27), "blur the circle", stage_loader=stage_loader).twin
    assert next(t.category for t in wide.tracks if t.id == 1) == "square"  # what the old server resolved
    pipe = RiverPipeline.from_pretrained("tiny", stage_loader=stage_loader)
    out = tmp_path / "out"
    request = EditRequest(
        clip, targets=("1",), op="mask_out", range="5:22", handles=5, output=out, format="ffv1",
        deliver=frozenset({"media", "matte"}),
    )  # fmt: skip
    result = pipe(request)
    assert result.plan is not None
    (target,) = result.plan.operations[0].targets
    assert (target.id, target.category) == (1, "circle")
    assert result.frames == FrameRange(5, 22) and result.delivery is not None and result.delivery.frames == 27
    mattes = sorted((out / "matte").glob("*.png"))
    assert len(mattes) == 27
    for t in (0, 2, 4, 10, 24):  # handle frames and an inner one
        matte = np.asarray(Image.open(mattes[t]))
        visible = SceneIndex(scene).visible(t)
        assert (matte[visible[2]] == 255).mean() > 0.9, f"frame {t}: the circle is masked out"
        if 1 in visible:
            assert not matte[visible[1]].any(), f"frame {t}: the square is untouched"


def test_timecode_ranges_and_the_twin_range_by_default(tmp_path: Path, run_cli, make_clip) -> None:
    """`--range 01:00:01:00-01:00:01:10` on a clip starting at 01:00:00:00 (25 fps) is frames 25:35;
    `--twin T` without `--range` edits the twin's range; a range off the twin says how."""
    clip = make_clip("tc.mov", rate="25", size=(160, 96), frames=50, timecode="01:00:00:00")
    twin_dir = tmp_path / "twin"
    code, _, err = run_cli(
        "twin", "build", clip, "--range", "25:35", "--profile", "tiny", "--out", twin_dir, "-q"
    )
    assert code == 0, err
    twin = json.loads((twin_dir / "twin.json").read_text())
    assert twin["tracks"], "the tiny twin found no object to edit"
    target = str(twin["tracks"][0]["id"])
    common = ["--targets", target, "--profile", "tiny", "--format", "ffv1", "--json", "-q"]
    timecodes = "01:00:01:00-01:00:01:10"
    code, stdout, err = run_cli(
        "edit", clip, *common, "--op", "pixelate", "--range", timecodes, "--out", tmp_path / "tc"
    )
    assert code == 0, err
    assert json.loads(stdout)["range"] == "25:35"
    assert str(probe(next((tmp_path / "tc").glob("*.mkv"))).start_timecode) == "01:00:01:00"
    code, stdout, err = run_cli("edit", clip, *common, "--op", "matte", "--twin", twin_dir / "twin.json",
                                "--out", tmp_path / "from_twin")  # fmt: skip
    assert code == 0, err
    assert json.loads(stdout)["range"] == "25:35"
    code, _, err = run_cli("edit", clip, *common, "--op", "blur", "--twin", twin_dir / "twin.json",
                           "--range", "0:17", "--out", tmp_path / "x")  # fmt: skip
    assert code == 2 and "--range: 0:17 does not overlap the twin's 25:35" in err, err
    assert not (tmp_path / "x").exists()


def test_the_request_rules_are_the_clis(run_cli, sample_clip: Path, tmp_path: Path) -> None:
    """Usage errors exit 2 and name flags: the request's rules, shown in the command line's words."""
    for args, message in (
        (["--targets", "1", "--op", "pixelate", "--color", "red"], "--color: goes with --op recolor"),
        (["--targets", "1", "--op", "recolor"], "--color: --op recolor needs a color"),
        (["make it bronze", "--op", "blur"], "--op: goes with --targets"),
        (["--targets", "1", "--op", "blur", "--window", "80"], "--window: 80 frames is not 4k+1"),
        (
            ["--targets", "1", "--op", "blur", "--deliver", "preview"],
            "--deliver: must include media or matte",
        ),
        (["--targets", "1", "--op", "blur", "--range", "95:"], "--range: range '95:' starts at frame 95"),
        (["--targets", "1", "--op", "blur", "--name", "a/b"], "--name: 'a/b' must be a plain file name"),
    ):
        code, _, err = run_cli("edit", sample_clip, *args, "--profile", "tiny", "--out", tmp_path / "o", "-q")
        assert code == 2 and message in err, (args, err)
    assert not (tmp_path / "o").exists()


def test_overwrite_replaces_only_a_folder_river_wrote(run_cli, sample_clip: Path, tmp_path: Path) -> None:
    """The data-loss defect: `--out victim --overwrite` deleted the user's notes.txt and sub/."""
    victim = tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "notes.txt").write_text("mine")
    (victim / "sub" / "keep.txt").write_text("mine too")
    target = largest_object(sample_clip, RANGE)
    args = ["edit", sample_clip, "--targets", str(target), "--op", "matte", "--range", "30:40",
            "--profile", "tiny", "--deliver", "matte", "-q"]  # fmt: skip
    code, _, err = run_cli(*args, "--out", victim, "--overwrite")
    assert code != 0 and "notes.txt" in err and "sub" in err, err
    assert (victim / "notes.txt").read_text() == "mine" and (
        victim / "sub" / "keep.txt"
    ).read_text() == "mine too"
    ours = tmp_path / "ours"
    assert run_cli(*args, "--out", ours)[0] == 0
    first = (ours / "provenance.json").read_text()
    code, _, err = run_cli(*args, "--out", ours, "--overwrite")
    assert code == 0, err
    assert (ours / "provenance.json").read_text() != first  # replaced: a folder RIVER wrote


def test_second_query_on_the_same_clip_reuses_the_twin(tmp_path: Path, sample_clip: Path, tiny) -> None:
    target = largest_object(sample_clip, RANGE)  # the first build
    request = EditRequest(
        sample_clip, targets=(str(target),), op="pixelate", range=RANGE, output=tmp_path / "b", format="h264",
        deliver=frozenset({"media", "matte"}),
    )  # fmt: skip
    result = tiny(request)
    assert result.twin_cache_hit is True
    assert json.loads((tmp_path / "b" / "provenance.json").read_text())["twin"]["cache"]["hit"] is True
    assert (
        not (tmp_path / "b" / "preview.mp4").exists() and not (tmp_path / "b" / "contact_sheet.png").exists()
    )


def test_bad_input_is_refused_before_work_and_leaves_nothing(
    tmp_path: Path, sample_clip: Path, copy_of, tiny
) -> None:
    media = copy_of(sample_clip)
    out = tmp_path / "out"
    with pytest.raises(TargetError, match="not in the twin"):
        tiny(EditRequest(media, targets=("999",), op="blur", range=RANGE, output=out))
    assert not out.exists()
    with pytest.raises(RequestError, match=r"range.*outside the clip"):
        tiny(EditRequest(media, targets=("1",), op="blur", range=FrameRange(0, 10_000), output=out))
    with pytest.raises(RiverError, match=r"source|media|input"):
        tiny(EditRequest(media, targets=("1",), op="blur", range=RANGE, output=media))
    with pytest.raises(RequestError, match="say what to change"):
        EditRequest(media, output=out)
    with pytest.raises(RequestError, match="prompt"):
        EditRequest(media, targets=("1",), op="generate", output=out)
    assert media.read_bytes() == sample_clip.read_bytes()


def test_a_plan_with_unknown_ids_is_refused(tmp_path: Path, sample_clip: Path, tiny) -> None:
    target = largest_object(sample_clip, RANGE)
    job = tiny.start(
        EditRequest(sample_clip, targets=(str(target),), op="matte", range=RANGE, output=tmp_path / "a")
    )
    job.check_inputs()
    job.twin()
    plan = job.plan().to_json()
    plan["operations"][0]["targets"][0]["id"] = 999
    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps(plan))
    with pytest.raises(PipelineError, match="999"):
        tiny(EditRequest(sample_clip, plan=load_plan(bad), output=tmp_path / "b"))
    assert not (tmp_path / "b").exists()


def test_cancel_mid_render_leaves_nothing(tmp_path: Path, sample_clip: Path, tiny) -> None:
    target = largest_object(sample_clip, RANGE)
    token = CancelToken()
    seen: list[str] = []

    def progress(event) -> None:  # cancel once encoding has started
        seen.append(event.stage)
        if event.stage == "encode" and event.done == 5:
            token.cancel("test")

    out = tmp_path / "cancelled"
    request = EditRequest(
        sample_clip, targets=(str(target),), op="blur", range=RANGE, output=out, format="ffv1"
    )
    with pytest.raises(Cancelled):
        tiny(request, progress=progress, cancel=token)
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
        "edit", media, "--targets", str(target), "--op", op, *extra, "--range", "30:63", "--profile", "tiny",
        "--format", "ffv1", "--out", out, "-q",
    )  # fmt: skip
    assert code == 0, stderr
    check_delivery(media, out, RANGE, lossless=True)


@pytest.mark.slow
def test_issue_clip_200_frames_through_several_windows(tmp_path: Path, shared_media, tiny) -> None:
    """200 frames with the tiny editor's 81-frame windows: every output frame k is source frame k
    outside the matte, and the windows overlapped."""
    media = shared_media("01_dog.mp4")
    frame_range = FrameRange(0, 200)
    target = largest_object(media, frame_range)
    request = EditRequest(
        media, targets=(str(target),), prompt="bronze", range=frame_range, output=tmp_path / "long",
        format="ffv1", deliver=frozenset({"media", "matte"}),
    )  # fmt: skip
    job = tiny.start(request)
    result = job.run()
    windows = job.state.renderer.windows
    assert len(windows) >= 3 and all(b.start < a.end for a, b in itertools.pairwise(windows))
    assert result.rendered_windows + result.skipped_windows == len(windows)
    check_delivery(media, tmp_path / "long", frame_range, lossless=True)
