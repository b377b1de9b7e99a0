"""Malformed requests, generated: the server answers each with a proper status and keeps serving.

A status of INTERNAL or UNKNOWN from a handler means an unchecked field reached the engine; the
tests fail on it. (gRPC itself answers undecodable bytes with INTERNAL "Exception deserializing
request", before our code runs; that one is allowed for the raw-bytes test only.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.server.app import BridgeServer
from bridge.v1 import bridge_pb2 as pb
from tests.bridge.test_server import raw_stub

ANSWERS = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
HYPOTHESIS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=300)
big = st.integers(min_value=-(2**63), max_value=2**63 - 1)
small = st.integers(min_value=-(2**31), max_value=2**31 - 1)
floats = st.floats(allow_nan=True, allow_infinity=True, width=64)


def paths(media_root: Path) -> st.SearchStrategy[str]:
    clip = str(media_root / "clip.mp4")
    return st.one_of(
        st.sampled_from([clip, str(media_root), "/etc/passwd", "", "clip.mp4", clip + "\x00x",
                         str(media_root / ("x" * 300)), str(media_root / "nope.mp4"), "/" + "a/" * 3000]),
        text,
    )  # fmt: skip


@st.composite
def specs(draw: st.DrawFn, media_root: Path) -> pb.EditSpec:
    spec = pb.EditSpec(
        kind=(kind := draw(st.sampled_from([1, 2, 3, 4]) | st.integers(-3, 8))),  # mostly real kinds
        op=draw(st.sampled_from(["", "blur", "generate"]) | text),
    )
    spec.media.path = draw(st.just(str(media_root / "clip.mp4")) | paths(media_root))
    if draw(st.booleans()):
        spec.media.range.start, spec.media.range.end = draw(
            st.tuples(st.integers(0, 95), st.integers(0, 95)) | st.tuples(big, big)
        )
    if draw(st.booleans()):
        spec.media.rate.num, spec.media.rate.den = draw(st.just((30000, 1001)) | st.tuples(big, big))
    spec.media.handles = draw(st.just(0) | big)
    natural = {1: None, 2: "query", 3: "plan_json", 4: "targets"}.get(kind)
    what = draw(st.sampled_from([natural, natural, "query", "targets", "plan_json", None]))
    if what == "query":
        spec.query = draw(text)
    elif what == "targets":
        spec.targets.items.extend(draw(st.lists(text, max_size=4)))
    elif what == "plan_json":
        spec.plan_json = draw(
            text | st.just('{"twin": {"frame_range": {"start": 0, "end": 5}}}') | st.just("[]")
        )
    spec.prompt, spec.color = draw(text), draw(st.sampled_from(["", "red"]) | text)
    spec.profile, spec.format = (
        draw(st.sampled_from(["", "tiny"]) | text),
        draw(st.sampled_from(["", "png"]) | text),
    )
    spec.output = draw(st.sampled_from(["", "o", "../o", "/tmp/o"]) | text)
    spec.remove, spec.confirm, spec.overwrite = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    if draw(st.booleans()):
        spec.render.seed, spec.render.steps = draw(big), draw(small)
        spec.render.guidance_scale, spec.render.conditioning_scale = draw(floats), draw(floats)
        spec.render.window, spec.render.overlap = draw(small), draw(small)
    for key, value in draw(st.dictionaries(text, text, max_size=3)).items():
        spec.host_context[key] = value
    return spec


def status(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def test_generated_submissions_never_crash_the_server(server: BridgeServer, media_root: Path) -> None:
    channel, stub = raw_stub(server, server.token)

    seen: Counter[str] = Counter()

    @HYPOTHESIS
    @given(
        spec=specs(media_root),
        request_id=st.uuids().map(lambda u: u.hex) | st.sampled_from(["", "bad id"]) | text,
    )
    def submit(spec: pb.EditSpec, request_id: str) -> None:
        request = pb.SubmitEditRequest(request_id=request_id, spec=spec)
        try:
            job = stub.SubmitEdit(request, timeout=30)
        except grpc.RpcError as exc:
            assert exc.code() in ANSWERS, (exc.code(), exc.details(), spec)
            assert exc.details() and "\n" not in exc.details()
            seen[exc.details().split(":")[0]] += 1
            return
        seen["accepted"] += 1
        stub.CancelJob(pb.CancelJobRequest(job_id=job.id), timeout=30)  # keep the worker free

    with channel:
        submit()
        assert len(seen) >= 4, f"the generated requests hardly vary: {seen}"
        assert stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=10).api_version


def test_generated_job_calls_never_crash_the_server(server: BridgeServer) -> None:
    channel, stub = raw_stub(server, server.token)
    ids = st.sampled_from(["", "j" + "0" * 19, "J" + "0" * 19, "../x"]) | text

    @HYPOTHESIS
    @given(job_id=ids, number=big, states=st.lists(st.integers(-2, 9), max_size=3), token=text)
    def calls(job_id: str, number: int, states: list[int], token: str) -> None:
        wait_ms = number % 5000 if number > 0 else number  # a valid wait stays short
        for call in (
            lambda: stub.GetJob(pb.GetJobRequest(job_id=job_id), timeout=10),
            lambda: stub.CancelJob(pb.CancelJobRequest(job_id=job_id, reason=token), timeout=10),
            lambda: stub.WaitJob(pb.WaitJobRequest(job_id=job_id, timeout_ms=wait_ms), timeout=10),
            lambda: stub.DeleteJob(pb.DeleteJobRequest(job_id=job_id, delete_outputs=True), timeout=10),
            lambda: stub.ConfirmPlan(pb.ConfirmPlanRequest(job_id=job_id, plan_json=token), timeout=10),
            lambda: stub.WatchJob(pb.WatchJobRequest(job_id=job_id, after_seq=number), timeout=10),
            lambda: stub.ListJobs(pb.ListJobsRequest(states=states, kind=number % 7, page_size=number % 2**31,
                                                     page_token=token), timeout=10),
            lambda: stub.SubmitBatch(pb.SubmitBatchRequest(batch_id=token), timeout=10),
        ):  # fmt: skip
            code, details = status(call)
            assert code in ANSWERS, (code, details)

    with channel:
        calls()


@pytest.mark.parametrize("method", ["SubmitEdit", "GetJob", "ListJobs", "WatchJob", "ConfirmPlan"])
def test_undecodable_bytes_are_refused(server: BridgeServer, method: str) -> None:
    channel, _ = raw_stub(server, server.token)

    @HYPOTHESIS
    @given(payload=st.binary(max_size=512))
    def send(payload: bytes) -> None:
        path = f"/river.bridge.v1.RiverBridge/{method}"

        def call() -> object:
            if method == "WatchJob":
                return list(channel.unary_stream(path)(payload, timeout=10))
            return channel.unary_unary(path)(payload, timeout=10)

        code, details = status(call)
        assert code in ANSWERS or (code == grpc.StatusCode.INTERNAL and "deserializ" in details), details

    with channel:
        send()
        stub = raw_stub(server, server.token)[1]
        assert stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=10).api_version
