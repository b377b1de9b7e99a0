import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from river_core.errors import MediaError, MediaNotFoundError
from river_core.media.probe import probe
from river_core.media.rational import Timecode

NTSC = Fraction(30000, 1001)


@pytest.mark.shared_media
def test_dog_clip_matches_the_issue(shared_media) -> None:
    info = probe(shared_media("01_dog.mp4"))
    assert info.rate == NTSC
    assert info.frame_count == 289
    assert (info.width, info.height) == (1280, 720)
    assert [a.codec for a in info.audio] == ["aac"]
    assert info.audio[0].sample_rate == 48000 and info.audio[0].channels == 2
    assert info.start_timecode == Timecode(0, NTSC)
    assert not info.variable_frame_rate


@pytest.mark.shared_media
@pytest.mark.parametrize(
    ("name", "rate", "frames", "size", "n_audio"),
    [
        ("bedroom.mp4", Fraction(30), 200, (960, 540), 0),
        ("05_default_juggle.mp4", Fraction(24), 247, (1280, 720), 0),
        ("02_cups.mp4", NTSC, 300, (1280, 720), 1),
    ],
)
def test_other_shared_clips(shared_media, name, rate, frames, size, n_audio) -> None:
    info = probe(shared_media(name))
    assert (info.rate, info.frame_count, (info.width, info.height), len(info.audio)) == (
        rate,
        frames,
        size,
        n_audio,
    )
    assert info.to_json()["rate"] == f"{rate.numerator}/{rate.denominator}"


def test_bundled_sample(sample_clip: Path) -> None:
    info = probe(sample_clip)
    assert (info.rate, info.frame_count, info.width, info.height) == (NTSC, 90, 1280, 720)
    assert info.duration == Fraction(90) / NTSC
    assert info.audio[0].duration_samples == 144144


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("24000/1001", Fraction(24000, 1001)),
        ("25", Fraction(25)),
        ("50", Fraction(50)),
        ("60000/1001", Fraction(60000, 1001)),
        ("24", Fraction(24)),
    ],
)
def test_rates_are_exact_fractions(make_clip, rate: str, expected: Fraction) -> None:
    info = probe(make_clip(f"r{rate.replace('/', '_')}.mp4", rate=rate, frames=30))
    assert info.rate == expected
    assert info.frame_count == 30
    assert not info.variable_frame_rate


def test_drop_frame_timecode_and_audio(make_clip) -> None:
    path = make_clip("df.mov", timecode="01:00:00;00", audio="sine", acodec="pcm_s16le", frames=20)
    info = probe(path)
    assert info.start_timecode == Timecode.parse("01:00:00;00", NTSC)
    assert info.start_timecode.drop_frame
    assert info.to_json()["start_timecode"] == "01:00:00;00"
    (audio,) = info.audio
    assert (audio.codec, audio.sample_rate, audio.channels) == ("pcm_s16le", 48000, 1)


def test_non_drop_timecode_at_25(make_clip) -> None:
    info = probe(make_clip("tc25.mov", rate="25", timecode="10:00:00:00", frames=10))
    assert info.start_timecode == Timecode(10 * 3600 * 25, Fraction(25))
    assert not info.start_timecode.drop_frame


def test_matroska_counts_frames_without_an_index(make_clip) -> None:
    info = probe(make_clip("ffv1.mkv", vcodec="ffv1", frames=23, rate="25"))
    assert info.frame_count == 23
    assert info.rate == 25
    assert info.codec == "ffv1"


def test_rotation_metadata(make_clip, ffmpeg_exe, tmp_path) -> None:
    plain = make_clip("rot_src.mp4", size=(320, 240), frames=10)
    rotated = tmp_path / "rotated.mp4"
    subprocess.run(
        [
            ffmpeg_exe,
            "-loglevel",
            "error",
            "-display_rotation",
            "90",
            "-i",
            str(plain),
            "-c",
            "copy",
            str(rotated),
        ],
        check=True,
    )
    info = probe(rotated)
    assert info.rotation == 90
    assert (info.width, info.height) == (320, 240)
    assert info.display_size == (240, 320)


