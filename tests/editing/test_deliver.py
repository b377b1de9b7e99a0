"""An edit's deliverables: one folder, written atomically, every file checked against what went in."""

from __future__ import annotations

import errno
import json
import threading
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from river_core.atomic import MANIFEST
from river_core.editing.composite import EditInputError, composite
from river_core.editing.deliver import DELIVERABLES, Delivery, DeliveryResult, DeliverySpec
from river_core.errors import Cancelled, OutputError, RangeError
from river_core.media import encode
from river_core.media.decode import VideoReader, read_frames
from river_core.media.probe import probe
from river_core.media.rational import FrameRange, frames_to_samples
from river_core.progress import CancelToken
from tests.clips import BT470BG, rotated
from tests.helpers import listing, psnr

NTSC = Fraction(30000, 1001)
RANGE = FrameRange(30, 39)


def box_alpha(height: int, width: int) -> np.ndarray:
    """A box (rows 200–399, columns 400–699) with a 6 px linear feather outside it."""
    inside = np.zeros((height, width), bool)
    inside[200:400, 400:700] = True
    distance = ndimage.distance_transform_edt(~inside)
    return np.clip(1.0 - distance / 7.0, 0.0, 1.0).astype(np.float32)


class Edit:
    """The synthetic edit: the box inverted, feathered; ``alpha`` moves 2 px right per frame."""

    def __init__(self, clip: Path, frame_range: FrameRange = RANGE) -> None:
        self.info = probe(clip)
        self.range = frame_range
        self.sources = read_frames(clip, frame_range)
        base = box_alpha(self.info.height, self.info.width)
        self.alphas = [np.roll(base, 2 * k, axis=1) for k in range(len(frame_range))]
        self.outputs = [composite(s, 255 - s, a) for s, a in zip(self.sources, self.alphas, strict=True)]

    def deliver(self, clip: Path, spec: DeliverySpec, **kwargs) -> DeliveryResult:
        with Delivery(clip, self.info, self.range, spec, **kwargs) as delivery:
            for s, o, a in zip(self.sources, self.outputs, self.alphas, strict=True):
                delivery.write(s, o, a)
            return delivery.finish({"request": "invert the box", "plan": {"ops": 1}})


@pytest.fixture(scope="module")
def edit(sample_clip: Path) -> Edit:
    return Edit(sample_clip)


