"""MediaFrames is frame-exact against an independent decoder (the ffmpeg binary of imageio-ffmpeg), in
every access order and container; FrameLoader decodes off the UI thread, latest request first."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path

import pytest
from opentimelineio import opentime
from PySide6.QtGui import QImage

from host_plugins.panel.frames import (
    FrameIndexError,
    FrameLoader,
    MediaFrames,
    MediaFramesError,
    MediaInfo,
    smpte,
)

NTSC = Fraction(30000, 1001)


def rgb_bytes(image: QImage) -> bytes:
    """The RGB888 pixels of ``image``, rows without padding (as ffmpeg writes rawvideo rgb24)."""
    assert image.format() == QImage.Format.Format_RGB888
    data, stride, row = bytes(image.constBits()), image.bytesPerLine(), image.width() * 3
    return b"".join(data[y * stride : y * stride + row] for y in range(image.height()))


def distance(a: bytes, b: bytes, step: int = 1) -> float:
    """Mean absolute difference of two equal-size byte strings (every ``step``-th byte)."""
    assert len(a) == len(b)
    a, b = a[::step], b[::step]
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def ffmpeg_frames(ffmpeg_exe: str, path: Path, first: int, last: int) -> list[bytes]:
    """Frames ``first..last`` (by decode output order) of ``path``, decoded by ffmpeg to rgb24."""
    probe = MediaFrames(path)
    size = probe.width * probe.height * 3
    probe.close()
    raw = subprocess.run(
        [ffmpeg_exe, "-hide_banner", "-loglevel", "error", "-i", str(path), "-an",
         "-vf", f"select=between(n\\,{first}\\,{last})", "-fps_mode", "passthrough",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    assert len(raw) == size * (last - first + 1)
    return [raw[i * size : (i + 1) * size] for i in range(last - first + 1)]


ORDERS = {
    "sequential": lambda n: list(range(n)),
    "backward": lambda n: list(range(n - 1, -1, -1)),
    "random": lambda n: random.Random(7).sample(range(n), n),
}


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_every_frame_is_ffmpegs_frame_i(order: str, make_clip, ffmpeg_exe: str) -> None:
    """testsrc2 at 30000/1001 with B-frames and 12-frame GOPs: image(i) is ffmpeg's i-th frame and
    neither of its neighbours (consecutive frames differ by ~4-5 on average, a match is ~0)."""
    path = make_clip("testsrc.mp4", size=(160, 90), frames=30, gop=12, bframes=2)
    reference = ffmpeg_frames(ffmpeg_exe, path, 0, 29)
    with MediaFrames(path, cache_size=0) as media:  # no cache: every step back seeks
        assert (media.rate, media.frames, media.width, media.height) == (NTSC, 30, 160, 90)
        for i in ORDERS[order](30):
            got = rgb_bytes(media.image(i))
            assert distance(got, reference[i], step=7) < 0.5, f"frame {i} is not ffmpeg's frame {i}"
            for j in (i - 1, i + 1):
                if 0 <= j < 30:
                    assert distance(got, reference[j], step=7) > 2, f"frame {i} looks like frame {j}"


def test_the_bundled_sample_frame_by_frame(sample_clip: Path, ffmpeg_exe: str) -> None:
    reference = ffmpeg_frames(ffmpeg_exe, sample_clip, 44, 46)
    with MediaFrames(sample_clip, cache_size=0) as media:
        info = media.info
        assert (info.rate, info.frames, info.width, info.height) == (NTSC, 90, 1280, 720)
        assert info.start_timecode == "00:00:00:00" and not info.drop_frame
        got = rgb_bytes(media.image(45))
        distances = [distance(got, ref, step=101) for ref in reference]
        assert distances[1] < 0.3 and min(distances[0], distances[2]) > 0.8, distances
        media.image(89)  # the last frame decodes
        with pytest.raises(FrameIndexError):
            media.image(90)


def frame_number(image: QImage, channel: int = 0) -> int:
    """The frame a color_clip picture shows, read at its centre (asserted to be near a whole frame)."""
    color = image.pixelColor(image.width() // 2, image.height() // 2).getRgb()[channel]
    n = round(color / 10)
    assert abs(color - 10 * n) <= 4, f"colour {color} is between frames"
    return n


CONTAINERS = {
    # a plain MP4 with B-frames: the demuxer seeks by decode time, which can land after the frame
    "mp4": {},
    # Matroska: millisecond timestamps (1001/30 ms rounds), the stream starting at 5 s, a timecode
    "mkv-offset": {"extra": ("-output_ts_offset", "5"), "timecode": "01:00:00;00"},
    # MPEG-TS at 25 fps: starts at 1.4 s and seeks by bytes, often landing past the frame
    "ts": {"rate": "25"},
}


@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_frame_exact_in_any_order_and_container(container: str, color_clip) -> None:
    options = CONTAINERS[container]
    suffix = container.split("-")[0]
    path = color_clip(f"count.{suffix}", frames=24, gop=8, **options)
    with MediaFrames(path, cache_size=0) as media:
        assert media.frames == 24
        assert media.rate == (Fraction(25) if container == "ts" else NTSC)
        order = [*range(24), *range(23, -1, -1), *random.Random(3).sample(range(24), 24), 5, 6, 20, 2]
        shown = [frame_number(media.image(i)) for i in order]
    assert shown == order


def test_start_timecode_is_the_files(color_clip) -> None:
    path = color_clip("tc.mkv", frames=4, extra=("-output_ts_offset", "5"), timecode="01:00:00;00")
    with MediaFrames(path) as media:
        info = media.info
    assert info.start_timecode == "01:00:00;00" and info.drop_frame
    assert info.start_frame == 107892  # 01:00:00;00 at 29.97 drop frame
    assert info.timecode(0) == "01:00:00;00" and info.timecode(3) == "01:00:00;03"


def test_scaling_keeps_the_aspect_and_the_frame(color_clip) -> None:
    path = color_clip("wide.mp4", frames=6)
    with MediaFrames(path, max_width=80) as media:
        image = media.image(4)
        assert (image.width(), image.height()) == (80, 45)
        assert (media.width, media.height) == (160, 90)
        assert frame_number(image) == 4


def test_cache_serves_steps_back_without_decoding(color_clip, monkeypatch) -> None:
    path = color_clip("cache.mp4", frames=8)
    with MediaFrames(path, cache_size=4) as media:
        first = media.image(3)
        monkeypatch.setattr(media, "_decode", lambda index: pytest.fail(f"decoded frame {index} again"))
        assert media.image(3) is first


# -- errors ---------------------------------------------------------------------------------------------


def one_line(exc: pytest.ExceptionInfo, *parts: str) -> None:
    text = str(exc.value)
    assert "\n" not in text and all(part in text for part in parts), text


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaFramesError) as exc:
        MediaFrames(tmp_path / "gone.mp4")
    one_line(exc, "gone.mp4", "cannot read the file")


def test_a_text_file_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("not a video, just notes\n" * 20)
    with pytest.raises(MediaFramesError) as exc:
        MediaFrames(path)
    one_line(exc, "notes.mp4", "not a video file")


def test_a_file_without_video(tmp_path: Path, ffmpeg_exe: str) -> None:
    path = tmp_path / "tone.wav"
    subprocess.run(
        [ffmpeg_exe, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine", "-t", "0.2",
         str(path)],
        check=True,
    )  # fmt: skip
    with pytest.raises(MediaFramesError) as exc:
        MediaFrames(path)
    one_line(exc, "tone.wav", "no video stream")


@pytest.mark.parametrize("index", [-1, 6, 100])
def test_an_index_out_of_range(index: int, color_clip) -> None:
    with MediaFrames(color_clip("range.mp4", frames=6)) as media, pytest.raises(FrameIndexError) as exc:
        media.image(index)
    assert isinstance(exc.value, IndexError)
    one_line(exc, "range.mp4", f"frame {index} is out of range", "has 6")


def test_closed_media_says_so(color_clip) -> None:
    media = MediaFrames(color_clip("closed.mp4", frames=3))
    media.close()
    media.close()  # idempotent
    with pytest.raises(MediaFramesError, match="closed"):
        media.image(0)


def test_interrupt_stops_a_decode_from_another_thread(color_clip) -> None:
    with MediaFrames(color_clip("interrupt.mp4", frames=8)) as media:
        media.interrupt()
        with pytest.raises(MediaFramesError) as exc:
            media.image(5)
        one_line(exc, "interrupt.mp4", "interrupted")


# -- timecode -------------------------------------------------------------------------------------------


SMPTE_RATES = [
    (NTSC, True),
    (NTSC, False),
    (Fraction(60000, 1001), True),
    (Fraction(24000, 1001), False),
    (Fraction(25), False),
    (Fraction(24), False),
]


@pytest.mark.parametrize(("rate", "drop"), SMPTE_RATES)
def test_smpte_agrees_with_opentimelineio(rate: Fraction, drop: bool) -> None:
    frames = [*range(0, 40), *range(1790, 1810), *range(17970, 18000), *range(0, 400_000, 997)]
    for frame in frames:
        expected = opentime.to_timecode(opentime.RationalTime(frame, float(rate)), float(rate), drop)
        assert smpte(frame, rate, drop_frame=drop) == expected, frame


def test_drop_frame_only_where_it_exists() -> None:
    assert smpte(1800, NTSC, drop_frame=True) == "00:01:00;02"  # 00:01:00;00 and ;01 do not exist
    assert smpte(17982, NTSC, drop_frame=True) == "00:10:00;00"  # every tenth minute keeps them
    assert smpte(25, Fraction(25), drop_frame=True) == "00:00:01:00"  # no drop frame at 25 fps
    info = MediaInfo(Path("x.mov"), Fraction(25), 10, 16, 9, "10:00:00;00", 900_000)
    assert not info.drop_frame


# -- the loader -----------------------------------------------------------------------------------------


def test_loader_decodes_off_the_ui_thread(qtbot, color_clip, monkeypatch) -> None:
    threads = set()
    real = MediaFrames.image

    def spy(self: MediaFrames, index: int) -> QImage:
        threads.add(threading.current_thread())
        return real(self, index)

    priorities = []

    def spy_priority(self: MediaFrames, index: int) -> QImage:
        priorities.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return spy(self, index)

    monkeypatch.setattr(MediaFrames, "image", spy_priority)
    loader = FrameLoader(color_clip("loader.mp4", frames=12))
    try:
        with qtbot.waitSignal(loader.frame_ready, timeout=5000) as ready:
            loader.request(7)
        index, image = ready.args
        assert index == 7 and frame_number(image) == 7
        assert loader.info is not None and loader.info.frames == 12
        assert threads and threading.main_thread() not in threads
        if sys.platform.startswith("linux"):  # decoding never takes a core from the UI thread
            ui = os.getpriority(os.PRIO_PROCESS, threading.main_thread().native_id)
            assert priorities and min(priorities) >= min(ui + 10, 19), (priorities, ui)
    finally:
        loader.close()
    assert not loader._thread.is_alive()


def test_loader_latest_request_wins(qtbot, color_clip) -> None:
    loader = FrameLoader(color_clip("latest.mp4", frames=20))
    served: list[int] = []
    loader.frame_ready.connect(lambda index, image: served.append(index))
    try:
        for index in range(20):  # asked faster than it decodes: most are replaced before they start
            loader.request(index)
        loader.request(11)
        qtbot.waitUntil(lambda: served[-1:] == [11], timeout=5000)
        qtbot.wait(100)
        assert served[-1] == 11 and len(served) <= 3, served
    finally:
        loader.close()


def test_loader_reports_a_bad_file(qtbot, tmp_path: Path) -> None:
    loader = FrameLoader(tmp_path / "missing.mov")
    try:
        with qtbot.waitSignal(loader.failed, timeout=5000) as failed:
            loader.start()
        assert "missing.mov" in failed.args[0]
    finally:
        loader.close()


def test_loader_reports_a_frame_out_of_range(qtbot, color_clip) -> None:
    loader = FrameLoader(color_clip("short.mp4", frames=3))
    try:
        with qtbot.waitSignal(loader.failed, timeout=5000) as failed:
            loader.request(3)
        assert "frame 3 is out of range" in failed.args[0]
    finally:
        loader.close()
