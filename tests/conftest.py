"""Shared fixtures: the bundled sample, the footage in ../shared/media, and clips made by an
independent encoder (the ffmpeg binary shipped by imageio-ffmpeg) so media tests never grade our
encoder with itself."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest

from river_core import cli

ROOT = Path(__file__).resolve().parents[1]
SHARED_MEDIA = Path(os.environ.get("RIVER_SHARED_MEDIA", ROOT.parent / "shared" / "media"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own twin cache: nothing is written to the user's cache directory."""
    root = tmp_path_factory.mktemp("river-cache")
    monkeypatch.setenv("RIVER_CACHE_DIR", str(root))
    return root


@pytest.fixture(scope="session")
def sample_clip() -> Path:
    """The 90-frame 1280×720 29.97 clip with AAC audio that ships inside the package."""
    path = Path(str(resources.files("river_core") / "data" / "samples" / "dog_3s.mp4"))
    assert path.is_file(), "the bundled sample clip is missing from river_core/data/samples"
    return path


@pytest.fixture(scope="session")
def shared_media() -> Callable[[str], Path]:
    """``shared_media("01_dog.mp4")``: a clip of the full footage, or a skip saying where it lives."""

    def get(name: str) -> Path:
        path = SHARED_MEDIA / name
        if not path.is_file():
            pytest.skip(
                f"{name} is not available: the full footage lives beside the project in ../shared/media "
                "(or set RIVER_SHARED_MEDIA); the bundled sample covers the core tests"
            )
        return path

    return get


@pytest.fixture(scope="session")
def ffmpeg_exe() -> str:
    imageio_ffmpeg = pytest.importorskip(
        "imageio_ffmpeg", reason="the dev extra (imageio-ffmpeg) is not installed"
    )
    return str(imageio_ffmpeg.get_ffmpeg_exe())


@pytest.fixture(scope="session")
def make_clip(ffmpeg_exe: str, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Make (and cache for the session) a test clip with ffmpeg's lavfi sources.

    ``audio`` is None, ``"counter"`` (sample n of the left channel is ``(n mod 65536)/32768 - 1``,
    exact in 24-bit PCM), ``"sweep"`` or ``"sine"``. ffmpeg stops the audio with the video, up to
    ~1000 samples before the video's end, so tests asking for exact samples stay clear of the tail.
    """
    cache = tmp_path_factory.mktemp("clips")

    def make(
        name: str,
        *,
        rate: str = "30000/1001",
        size: tuple[int, int] = (320, 240),
        frames: int = 60,
        vcodec: str = "libx264",
        gop: int = 12,
        bframes: int = 2,
        audio: str | None = None,
        acodec: str = "pcm_s24le",
        sample_rate: int = 48000,
        timecode: str | None = None,
        vf: str | None = None,
        extra: tuple[str, ...] = (),
    ) -> Path:
        key = hashlib.sha1(repr(sorted(locals().items())).encode()).hexdigest()[:10]
        out = cache / f"{key}_{name}"
        if out.exists():
            return out
        w, h = size
        cmd = [
            ffmpeg_exe,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={w}x{h}:rate={rate}",
        ]
        if audio:
            src = {
                "counter": f"aevalsrc=exprs='mod(n\\,65536)/32768-1|0.5-mod(n\\,1000)/2000':s={sample_rate}",
                # a tonal sweep: AAC codes it without noise substitution, whose decoder-side
                # random generator would make any two decodes differ after a seek
                "sweep": f"aevalsrc=exprs='0.5*sin(2*PI*(200+900*t)*t)':s={sample_rate}",
                "sine": f"sine=frequency=440:sample_rate={sample_rate}",
            }[audio]
            cmd += ["-f", "lavfi", "-i", src]
        cmd += ["-frames:v", str(frames), "-c:v", vcodec]
        if vcodec == "libx264":
            cmd += ["-g", str(gop), "-bf", str(bframes), "-pix_fmt", "yuv420p", "-crf", "18"]
        if vf:
            cmd += ["-vf", vf]
        if audio:
            cmd += ["-c:a", acodec]
        if timecode:
            cmd += ["-timecode", timecode]
        cmd += [*extra, str(out)]
        subprocess.run(cmd, check=True)
        return out

    return make


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``river ARGS...`` in-process; returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = cli.main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors and --version
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def copy_of(tmp_path: Path) -> Callable[[Path], Path]:
    def copy(path: Path) -> Path:
        dst = tmp_path / "src" / path.name
        dst.parent.mkdir(exist_ok=True)
        shutil.copy(path, dst)
        return dst

    return copy
