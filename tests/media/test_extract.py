import errno
import json
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from av.video.reformatter import Colorspace
from PIL import Image

from river_core.atomic import MANIFEST
from river_core.errors import Cancelled, OutputError, RangeError
from river_core.media import encode
from river_core.media.decode import read_frames
from river_core.media.extract import extract
from river_core.media.probe import probe
from river_core.media.rational import FrameRange, Timecode, frames_to_samples
from river_core.progress import CancelToken, ProgressEvent
from tests.clips import BT470BG, ffmpeg_upright_frame, rotated
from tests.helpers import listing, psnr, sha256

NTSC = Fraction(30000, 1001)
EXT = {"prores": ".mov", "dnxhr": ".mov", "h264": ".mp4", "ffv1": ".mkv", "png": ""}


def decode_audio(path: Path, stream: int = 0) -> np.ndarray:
    """Every sample of an audio stream as float32 [channels, n], decoded from the top."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="fltp")
        chunks = [g.to_ndarray() for f in container.decode(audio=stream) for g in resampler.resample(f)]
    return np.concatenate(chunks, axis=1)


def counter(n0: int, n: int) -> np.ndarray:
    """The left channel of the "counter" fixture for absolute samples n0 … n0+n-1."""
    return ((np.arange(n0, n0 + n) % 65536) / 32768 - 1).astype(np.float32)


# -- the must-show on real footage ---------------------------------------------------


@pytest.mark.shared_media
def test_dog_frames_30_to_120_to_ffv1_are_bit_identical(shared_media, tmp_path: Path) -> None:
    src = shared_media("01_dog.mp4")
    out = tmp_path / "dog.mkv"
    result = extract(src, FrameRange(30, 120), "ffv1", out)
    assert result.frame_count == 90
    np.testing.assert_array_equal(read_frames(out, FrameRange(0, 90)), read_frames(src, FrameRange(30, 120)))


@pytest.mark.shared_media
def test_dog_frames_30_to_120_to_prores(shared_media, tmp_path: Path) -> None:
    src = shared_media("01_dog.mp4")
    out = tmp_path / "dog.mov"
    extract(src, FrameRange(30, 120), "prores", out)
    info = probe(out)
    assert (info.codec, info.frame_count, info.rate) == ("prores", 90, NTSC)
    assert info.profile == "HQ"
    assert info.start_timecode == probe(src).start_timecode + 30
    assert str(info.start_timecode) == "00:00:01:00"
    (audio,) = info.audio
    # 90 frames at 30000/1001 are exactly 144144 samples at 48 kHz
    assert audio.duration_samples == frames_to_samples(90, NTSC, 48000) == 144144
    assert decode_audio(out).shape[1] == 144144
    assert psnr(read_frames(out, FrameRange(0, 90))[::10], read_frames(src, FrameRange(30, 120))[::10]) > 40


# -- every format on the bundled sample ------------------------------------------------------


@pytest.mark.parametrize("fmt", ["ffv1", "png", "prores", "dnxhr", "h264"])
def test_every_format_keeps_frames_rate_timecode_and_audio(
    sample_clip: Path, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"out{EXT[fmt]}"
    result = extract(sample_clip, FrameRange(12, 29), fmt, out)
    assert result.frame_count == 17 and result.audio_samples == (frames_to_samples(17, NTSC, 48000),)
    source = read_frames(sample_clip, FrameRange(12, 29))
    if fmt == "png":
        files = sorted(p.name for p in out.iterdir())
        assert files[:3] == [MANIFEST, "audio.wav", "frame_000012.png"]
        assert files[-2:] == ["frame_000028.png", "sequence.json"]
        meta = json.loads((out / "sequence.json").read_text())
        assert (meta["rate"], meta["timecode"], meta["frame_count"], meta["first_frame"]) == (
            "30000/1001",
            "00:00:00:12",
            17,
            12,
        )
        assert (meta["width"], meta["height"], meta["orientation"], meta["source_rotation"]) == (
            1280,
            720,
            "upright",
            0,
        )
        pngs = np.stack(
            [
                np.asarray(__import__("PIL.Image").Image.open(out / f"frame_{i:06d}.png"))
                for i in range(12, 29)
            ]
        )
        np.testing.assert_array_equal(pngs, source)
        assert decode_audio(out / "audio.wav").shape[1] == 27227
        return
    info = probe(out)
    assert (info.frame_count, info.rate, info.width, info.height) == (17, NTSC, 1280, 720)
    assert str(info.start_timecode) == "00:00:00:12"
    decoded = read_frames(out, FrameRange(0, 17))
    if fmt == "ffv1":
        np.testing.assert_array_equal(decoded, source)
    else:
        assert psnr(decoded, source) > 36
    n_audio = decode_audio(out).shape[1]
    expected = frames_to_samples(17, NTSC, 48000)
    # AAC pads to whole 1024-sample frames; PCM is exact
    assert n_audio == expected if fmt != "h264" else 0 <= n_audio - expected < 1024


# -- sample-accurate audio -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "sample_rate", "frame_range"),
    [
        ("30000/1001", 48000, (30, 50)),
        ("25", 44100, (7, 20)),
        ("24000/1001", 44100, (30, 45)),
        ("30000/1001", 48000, (1, 2)),
    ],
)
def test_audio_is_trimmed_to_the_exact_sample(make_clip, tmp_path, rate, sample_rate, frame_range) -> None:
    src = make_clip(
        f"count_{rate.replace('/', '_')}_{sample_rate}.mov",
        rate=rate,
        frames=60,
        audio="counter",
        sample_rate=sample_rate,
    )
    start, end = frame_range
    out = tmp_path / "out.mkv"
    extract(src, FrameRange(start, end), "ffv1", out)
    got = decode_audio(out)
    r = Fraction(rate)
    first = frames_to_samples(start, r, sample_rate)
    n = frames_to_samples(end - start, r, sample_rate)
    assert got.shape == (2, n)
    np.testing.assert_array_equal(got[0], counter(first, n))


@pytest.mark.parametrize(
    ("source_codec", "fmt"), [("pcm_s16le", "prores"), ("pcm_s16le", "png"), ("pcm_s24le", "ffv1")]
)
def test_pcm_sources_keep_their_sample_format(make_clip, tmp_path, source_codec, fmt) -> None:
    src = make_clip(f"pcm_{source_codec}.mov", frames=30, audio="counter", acodec=source_codec)
    out = tmp_path / f"out{EXT[fmt]}"
    extract(src, FrameRange(5, 20), fmt, out)
    audio_file = out / "audio.wav" if fmt == "png" else out
    with av.open(str(audio_file)) as container:
        assert container.streams.audio[0].codec_context.name == source_codec
    first, n = frames_to_samples(5, NTSC, 48000), frames_to_samples(15, NTSC, 48000)
    np.testing.assert_array_equal(decode_audio(audio_file)[0], counter(first, n))


def test_lossy_source_audio_matches_a_full_decode(make_clip, tmp_path) -> None:
    """Seeking into AAC must not change a single sample compared with decoding from the top."""
    src = make_clip("sweep_aac.mp4", frames=90, audio="sweep", acodec="aac", extra=("-aac_pns", "0"))
    out = tmp_path / "out.mov"
    extract(src, FrameRange(40, 70), "prores", out)
    reference = decode_audio(src)
    got = decode_audio(out)
    first, n = frames_to_samples(40, NTSC, 48000), frames_to_samples(30, NTSC, 48000)
    assert got.shape[1] == n
    np.testing.assert_allclose(got, reference[:, first : first + n], atol=2.0**-22)


def test_missing_audio_at_the_end_becomes_silence(make_clip, tmp_path) -> None:
    src = make_clip("short_audio.mov", frames=40, audio="counter", extra=("-af", "atrim=end_sample=10000"))
    out = tmp_path / "out.mkv"
    extract(src, FrameRange(0, 30), "ffv1", out)
    got = decode_audio(out)
    assert got.shape[1] == 48048  # the video's duration, whatever the source audio holds
    np.testing.assert_array_equal(got[0, :10000], counter(0, 10000))
    assert not got[:, 10000:].any()


# -- timecode and metadata -------------------------------------------------------------------


def test_drop_frame_timecode_offset(make_clip, tmp_path) -> None:
    src = make_clip("df59.mov", frames=80, timecode="00:00:59;00")
    out = tmp_path / "out.mov"
    result = extract(src, FrameRange(60, 70), "dnxhr", out)
    # 00:00:59;00 + 60 frames crosses the minute, where ;00 and ;01 are skipped
    assert str(result.timecode) == "00:01:01;02"
    assert probe(out).start_timecode == Timecode.parse("00:01:01;02", NTSC)


def test_rotation_metadata_is_carried(make_clip, ffmpeg_exe, tmp_path) -> None:
    import subprocess

    rotated = tmp_path / "rot.mp4"
    subprocess.run(
        [
            ffmpeg_exe,
            "-loglevel",
            "error",
            "-display_rotation",
            "270",
            "-i",
            str(make_clip("r.mp4", frames=10)),
            "-c",
            "copy",
            str(rotated),
        ],
        check=True,
    )
    out = tmp_path / "out.mov"
    extract(rotated, FrameRange(2, 6), "prores", out)
    assert probe(out).rotation == probe(rotated).rotation == 270


# -- nothing is lost -------------------------------------------------------------------------


def test_cancel_leaves_nothing(sample_clip: Path, tmp_path: Path) -> None:
    token = CancelToken()

    def progress(event: ProgressEvent) -> None:
        if event.done == 5:
            token.cancel("editor pressed stop")

    with pytest.raises(Cancelled, match="editor pressed stop"):
        extract(sample_clip, FrameRange(0, 40), "ffv1", tmp_path / "out.mkv", progress=progress, cancel=token)
    assert listing(tmp_path) == []


@pytest.mark.parametrize("fmt", ["prores", "png"])
def test_disk_full_leaves_nothing(sample_clip: Path, tmp_path: Path, monkeypatch, fmt: str) -> None:
    real = encode.MediaWriter.write_video
    calls = []

    def failing(self, image):
        calls.append(1)
        if len(calls) == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, image)

    monkeypatch.setattr(encode.MediaWriter, "write_video", failing)
    with pytest.raises(OutputError, match="disk full"):
        extract(sample_clip, FrameRange(0, 10), fmt, tmp_path / f"out{EXT[fmt]}")
    assert listing(tmp_path) == []


def test_existing_output_is_kept_unless_overwrite(sample_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mkv"
    out.write_bytes(b"an earlier render")
    with pytest.raises(OutputError, match="already exists"):
        extract(sample_clip, FrameRange(0, 3), "ffv1", out)
    assert out.read_bytes() == b"an earlier render"
    extract(sample_clip, FrameRange(0, 3), "ffv1", out, overwrite=True)
    assert probe(out).frame_count == 3
    assert listing(tmp_path) == ["out.mkv"]


def test_png_folder_overwrite_replaces_the_whole_folder(sample_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "seq"
    extract(sample_clip, FrameRange(0, 4), "png", out)
    extract(sample_clip, FrameRange(10, 12), "png", out, overwrite=True)
    assert sorted(p.name for p in out.glob("*.png")) == ["frame_000010.png", "frame_000011.png"]
    assert listing(tmp_path)[0] == "seq"


def test_png_folder_overwrite_keeps_the_users_files(sample_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "seq"
    extract(sample_clip, FrameRange(0, 2), "png", out)
    (out / "grade.cube").write_text("the colourist's LUT")
    before = listing(tmp_path)
    with pytest.raises(OutputError, match=r"seq/ holds files RIVER did not write \(grade.cube\)"):
        extract(sample_clip, FrameRange(10, 12), "png", out, overwrite=True)
    assert listing(tmp_path) == before
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "frame_000000.png").write_bytes(b"not ours")
    with pytest.raises(OutputError, match="mine/ is not a folder RIVER wrote"):
        extract(sample_clip, FrameRange(0, 2), "png", mine, overwrite=True)
    assert (mine / "frame_000000.png").read_bytes() == b"not ours"


def test_the_source_is_never_overwritten(copy_of, sample_clip: Path, tmp_path: Path) -> None:
    src = copy_of(sample_clip)
    digest = sha256(src)
    for target in (src, src.parent / ".." / "src" / src.name):
        with pytest.raises(OutputError, match="is the source media"):
            extract(src, FrameRange(0, 3), "h264", target, overwrite=True)
    link = tmp_path / "link.mp4"
    os.symlink(src, link)
    with pytest.raises(OutputError, match="is the source media"):
        extract(src, FrameRange(0, 3), "h264", link, overwrite=True)
    assert sha256(src) == digest


def test_wrong_extension_and_range(sample_clip: Path, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"writes \.mov files"):
        extract(sample_clip, FrameRange(0, 3), "prores", tmp_path / "out.mp4")
    with pytest.raises(OutputError, match="folder"):
        extract(sample_clip, FrameRange(0, 3), "png", tmp_path / "out.png")
    with pytest.raises(RangeError, match="it has 90 frames"):
        extract(sample_clip, FrameRange(80, 95), "ffv1", tmp_path / "out.mkv")
    with pytest.raises(OutputError, match="not one of"):
        extract(sample_clip, FrameRange(0, 3), "gif", tmp_path / "out.gif")
    assert listing(tmp_path) == []


def test_odd_sizes_need_a_lossless_format(make_clip, tmp_path: Path) -> None:
    src = make_clip("odd.mkv", vcodec="ffv1", frames=5, vf="scale=97:61")
    with pytest.raises(OutputError, match="even width and height"):
        extract(src, FrameRange(0, 5), "h264", tmp_path / "out.mp4")
    extract(src, FrameRange(0, 5), "ffv1", tmp_path / "out.mkv")
    np.testing.assert_array_equal(
        read_frames(tmp_path / "out.mkv", FrameRange(0, 5)), read_frames(src, FrameRange(0, 5))
    )


def test_re_extracting_from_our_own_matroska_keeps_audio_exact(make_clip, tmp_path) -> None:
    """Matroska stores audio timestamps in milliseconds; samples must still land exactly."""
    src = make_clip("count_for_mkv.mov", frames=60, audio="counter")
    first_pass = tmp_path / "pass1.mkv"
    extract(src, FrameRange(10, 50), "ffv1", first_pass)
    assert probe(first_pass).audio[0].layout == "stereo"
    second_pass = tmp_path / "pass2.mov"
    extract(first_pass, FrameRange(7, 40), "prores", second_pass)
    got = decode_audio(second_pass)
    first = frames_to_samples(10, NTSC, 48000) + frames_to_samples(7, NTSC, 48000)
    n = frames_to_samples(33, NTSC, 48000)
    assert got.shape == (2, n)
    # the frame boundary at 17 frames is 27227.2 samples in: allow the one-sample rounding of each pass
    offsets = [o for o in (-1, 0, 1) if np.array_equal(got[0], counter(first + o, n))]
    assert offsets, "audio samples are misplaced after a Matroska round trip"


def test_mpeg_ts_audio_follows_the_video_clock(make_clip, tmp_path) -> None:
    """Video and audio start 1.4 s+ into an MPEG-TS (and not at the same instant): the extracted
    audio is the samples presented with the extracted frames, on the container's clock."""
    src = make_clip(
        "ts_audio.ts",
        frames=60,
        audio="sweep",
        acodec="aac",
        extra=("-output_ts_offset", "1.4", "-aac_pns", "0"),
    )
    info = probe(src)
    out = tmp_path / "out.mkv"
    extract(src, FrameRange(12, 40), "ffv1", out)
    with av.open(str(src)) as container:
        stream = container.streams.audio[0]
        first_pts = next(container.decode(stream)).pts
        audio_start = round(first_pts * stream.time_base * 48000)
    reference = decode_audio(src)
    first = round((info.video_start_time + Fraction(12) / NTSC) * 48000) - audio_start
    n = frames_to_samples(28, NTSC, 48000)
    got = decode_audio(out)
    assert got.shape[1] == n
    np.testing.assert_allclose(got, reference[:, first : first + n], atol=2.0**-22)


