"""Media relinking as an NLE does it: probe facts, the finder's search order, the OTIO media linker.

Clips come from the bundled sample and from ffmpeg (an independent encoder), copied into folder trees
that mimic footage moved from another machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from fractions import Fraction
from importlib import util
from pathlib import Path
from urllib.parse import quote

import opentimelineio as otio
import pytest
import tomllib
from opentimelineio import opentime

from host_plugins.otio import media_linker, relink
from host_plugins.otio.media_linker import exact_rate
from host_plugins.otio.probe import MediaProbeError, probe_media, pyav_available
from host_plugins.otio.relink import MediaFinder

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = ROOT / "host_plugins" / "otio" / "plugin_manifest.json"
NTSC = Fraction(30000, 1001)


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip24(make_clip: Callable[..., Path]) -> Path:
    """30 frames at 24 fps starting at 01:00:00:00."""
    return make_clip("tc24.mov", rate="24", size=(64, 48), frames=30, timecode="01:00:00:00")


@pytest.fixture(scope="module")
def ntsc90(make_clip: Callable[..., Path]) -> Path:
    """90 frames at 30000/1001, like the sample but tiny."""
    return make_clip("ntsc90.mov", rate="30000/1001", size=(64, 48), frames=90)


def place(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


@pytest.fixture
def without_pyav(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyAV as on a host install without it: `import av` raises ImportError."""
    monkeypatch.setitem(sys.modules, "av", None)


# --- probe ------------------------------------------------------------------------------------------


def test_probe_the_sample_exactly(sample_clip: Path) -> None:
    facts = probe_media(sample_clip)
    assert facts is not None
    assert (facts.rate, facts.frames, facts.start_frame, facts.timecode) == (NTSC, 90, 0, "00:00:00:00")
    assert type(facts.rate) is Fraction and facts.path == sample_clip.resolve()


@pytest.mark.parametrize(
    ("rate", "timecode", "start_frame"),
    [
        ("24", "01:00:00:00", 86400),
        ("30000/1001", "01:00:00;00", 107892),  # drop frame: 108000 - 2 × (60 - 6) skipped numbers
        ("30000/1001", "01:00:00:00", 108000),  # the same digits without drop frame
        ("15", "00:00:01:05", 20),  # a rate OpenTimelineIO's SMPTE table lacks
    ],
)
def test_probe_start_timecode(
    make_clip: Callable[..., Path], rate: str, timecode: str, start_frame: int
) -> None:
    clip = make_clip("tc.mov", rate=rate, size=(64, 48), frames=30, timecode=timecode)
    facts = probe_media(clip)
    assert facts is not None
    assert (facts.rate, facts.frames) == (Fraction(rate), 30)
    assert (facts.timecode, facts.start_frame) == (timecode, start_frame)


def test_probe_counts_frames_of_matroska_from_its_duration(make_clip: Callable[..., Path]) -> None:
    """Matroska stores no frame count and writes TIMECODE in capitals on the container."""
    clip = make_clip("x.mkv", rate="30000/1001", size=(64, 48), frames=37, timecode="01:00:00;00")
    import av

    with av.open(str(clip)) as container:
        assert container.streams.video[0].frames == 0  # the case under test
    facts = probe_media(clip)
    assert facts is not None and (facts.frames, facts.start_frame) == (37, 107892)


def test_probe_refuses_what_is_not_video(tmp_path: Path, ffmpeg_exe: str) -> None:
    text = tmp_path / "notes.mov"
    text.write_text("not a movie\n")
    wav = tmp_path / "tone.wav"
    subprocess.run(
        [ffmpeg_exe, "-loglevel", "error", "-f", "lavfi", "-i", "sine", "-t", "0.2", str(wav)], check=True
    )
    for path, why in [
        (text, "Invalid data"),
        (wav, "no video stream"),
        (tmp_path / "gone.mov", "cannot read"),
    ]:
        with pytest.raises(MediaProbeError) as caught:
            probe_media(path)
        message = str(caught.value)
        assert path.name in message and why in message and "\n" not in message


