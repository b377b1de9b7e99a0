"""SAM 2.1 tracker backend: the real transformers classes at tiny size, on real footage.

Random tiny weights give meaningless masks, so these tests check behaviour (shapes, ids, order,
determinism, round trips, bounded memory, equivalence with transformers' processors), never quality.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from huggingface_hub import constants as hf_constants
from transformers import Sam2HieraDetConfig, Sam2VisionConfig
from transformers.image_utils import PILImageResampling
from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor

from river_core.devices import DevicePlan
from river_core.errors import RiverError
from river_core.media import FrameRange, read_frames, resize
from river_core.samples import bundled_sample
from river_core.twin.backends import sam2
from river_core.twin.profiles import load_stage
from river_core.twin.stages import Box, ModelSpec, Tracker, TrackerSession

W, H = 160, 90
BOX_A: Box = (20.0, 10.0, 80.0, 70.0)
BOX_B: Box = (90.0, 20.0, 150.0, 85.0)
BOX_C: Box = (0.0, 0.0, 50.0, 50.0)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """The tiny model gains nothing from a second thread, and OpenMP's spin-waiting made two
    threads ~20× slower whenever another process held a core (measured on 2 cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """30 frames of the bundled 1280×720 clip, downscaled to 160×90."""
    return [resize(f, (W, H)) for f in read_frames(bundled_sample(), FrameRange(0, 30))]


@pytest.fixture(scope="module")
def plan() -> DevicePlan:
    return DevicePlan("cpu", "float32")


@pytest.fixture(scope="module")
def tracker(plan: DevicePlan) -> sam2.Sam2Tracker:
    return sam2.tiny(seed=0, plan=plan)


Prompts = dict[int, dict[int, Box]]  # frame → {object id: box} to start there
Step = tuple[dict[int, np.ndarray], dict[int, np.ndarray], dict[int, float]]  # masks, logits, scores


def record(session: sam2.Sam2Session, masks: dict[int, np.ndarray]) -> Step:
    return masks, dict(session.last_logits), dict(session.last_scores)


def run(tracker: sam2.Sam2Tracker, frames: list[np.ndarray], prompts: Prompts, n: int) -> list[Step]:
    """Track frames 0…n-1, starting ``prompts[frame]`` objects on their frame."""
    session = tracker.start(W, H)
    steps = [record(session, session.track(i, frames[i], prompts.get(i))) for i in range(n)]
    session.close()
    return steps


def only(step: Step, ids: set[int]) -> Step:
    masks, logits, scores = step
    return (
        {k: v for k, v in masks.items() if k in ids},
        {k: v for k, v in logits.items() if k in ids},
        {k: v for k, v in scores.items() if k in ids},
    )


def assert_same(a: list[Step], b: list[Step]) -> None:
    assert len(a) == len(b)
    for (ma, la, sa), (mb, lb, sb) in zip(a, b, strict=True):
        assert ma.keys() == mb.keys() == la.keys() == lb.keys()
        for k in ma:
            np.testing.assert_array_equal(ma[k], mb[k])
            np.testing.assert_array_equal(la[k], lb[k])
        assert sa == sb


# ---------------------------------------------------------------------------------------------
# Protocol, shapes, determinism
# ---------------------------------------------------------------------------------------------


def test_tiny_tracker_implements_the_protocols(tracker: sam2.Sam2Tracker) -> None:
    assert isinstance(tracker, Tracker)
    assert tracker.info.role == "tracker" and tracker.info.model_id == "tiny:Sam2VideoModel"
    assert tracker.image_size == sam2.TINY_IMAGE_SIZE
    assert isinstance(tracker.start(W, H), TrackerSession)


def test_masks_are_bool_at_frame_size_for_every_object(
    tracker: sam2.Sam2Tracker, frames: list[np.ndarray]
) -> None:
    results = run(tracker, frames, {0: {1: BOX_A, 7: BOX_B}}, 4)
    for masks, logits, scores in results:
        assert set(masks) == set(logits) == set(scores) == {1, 7}
        for mask in masks.values():
            assert mask.shape == (H, W) and mask.dtype == bool
        for low_res in logits.values():
            assert low_res.shape == (sam2.TINY_IMAGE_SIZE // 4,) * 2 and low_res.dtype == np.float32
    # The tiny model is biased to "present", so the masks carry pixels through later stages.
    assert all(mask.any() for masks, _, _ in results for mask in masks.values())


def test_same_seed_gives_identical_masks_and_another_seed_differs(
    tracker: sam2.Sam2Tracker, frames: list[np.ndarray], plan: DevicePlan
) -> None:
    prompts = {0: {1: BOX_A}, 1: {2: BOX_B}}
    reference = run(tracker, frames, prompts, 3)
    assert_same(reference, run(sam2.tiny(seed=0, plan=plan), frames, prompts, 3))
    other = run(sam2.tiny(seed=1, plan=plan), frames, prompts, 3)
    assert not np.array_equal(reference[-1][1][1], other[-1][1][1])


def test_the_build_leaves_the_callers_rng_alone(plan: DevicePlan) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    sam2.tiny(seed=5, plan=plan)
    assert torch.equal(torch.rand(3), expected)


def test_profiles_load_the_tiny_tracker(plan: DevicePlan) -> None:
    stage = load_stage("tracker", ModelSpec("tiny:tracker"), plan, seed=0)
    assert isinstance(stage, sam2.Sam2Tracker) and stage.info.model_id == sam2.TINY_MODEL_ID


# ---------------------------------------------------------------------------------------------
# Session semantics
# ---------------------------------------------------------------------------------------------


def test_object_started_mid_video_is_tracked_from_then_on(
    tracker: sam2.Sam2Tracker, frames: list[np.ndarray]
) -> None:
    session = tracker.start(W, H)
    assert set(session.track(0, frames[0], {1: BOX_A})) == {1}
    assert set(session.track(1, frames[1])) == {1}
    assert set(session.track(2, frames[2], {2: BOX_B})) == {1, 2}
    for i in range(3, 6):
        assert set(session.track(i, frames[i])) == {1, 2}
    assert session.object_ids == [1, 2]


def test_second_call_on_a_frame_leaves_existing_objects_as_a_single_call_would(
    tracker: sam2.Sam2Tracker, frames: list[np.ndarray]
) -> None:
    """The builder tracks first, then starts unexplained detections on the same frame: the
    existing objects' masks there, and their tracking afterwards, must not change."""
    single = run(tracker, frames, {0: {1: BOX_A, 2: BOX_B}}, 6)

    session = tracker.start(W, H)
    twice = []
    for i in range(6):
        step = record(session, session.track(i, frames[i], {1: BOX_A, 2: BOX_B} if i == 0 else None))
        if i == 2:
            with_new = record(session, session.track(2, frames[2], {3: BOX_C}))
            assert set(with_new[0]) == {1, 2, 3}
            assert_same([step], [only(with_new, {1, 2})])
        twice.append(only(step, {1, 2}))
    # Bit-identical afterwards too: their memories were not re-encoded with the new object's.
    assert_same(single, twice)


def test_one_call_with_new_objects_equals_track_then_start(
    tracker: sam2.Sam2Tracker, frames: list[np.ndarray]
) -> None:
    one = run(tracker, frames, {0: {1: BOX_A}, 2: {3: BOX_C}}, 5)

    session = tracker.start(W, H)
    two = []
    for i in range(5):
        step = record(session, session.track(i, frames[i], {1: BOX_A} if i == 0 else None))
        if i == 2:
            step = record(session, session.track(2, frames[2], {3: BOX_C}))
        two.append(step)
    assert_same(one, two)


def test_frame_numbers_may_skip_and_the_model_sees_consecutive_steps(
    tracker: sam2.Sam2Tracker, frames: list[np.ndarray]
) -> None:
    dense = run(tracker, frames, {0: {1: BOX_A}}, 4)
    session = tracker.start(W, H)
    sparse = [
        record(session, session.track(10 * i, frames[i], {1: BOX_A} if i == 0 else None)) for i in range(4)
    ]
    assert_same(dense, sparse)


def test_repeating_a_frame_without_new_objects_does_not_run_the_model(
    tracker: sam2.Sam2Tracker, frames: list[np.ndarray]
) -> None:
    session = tracker.start(W, H)
    first = session.track(0, frames[0], {1: BOX_A})
    assert session.frames_run == 1
    again = session.track(0, frames[0])
    assert session.frames_run == 1
    np.testing.assert_array_equal(first[1], again[1])


def test_no_objects_gives_empty_result_without_running_the_model(
    tracker: sam2.Sam2Tracker, frames: list[np.ndarray]
) -> None:
    session = tracker.start(W, H)
    assert session.track(0, frames[0]) == {}
    assert session.track(1, frames[1]) == {}
    assert session.frames_run == 0
    assert set(session.track(1, frames[1], {4: BOX_A})) == {4}
    assert session.frames_run == 1


def test_frames_going_backwards_are_refused(tracker: sam2.Sam2Tracker, frames: list[np.ndarray]) -> None:
    session = tracker.start(W, H)
    session.track(3, frames[3], {1: BOX_A})
    with pytest.raises(RiverError, match=r"frame 2 came after frame 3.*increasing order"):
        session.track(2, frames[2])


def test_bad_inputs_are_refused_with_the_remedy(tracker: sam2.Sam2Tracker, frames: list[np.ndarray]) -> None:
    session = tracker.start(W, H)
    with pytest.raises(RiverError, match=r"shape \(90, 160, 3\).*Tracker.start"):
        session.track(0, frames[0][:, :100])
    session.track(0, frames[0], {1: BOX_A})
    with pytest.raises(RiverError, match=r"object id 1 .* already tracked"):
        session.track(1, frames[1], {1: BOX_B})
    with pytest.raises(RiverError, match="box of object 2"):
        session.track(1, frames[1], {2: (50.0, 10.0, 20.0, 70.0)})
    for bad in [(0.0, float("nan"), 20.0, 70.0), (1.0, 2.0, 3.0), "a box"]:
        with pytest.raises(RiverError, match="box of object 2 must be 4 finite"):
            session.track(1, frames[1], {2: bad})  # type: ignore[dict-item]
    assert session.object_ids == [1]
    with pytest.raises(RiverError, match="`width` must be a positive int"):
        tracker.start(0, H)


def test_an_absent_object_gets_an_empty_mask(plan: DevicePlan, frames: list[np.ndarray]) -> None:
    tracker = sam2.tiny(seed=0, plan=plan)
    with torch.no_grad():
        tracker.model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(-5.0)
    for masks, _, scores in run(tracker, frames, {0: {1: BOX_A}}, 3):
        assert scores[1] < 0
        assert masks[1].shape == (H, W) and not masks[1].any()


def test_closed_session_and_tracker_refuse_work(plan: DevicePlan, frames: list[np.ndarray]) -> None:
    tracker = sam2.tiny(seed=0, plan=plan)
    session = tracker.start(W, H)
    session.track(0, frames[0], {1: BOX_A})
    session.close()
    session.close()
    with pytest.raises(RiverError, match="session is closed"):
        session.track(1, frames[1])
    tracker.close()
    tracker.close()
    with pytest.raises(RiverError, match="is closed"):
        tracker.start(W, H)


def test_session_memory_stays_bounded_and_pruning_changes_nothing(
    tracker: sam2.Sam2Tracker, frames: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tracker.model.config
    history = max(config.num_maskmem, config.max_object_pointers_in_encoder) - 1
    prompts: Prompts = {0: {1: BOX_A, 2: BOX_B}, 5: {3: BOX_C}}

    session = tracker.start(W, H)
    pruned = []
    for i in range(30):
        pruned.append(record(session, session.track(i, frames[i], prompts.get(i))))
        n = len(session.object_ids)
        footprint = session.memory_footprint()
        assert footprint["frames"] == 1 and footprint["vision_features"] == 1
        assert footprint["cond_outputs"] == n  # every prompted output is kept
        assert footprint["non_cond_outputs"] <= n * history
        assert footprint["tracked_marks"] <= n * history
        assert footprint["memories"] <= n * config.num_maskmem  # 1 prompted + num_maskmem - 1 recent
    assert footprint["non_cond_outputs"] == 3 * history  # bounded, not emptied
    assert footprint["memories"] == 3 * config.num_maskmem

    # Everything pruned was out of the model's reach: an unpruned session gives the same masks.
    monkeypatch.setattr(sam2.Sam2Session, "_prune", lambda self: None)
    unpruned = run(tracker, frames, prompts, 30)
    assert_same(pruned, unpruned)


# ---------------------------------------------------------------------------------------------
# Equivalence with transformers' processors
# ---------------------------------------------------------------------------------------------


def test_normalization_constants_are_the_video_processors() -> None:
    processor = Sam2VideoVideoProcessor  # class attributes only: instances need torchvision
    assert tuple(processor.image_mean) == sam2.IMAGE_MEAN
    assert tuple(processor.image_std) == sam2.IMAGE_STD
    assert processor.rescale_factor == sam2.RESCALE_FACTOR
    assert processor.resample == PILImageResampling.BILINEAR
    assert processor.do_resize and processor.do_rescale and processor.do_normalize
    size = sam2.paper_config().image_size
    assert processor.size == {"height": size, "width": size}


def test_preprocess_normalizes_like_the_processor() -> None:
    color = np.array([12, 128, 250], dtype=np.uint8)
    image = np.broadcast_to(color, (H, W, 3)).copy()
    pixels = sam2.preprocess(image, 64)
    assert pixels.shape == (3, 64, 64) and pixels.dtype == torch.float32
    expected = (color / 255.0 - np.array(sam2.IMAGE_MEAN)) / np.array(sam2.IMAGE_STD)
    np.testing.assert_allclose(pixels.mean(dim=(1, 2)).numpy(), expected, rtol=0, atol=1e-5)
    assert float(pixels.std(dim=(1, 2)).max()) < 1e-5


def test_preprocess_resizes_like_torchvision(frames: list[np.ndarray]) -> None:
    """torchvision's resize_image on uint8: native on AVX2 CPUs, else float32 + round."""
    image = frames[0]
    pixels = sam2.preprocess(image, 128)
    x = torch.from_numpy(image.copy()).permute(2, 0, 1)[None]
    if "AVX2" in torch.backends.cpu.get_cpu_capability():
        resized = F.interpolate(x, size=(128, 128), mode="bilinear", align_corners=False, antialias=True)
    else:
        resized = F.interpolate(
            x.float(), size=(128, 128), mode="bilinear", align_corners=False, antialias=True
        )
        resized = resized.round().to(torch.uint8)
    mean = torch.tensor(sam2.IMAGE_MEAN)[:, None, None] * 255
    std = torch.tensor(sam2.IMAGE_STD)[:, None, None] * 255
    torch.testing.assert_close(pixels, (resized[0].float() - mean) / std, rtol=0, atol=1e-6)


def test_box_prompt_is_the_processors_encoding() -> None:
    prompt = sam2.box_prompt((16.0, 9.0, 80.0, 45.0), W, H, 1024)
    assert prompt["point_coords"].shape == (1, 1, 2, 2) and prompt["point_coords"].dtype == torch.float32
    expected = torch.tensor([[[[16.0 * 1024 / W, 9.0 * 1024 / H], [80.0 * 1024 / W, 45.0 * 1024 / H]]]])
    torch.testing.assert_close(prompt["point_coords"], expected)
    assert prompt["point_labels"].tolist() == [[[2, 3]]] and prompt["point_labels"].dtype == torch.int32


def test_masks_from_logits_upsample_bilinearly_and_threshold_at_zero() -> None:
    logits = torch.full((2, 1, 32, 32), -4.0)
    logits[0, 0, :16, :16] = 4.0  # top-left quarter
    masks = sam2.masks_from_logits(logits, W, H)
    assert masks.shape == (2, H, W) and masks.dtype == bool
    assert masks[0, : H // 2 - 2, : W // 2 - 2].all() and not masks[0, H // 2 + 2 :].any()
    assert not masks[1].any()


# ---------------------------------------------------------------------------------------------
# Loading and the paper architecture
# ---------------------------------------------------------------------------------------------


def test_save_pretrained_round_trip_is_bit_identical(
    tracker: sam2.Sam2Tracker, frames: list[np.ndarray], plan: DevicePlan, tmp_path: object
) -> None:
    tracker.save_pretrained(str(tmp_path))
    loaded = sam2.load(ModelSpec(str(tmp_path)), plan)
    assert loaded.info.model_id == str(tmp_path)
    prompts = {0: {1: BOX_A}, 2: {2: BOX_B}}
    assert_same(run(tracker, frames, prompts, 4), run(loaded, frames, prompts, 4))


def test_missing_checkpoint_offline_says_how_to_download(
    plan: DevicePlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(RiverError, match=r"'facebook/sam2\.1-hiera-large' is not in the .*`hf download"):
        sam2.load(ModelSpec("facebook/sam2.1-hiera-large"), plan)


def test_bad_local_directories_are_named(plan: DevicePlan, tmp_path: object) -> None:
    with pytest.raises(RiverError, match="does not exist"):
        sam2.load(ModelSpec(f"{tmp_path}/nowhere"), plan)
    with pytest.raises(RiverError, match="save_pretrained"):
        sam2.load(ModelSpec(str(tmp_path)), plan)


def test_paper_config_is_sam21_hiera_large() -> None:
    config = sam2.paper_config()
    vision = config.vision_config
    assert isinstance(vision, Sam2VisionConfig) and isinstance(vision.backbone_config, Sam2HieraDetConfig)
    backbone = vision.backbone_config
    assert backbone.blocks_per_stage == [2, 6, 36, 4]
    assert backbone.embed_dim_per_stage == [144, 288, 576, 1152]
    assert backbone.global_attention_blocks == [23, 33, 43]
    assert backbone.window_size_per_stage == [8, 4, 16, 8]
    assert vision.backbone_channel_list == [1152, 576, 288, 144]
    assert (config.image_size, config.num_maskmem, config.max_object_pointers_in_encoder) == (1024, 7, 16)
    with torch.device("meta"):  # shapes only: no memory, no init time
        model = sam2.Sam2VideoModel(config)
    params = sum(p.numel() for p in model.parameters())
    assert abs(params / 1e6 - 224.4) < 0.1  # SAM 2.1 Hiera-L, as published


@pytest.mark.slow
def test_paper_sized_model_tracks_on_cpu(frames: list[np.ndarray], plan: DevicePlan) -> None:
    """Real-size random weights: the 1024-px path end to end (about a minute of CPU)."""
    torch.manual_seed(0)
    tracker = sam2.Sam2Tracker(
        sam2.Sam2VideoModel(sam2.paper_config()).eval(),
        sam2.ModelInfo("tracker", "random:sam2.1-hiera-large"),
        plan,
    )
    session = tracker.start(W, H)
    session.track(0, frames[0], {1: BOX_A})
    masks = session.track(1, frames[1])
    assert set(masks) == {1} and masks[1].shape == (H, W)