def test_variable_frame_rate_is_detected(make_clip) -> None:
    # drop a few frames but keep the others' timestamps: the gaps make the stream VFR
    path = make_clip(
        "vfr.mp4",
        frames=40,
        vf="select='not(eq(n\\,5)+eq(n\\,6)+eq(n\\,20))'",
        extra=("-fps_mode", "passthrough"),
    )
    info = probe(path)
    assert info.variable_frame_rate
    assert info.frame_count == 40  # -frames:v counts output frames
    assert any("variable frame rate" in w for w in info.warnings)


def test_constant_rate_clip_is_not_flagged(make_clip) -> None:
    assert not probe(make_clip("cfr.mp4", frames=40)).variable_frame_rate


# -- bad input: one clear error each ---------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaNotFoundError, match="does not exist"):
        probe(tmp_path / "nope.mp4")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="is a directory"):
        probe(tmp_path)


def test_zero_byte_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(MediaError, match=r"is empty \(0 bytes\)"):
        probe(empty)


def test_text_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(MediaError, match=r"not a (media|video) file"):
        probe(text)


def test_random_bytes(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mov"
    junk.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(MediaError, match=r"not a (media|video) file"):
        probe(junk)


def test_audio_only(ffmpeg_exe: str, tmp_path: Path) -> None:
    audio = tmp_path / "voice.m4a"
    subprocess.run(
        [ffmpeg_exe, "-loglevel", "error", "-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", str(audio)],
        check=True,
    )
    with pytest.raises(MediaError, match="has audio but no video stream"):
        probe(audio)


def test_still_image(ffmpeg_exe: str, tmp_path: Path) -> None:
    image = tmp_path / "frame.png"
    subprocess.run(
        [
            ffmpeg_exe,
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=64x48",
            "-frames:v",
            "1",
            str(image),
        ],
        check=True,
    )
    with pytest.raises(MediaError, match="still image"):
        probe(image)


def test_truncated_file_with_index_at_the_end(make_clip, tmp_path: Path) -> None:
    data = make_clip("trunc_src.mp4", frames=60).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # the moov atom (at the end) is gone
    with pytest.raises(MediaError, match="not a media file FFmpeg can read"):
        probe(cut)


def test_truncated_file_with_index_first(make_clip, tmp_path: Path) -> None:
    data = make_clip("trunc_fast.mp4", frames=60, extra=("-movflags", "+faststart")).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])  # the index survives, the media data does not
    with pytest.raises(MediaError, match="is truncated"):
        probe(cut)


def test_content_hash_is_the_sha256_of_the_bytes(sample_clip: Path, tmp_path: Path) -> None:
    import hashlib

    from river_core.media import content_hash

    expected = "sha256:" + hashlib.sha256(sample_clip.read_bytes()).hexdigest()
    assert content_hash(sample_clip) == expected
    moved = tmp_path / "renamed.mp4"
    moved.write_bytes(sample_clip.read_bytes())
    assert content_hash(moved) == expected  # the identity does not depend on the path


def test_wide_gamut_sources_are_flagged(make_clip) -> None:
    path = make_clip("bt2020.mp4", frames=5, extra=("-colorspace", "bt2020nc", "-color_primaries", "bt2020"))
    info = probe(path)
    assert info.colorspace == "bt2020nc"
    assert any("BT.2020" in w for w in info.warnings)
    assert not probe(make_clip("bt709.mp4", frames=5, extra=("-colorspace", "bt709"))).warnings


def test_mxf_timecode_and_pcm(make_clip) -> None:
    path = make_clip(
        "dnxhd.mxf",
        rate="25",
        size=(1920, 1080),
        frames=6,
        vcodec="dnxhd",
        audio="sine",
        acodec="pcm_s16le",
        timecode="10:00:00:00",
        extra=("-b:v", "115M", "-pix_fmt", "yuv422p"),
    )
    info = probe(path)
    assert (info.codec, info.rate, info.frame_count) == ("dnxhd", 25, 6)
    assert str(info.start_timecode) == "10:00:00:00"
    assert info.audio[0].codec == "pcm_s16le"