def test_probe_opens_a_file_once_until_it_changes(
    tmp_path: Path, clip24: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import av

    opened: list[str] = []
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda path, *a, **k: opened.append(path) or real_open(path, *a, **k))
    clip = place(clip24, tmp_path / "a.mov")
    for _ in range(50):
        assert probe_media(clip).frames == 30
    (tmp_path / "link.mov").symlink_to(clip)
    assert probe_media(tmp_path / "link.mov") is probe_media(clip)  # keyed by the resolved file
    assert len(opened) == 1
    os.utime(clip, ns=(1_000_000_000, 1_000_000_000))
    probe_media(clip)
    assert len(opened) == 2


def test_probe_without_pyav_returns_none(clip24: Path, without_pyav: None) -> None:
    assert pyav_available() is False
    assert probe_media(clip24) is None


# --- finding files ----------------------------------------------------------------------------------


def test_file_urls_are_decoded(tmp_path: Path, ntsc90: Path) -> None:
    clip = place(ntsc90, tmp_path / "Day 1" / "take #2 é.mov")
    finder = MediaFinder()
    for url in [
        clip.as_uri(),  # percent-encoded spaces, '#', UTF-8
        "file://localhost" + quote(str(clip)),
        "file:" + quote(str(clip)),
    ]:
        found = finder.find(url, rate=NTSC, frames=90)
        assert (found.path, found.how, found.verified) == (clip, "file URL", True), url
        assert found.facts is not None and found.facts.frames == 90
    found = finder.find(str(clip))
    assert (found.path, found.how, found.reason) == (clip, "as written", "")


@pytest.mark.parametrize("written", ["media/a.mov", "./media/a.mov", "../shots/media/a.mov"])
def test_relative_paths_start_at_the_timeline(tmp_path: Path, ntsc90: Path, written: str) -> None:
    timeline_dir = tmp_path / "shots"
    timeline_dir.mkdir()
    clip = place(ntsc90, timeline_dir / "media" / "a.mov")
    found = MediaFinder(timeline_dir).find(written)
    assert found.how == "relative to the timeline" and found.path.resolve() == clip.resolve()


def test_a_relative_path_above_the_timeline_is_not_found_by_name(tmp_path: Path, ntsc90: Path) -> None:
    """'../a.mov' leaves the timeline folder: only reading it relative to the timeline finds it."""
    clip = place(ntsc90, tmp_path / "a.mov")
    (tmp_path / "edit").mkdir()
    found = MediaFinder(tmp_path / "edit").find("../a.mov")
    assert found.path is not None and found.path.resolve() == clip
    found = MediaFinder(tmp_path / "edit").find("a.mov")  # not relative to it: nothing there by name
    assert found.path is None and "no file named 'a.mov' under" in found.reason


@pytest.mark.parametrize(
    "written",
    [
        r"C:\Footage\Day 1\a.mov",
        "C:/Footage/Day 1/a.mov",
        r"\\server\share\Day 1\a.mov",
        "/Volumes/RAID/Footage/Day 1/a.mov",
        "file:///C:/Footage/Day%201/a.mov",
        "file://server/share/Day%201/a.mov",
        "file:///Volumes/RAID/Day%201/a.mov",
    ],
)
def test_paths_from_another_machine_are_found_in_a_search_path(
    tmp_path: Path, ntsc90: Path, written: str
) -> None:
    search = tmp_path / "footage"
    clip = place(ntsc90, search / "Day 1" / "a.mov")
    found = MediaFinder(search_paths=[search]).find(written, rate=NTSC, frames=90)
    assert (found.path, found.how, found.verified) == (clip, f"by name in {search}", True)


