"""`river demo` is the README's main job: it must run offline on a fresh clone and check itself."""

from __future__ import annotations

import json
from pathlib import Path

from river_core.media import probe


def test_demo_runs_the_main_job_end_to_end(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    code, stdout, stderr = run_cli("demo", "--out", out, "-q")
    assert code == 0, stderr
    assert "pixels are meaningless" in stdout or "meaningless" in stdout
    summary = json.loads((out / "summary.json").read_text())

    # 1. the query job: reasoned plan → VACE render → ProRes deliverables with timecode and audio
    query = summary["query_job"]
    plan = json.loads((out / "bronze" / "provenance.json").read_text())["plan"]
    assert plan["query"] == "make the biggest thing in the shot look like bronze"
    assert [t["id"] for t in plan["operations"][0]["targets"]] == [query["target"]]
    assert "bronze" in plan["operations"][0]["prompt"]
    assert plan["trace"]["executions"][0]["ok"] is True  # the scripted code ran in the sandbox
    edited = probe(out / "bronze" / "dog_3s_edit.mov")
    assert (edited.frame_count, edited.width, edited.height) == (33, 1280, 720)
    assert str(edited.rate) == "30000/1001" and str(edited.start_timecode) == "00:00:01:00"
    assert query["audio_samples"] == [52853]
    assert query["windows"] == {"rendered": 1, "skipped": 0}
    assert query["qc"]["identical_outside"] is True

    # 2. the blur job: lossless, checked pixel by pixel by the demo itself, twin from the cache
    blur = summary["blur_job"]
    assert blur["check"]["identical_outside"] is True and blur["check"]["frames"] == 33
    assert blur["check"]["outside_pixels"] > 0 and blur["twin_cache"] == "hit"
    assert "bit-identical to the decoded source: yes" in stdout
    # the commands it prints are the ones it ran (range and profile included), on one pipeline
    assert '"make the biggest thing in the shot look like bronze" --range 30:63 --profile tiny' in stdout
    assert "--op blur --range 30:63 --profile tiny --format ffv1" in stdout
    assert summary["model_loads"]["editor"] == 1 and summary["model_loads"]["tracker"] == 1

    # a second run replaces its own outputs instead of failing on them
    assert run_cli("demo", "--out", out, "-q")[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["blur", "bronze", "summary.json"]
    assert sorted(p.name for p in (out / "bronze").iterdir()) == [
        ".river-output.json",  # what RIVER wrote there: --overwrite replaces only such a folder
        "contact_sheet.png",
        "dog_3s_edit.mov",
        "matte",
        "matte.mov",
        "preview.mp4",
        "provenance.json",
    ]