# -- rotated sources -------------------------------------------------------------------------


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_png_frames_of_a_rotated_source_are_upright(make_clip, ffmpeg_exe, tmp_path, degrees) -> None:
    """A PNG has no rotation tag: the frames are stored as displayed, and sequence.json says so."""
    src = rotated(ffmpeg_exe, make_clip("turned.mp4", frames=10), degrees)
    info = probe(src)
    assert info.rotation == degrees
    out = tmp_path / "seq"
    extract(src, FrameRange(0, 4), "png", out)
    stored = read_frames(src, FrameRange(0, 4))  # [4, 240, 320, 3]
    turns = degrees // 90
    for k in range(4):
        with Image.open(out / f"frame_{k:06d}.png") as image:
            np.testing.assert_array_equal(np.asarray(image), np.rot90(stored[k], turns))
    w, h = info.display_size
    meta = json.loads((out / "sequence.json").read_text())
    assert (meta["width"], meta["height"], meta["orientation"], meta["source_rotation"]) == (
        w,
        h,
        "upright",
        degrees,
    )
    # "upright" as ffmpeg shows the clip (its auto-rotation), not merely some rotation
    shown = np.frombuffer(ffmpeg_upright_frame(ffmpeg_exe, src, w, h), np.uint8).reshape(h, w, 3)
    with Image.open(out / "frame_000000.png") as image:
        assert psnr(np.asarray(image), shown) > 35