def test_names_match_ignoring_case_only_when_no_exact_name_fits(tmp_path: Path, ntsc90: Path) -> None:
    search = tmp_path / "footage"
    upper = place(ntsc90, search / "Day 1" / "A.MOV")
    found = MediaFinder(search_paths=[search]).find(r"C:\Footage\Day 1\a.mov")
    assert (found.path, found.how) == (upper, f"by name, ignoring case, in {search}")
    exact = place(ntsc90, search / "elsewhere" / "a.mov")
    found = MediaFinder(search_paths=[search]).find(r"C:\Footage\Day 1\a.mov")
    assert found.path == exact  # the exact name wins over the better folder match


def test_trailing_folders_break_a_tie(tmp_path: Path, ntsc90: Path) -> None:
    search = tmp_path / "footage"
    day1 = place(ntsc90, search / "Day 1" / "a.mov")
    day2 = place(ntsc90, search / "Day 2" / "a.mov")
    deep = place(ntsc90, search / "B cam" / "Day 2" / "a.mov")
    finder = MediaFinder(search_paths=[search])
    assert finder.find("/Volumes/RAID/Day 1/a.mov").path == day1
    assert finder.find("/Volumes/RAID/b cam/Day 2/a.mov").path == deep  # folders compare ignoring case
    tie = finder.find(r"D:\A cam\Day 2\a.mov")  # 'Day 2' in both; neither is in 'A cam'
    assert tie.path is None and str(day2) in tie.reason and str(deep) in tie.reason


def test_a_tie_is_refused_naming_the_files(tmp_path: Path, ntsc90: Path) -> None:
    search = tmp_path / "footage"
    day1 = place(ntsc90, search / "Day 1" / "a.mov")
    day2 = place(ntsc90, search / "Day 2" / "a.mov")
    found = MediaFinder(search_paths=[search]).find(r"C:\Footage\Day 3\a.mov", rate=NTSC, frames=90)
    assert found.path is None and not found.verified
    assert "ambiguous" in found.reason and str(day1) in found.reason and str(day2) in found.reason


def test_facts_break_a_tie_and_refusals_are_explained(tmp_path: Path, ntsc90: Path, clip24: Path) -> None:
    search = tmp_path / "footage"
    wrong_rate = place(clip24, search / "Day 1" / "a.mov")
    right = place(ntsc90, search / "Day 2" / "a.mov")
    finder = MediaFinder(search_paths=[search])
    # Day 1 matches the written folders better, but has the wrong rate.
    found = finder.find("/Volumes/RAID/Day 1/a.mov", rate=NTSC)
    assert (found.path, found.verified) == (right, True)
    right.unlink()
    found = MediaFinder(search_paths=[search]).find("/Volumes/RAID/Day 1/a.mov", rate=NTSC)
    assert found.path is None
    assert f"{wrong_rate}: 24 fps, expected 30000/1001" in found.reason
    assert "no file at /Volumes/RAID/Day 1/a.mov" in found.reason


def test_length_is_checked_exactly_and_as_a_minimum(tmp_path: Path, ntsc90: Path) -> None:
    clip = place(ntsc90, tmp_path / "a.mov")
    finder = MediaFinder(search_paths=[tmp_path])  # the file again, by name: refused once, said once
    found = finder.find(str(clip), frames=91)
    assert found.path is None and found.reason == f"{clip}: {clip}: 90 frames, expected 91"
    found = finder.find(str(clip), min_frames=120)
    assert found.path is None and f"{clip}: 90 frames, the clip uses 120" in found.reason
    assert finder.find(str(clip), frames=90, min_frames=90).verified


def test_a_refused_file_as_written_gives_way_to_one_found_by_name(
    tmp_path: Path, ntsc90: Path, clip24: Path
) -> None:
    written = place(clip24, tmp_path / "old" / "a.mov")
    right = place(ntsc90, tmp_path / "new" / "a.mov")
    (tmp_path / "edit").mkdir()
    finder = MediaFinder(tmp_path / "edit", [tmp_path])
    found = finder.find(written.as_uri(), rate=NTSC, frames=90)
    assert (found.path, found.how) == (right, f"by name in {tmp_path}")


