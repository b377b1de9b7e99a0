"""The bridge end to end: an in-process server on the tiny profile, the real engine, the real client."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from PIL import Image

from bridge import cli_jobs
from bridge.client import BridgeError, RiverClient, state_name
from bridge.server.app import BridgeServer
from bridge.server.cli import add_serve
from bridge.v1 import bridge_pb2 as pb
from bridge.v1 import bridge_pb2_grpc as pb_grpc
from river_core.cli import build_parser


def first_object(client: RiverClient, media: Path, frames: tuple[int, int]) -> int:
    """Build the twin through the bridge (a TWIN job) and return its first object's id."""
    job = client.submit_edit(media, kind="twin", frames=frames)
    done = client.wait(job.id, timeout=280)
    assert state_name(done.state) == "SUCCEEDED", done.error.message
    assert Path(done.results.twin).is_file()
    objects = json.loads(done.results.summary_json)["objects"]
    assert objects, "the tiny twin found no object"
    return int(objects[0]["id"])


def raw_stub(server: BridgeServer, token: str | None) -> tuple[grpc.Channel, pb_grpc.RiverBridgeStub]:
    """A stub that sends ``token`` (or none) — to see what the server does without our client."""
    creds = grpc.local_channel_credentials(grpc.LocalConnectionType.UDS)
    if token is not None:
        creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(token))
    channel = grpc.secure_channel(server.address, creds)
    return channel, pb_grpc.RiverBridgeStub(channel)


def test_submit_watch_succeeded_with_results_on_disk(client: RiverClient, media_root: Path) -> None:
    media = media_root / "clip.mp4"
    target = first_object(client, media, (0, 9))
    job = client.submit_edit(
        media, frames=(0, 9), targets=[str(target)], op="blur", format="ffv1", output="blurred"
    )
    assert state_name(job.state) in ("QUEUED", "RUNNING")
    events = list(client.watch(job.id))
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), "events must be contiguous from 1"
    kinds = [e.WhichOneof("event") for e in events]
    assert "progress" in kinds and "plan" in kinds and "results" in kinds
    assert events[-1].state.state == pb.JOB_STATE_SUCCEEDED
    final = client.get_job(job.id)
    assert state_name(final.state) == "SUCCEEDED"
    results = final.results
    out = Path(results.output_dir)
    assert out.name == "blurred" and str(out.parent) == client.capabilities().output_root
    assert Path(results.media).is_file() and Path(results.provenance).is_file()
    assert results.frames == 9
    assert Path(results.matte_movie).is_file() and Path(results.contact_sheet).is_file()
    assert final.plan.targets[0].id == target
    provenance = json.loads(Path(results.provenance).read_text())
    assert provenance["job"]["op"] == "blur" and provenance["job"]["range"] == "0:9"


def test_token_is_required_but_health_is_open(server: BridgeServer) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    for token, word in ((None, "missing"), ("not-the-token", "wrong")):
        channel, stub = raw_stub(server, token)
        with channel:
            with pytest.raises(grpc.RpcError) as caught:
                stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=10)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert word in caught.value.details()
            with pytest.raises(grpc.RpcError) as caught:
                list(stub.WatchJob(pb.WatchJobRequest(job_id="j" + "0" * 19), timeout=10))
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
    channel, stub = raw_stub(server, server.token)
    with channel:
        assert stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=10).api_version == "river.bridge.v1"