def test_movies_of_a_rotated_source_keep_the_stored_frames_and_the_tag(
    make_clip, ffmpeg_exe, tmp_path
) -> None:
    src = rotated(ffmpeg_exe, make_clip("turned.mp4", frames=10), 90)
    out = tmp_path / "out.mkv"
    extract(src, FrameRange(0, 3), "ffv1", out)
    info = probe(out)
    assert (info.rotation, info.width, info.height) == (90, 320, 240)
    np.testing.assert_array_equal(read_frames(out, FrameRange(0, 3)), read_frames(src, FrameRange(0, 3)))


# -- colour tags -----------------------------------------------------------------------------


def stream_color(path: Path) -> tuple[int, int, int, int]:
    """(matrix, primaries, transfer, range) codes as the container describes the video stream, read
    before any frame is decoded (a ProRes or DNxHR frame header can only say BT.601 or BT.709)."""
    with av.open(str(path)) as container:
        cc = container.streams.video[0].codec_context
        return cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range


@pytest.mark.parametrize("fmt", ["prores", "dnxhr", "h264", "prores4444"])
def test_the_sources_colour_tags_are_carried(make_clip, tmp_path, fmt) -> None:
    """bt470bg and smpte170m share BT.601's coefficients, but the output is tagged like the source."""
    src = make_clip("pal.mp4", frames=6, vf=BT470BG)
    assert probe(src).colorspace == "bt470bg" and stream_color(src) == (5, 5, 5, 1)
    out = tmp_path / f"out{EXT.get(fmt, '.mov')}"
    extract(src, FrameRange(1, 5), fmt, out)
    assert stream_color(out) == (5, 5, 5, 1)  # bt470bg matrix, primaries and transfer; limited range
    if fmt == "h264":
        assert probe(out).colorspace == "bt470bg"  # the H.264 stream's own tag
    # Converted with BT.601, the matrix the source was decoded with. Decoded here as the container
    # says: FFmpeg's DNxHD decoder marks every frame BT.709 whatever the file says (dnxhd_decode_init).
    with av.open(str(out)) as container:
        frames = [
            f.to_ndarray(format="rgb24", src_colorspace=Colorspace.ITU601) for f in container.decode(video=0)
        ]
    assert psnr(np.stack(frames), read_frames(src, FrameRange(1, 5))) > 32  # BT.709 instead: ~24 dB