def test_a_file_that_is_not_video_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.mov").write_text("an edit decision list, misnamed\n")
    found = MediaFinder(search_paths=[tmp_path]).find(r"C:\x\a.mov")
    assert found.path is None and "not a video file" in found.reason


def test_missing_media_says_where_it_looked(tmp_path: Path) -> None:
    found = MediaFinder(tmp_path, [tmp_path]).find("/Volumes/RAID/Footage/a.mov")
    assert (found.path, found.how, found.facts, found.verified) == (None, "", None, False)
    assert found.reason == (
        f"/Volumes/RAID/Footage/a.mov: no file at /Volumes/RAID/Footage/a.mov; "
        f"no file named 'a.mov' under {tmp_path}"
    )
    assert "not a file" in MediaFinder().find("https://cdn.example.com/a.mov").reason


def test_a_long_list_of_refusals_is_shortened(tmp_path: Path, clip24: Path) -> None:
    for n in range(7):
        place(clip24, tmp_path / f"card{n}" / "a.mov")
    found = MediaFinder(search_paths=[tmp_path]).find(r"C:\a.mov", rate=NTSC)
    assert found.path is None and "\n" not in found.reason
    assert found.reason.count("24 fps, expected 30000/1001") == 4 and found.reason.endswith("…and 3 more")


def test_without_pyav_candidates_are_accepted_unverified(
    tmp_path: Path, clip24: Path, without_pyav: None
) -> None:
    clip = place(clip24, tmp_path / "Day 1" / "a.mov")
    found = MediaFinder(search_paths=[tmp_path]).find(r"C:\Day 1\a.mov", rate=NTSC, frames=90)
    assert (found.path, found.facts, found.verified) == (clip, None, False)  # wrong facts, unseen
    place(clip24, tmp_path / "Day 2" / "a.mov")
    found = MediaFinder(search_paths=[tmp_path]).find(r"C:\Day 3\a.mov", rate=NTSC)
    assert found.path is None and "ambiguous" in found.reason  # nothing can break the tie


def test_probing_can_be_turned_off(tmp_path: Path, clip24: Path) -> None:
    clip = place(clip24, tmp_path / "a.mov")
    found = MediaFinder(probe=False).find(str(clip), rate=NTSC)
    assert (found.path, found.facts, found.verified) == (clip, None, False)


def test_folders_are_indexed_once_for_a_whole_timeline(
    tmp_path: Path, ntsc90: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import av

    for n in range(20):
        place(ntsc90, tmp_path / "footage" / f"reel{n}" / f"shot{n}.mov")
    walks: list[Path] = []
    build = relink._NameIndex.build
    monkeypatch.setattr(relink._NameIndex, "build", lambda root: walks.append(root) or build(root))
    opened: list[str] = []
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda path, *a, **k: opened.append(path) or real_open(path, *a, **k))
    finder = MediaFinder(tmp_path, [tmp_path / "footage"])
    for n in range(2000):
        found = finder.find(rf"C:\Footage\reel{n % 20}\shot{n % 20}.mov", rate=NTSC, frames=90)
        assert found.verified
    assert len(walks) == 2 and len(opened) == 20


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"`rate` must be exact .* 29\.97"):
        MediaFinder().find("a.mov", rate=29.97)
    with pytest.raises(ValueError, match="`frames` must be at least 0"):
        MediaFinder().find("a.mov", frames=-1)
    with pytest.raises(ValueError, match="`search_paths` must be an existing folder"):
        MediaFinder(search_paths=[tmp_path / "nowhere"])
    with pytest.raises(ValueError, match="`search_paths` must be a list"):
        MediaFinder(search_paths=str(tmp_path))


# --- the OTIO media linker --------------------------------------------------------------------------


