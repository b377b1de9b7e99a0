"""`river demo` is the README's main job: it must run offline on a fresh clone and check itself."""

from __future__ import annotations

import json
from pathlib import Path

from river_core.twin.schema import validate_twin


def test_demo_runs_end_to_end(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    code, stdout, stderr = run_cli("demo", "--out", out, "-q")
    assert code == 0, stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["extract_ffv1"]["bit_identical"] is True
    assert summary["extract_ffv1"]["frame_count"] == 33
    assert summary["extract_prores"]["timecode"] == "00:00:01:00"
    assert summary["extract_prores"]["audio_samples"] == [52853]
    assert summary["model_view"]["content_box"] == [0, 6, 832, 474]
    assert summary["model_view"]["round_trip_psnr_db"] > 30
    twin = validate_twin(Path(summary["synthetic"]["twin"]))
    assert len(twin.frames) == 33 and summary["synthetic"]["tracks"] == len(twin.object_ids()) > 0
    assert "bit-identical to the decoded source: yes" in stdout
    # The reasoner step: the sandbox's answer is the object with the smallest depth, and the plan targets it.
    reasoning = summary["reasoning"]
    depths = {t: min(o.spatial.depth for _, o in twin.track(t)) for t in twin.object_ids()}
    assert reasoning["target"] == min(depths, key=depths.__getitem__)
    plan = json.loads(Path(reasoning["plan"]).read_text())
    assert [t["id"] for t in plan["operations"][0]["targets"]] == [reasoning["target"]]
    assert "6. reason:" in stdout
    # a second run replaces its own outputs instead of failing on them
    assert run_cli("demo", "--out", out, "-q")[0] == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "dog_30-63.mkv",
        "dog_30-63.mov",
        "model_view.png",
        "plan.json",
        "summary.json",
        "synthetic.mkv",
        "synthetic_twin.json",
    ]