@pytest.mark.parametrize(
    ("vf", "size", "want"),
    [
        (
            "setparams=colorspace=smpte170m:color_primaries=smpte170m:color_trc=smpte170m",
            (320, 240),
            (6, 6, 6),
        ),
        ("setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709", (320, 240), (1, 1, 1)),
        (None, (320, 240), (6, 6, 6)),  # untagged SD: BT.601 (smpte170m), as decoded
        (None, (1280, 720), (1, 1, 1)),  # untagged HD: BT.709
    ],
)
def test_other_sources_keep_their_tags_or_get_the_decoders_default(
    make_clip, tmp_path, vf, size, want
) -> None:
    src = make_clip(f"tagged_{size[0]}.mp4", frames=3, vf=vf, size=size)
    out = tmp_path / "out.mov"
    extract(src, FrameRange(0, 2), "prores", out)
    assert stream_color(out) == (*want, 1)


def test_color_tags_refuse_unknown_names() -> None:
    with pytest.raises(OutputError, match="colour matrix 'bt601' is not one of: bt709, bt470bg"):
        encode.ColorTags("bt601")
    assert encode.ColorTags("bt470bg").to_json() == {
        "matrix": "bt470bg",
        "primaries": "bt470bg",
        "transfer": "smpte170m",
        "range": "tv",
    }
