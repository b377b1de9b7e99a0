"""Editing metrics: the geometry by hand (default tier); a rendered evaluation on the bundled clip with
every tiny model (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from river_core.eval.editing import box_iou, region_box


def test_box_iou() -> None:
    assert box_iou((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(1 / 7)  # 1 shared of 4 + 4 - 1
    assert box_iou((0, 0, 1, 1), (0, 0, 1, 1)) == 1.0
    assert box_iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0


def test_region_box() -> None:
    matte = np.zeros((10, 20), np.uint8)
    assert region_box(matte) is None
    matte[2:5, 4:10] = 255
    assert region_box(matte) == (4 / 20, 2 / 10, 10 / 20, 5 / 10)
    assert region_box(np.repeat(matte[..., None], 3, axis=-1)) == (0.2, 0.2, 0.5, 0.5)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("render", ["instant", "full"])
def test_rendered_eval_on_the_bundled_clip(render: str, tmp_path: Path) -> None:
    from river_core.eval.datasets import load_dataset
    from river_core.eval.report import write_report
    from river_core.eval.run import EvalSettings, evaluate

    data = load_dataset("bundled", profile="tiny")
    samples = evaluate(data, tmp_path, EvalSettings(llm="oracle", render=render, judge="tiny"))
    rendered = [s for s in samples if s["render"]["rendered"]]
    assert len(rendered) == (2 if render == "instant" else 3)
    for s in rendered:
        m = s["render"]["metrics"]
        assert all(m[k] is not None for k in ("clip_t", "clip_f", "ssim", "psnr", "gdino")), m
        assert -100 <= m["clip_t"] <= 100 and -100 <= m["clip_f"] <= 100 and 0 <= m["gdino"] <= 100
        assert m["ssim"] == 100.0 and m["psnr"] == 100.0  # the outside is the source, bit for bit
        assert m["musiq"] is None  # no torchvision in the CPU profile: pyiqa cannot import
        assert (tmp_path / s["paths"]["media"]).is_file()
        assert all(v == 1.0 for v in s["scores"].values())  # the oracle's gold targets
    if render == "instant":
        assert "needs --render full" in samples[2]["render"]["why"]
    write_report(tmp_path, samples, {"musiq": "unavailable"})
    text = (tmp_path / "report.md").read_text()
    for label in ("CLIP-T", "CLIP-F", "MUSIQ", "SSIM out", "PSNR out dB", "GroundingDINO", "LLM judge"):
        assert label in text
    assert json.loads((tmp_path / "run.json").read_text())["render"] == render