@pytest.fixture
def river_manifest(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """OTIO's plugin manifest with ours on OTIO_PLUGIN_MANIFEST_PATH; the usual one afterwards."""
    monkeypatch.setenv("OTIO_PLUGIN_MANIFEST_PATH", str(MANIFEST))
    otio.plugins.ActiveManifest(force_reload=True)
    yield
    monkeypatch.delenv("OTIO_PLUGIN_MANIFEST_PATH")
    otio.plugins.ActiveManifest(force_reload=True)


def frames_at(count: int, rate: float) -> otio.opentime.TimeRange:
    return opentime.TimeRange(opentime.RationalTime(0, rate), opentime.RationalTime(count, rate))


def small_timeline() -> otio.schema.Timeline:
    ntsc = 30000 / 1001
    refs = {
        "moved": otio.schema.ExternalReference(
            target_url="file:///C:/Footage/Day%201/a.mov",
            available_range=frames_at(90, ntsc),
            metadata={"fcp_xml": {"id": "file-1"}, "river": {"note": "kept"}},
        ),
        "wrong length": otio.schema.ExternalReference(
            target_url=r"C:\Footage\Day 1\a.mov", available_range=frames_at(120, ntsc)
        ),
        "gone": otio.schema.ExternalReference(target_url="/Volumes/RAID/gone.mov"),
        "beside": otio.schema.ExternalReference(
            target_url="media/b.mov", available_range=frames_at(90, ntsc)
        ),
        "edl": otio.schema.MissingReference(name="a.mov"),
        "bars": otio.schema.GeneratorReference(generator_kind="SMPTEBars"),
    }
    track = otio.schema.Track(name="V1")
    for name, ref in refs.items():
        ref.name = ref.name or f"{name} ref"
        track.append(otio.schema.Clip(name=name, media_reference=ref, source_range=frames_at(30, ntsc)))
    timeline = otio.schema.Timeline(name="cut")
    timeline.tracks.append(track)
    return timeline


def test_the_media_linker_relinks_a_timeline_read_by_an_adapter(
    tmp_path: Path, ntsc90: Path, river_manifest: None
) -> None:
    clip = place(ntsc90, tmp_path / "footage" / "Day 1" / "a.mov")
    beside = place(ntsc90, tmp_path / "media" / "b.mov")
    text = otio.adapters.write_to_string(small_timeline(), "otio_json")
    timeline = otio.adapters.read_from_string(
        text,
        "otio_json",
        media_linker_name="river_relink",
        media_linker_argument_map={
            "timeline_dir": str(tmp_path),
            "search_paths": [str(tmp_path / "footage")],
        },
    )
    refs = {c.name: c.media_reference for c in timeline.find_clips()}

    moved = refs["moved"]
    assert isinstance(moved, otio.schema.ExternalReference)
    assert moved.target_url == clip.as_uri() and moved.name == "moved ref"
    assert moved.available_range == frames_at(90, 30000 / 1001)
    assert moved.metadata["fcp_xml"] == {"id": "file-1"}
    assert moved.metadata["river"] == {
        "note": "kept",
        "relink": {"from": "file:///C:/Footage/Day%201/a.mov", "how": f"by name in {tmp_path}"},
    }
    # Found by name, but 90 frames where the timeline recorded 120: left as it was.
    assert refs["wrong length"].target_url == r"C:\Footage\Day 1\a.mov"
    assert "river" not in refs["wrong length"].metadata
    assert refs["gone"].target_url == "/Volumes/RAID/gone.mov"
    assert refs["beside"].target_url == beside.as_uri()  # other tools need no timeline folder to open it
    assert refs["beside"].metadata["river"]["relink"] == {
        "from": "media/b.mov",
        "how": "relative to the timeline",
    }
    edl = refs["edl"]
    assert isinstance(edl, otio.schema.ExternalReference) and edl.target_url == clip.as_uri()
    assert edl.metadata["river"]["relink"]["from"] == "a.mov"
    assert isinstance(refs["bars"], otio.schema.GeneratorReference)


def test_the_media_linker_by_name_and_its_contract(
    tmp_path: Path, ntsc90: Path, river_manifest: None
) -> None:
    linker = otio.media_linker.from_name("river_relink")
    assert Path(linker.module_abs_path()) == ROOT / "host_plugins" / "otio" / "media_linker.py"
    assert "river_relink" in otio.media_linker.available_media_linker_names()
    clip = place(ntsc90, tmp_path / "a.mov")
    (timeline_clip, *_) = small_timeline().find_clips()
    new = otio.media_linker.linked_media_reference(
        timeline_clip, "river_relink", {"search_paths": [str(tmp_path)]}
    )
    assert new.target_url == clip.as_uri() and new is not timeline_clip.media_reference
    assert timeline_clip.media_reference.target_url == "file:///C:/Footage/Day%201/a.mov"  # not mutated
    # A file already where the timeline says: the clip's own reference comes back.
    timeline_clip.media_reference = otio.schema.ExternalReference(
        target_url=clip.as_uri(), available_range=frames_at(90, 30000 / 1001)
    )
    same = otio.media_linker.linked_media_reference(timeline_clip, "river_relink", {})
    assert same.target_url == clip.as_uri() and "river" not in same.metadata


def test_the_media_linker_checks_the_rate_the_timeline_recorded(tmp_path: Path, ntsc90: Path) -> None:
    place(ntsc90, tmp_path / "a.mov")
    clip = otio.schema.Clip(
        name="c",
        media_reference=otio.schema.ExternalReference(
            target_url=r"C:\a.mov", available_range=frames_at(90, 24)
        ),
    )
    kept = media_linker.link_media_reference(clip, {"search_paths": [str(tmp_path)]})
    assert kept.target_url == r"C:\a.mov"
    clip.media_reference.available_range = frames_at(90, 29.97)  # as an EDL would round it
    assert media_linker.link_media_reference(clip, {"search_paths": [str(tmp_path)]}).target_url.startswith(
        "file://"
    )


@pytest.mark.parametrize(
    ("rate", "exact"),
    [
        (29.97, NTSC),
        (30000 / 1001, NTSC),
        (23.976, Fraction(24000, 1001)),
        (59.94, Fraction(60000, 1001)),
        (25.0, Fraction(25)),
        (12.5, Fraction(25, 2)),
    ],
)
def test_otio_float_rates_become_exact(rate: float, exact: Fraction) -> None:
    assert exact_rate(rate) == exact


# --- registration -----------------------------------------------------------------------------------


def entry_point() -> tuple[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    ((name, module),) = project["entry-points"]["opentimelineio.plugins"].items()
    return name, module


def test_the_entry_point_names_a_module_with_the_manifest_beside_it() -> None:
    _, module = entry_point()
    spec = util.find_spec(module)
    assert spec is not None and spec.origin is not None
    manifest = Path(spec.origin).parent / "plugin_manifest.json"
    assert manifest == MANIFEST
    loaded = otio.plugins.manifest.manifest_from_file(str(manifest))
    (linker,) = loaded.media_linkers
    assert linker.name == "river_relink" and Path(linker.module_abs_path()).is_file()
    assert hasattr(linker.module(), "link_media_reference")
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "otio/plugin_manifest.json" in package_data["host_plugins"]


def test_otio_finds_the_linker_through_the_entry_point(tmp_path: Path) -> None:
    """An installed distribution's entry point, as pip writes it, seen by a fresh interpreter."""
    name, module = entry_point()
    dist_info = tmp_path / "river_nle_entry_point_test-0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: river-nle-test\nVersion: 0\n")
    (dist_info / "entry_points.txt").write_text(f"[opentimelineio.plugins]\n{name} = {module}\n")
    code = textwrap.dedent(
        """
        import opentimelineio as otio
        linker = otio.media_linker.from_name("river_relink")
        print(linker.module_abs_path())
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "OTIO_PLUGIN_MANIFEST_PATH"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "could not load plugin" not in done.stderr
    assert Path(done.stdout.strip()) == ROOT / "host_plugins" / "otio" / "media_linker.py"