@pytest.fixture(scope="module")
def ffv1(edit: Edit, sample_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> DeliveryResult:
    root = tmp_path_factory.mktemp("ffv1")
    return edit.deliver(sample_clip, DeliverySpec(root / "out", fmt="ffv1"))


def decode_rgba(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgba") for f in container.decode(video=0)]


def decode_audio(path: Path) -> np.ndarray:
    """Every sample of the first audio stream as float32 [channels, n], decoded from the top."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="fltp")
        chunks = [g.to_ndarray() for f in container.decode(audio=0) for g in resampler.resample(f)]
    return np.concatenate(chunks, axis=1)


def audio_samples(path: Path) -> int:
    return decode_audio(path).shape[1]


# -- a finished delivery ------------------------------------------------------------------------


def test_every_file_is_there_and_nothing_else(ffv1: DeliveryResult) -> None:
    out = ffv1.out_dir
    matte_names = [f"matte/matte.{i:06d}.png" for i in range(30, 39)]
    expected = ["contact_sheet.png", "edited.mkv", "matte", *matte_names, "matte.mov", "preview.mp4"]
    assert listing(out) == sorted([*expected, "provenance.json", MANIFEST])
    assert listing(out.parent) == ["out", *(f"out/{p}" for p in listing(out))]  # no staging left
    manifest = json.loads((out / MANIFEST).read_text())["paths"]  # what --overwrite may replace
    assert manifest == sorted(p + "/" if p == "matte" else p for p in [*expected, "provenance.json"])
    assert ffv1.media == out / "edited.mkv" and ffv1.matte_dir == out / "matte"
    assert (ffv1.matte_movie, ffv1.preview, ffv1.sheet) == (
        out / "matte.mov",
        out / "preview.mp4",
        out / "contact_sheet.png",
    )


def test_provenance_has_the_callers_record_files_qc_and_delivery(ffv1: DeliveryResult) -> None:
    doc = json.loads(ffv1.provenance.read_text())
    assert doc["request"] == "invert the box" and doc["plan"] == {"ops": 1}
    assert doc["files"] == {
        "media": "edited.mkv",
        "matte": "matte/",
        "matte_movie": "matte.mov",
        "preview": "preview.mp4",
        "contact_sheet": "contact_sheet.png",
        "provenance": "provenance.json",
    }
    assert doc["qc"]["passed"] is True and doc["qc"]["identical_outside"] is True
    assert doc["qc"]["psnr_outside_db"] is None and doc["qc"]["frames"] == 9
    n_audio = frames_to_samples(9, NTSC, 48000)
    assert doc["delivery"] | {"source": None} == {
        "source": None,
        "format": "ffv1",
        "frames": 9,
        "range": "30:39",
        "first_frame": 30,
        "rate": "30000/1001",
        "timecode": "00:00:01:00",
        "drop_frame": False,
        "deliver": ["media", "matte", "preview", "sheet"],
        "width": 1280,
        "height": 720,
        "rotation": 0,
        "png_orientation": "upright",
        "color": {"matrix": "bt709", "primaries": "bt709", "transfer": "bt709", "range": "tv"},
        "audio_samples": [n_audio],
        "notes": [],
    }
    assert ffv1.qc.passed and ffv1.to_json()["qc"] == doc["qc"]


def test_edited_ffv1_is_the_output_frames_with_timecode_and_the_ranges_audio(
    ffv1: DeliveryResult, edit: Edit, sample_clip: Path
) -> None:
    info = probe(ffv1.media)
    assert (info.codec, info.frame_count, info.rate) == ("ffv1", 9, NTSC)
    assert info.start_timecode == edit.info.timecode_or_zero + 30
    np.testing.assert_array_equal(read_frames(ffv1.media, FrameRange(0, 9)), np.stack(edit.outputs))
    n_audio = frames_to_samples(9, NTSC, 48000)
    assert ffv1.audio_samples == (n_audio,) and audio_samples(ffv1.media) == n_audio
    assert str(ffv1.timecode) == "00:00:01:00" and ffv1.frames == 9


def test_matte_pngs_are_the_rounded_alpha_named_by_source_frame(ffv1: DeliveryResult, edit: Edit) -> None:
    assert ffv1.matte_dir is not None
    for k, alpha in enumerate(edit.alphas):
        with Image.open(ffv1.matte_dir / f"matte.{30 + k:06d}.png") as image:
            assert image.mode == "L"
            matte = np.asarray(image)
        np.testing.assert_array_equal(matte, np.floor(alpha.astype(np.float64) * 255 + 0.5).astype(np.uint8))
        assert np.count_nonzero((matte > 0) & (matte < 255)) > 0  # the feather is there


def test_matte_movie_is_the_output_with_the_matte_as_alpha(ffv1: DeliveryResult, edit: Edit) -> None:
    assert ffv1.matte_movie is not None
    info = probe(ffv1.matte_movie)
    assert (info.profile, info.frame_count, info.rate) == ("4444", 9, NTSC)
    assert info.start_timecode == edit.info.timecode_or_zero + 30
    frames = decode_rgba(ffv1.matte_movie)
    for k in (0, 8):
        want = np.floor(edit.alphas[k] * 255 + 0.5).astype(int)
        assert np.abs(frames[k][..., 3].astype(int) - want).max() <= 1
        assert psnr(frames[k][..., :3], edit.outputs[k]) > 40


def test_preview_is_a_small_before_after(ffv1: DeliveryResult, edit: Edit) -> None:
    assert ffv1.preview is not None
    info = probe(ffv1.preview)
    assert (info.codec, info.width, info.height) == ("h264", 960, 270)
    assert (info.frame_count, info.rate, info.audio) == (9, NTSC, ())
    assert info.start_timecode == edit.info.timecode_or_zero + 30
    frame = read_frames(ffv1.preview, FrameRange(4, 5))[0]
    before = np.asarray(Image.fromarray(edit.sources[4]).resize((480, 270), Image.Resampling.BOX))
    after = np.asarray(Image.fromarray(edit.outputs[4]).resize((480, 270), Image.Resampling.BOX))
    assert psnr(frame[:, :480], before) > 28 and psnr(frame[:, 480:], after) > 28
    assert psnr(frame[:, :480], after) < 25  # the halves are not swapped


def test_contact_sheet(ffv1: DeliveryResult) -> None:
    assert ffv1.sheet is not None
    with Image.open(ffv1.sheet) as sheet:
        assert sheet.mode == "RGB"
        width, height = sheet.size
    assert width > 4 * 320 and height > 3 * 180  # 4 columns of 320 px thumbnails, 3 rows


def test_png_delivery_is_bit_identical_with_audio(edit: Edit, sample_clip: Path, tmp_path: Path) -> None:
    spec = DeliverySpec(tmp_path / "out", fmt="png", stem="shot", deliver={"media"})
    result = edit.deliver(sample_clip, spec)
    assert listing(tmp_path / "out") == sorted(
        [MANIFEST, "provenance.json", "shot", "shot/audio.wav", "shot/sequence.json", f"shot/{MANIFEST}"]
        + [f"shot/frame_{i:06d}.png" for i in range(30, 39)]
    )
    assert result.matte_dir is result.matte_movie is result.preview is result.sheet is None
    for k in range(9):
        with Image.open(result.media / f"frame_{30 + k:06d}.png") as image:
            np.testing.assert_array_equal(np.asarray(image), edit.outputs[k])
    sequence = json.loads((result.media / "sequence.json").read_text())
    assert (sequence["timecode"], sequence["rate"], sequence["first_frame"]) == (
        "00:00:01:00",
        "30000/1001",
        30,
    )
    assert audio_samples(result.media / "audio.wav") == frames_to_samples(9, NTSC, 48000)
    assert json.loads(result.provenance.read_text())["files"] == {
        "media": "shot/",
        "provenance": "provenance.json",
    }


def test_the_audio_is_the_same_range_of_the_source(make_clip: Callable[..., Path], tmp_path: Path) -> None:
    """The bundled clip is silent: use a clip whose every sample is known."""
    clip = make_clip("counter.mov", frames=30, audio="counter", acodec="pcm_s24le")
    info = probe(clip)
    frame_range = FrameRange(12, 20)
    sources = read_frames(clip, frame_range)
    alpha = np.zeros((info.height, info.width), np.float32)
    spec = DeliverySpec(tmp_path / "out", fmt="ffv1", deliver={"media"})
    with Delivery(clip, info, frame_range, spec) as delivery:
        for s in sources:
            delivery.write(s, s, alpha)
        result = delivery.finish({})
    first, n = frames_to_samples(12, NTSC, 48000), frames_to_samples(8, NTSC, 48000)
    assert result.audio_samples == (n,)
    with av.open(str(result.media)) as container:
        assert container.streams.audio[0].codec_context.name == "pcm_s24le"  # a PCM source stays PCM
    left = decode_audio(result.media)[0]
    np.testing.assert_array_equal(
        left, ((np.arange(first, first + n) % 65536) / 32768 - 1).astype(np.float32)
    )


# -- failures leave nothing behind --------------------------------------------------------------


def test_an_exception_mid_way_leaves_nothing(edit: Edit, sample_clip: Path, tmp_path: Path) -> None:
    spec = DeliverySpec(tmp_path / "deep" / "out")
    with pytest.raises(RuntimeError, match="boom"), Delivery(sample_clip, edit.info, RANGE, spec) as delivery:
        for k in range(3):
            delivery.write(edit.sources[k], edit.outputs[k], edit.alphas[k])
        raise RuntimeError("boom")
    assert listing(tmp_path) == []  # not even the parent folder it made


def test_a_cancel_mid_way_leaves_nothing(edit: Edit, sample_clip: Path, tmp_path: Path) -> None:
    cancel = CancelToken()
    spec = DeliverySpec(tmp_path / "out")
    with pytest.raises(Cancelled), Delivery(sample_clip, edit.info, RANGE, spec, cancel=cancel) as delivery:
        for k in range(9):
            if k == 3:
                cancel.cancel()
            delivery.write(edit.sources[k], edit.outputs[k], edit.alphas[k])
    assert listing(tmp_path) == []


def test_finish_before_every_frame_is_refused(edit: Edit, sample_clip: Path, tmp_path: Path) -> None:
    spec = DeliverySpec(tmp_path / "out")
    with (
        pytest.raises(OutputError, match=r"only 2 of the 9 frames of 30:39 were written"),
        Delivery(sample_clip, edit.info, RANGE, spec) as delivery,
    ):
        for k in range(2):
            delivery.write(edit.sources[k], edit.outputs[k], edit.alphas[k])
        delivery.finish({})
    assert listing(tmp_path) == []


def test_leaving_without_finish_is_an_error_and_leaves_nothing(
    edit: Edit, sample_clip: Path, tmp_path: Path
) -> None:
    spec = DeliverySpec(tmp_path / "out", deliver={"media", "matte", "sheet"})
    with (
        pytest.raises(OutputError, match="without finish"),
        Delivery(sample_clip, edit.info, RANGE, spec) as d,
    ):
        d.write(edit.sources[0], edit.outputs[0], edit.alphas[0])
    assert listing(tmp_path) == []


def test_wrong_frames_are_refused(edit: Edit, sample_clip: Path, tmp_path: Path) -> None:
    spec = DeliverySpec(tmp_path / "out", deliver={"media"})
    with pytest.raises(EditInputError, match="deliver frames at source resolution"):  # noqa: SIM117
        with Delivery(sample_clip, edit.info, RANGE, spec) as delivery:
            delivery.write(edit.sources[0][:-2], edit.outputs[0][:-2], edit.alphas[0][:-2])
    tiny = FrameRange(30, 31)
    with (
        pytest.raises(OutputError, match="already; call finish"),
        Delivery(sample_clip, edit.info, tiny, spec) as d,
    ):
        d.write(edit.sources[0], edit.outputs[0], edit.alphas[0])
        d.write(edit.sources[1], edit.outputs[1], edit.alphas[1])
    assert listing(tmp_path) == []


# -- where it may write -------------------------------------------------------------------------


def test_an_existing_folder_needs_overwrite(edit: Edit, sample_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    with pytest.raises(OutputError, match="already exists; choose another path or pass --overwrite"):
        Delivery(sample_clip, edit.info, RANGE, DeliverySpec(out))
    assert listing(tmp_path) == ["out", "out/keep.txt"]


def test_overwrite_never_deletes_a_users_folder(edit: Edit, sample_clip: Path, tmp_path: Path) -> None:
    """`river edit … --out victim --overwrite` deleted the user's notes.txt and sub/: now refused up
    front, before any frame is rendered."""
    victim = tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "notes.txt").write_text("mine")
    (victim / "sub" / "plan.txt").write_text("mine too")
    spec = DeliverySpec(victim, fmt="ffv1", deliver={"media"}, overwrite=True)
    with pytest.raises(OutputError, match=r"victim/ is not a folder RIVER wrote"):
        Delivery(sample_clip, edit.info, RANGE, spec)
    short = Edit(sample_clip, FrameRange(30, 31))
    river_out = short.deliver(sample_clip, replace(spec, out_dir=tmp_path / "river"))
    (river_out.out_dir / "notes.txt").write_text("added by the user after the delivery")
    (river_out.out_dir / "sub").mkdir()
    foreign = r"river/ holds files RIVER did not write \(notes.txt, sub/\); move them or choose another --out"
    with pytest.raises(OutputError, match=foreign):
        Delivery(sample_clip, edit.info, RANGE, replace(spec, out_dir=tmp_path / "river"))
    assert (victim / "notes.txt").read_text() == "mine" and (victim / "sub" / "plan.txt").is_file()
    assert (river_out.out_dir / "notes.txt").is_file() and river_out.media is not None
    assert river_out.media.is_file()


def test_overwrite_replaces_only_when_the_new_one_is_complete(sample_clip: Path, tmp_path: Path) -> None:
    short = Edit(sample_clip, FrameRange(30, 32))
    out = tmp_path / "out"
    first = short.deliver(sample_clip, DeliverySpec(out, fmt="ffv1", deliver={"media"}))
    before = listing(tmp_path)
    spec = DeliverySpec(out, deliver={"media", "matte"}, overwrite=True)  # prores, the default
    with pytest.raises(RuntimeError), Delivery(sample_clip, short.info, short.range, spec) as delivery:
        delivery.write(short.sources[0], short.outputs[0], short.alphas[0])
        raise RuntimeError("the job failed")
    assert listing(tmp_path) == before and first.media is not None  # the old delivery is intact
    result = short.deliver(sample_clip, spec)
    assert "edited.mkv" not in listing(out) and "edited.mov" in listing(out)
    assert result.media is not None and probe(result.media).profile == "HQ"
    assert len(listing(tmp_path)) == len(listing(out)) + 1


def test_the_source_is_never_the_output(sample_clip: Path, edit: Edit, copy_of, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is the source media"):
        Delivery(sample_clip, edit.info, RANGE, DeliverySpec(sample_clip, overwrite=True))
    source = copy_of(sample_clip)  # tmp_path/src/dog_3s.mp4
    with pytest.raises(OutputError, match="contains the source media"):
        Delivery(source, edit.info, RANGE, DeliverySpec(source.parent, overwrite=True))
    assert source.is_file()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fmt": "prores4444"}, "delivered as matte.mov"),
        ({"fmt": "mxf"}, "is not one of: prores, dnxhr, h264, ffv1, png"),
        ({"fmt": "h264", "stem": "preview"}, "'preview.mp4' clashes with 'preview.mp4', a file the delivery"),
        ({"fmt": "h264", "stem": "Preview"}, "clashes with 'preview.mp4'"),  # case-insensitive volumes
        ({"fmt": "png", "stem": "matte"}, "clashes with 'matte'"),
        ({"stem": "a/b"}, "'a/b' contains a path separator; give a plain file name"),
        ({"stem": "a\\b"}, "contains a path separator"),
        ({"stem": ".edited"}, "starts with a dot and would be hidden"),
        ({"stem": ""}, "is empty"),
        ({"stem": "cut:1"}, "which some systems refuse in file names"),
        ({"stem": " edited"}, "surrounding spaces"),
        ({"deliver": frozenset()}, "`deliver` is empty; choose one or more of: media, matte, preview, sheet"),
        (
            {"deliver": {"media", "mattes"}},
            "`deliver` names 'mattes'; choose from: media, matte, preview, sheet",
        ),
        ({"deliver": {"preview", "sheet"}}, "has neither media nor matte"),
        ({"deliver": 3}, "must be a set of names"),
    ],
)
def test_bad_specs_are_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(OutputError, match=message):
        DeliverySpec(tmp_path / "out", **kwargs)


def test_qc_flags_an_output_that_touches_the_outside(edit: Edit, sample_clip: Path, tmp_path: Path) -> None:
    spec = DeliverySpec(tmp_path / "out", fmt="ffv1", deliver={"media"})
    frame_range = FrameRange(30, 32)
    with Delivery(sample_clip, edit.info, frame_range, spec) as delivery:
        for k in range(2):
            output = edit.outputs[k].copy()
            output[10, 10] ^= 1  # far from the box
            delivery.write(edit.sources[k], output, edit.alphas[k])
        result = delivery.finish({})
    assert not result.qc.passed
    doc = json.loads(result.provenance.read_text())
    assert doc["qc"]["passed"] is False and doc["qc"]["frames_differing_outside"] == 2
    assert "differ from the source in 2 of 2 frames" in doc["qc"]["flags"][0]


def test_the_range_must_be_in_the_clip(edit: Edit, sample_clip: Path, tmp_path: Path) -> None:
    with pytest.raises(RangeError):
        Delivery(sample_clip, edit.info, FrameRange(80, 95), DeliverySpec(tmp_path / "out"))
    assert listing(tmp_path) == []


def test_a_vfr_source_with_audio_needs_the_first_frames_time(
    edit: Edit, sample_clip: Path, tmp_path: Path
) -> None:
    vfr = replace(edit.info, variable_frame_rate=True)
    spec = DeliverySpec(tmp_path / "out", fmt="ffv1", deliver={"media"})
    with (
        pytest.raises(OutputError, match="variable frame rate"),
        Delivery(sample_clip, vfr, RANGE, spec) as d,
    ):
        d.write(edit.sources[0], edit.outputs[0], edit.alphas[0])
    with (
        VideoReader(sample_clip, edit.info) as reader,
        Delivery(sample_clip, vfr, FrameRange(30, 31), spec) as d,
    ):
        (frame,) = reader.frames(FrameRange(30, 31))
        d.write(frame.image, frame.image, np.zeros(frame.image.shape[:2], np.float32), time=frame.time)
        d.finish({})
    assert (tmp_path / "out" / "edited.mkv").is_file()


# -- which deliverables ------------------------------------------------------------------------


@pytest.mark.parametrize("deliver", [{"matte"}, {"media", "sheet"}, "matte,preview"])
def test_only_the_chosen_deliverables_are_written(sample_clip: Path, tmp_path: Path, deliver) -> None:
    short = Edit(sample_clip, FrameRange(30, 33))
    spec = DeliverySpec(tmp_path / "out", deliver=deliver)
    result = short.deliver(sample_clip, spec)
    chosen = spec.deliver
    assert chosen == frozenset(deliver.split(",") if isinstance(deliver, str) else deliver)
    files = {
        "media": ["edited.mov"],
        "matte": ["matte", "matte.mov"],
        "preview": ["preview.mp4"],
        "sheet": ["contact_sheet.png"],
    }
    expected = [MANIFEST, "provenance.json", *(f for name in chosen for f in files[name])]
    assert sorted(p.name for p in result.out_dir.iterdir()) == sorted(expected)
    assert (result.media is not None) == ("media" in chosen)
    assert (result.matte_dir is not None) == (result.matte_movie is not None) == ("matte" in chosen)
    assert (result.preview is not None) == ("preview" in chosen)
    assert (result.sheet is not None) == ("sheet" in chosen)
    doc = json.loads(result.provenance.read_text())
    assert doc["delivery"]["deliver"] == [name for name in DELIVERABLES if name in chosen]
    assert result.qc.frames == 3 and doc["qc"]["frames"] == 3  # the QC runs whatever is delivered
    if "media" not in chosen:
        assert result.audio_samples == () and result.to_json()["media"] is None


def test_everything_is_delivered_by_default(tmp_path: Path) -> None:
    assert DeliverySpec(tmp_path).deliver == frozenset(DELIVERABLES) == {"media", "matte", "preview", "sheet"}


# -- the deliverables encode side by side --------------------------------------------------------


def decode_all(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgba") for f in container.decode(video=0)])


def test_serial_and_concurrent_deliveries_are_identical(
    edit: Edit, sample_clip: Path, tmp_path: Path
) -> None:
    serial = edit.deliver(sample_clip, DeliverySpec(tmp_path / "serial"), concurrent=False)
    concurrent = edit.deliver(sample_clip, DeliverySpec(tmp_path / "concurrent"), concurrent=True)
    pngs = [p for p in listing(serial.out_dir) if p.endswith(".png")]
    assert len(pngs) == 10  # nine mattes and the contact sheet
    for name in pngs:
        assert (serial.out_dir / name).read_bytes() == (concurrent.out_dir / name).read_bytes(), name
    for name in ("edited.mov", "matte.mov", "preview.mp4"):
        a, b = decode_all(serial.out_dir / name), decode_all(concurrent.out_dir / name)
        assert a.shape[0] == 9 and np.array_equal(a, b), name
    np.testing.assert_array_equal(
        decode_audio(serial.out_dir / "edited.mov"), decode_audio(concurrent.out_dir / "edited.mov")
    )
    assert serial.qc == concurrent.qc and serial.audio_samples == concurrent.audio_samples


def test_each_movie_encodes_in_its_own_thread(
    edit: Edit, sample_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = encode.MediaWriter.write_video
    seen: dict[str, set[str]] = {}

    def recording(self: encode.MediaWriter, image: np.ndarray) -> None:
        seen.setdefault(self.path.name, set()).add(threading.current_thread().name)
        real(self, image)

    monkeypatch.setattr(encode.MediaWriter, "write_video", recording)
    short = Edit(sample_clip, FrameRange(30, 33))
    short.deliver(sample_clip, DeliverySpec(tmp_path / "a"))
    threads = [name for names in seen.values() for name in names]
    assert sorted(seen) == ["edited.mov", "matte.mov", "preview.mp4"]
    assert len(threads) == 3 and len(set(threads)) == 3 and threading.main_thread().name not in threads
    seen.clear()
    short.deliver(sample_clip, DeliverySpec(tmp_path / "b"), concurrent=False)
    assert {name for names in seen.values() for name in names} == {threading.current_thread().name}


def river_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("river-deliver-")]


def test_an_error_in_a_worker_surfaces_in_the_caller_and_leaves_nothing(
    edit: Edit, sample_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = encode.MediaWriter.write_video

    def failing(self: encode.MediaWriter, image: np.ndarray) -> None:
        if self.path.name == "matte.mov" and self.frames_written == 2:
            raise RuntimeError("the matte encoder broke on its third frame")
        real(self, image)

    monkeypatch.setattr(encode.MediaWriter, "write_video", failing)
    with pytest.raises(RuntimeError, match=r"^the matte encoder broke on its third frame$"):
        edit.deliver(sample_clip, DeliverySpec(tmp_path / "deep" / "out"))
    assert listing(tmp_path) == [] and river_threads() == []


def test_a_full_disk_in_a_worker_is_one_clear_error(
    edit: Edit, sample_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Image.Image.save

    def save(self: Image.Image, fp, *args, **kwargs) -> None:
        if "matte.000033" in str(fp):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)
    with pytest.raises(OutputError, match=r"disk full while writing .*out; free some space"):
        edit.deliver(sample_clip, DeliverySpec(tmp_path / "out"))
    assert listing(tmp_path) == [] and river_threads() == []


def test_a_cancel_stops_every_worker_at_once(
    edit: Edit, sample_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The preview encoder is slow (its queue fills up): a cancel must not wait for it to drain."""
    cancel = CancelToken()
    real = encode.MediaWriter.write_video
    after_cancel: list[str] = []

    def slow(self: encode.MediaWriter, image: np.ndarray) -> None:
        if cancel.cancelled:
            after_cancel.append(self.path.name)
        if self.path.name == "preview.mp4":
            threading.Event().wait(0.3)
        real(self, image)

    def progress(event) -> None:
        if event.done == 5:
            cancel.cancel("stopped by the editor")

    monkeypatch.setattr(encode.MediaWriter, "write_video", slow)
    spec = DeliverySpec(tmp_path / "out")
    with (
        pytest.raises(Cancelled, match="stopped by the editor"),
        Delivery(sample_clip, edit.info, RANGE, spec, cancel=cancel, progress=progress) as delivery,
    ):
        for k in range(9):
            delivery.write(edit.sources[k], edit.outputs[k], edit.alphas[k])
    assert listing(tmp_path) == [] and river_threads() == []
    # at most the frame each worker had started when the cancel came; queued frames are dropped
    assert all(after_cancel.count(name) <= 1 for name in set(after_cancel)), after_cancel


def test_the_callers_buffers_may_be_reused_after_write(edit: Edit, sample_clip: Path, tmp_path: Path) -> None:
    """A renderer that writes every frame into the same arrays gets the same delivery."""
    short = Edit(sample_clip, FrameRange(30, 34))
    spec = DeliverySpec(tmp_path / "reused", fmt="ffv1", deliver={"media", "matte"})
    source, output = np.empty_like(short.sources[0]), np.empty_like(short.outputs[0])
    alpha = np.empty_like(short.alphas[0])
    with Delivery(sample_clip, short.info, short.range, spec) as delivery:
        for s, o, a in zip(short.sources, short.outputs, short.alphas, strict=True):
            source[:], output[:], alpha[:] = s, o, a
            delivery.write(source, output, alpha)
            source[:], output[:], alpha[:] = 0, 0, 0  # the next frame's render starts
        result = delivery.finish({})
    assert result.media is not None
    np.testing.assert_array_equal(read_frames(result.media, FrameRange(0, 4)), np.stack(short.outputs))


# -- rotated sources: PNGs upright, movies tagged -----------------------------------------------


def test_a_rotated_source_gives_upright_pngs_that_line_up(
    make_clip: Callable[..., Path], ffmpeg_exe: str, tmp_path: Path
) -> None:
    clip = rotated(ffmpeg_exe, make_clip("phone.mp4", frames=8), 90)
    info = probe(clip)
    assert (info.rotation, info.width, info.height, info.display_size) == (90, 320, 240, (240, 320))
    frame_range = FrameRange(2, 6)
    sources = read_frames(clip, frame_range)  # [4, 240, 320, 3]: stored, lying on its side
    alpha = np.zeros((240, 320), np.float32)
    alpha[20:90, 150:300] = 1.0  # a box off every axis of symmetry
    outputs = [composite(s, 255 - s, alpha) for s in sources]
    spec = DeliverySpec(tmp_path / "out", fmt="png")
    with Delivery(clip, info, frame_range, spec) as delivery:
        for s, o in zip(sources, outputs, strict=True):
            delivery.write(s, o, alpha)
        result = delivery.finish({})
    assert result.media is not None and result.matte_dir is not None
    matte_upright = np.rot90(np.floor(alpha * 255 + 0.5).astype(np.uint8), 1)
    for k in range(4):
        with Image.open(result.media / f"frame_{2 + k:06d}.png") as image:
            frame = np.asarray(image)
        with Image.open(result.matte_dir / f"matte.{2 + k:06d}.png") as image:
            matte_png = np.asarray(image)
        assert frame.shape == (320, 240, 3) and matte_png.shape == (320, 240)  # portrait, as displayed
        np.testing.assert_array_equal(frame, np.rot90(outputs[k], 1))
        np.testing.assert_array_equal(matte_png, matte_upright)
        upright_source = np.rot90(sources[k], 1)
        inside = matte_png == 255  # the matte lines up with the PNG frames: inverted inside, source outside
        np.testing.assert_array_equal(frame[inside], 255 - upright_source[inside])
        np.testing.assert_array_equal(frame[~inside], upright_source[~inside])
    sequence = json.loads((result.media / "sequence.json").read_text())
    assert (sequence["orientation"], sequence["source_rotation"]) == ("upright", 90)
    assert (sequence["width"], sequence["height"]) == (240, 320)
    assert result.matte_movie is not None
    movie = probe(result.matte_movie)  # movies: stored orientation, rotation tag
    assert (movie.rotation, movie.width, movie.height) == (90, 320, 240)
    doc = json.loads(result.provenance.read_text())
    assert "PNGs are stored upright" in doc["delivery"]["notes"][0]


# -- colour tags -------------------------------------------------------------------------------


def stream_color(path: Path) -> tuple[int, int, int, int]:
    """(matrix, primaries, transfer, range) codes as the container describes the video stream."""
    with av.open(str(path)) as container:
        cc = container.streams.video[0].codec_context  # before decoding: the container's tags
        return cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range


def test_a_bt470bg_source_stays_bt470bg_in_every_yuv_deliverable(
    make_clip: Callable[..., Path], tmp_path: Path
) -> None:
    """bt470bg and smpte170m share the BT.601 matrix, but the tag must be the source's."""
    clip = make_clip("pal.mp4", frames=6, vf=BT470BG)
    info = probe(clip)
    assert info.colorspace == "bt470bg" and stream_color(clip) == (5, 5, 5, 1)
    sources = read_frames(clip, FrameRange(0, 6))
    alpha = np.zeros((240, 320), np.float32)
    alpha[50:100, 50:150] = 1.0
    spec = DeliverySpec(tmp_path / "out", fmt="h264")
    with Delivery(clip, info, FrameRange(0, 6), spec) as delivery:
        for s in sources:
            delivery.write(s, composite(s, 255 - s, alpha), alpha)
        result = delivery.finish({})
    assert result.media is not None and result.matte_movie is not None and result.preview is not None
    assert probe(result.media).colorspace == "bt470bg"  # in the H.264 stream itself
    for movie in (result.media, result.matte_movie, result.preview):
        assert stream_color(movie) == (5, 5, 5, 1), movie.name  # matrix, primaries, transfer: bt470bg; tv
    doc = json.loads(result.provenance.read_text())
    assert doc["delivery"]["color"] == {
        "matrix": "bt470bg",
        "primaries": "bt470bg",
        "transfer": "bt470bg",
        "range": "tv",
    }
    np.testing.assert_array_equal(read_frames(result.media, FrameRange(0, 1))[0].shape, (240, 320, 3))
    assert psnr(read_frames(result.media, FrameRange(1, 2))[0], sources[1]) < 30  # it is the edit
