"""OWLv2 detector backend: the real transformers classes at tiny size, on real footage.

Random tiny weights give meaningless scores, so these tests use ``threshold=0`` and check
behaviour (structure, image coordinates, NMS, caps, determinism, round trips), never quality.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from river_core.devices import DevicePlan
from river_core.errors import RiverError
from river_core.media import FrameRange, read_frames, resize
from river_core.samples import bundled_sample
from river_core.twin.backends import owlv2
from river_core.twin.profiles import load_stage
from river_core.twin.stages import Detection, Detector, ModelSpec, boxes_iou

QUERIES = ["dog", "ball", "a person standing on the grass next to the dog"]  # the last one > 16 tokens


@pytest.fixture(scope="module")
def plan() -> DevicePlan:
    return DevicePlan("cpu", "float32")


@pytest.fixture(scope="module")
def detector(plan: DevicePlan) -> owlv2.Owlv2Detector:
    return owlv2.tiny(seed=0, plan=plan)


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    """Three frames of the bundled 1280×720 clip: landscape 128×72, portrait 72×128, square 96×96."""
    f = read_frames(bundled_sample(), FrameRange(10, 13))
    return [resize(f[0], (128, 72)), resize(f[1], (72, 128)), resize(f[2][:, 280:1000], (96, 96))]


def detect_all(
    detector: owlv2.Owlv2Detector, images: list[np.ndarray], **kw: object
) -> list[list[Detection]]:
    args: dict = {"threshold": 0.0, "max_detections": 100, **kw}
    return detector.detect(images, QUERIES, **args)


def test_is_a_detector_stage(detector: owlv2.Owlv2Detector, plan: DevicePlan) -> None:
    assert isinstance(detector, Detector)
    assert detector.info.role == "detector"
    assert detector.info.model_id == "tiny:Owlv2ForObjectDetection"
    assert isinstance(load_stage("detector", ModelSpec("tiny:detector"), plan), owlv2.Owlv2Detector)


def test_detections_are_sorted_labelled_and_inside_each_image(
    detector: owlv2.Owlv2Detector, images: list[np.ndarray]
) -> None:
    results = detect_all(detector, images)
    assert len(results) == len(images)
    for image, detections in zip(images, results, strict=True):
        height, width = image.shape[:2]
        assert detections, "threshold 0 keeps at least the best box"
        scores = [d.score for d in detections]
        assert scores == sorted(scores, reverse=True)
        for d in detections:
            assert isinstance(d, Detection) and d.label in QUERIES and 0.0 <= d.score <= 1.0
            x0, y0, x1, y1 = d.box
            assert 0.0 <= x0 < x1 <= width and 0.0 <= y0 < y1 <= height, (d.box, width, height)


def test_boxes_cover_the_picture_not_the_square_padding(
    detector: owlv2.Owlv2Detector, images: list[np.ndarray]
) -> None:
    """Tiny random heads predict boxes close to OWLv2's prior: one 32-pixel box per patch of the
    4×4 grid over the *padded square*, centred on the patch's far corner (rows centred at 32, 64,
    96, 128 in a 128 square). A 128×72 picture fills only the top 72 rows, so the last two patch
    rows lie in the padding and yield nothing: 8 boxes, not 16 (scaling x by 128 and y by 72
    would keep all 16). The square crop keeps all 16."""
    counts = [len(d) for d in detect_all(detector, images)]
    assert counts == [8, 8, 16]
    landscape = detect_all(detector, images[:1])[0]
    assert sorted({round(d.box[1]) for d in landscape}) == [16, 48]
    assert sorted({round(d.box[3]) for d in landscape}) == [48, 72]


def test_image_boxes_scale_by_the_padded_square_side() -> None:
    # cx, cy, w, h as fractions of the square the processor padded the image into (bottom/right)
    boxes = np.array(
        [
            [0.5, 0.25, 0.5, 0.5],  # top half, centre → in a 200×100 image: x 50–150, y 0–100
            [0.5, 0.75, 0.5, 0.5],  # in the padding below the picture
            [0.9, 0.1, 0.4, 0.4],  # sticks out right and top: clipped to the image
        ]
    )
    landscape = owlv2.image_boxes(boxes, width=200, height=100)
    np.testing.assert_allclose(landscape[0], [50, 0, 150, 100])
    assert landscape[1][1] == landscape[1][3] == 100  # zero height: dropped by detect
    np.testing.assert_allclose(landscape[2], [140, 0, 200, 60])
    portrait = owlv2.image_boxes(boxes[:, [1, 0, 3, 2]], width=100, height=200)
    np.testing.assert_allclose(portrait[0], [0, 50, 100, 150])


def test_image_boxes_agree_with_transformers_post_processing(
    detector: owlv2.Owlv2Detector, images: list[np.ndarray]
) -> None:
    """transformers documents the same convention (scale by the longer side); we only add clipping."""
    image = images[0]
    inputs = detector._processor(text=[QUERIES[:2]], images=[image], return_tensors="pt")
    with torch.inference_mode():
        out = detector._model(**inputs)
    height, width = image.shape[:2]
    ref = detector._processor.post_process_grounded_object_detection(
        out, threshold=0.0, target_sizes=[(height, width)]
    )[0]["boxes"].numpy()
    ref[:, 0::2] = ref[:, 0::2].clip(0, width)
    ref[:, 1::2] = ref[:, 1::2].clip(0, height)
    ours = owlv2.image_boxes(out.pred_boxes[0].numpy(), width, height)
    np.testing.assert_allclose(ours, ref, atol=1e-3)


def test_nms_keeps_the_best_of_overlapping_boxes_whatever_their_label() -> None:
    boxes = np.array(
        [
            [0, 0, 10, 10],  # best
            [1, 0, 11, 10],  # IoU 0.82 with the best: dropped
            [20, 20, 30, 30],  # apart: kept
            [0, 0, 10, 5],  # IoU exactly 0.5 with the best: kept (only > 0.5 suppresses)
        ],
        dtype=float,
    )
    scores = np.array([0.9, 0.8, 0.3, 0.5])
    assert owlv2.nms(boxes, scores) == [0, 3, 2]
    assert owlv2.nms(boxes, scores, limit=2) == [0, 3]
    assert owlv2.nms(boxes[:0], scores[:0]) == []
    assert boxes_iou((0, 0, 10, 10), (0, 0, 10, 5)) == 0.5


def test_detections_are_suppressed_across_queries_and_capped(
    detector: owlv2.Owlv2Detector, images: list[np.ndarray]
) -> None:
    for detections in detect_all(detector, images):
        for i, a in enumerate(detections):
            for b in detections[i + 1 :]:
                assert boxes_iou(a.box, b.box) <= owlv2.NMS_IOU
    assert [len(d) for d in detect_all(detector, images, max_detections=2)] == [2, 2, 2]
    assert detect_all(detector, images, max_detections=0) == [[], [], []]
    cut = 0.5
    for detections in detect_all(detector, images, threshold=cut):
        assert all(d.score >= cut for d in detections)


def test_batching_does_not_change_results(detector: owlv2.Owlv2Detector, images: list[np.ndarray]) -> None:
    together = detect_all(detector, images)
    alone = [detect_all(detector, [image])[0] for image in images]
    for a, b in zip(together, alone, strict=True):
        assert [d.label for d in a] == [d.label for d in b]
        np.testing.assert_allclose([d.box for d in a], [d.box for d in b], atol=1e-3)


def test_same_seed_same_detections_other_seed_other_weights(
    detector: owlv2.Owlv2Detector, plan: DevicePlan, images: list[np.ndarray]
) -> None:
    assert detect_all(owlv2.tiny(seed=0, plan=plan), images) == detect_all(detector, images)
    assert detect_all(owlv2.tiny(seed=1, plan=plan), images) != detect_all(detector, images)


def test_save_pretrained_then_load_gives_identical_detections(
    detector: owlv2.Owlv2Detector, plan: DevicePlan, images: list[np.ndarray], tmp_path: Path
) -> None:
    detector.save_pretrained(tmp_path)
    loaded = owlv2.load(ModelSpec(str(tmp_path)), plan)
    assert loaded.info.model_id == str(tmp_path)
    assert detect_all(loaded, images) == detect_all(detector, images)


def test_load_of_a_missing_checkpoint_says_how_to_get_it(plan: DevicePlan, tmp_path: Path) -> None:
    with pytest.raises(RiverError, match=r"`hf download river-tests/no-such-owlv2`"):
        owlv2.load(ModelSpec("river-tests/no-such-owlv2"), plan)
    with pytest.raises(RiverError, match="does not exist"):
        owlv2.load(ModelSpec(str(tmp_path / "missing")), plan)
    with pytest.raises(RiverError, match="does not hold a checkpoint of OWLv2"):
        owlv2.load(ModelSpec(str(tmp_path)), plan)
    with pytest.raises(RiverError, match="tiny build"):
        owlv2.load(ModelSpec("tiny:detector"), plan)


def test_bad_arguments_are_named(detector: owlv2.Owlv2Detector, images: list[np.ndarray]) -> None:
    with pytest.raises(RiverError, match="`queries`"):
        detector.detect(images, [], threshold=0.1, max_detections=5)
    with pytest.raises(RiverError, match="`queries`"):
        detector.detect(images, "dog", threshold=0.1, max_detections=5)
    with pytest.raises(RiverError, match="`threshold`"):
        detector.detect(images, ["dog"], threshold=1.5, max_detections=5)
    with pytest.raises(RiverError, match="`max_detections`"):
        detector.detect(images, ["dog"], threshold=0.1, max_detections=-1)
    with pytest.raises(RiverError, match=r"`images\[1\]`"):
        detector.detect([images[0], images[1].astype(np.float32)], ["dog"], threshold=0.1, max_detections=5)


def test_close_is_idempotent_and_final(plan: DevicePlan, images: list[np.ndarray]) -> None:
    stage = owlv2.tiny(plan=plan)
    stage.close()
    stage.close()
    with pytest.raises(RiverError, match="closed"):
        stage.detect(images, ["dog"], threshold=0.0, max_detections=1)


def test_paper_config_is_owlv2_base_patch16() -> None:
    config = owlv2.paper_config()
    assert (config.vision_config.image_size, config.vision_config.patch_size) == (960, 16)
    assert (config.text_config.hidden_size, config.vision_config.hidden_size) == (512, 768)
    with torch.device("meta"):
        model = owlv2.Owlv2ForObjectDetection(config)
    assert 150e6 < sum(p.numel() for p in model.parameters()) < 160e6  # OWLv2 B/16: 155 M
