import dataclasses
import itertools
from pathlib import Path

import av
import numpy as np
import pytest

from river_core.errors import Cancelled, MediaError, RangeError
from river_core.media.decode import VideoReader, read_frames
from river_core.media.geometry import Placement
from river_core.media.probe import probe
from river_core.media.rational import FrameRange
from river_core.progress import CancelToken


def decode_all(path: Path) -> list[np.ndarray]:
    """The reference: plain sequential decode from the top with PyAV, no seeking."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.fixture(scope="module")
def gop_clip(make_clip) -> Path:
    # short GOPs with B-frames: seeks land on keyframes well before most targets
    return make_clip("gop.mp4", frames=75, gop=10, bframes=3)


@pytest.mark.parametrize(
    "frame_range", [(0, 1), (0, 75), (9, 11), (10, 20), (13, 14), (37, 61), (70, 75), (74, 75)]
)
def test_any_range_equals_the_sequential_decode(gop_clip: Path, frame_range: tuple[int, int]) -> None:
    reference = decode_all(gop_clip)
    start, end = frame_range
    with VideoReader(gop_clip) as reader:
        frames = list(reader.frames(FrameRange(start, end)))
    assert [f.index for f in frames] == list(range(start, end))
    for f in frames:
        np.testing.assert_array_equal(f.image, reference[f.index])


def test_one_reader_serves_ranges_in_any_order(gop_clip: Path) -> None:
    reference = decode_all(gop_clip)
    with VideoReader(gop_clip) as reader:
        for start, end in [(50, 55), (3, 8), (50, 52), (0, 2)]:
            got = reader.read(FrameRange(start, end))
            np.testing.assert_array_equal(got, np.stack(reference[start:end]))


def test_frames_are_streamed_lazily(gop_clip: Path) -> None:
    with VideoReader(gop_clip) as reader:
        stream = reader.frames(FrameRange(0, 75))
        first_two = list(itertools.islice(stream, 2))
        assert [f.index for f in first_two] == [0, 1]
        stream.close()  # stopping early is fine and the reader stays usable
        assert reader.read(FrameRange(5, 6)).shape[0] == 1


def test_presentation_times_are_rational(gop_clip: Path) -> None:
    with VideoReader(gop_clip) as reader:
        frame = next(reader.frames(FrameRange(30, 31)))
    assert frame.time == 30 / reader.info.rate  # exactly 30 × 1001/30000 s


def test_decode_with_fit_letterboxes_in_one_pass(gop_clip: Path) -> None:
    placement = Placement.fit((320, 240), (208, 120))
    direct = read_frames(gop_clip, FrameRange(5, 8), fit=placement)
    assert direct.shape == (3, 120, 208, 3)
    x0, _, x1, _ = placement.content_box
    assert not direct[:, :, :x0].any() and not direct[:, :, x1:].any()
    # same picture as resizing the full-resolution frame afterwards (different resamplers, close)
    full = read_frames(gop_clip, FrameRange(5, 8))
    via_numpy = np.stack([placement.to_model(f) for f in full])
    assert np.abs(direct.astype(int) - via_numpy).mean() < 4


def test_variable_frame_rate_frames_are_counted_in_order(make_clip) -> None:
    path = make_clip(
        "vfr_dec.mp4", frames=30, vf="select='not(eq(n\\,5)+eq(n\\,6))'", extra=("-fps_mode", "passthrough")
    )
    reference = decode_all(path)
    with VideoReader(path) as reader:
        assert reader.info.variable_frame_rate
        got = reader.read(FrameRange(3, 12))
    np.testing.assert_array_equal(got, np.stack(reference[3:12]))


def test_range_outside_the_clip(gop_clip: Path) -> None:
    with VideoReader(gop_clip) as reader, pytest.raises(RangeError, match="it has 75 frames"):
        list(reader.frames(FrameRange(70, 80)))


def test_cancel_stops_between_frames(gop_clip: Path) -> None:
    token = CancelToken()
    seen = []
    with VideoReader(gop_clip) as reader, pytest.raises(Cancelled):
        for frame in reader.frames(FrameRange(0, 75), cancel=token):
            seen.append(frame.index)
            if frame.index == 4:
                token.cancel()
    assert seen == [0, 1, 2, 3, 4]


def test_a_cut_matroska_file_is_read_up_to_where_it_ends(make_clip, tmp_path: Path) -> None:
    """An MKV cut short has no index to contradict: its frames are counted from what is there."""
    data = make_clip("short.mkv", vcodec="ffv1", frames=40).read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    with VideoReader(cut) as reader:
        n = reader.info.frame_count
        assert 0 < n < 40
        assert reader.read(FrameRange(0, n)).shape[0] == n


def test_a_stream_that_ends_before_its_announced_length_is_an_error(gop_clip: Path) -> None:
    info = probe(gop_clip)
    inflated = dataclasses.replace(info, frame_count=info.frame_count + 5)
    with VideoReader(gop_clip, inflated) as reader, pytest.raises(MediaError, match="truncated"):
        list(reader.frames(FrameRange(70, 78)))


def test_misplacement_is_refused(gop_clip: Path) -> None:
    with VideoReader(gop_clip) as reader, pytest.raises(MediaError, match="placement expects"):
        list(reader.frames(FrameRange(0, 1), fit=Placement.fit((640, 480), (64, 64))))


@pytest.mark.shared_media
def test_real_footage_range_is_exact(shared_media) -> None:
    path = shared_media("01_dog.mp4")
    reference = decode_all(path)
    assert len(reference) == 289
    got = read_frames(path, FrameRange(140, 150))
    np.testing.assert_array_equal(got, np.stack(reference[140:150]))


def test_mpeg_ts_with_a_start_offset_and_one_keyframe(make_clip) -> None:
    """An index-less MPEG-TS whose only keyframe is the first frame: after a seek nothing decodes,
    and seeking back to the start does not work either; the reader must still deliver the range."""
    path = make_clip("offset.ts", frames=50, gop=250, extra=("-output_ts_offset", "1.4"))
    reference = decode_all(path)
    with VideoReader(path) as reader:
        assert reader.info.video_start_time > 1
        got = reader.read(FrameRange(20, 30))
        again = reader.read(FrameRange(2, 4))  # and again after that
    np.testing.assert_array_equal(got, np.stack(reference[20:30]))
    np.testing.assert_array_equal(again, np.stack(reference[2:4]))