def test_paths_outside_the_roots_are_refused(client: RiverClient, media_root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.mp4").write_bytes((media_root / "clip.mp4").read_bytes())
    (media_root / "link.mp4").symlink_to(outside / "secret.mp4")
    (media_root / "linkdir").symlink_to(outside)
    for path in (outside / "secret.mp4", media_root / "link.mp4", media_root / "linkdir" / "secret.mp4",
                 media_root / ".." / "elsewhere" / "secret.mp4", outside / "missing.mp4"):  # fmt: skip
        with pytest.raises(BridgeError) as caught:
            client.submit_edit(path, kind="twin")
        assert caught.value.code == "PERMISSION_DENIED", (path, caught.value)
        assert "media roots" in caught.value.details
    media = media_root / "clip.mp4"
    for output in ("../escape", str(tmp_path / "elsewhere" / "o"), "/etc/river"):
        with pytest.raises(BridgeError) as caught:
            client.submit_edit(media, kind="twin", output=output)
        assert caught.value.code == "PERMISSION_DENIED" and "output root" in caught.value.details
    assert client.list_jobs().jobs == [], "no refused request may create a job"


def test_fields_are_checked_with_the_field_named(client: RiverClient, media_root: Path) -> None:
    media = media_root / "clip.mp4"
    cases = [
        ({"kind": "edit"}, "INVALID_ARGUMENT", "spec.what"),
        ({"kind": "edit", "query": "  "}, "INVALID_ARGUMENT", "spec.query"),
        ({"kind": "edit", "targets": ["1"], "op": "blur", "frames": (0, 999)}, "OUT_OF_RANGE",
         "spec.media.range"),
        ({"kind": "edit", "targets": ["1"], "op": "melt"}, "INVALID_ARGUMENT", "spec.op"),
        ({"kind": "edit", "targets": ["1"], "op": "recolor", "color": "notacolor"}, "INVALID_ARGUMENT",
         "spec.color"),
        ({"kind": "edit", "targets": ["1"]}, "INVALID_ARGUMENT", "spec.prompt"),
        ({"kind": "twin", "rate": (24, 1)}, "FAILED_PRECONDITION", "spec.media.rate"),
        ({"kind": "twin", "profile": "huge"}, "INVALID_ARGUMENT", "spec.profile"),
        ({"kind": "render", "plan_json": "{not json"}, "INVALID_ARGUMENT", "spec.plan_json"),
        ({"kind": "twin", "confirm": True}, "INVALID_ARGUMENT", "spec.confirm"),
        ({"kind": "twin", "render": {"window": 80}}, "INVALID_ARGUMENT", "spec.render.window"),
        ({"kind": "twin", "request_id": "bad id!"}, "INVALID_ARGUMENT", "request_id"),
    ]  # fmt: skip
    for kwargs, code, field in cases:
        with pytest.raises(BridgeError) as caught:
            client.submit_edit(media, **kwargs)  # type: ignore[arg-type]
        assert (caught.value.code, caught.value.details.split(":")[0]) == (code, field), kwargs
    backwards = pb.EditSpec(
        kind=pb.JOB_KIND_TWIN, media=pb.MediaRef(path=str(media), range=pb.FrameRange(start=5, end=2))
    )
    with pytest.raises(BridgeError) as caught:
        client.submit(backwards)  # the client checks ranges too; the server must not rely on it
    assert (caught.value.code, caught.value.details.split(":")[0]) == ("INVALID_ARGUMENT", "spec.media.range")
    with pytest.raises(BridgeError) as caught:
        client.submit_edit(media_root / "nope.mp4", kind="twin")
    assert caught.value.code == "NOT_FOUND"
    for call in (lambda: client.get_job("j" + "0" * 19), lambda: client.cancel("j" + "1" * 19)):
        with pytest.raises(BridgeError) as caught:
            call()
        assert caught.value.code == "NOT_FOUND"
    with pytest.raises(BridgeError) as caught:
        client.get_job("../../etc")
    assert caught.value.code == "INVALID_ARGUMENT" and caught.value.details.startswith("job_id")


def test_request_id_makes_submit_idempotent(client: RiverClient, media_root: Path) -> None:
    media = media_root / "clip.mp4"
    first = client.submit_edit(media, kind="twin", frames=(0, 5), request_id="take-1")
    again = client.submit_edit(media, kind="twin", frames=(0, 5), request_id="take-1")
    assert again.id == first.id
    client.wait(first.id, timeout=120)
    after = client.submit_edit(media, kind="twin", frames=(0, 5), request_id="take-1")
    assert after.id == first.id, "a retry after the job finished (and wrote its output) is the same job"
    with pytest.raises(BridgeError) as caught:
        client.submit_edit(media, kind="twin", frames=(0, 6), request_id="take-1")
    assert caught.value.code == "ALREADY_EXISTS"
    assert len(client.list_jobs().jobs) == 1


def test_cancel_mid_render_leaves_no_output(
    client: RiverClient, media_root: Path, server: BridgeServer
) -> None:
    media = media_root / "clip.mp4"
    target = first_object(client, media, (0, 33))
    job = client.submit_edit(
        media, frames=(0, 33), targets=[str(target)], prompt="bronze", output="cancelled",
        render={"window": 17, "overlap": 4, "steps": 2},
    )  # fmt: skip
    for event in client.watch(job.id):
        if event.WhichOneof("event") == "progress" and event.progress.stage in ("render", "vace", "encode"):
            client.cancel(job.id, reason="the editor changed their mind")
            break
    else:
        pytest.fail("no render progress before the job ended")
    final = client.wait(job.id, timeout=120)
    assert state_name(final.state) == "CANCELLED"
    assert "changed their mind" in final.error.message
    out_root = Path(client.capabilities().output_root)
    assert not (out_root / "cancelled").exists()
    assert not [p for p in out_root.iterdir() if p.name.startswith(".")], "temporaries were left behind"
    tail = [e.WhichOneof("event") for e in client.watch(job.id, after_seq=final.last_seq - 2)]
    assert tail[-1] == "state"


def test_watch_resumes_after_a_disconnect_without_gaps_or_repeats(
    client: RiverClient, media_root: Path, server: BridgeServer
) -> None:
    media = media_root / "clip.mp4"
    job = client.submit_edit(media, kind="twin", frames=(0, 9))
    channel, stub = raw_stub(server, server.token)
    with channel:
        stream = stub.WatchJob(pb.WatchJobRequest(job_id=job.id))
        head = [next(stream) for _ in range(3)]
        stream.cancel()  # the client goes away mid-stream
        rest = list(stub.WatchJob(pb.WatchJobRequest(job_id=job.id, after_seq=head[-1].seq), timeout=120))
        whole = list(stub.WatchJob(pb.WatchJobRequest(job_id=job.id), timeout=60))
    seqs = [e.seq for e in head + rest]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [e.SerializeToString() for e in head + rest] == [e.SerializeToString() for e in whole]
    assert whole[-1].state.state == pb.JOB_STATE_SUCCEEDED


def test_explain_then_confirm(client: RiverClient, media_root: Path) -> None:
    media = media_root / "clip.mp4"
    target = first_object(client, media, (0, 9))
    job = client.submit_edit(
        media, frames=(0, 9), targets=[str(target)], op="blur", format="png", confirm=True, output="confirmed"
    )
    waiting = client.wait(job.id, timeout=120)
    assert state_name(waiting.state) == "AWAITING_CONFIRMATION"
    assert [t.id for t in waiting.plan.targets] == [target]
    assert waiting.plan.explanation and Path(waiting.plan.preview_image).is_file()
    assert not Path(waiting.spec.output).exists(), "nothing is rendered before the editor confirms"
    # what a front-end needs to draw any set of objects itself: every object, a strip, a mask per object
    built = client.wait(client.submit_edit(media, kind="twin", frames=(0, 9)).id, timeout=120)
    twin = json.loads(Path(built.results.twin).read_text())  # the same (cached) twin the plan was made on
    assert [o.id for o in waiting.plan.objects] == [t["id"] for t in twin["tracks"]]
    spans = {o.id: [(r.start, r.end) for r in o.frames] for o in waiting.plan.objects}
    assert spans[target] == [(t.start, t.end) for t in waiting.plan.targets[0].frames]
    numbers = list(waiting.plan.overlay_frame_numbers)
    assert numbers[0] == 0 and numbers[-1] == 8 and len(numbers) == 4
    with Image.open(waiting.plan.overlay_frames) as strip:
        assert strip.size == (4 * 320, 180) and strip.mode == "RGB"
    masks = {int(p.stem): p for p in Path(waiting.plan.overlay_masks).glob("*.png")}
    assert set(masks) <= set(spans) and target in masks
    with Image.open(masks[target]) as mask:
        assert mask.size == (4 * 320, 180) and mask.mode == "L"
        inside = [slot for slot, f in enumerate(numbers) if any(a <= f < b for a, b in spans[target])]
        for slot in range(4):  # the mask is drawn exactly in the slots of the frames the object is in
            tile = mask.crop((slot * 320, 0, (slot + 1) * 320, 180))
            assert (tile.getextrema()[1] == 255) == (slot in inside), slot
    plan = json.loads(waiting.plan.plan_json)
    plan["operations"][0]["targets"][0]["frames"] = [{"start": 2, "end": 6}]  # the editor narrows it
    client.confirm(job.id, json.dumps(plan))
    done = client.wait(job.id, timeout=120)
    assert state_name(done.state) == "SUCCEEDED", done.error.message
    assert done.results.frames == 9
    with pytest.raises(BridgeError) as caught:
        client.confirm(job.id)
    assert caught.value.code == "FAILED_PRECONDITION"


def test_delete_needs_an_ended_job_and_removes_outputs_on_request(
    client: RiverClient, media_root: Path
) -> None:
    job = client.submit_edit(media_root / "clip.mp4", kind="twin", frames=(0, 5), output="to-delete")
    done = client.wait(job.id, timeout=120)
    out = Path(done.results.output_dir)
    assert out.is_dir()
    assert client.delete(job.id, delete_outputs=True).outputs_deleted
    assert not out.exists()
    with pytest.raises(BridgeError) as caught:
        client.get_job(job.id)
    assert caught.value.code == "NOT_FOUND"


def test_a_full_queue_is_resource_exhausted(
    make_server: Callable[..., BridgeServer], media_root: Path
) -> None:
    server = make_server(max_queue=2)
    gate = threading.Event()
    original = server.runner._run  # hold the worker so jobs stay queued: the queue limit is what is tested

    def held(job_id: str) -> None:
        gate.wait(60)
        original(job_id)

    server.runner._run = held  # type: ignore[method-assign]
    with RiverClient(server.address, server.token) as client:
        media = media_root / "clip.mp4"
        client.submit_edit(media, kind="twin", frames=(0, 3))
        client.submit_edit(media, kind="twin", frames=(0, 4))
        with pytest.raises(BridgeError) as caught:
            client.submit_edit(media, kind="twin", frames=(0, 5))
        assert caught.value.code == "RESOURCE_EXHAUSTED"
        gate.set()
        for job in client.iter_jobs():
            assert state_name(client.wait(job.id, timeout=120).state) == "SUCCEEDED"
        client.submit_edit(media, kind="twin", frames=(0, 5))  # room again


def test_not_serving_and_unavailable_while_models_load(
    make_server: Callable[..., BridgeServer], media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from river_core.pipeline import RiverPipeline

    loading = threading.Event()
    release = threading.Event()

    def slow_preload(self: RiverPipeline, **_: object) -> None:
        loading.set()
        release.wait(60)

    monkeypatch.setattr(RiverPipeline, "preload", slow_preload)
    server = make_server(preload=True)
    assert loading.wait(30)
    with RiverClient(server.address, server.token) as client:
        assert client.health() == "NOT_SERVING"
        assert client.health("river.bridge.v1.RiverBridge") == "NOT_SERVING"
        with pytest.raises(BridgeError) as caught:
            client.submit_edit(media_root / "clip.mp4", kind="twin")
        assert caught.value.code == "UNAVAILABLE" and "loading" in caught.value.details
        assert not client.capabilities().ready
        submitted: list[int] = []
        argv = [
            "jobs",
            "submit",
            str(media_root / "clip.mp4"),
            "--kind",
            "twin",
            "--range",
            "0:3",
            "--no-start",
            "-q",
        ]
        # `river jobs submit` waits for the models rather than failing
        args = build_parser((add_serve, cli_jobs.add_commands)).parse_args(
            argv
        )  # main() wants the main thread
        cli = threading.Thread(target=lambda: submitted.append(args.handler(args)))
        cli.start()
        cli.join(3.0)  # longer than the client's own UNAVAILABLE retries (1.7 s)
        assert cli.is_alive() and not client.list_jobs().jobs, "it must wait while the models load"
        release.set()
        cli.join(60)
        assert submitted == [0] and len(client.list_jobs().jobs) == 1
        client.wait_ready(timeout=30)
        assert client.health() == "SERVING"
        client.submit_edit(media_root / "clip.mp4", kind="twin", frames=(0, 3))


def test_thirty_two_concurrent_clients_lose_nothing(server: BridgeServer, media_root: Path) -> None:
    media = media_root / "clip.mp4"
    with RiverClient(server.address, server.token) as warm:  # one build; the rest are cache hits
        warm.wait(warm.submit_edit(media, kind="twin", frames=(0, 4)).id, timeout=120)
    ids: dict[str, str] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(32)

    def one(n: int) -> None:
        try:
            with RiverClient(server.address, server.token) as c:
                barrier.wait(30)
                for k in range(2):
                    rid = f"client{n}-job{k}"
                    job = c.submit_edit(media, kind="twin", frames=(0, 4), request_id=rid)
                    assert c.submit_edit(media, kind="twin", frames=(0, 4), request_id=rid).id == job.id
                    with lock:
                        ids[rid] = job.id
        except Exception as exc:  # noqa: BLE001  (reported by the main thread)
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    assert len(ids) == 64 and len(set(ids.values())) == 64
    with RiverClient(server.address, server.token) as c:
        for job_id in ids.values():
            assert state_name(c.wait(job_id, timeout=120).state) == "SUCCEEDED"
        listed = {j.id for j in c.iter_jobs(page_size=7)}
    assert set(ids.values()) <= listed and len(listed) == 65


def test_generated_code_is_up_to_date() -> None:
    from bridge import codegen

    assert codegen.stale() == [], "run: python -m bridge.codegen"


def test_discovery_file_is_private_and_removed_on_stop(make_server: Callable[..., BridgeServer]) -> None:
    server = make_server()
    path = server.discovery_file
    assert path.is_file() and (path.stat().st_mode & 0o777) == 0o600
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    assert json.loads(path.read_text())["token"] == server.token
    socket_path = Path(server.address.removeprefix("unix:"))
    assert (socket_path.stat().st_mode & 0o777) == 0o600
    server.stop()
    assert not path.exists() and not socket_path.exists()


def test_loopback_tcp_on_request(make_server: Callable[..., BridgeServer], media_root: Path) -> None:
    server = make_server(port=0)
    host, port = server.address.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    with RiverClient(server.address, server.token) as client:
        job = client.submit_edit(media_root / "clip.mp4", kind="twin", frames=(0, 3))
        assert state_name(client.wait(job.id, timeout=280).state) == "SUCCEEDED"
    with RiverClient(server.address, "wrong") as intruder, pytest.raises(BridgeError) as caught:
        intruder.capabilities()
    assert caught.value.code == "UNAUTHENTICATED"


@pytest.mark.shared_media
def test_issue_clip_01_dog_blur_through_the_bridge(
    make_server: Callable[..., BridgeServer], shared_media: Callable[[str], Path]
) -> None:
    """The issue's must-show on the real footage: 01_dog 0:17, explicit targets, --op blur."""
    from fractions import Fraction

    from river_core.media import probe

    clip = shared_media("01_dog.mp4")
    server = make_server(media_roots=[clip.parent])
    with RiverClient(server.address, server.token) as client:
        target = first_object(client, clip, (0, 17))
        job = client.submit_edit(clip, frames=(0, 17), targets=[str(target)], op="blur", format="ffv1")
        events = list(client.watch(job.id))
        assert events[-1].state.state == pb.JOB_STATE_SUCCEEDED
        results = client.get_job(job.id).results
    info = probe(Path(results.media))
    assert (info.frame_count, info.rate, info.width, info.height) == (17, Fraction(30000, 1001), 1280, 720)
    assert results.frames == 17 and results.timecode == "00:00:00:00"


def test_one_server_per_runtime_dir_and_per_state_dir(
    make_server: Callable[..., BridgeServer], tmp_path: Path
) -> None:
    from bridge.server.app import ServerRunning

    first = make_server()
    with pytest.raises(ServerRunning, match=r"bridge\.lock"):
        make_server()  # same discovery file
    with pytest.raises(ServerRunning, match=r"server\.lock"):
        make_server(discovery=tmp_path / "other" / "bridge.json")  # same job store
    first.stop()
    make_server()  # the locks went with the first server


def test_a_malformed_timecode_is_invalid_argument_naming_the_field(
    client: RiverClient, media_root: Path
) -> None:
    """Another client than ours can send any text as the host's timecode: it is checked at the clip's
    rate (the syntax, and a frame number the rate has), never recorded as it came."""
    media = media_root / "clip.mp4"
    for bad, why in (
        ("garbage", "is not HH:MM:SS:FF"),
        ("00:00:00:99", "out of range"),
        ("1" * 5000, "5000"),
    ):
        spec = client.edit_spec(media, kind="twin", frames=(0, 3))
        spec.media.timecode = bad
        with pytest.raises(BridgeError) as caught:
            client.submit(spec)
        assert caught.value.code == "INVALID_ARGUMENT"
        assert caught.value.details.startswith("spec.media.timecode: ") and why in caught.value.details
    assert not client.list_jobs().jobs
    job = client.submit_edit(media, kind="twin", frames=(0, 3), timecode="01:00:00:00")
    assert job.spec.media.timecode == "01:00:00:00"


def serve(argv: list[str], tmp_path: Path, media_root: Path) -> int:
    """``river serve ARGV`` in this process, as the ``river`` command runs it."""
    from river_core.cli import main

    common = ["--profile", "tiny", "--no-preload", "-q", "--media-root", str(media_root)]
    return main(["serve", *common, "--output-root", str(tmp_path / "out"), *argv], extensions=[add_serve])


def test_serve_on_a_port_in_use_is_one_line(
    make_server: Callable[..., BridgeServer],
    tmp_path: Path,
    media_root: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Not grpc's C-core log line and an internal error (exit 70), but what is wrong and the fix."""
    first = make_server(port=0)
    port = int(first.address.rsplit(":", 1)[1])
    capfd.readouterr()
    other = ["--discovery", str(tmp_path / "other.json"), "--state-dir", str(tmp_path / "other")]
    assert serve(["--port", str(port), *other], tmp_path, media_root) == 1
    out, err = capfd.readouterr()
    assert out == ""
    assert err == (
        f"river: error: could not start the server: port {port} on 127.0.0.1 is in use (another server?); "
        "pick another --port, or --port 0 for a free one\n"
    )
    # The failed start left no lock behind: a server on a free port starts with the same files.
    first.stop()
    again = make_server(port=0, discovery=tmp_path / "other.json", state_dir=tmp_path / "other")
    assert again.address.startswith("127.0.0.1:")


def test_a_port_taken_after_the_check_is_still_one_line(
    make_server: Callable[..., BridgeServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The port checked free, then taken before grpc binds it: grpc's RuntimeError (which says nothing
    of why) becomes the same OSError `river serve` reports in one line, and the start leaves nothing held."""
    from bridge.server import app

    first = make_server(port=0)
    port = int(first.address.rsplit(":", 1)[1])
    checks = iter([None])  # the first check misses it; the one after the failed bind sees it
    real = app._tcp_port_problem
    monkeypatch.setattr(app, "_tcp_port_problem", lambda p: next(checks, None) or real(p))
    other = {"discovery": tmp_path / "other.json", "state_dir": tmp_path / "other"}
    with pytest.raises(OSError, match=rf"^port {port} on 127.0.0.1 is in use \(another server\?\)"):
        make_server(port=port, **other)
    assert make_server(port=0, **other).address.startswith("127.0.0.1:")


def test_serve_with_an_unsafe_runtime_dir_is_a_user_error(
    runtime_dir: Path, tmp_path: Path, media_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bridge's own errors (DiscoveryError here) are the user's to fix: exit 1, no "bug"."""
    runtime_dir.chmod(0o755)
    assert serve(["--port", "0", "--state-dir", str(tmp_path / "state")], tmp_path, media_root) == 1
    assert capsys.readouterr().err == (
        f"river: error: the runtime directory {runtime_dir} is accessible by others (mode 0755); "
        f"chmod 700 {runtime_dir} or set RIVER_RUNTIME_DIR\n"
    )


def test_serve_with_an_unusable_job_store_is_a_user_error(
    runtime_dir: Path, tmp_path: Path, media_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "jobs.sqlite3").write_text("not a database\n")
    assert serve(["--port", "0", "--state-dir", str(tmp_path / "bad")], tmp_path, media_root) == 1
    err = capsys.readouterr().err
    assert err.startswith("river: error: ") and err.count("\n") == 1
    assert "is not a RIVER NLE job store" in err and "bug" not in err


def test_reflection_lists_the_service_to_a_client_with_the_token(server: BridgeServer) -> None:
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    channel, _ = raw_stub(server, server.token)
    with channel:
        services = ProtoReflectionDescriptorDatabase(channel).get_services()
    assert "river.bridge.v1.RiverBridge" in services and "grpc.health.v1.Health" in services
    channel, _ = raw_stub(server, None)
    with channel, pytest.raises(grpc.RpcError) as caught:
        ProtoReflectionDescriptorDatabase(channel).get_services()
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
