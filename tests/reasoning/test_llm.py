"""The reasoner's LLM backends: a tiny Qwen2 built in code (transformers) and the OpenAI-compatible
HTTP backend against a real HTTP server in a thread (the network boundary is the only fake)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import torch
from huggingface_hub import constants as hf_constants
from huggingface_hub import try_to_load_from_cache

from river_core.devices import DevicePlan
from river_core.errors import ModelUnavailableError, RiverError
from river_core.reasoning import llm_transformers
from river_core.reasoning.llm import (
    PAPER_MODEL_ID,
    R1_ASSISTANT,
    R1_USER,
    GenerationSettings,
    LLMInfo,
    OpenAICompatibleLLM,
    call_seed,
    render_r1_prompt,
)
from river_core.reasoning.llm_transformers import TransformersLLM, TransformersSession, load, tiny
from river_core.reasoning.llms import parse_llm_spec
from river_core.reasoning.protocol import STOP_STRINGS, TAG_STRINGS, THINK_PREFILL

CPU = DevicePlan("cpu", "float32")
GREEDY = GenerationSettings(temperature=0, max_new_tokens=200)
PROMPTS = ("Remove the dog.", "Make the car red.", "Blur the faces.", "Slow down the jump.")


@pytest.fixture(scope="module")
def llm() -> TransformersLLM:
    return tiny(seed=0, plan=CPU)


def greedy_run(llm: TransformersLLM, user: str, n: int) -> TransformersSession:
    session = llm.start("", user, GREEDY)
    session.generate(stop=(), max_new_tokens=n)
    return session


# --- transformers backend -------------------------------------------------------------------------


def test_tiny_builds_offline_with_r1_prompt_and_single_token_tags(llm: TransformersLLM) -> None:
    assert llm.info == LLMInfo("transformers", "tiny:Qwen2ForCausalLM")
    assert llm.info.to_json() == {"kind": "transformers", "model": "tiny:Qwen2ForCausalLM", "revision": None}
    # the tiny tokenizer's chat template renders what the built-in R1 template does
    assert llm.render_prompt("S", "U") == (render_r1_prompt("S", "U"), THINK_PREFILL)
    assert render_r1_prompt("S", "U").endswith(f"S{R1_USER}U{R1_ASSISTANT}")
    no_template = llm_transformers.tiny_tokenizer()
    no_template.chat_template = None
    bare = TransformersLLM(llm.model, no_template, info=llm.info, plan=CPU)
    assert bare.render_prompt("S", "U") == llm.render_prompt("S", "U")
    for tag in TAG_STRINGS:
        assert len(llm.encode(tag)) == 1, tag
    session = llm.start("S", "U", GREEDY)
    assert session.prefill == THINK_PREFILL
    assert llm.decode(session.prompt_ids) == render_r1_prompt("S", "U")
    assert llm.decode(session.completion_ids) == THINK_PREFILL
    assert session.completion_mask == [0] * len(session.completion_ids)
    assert session.completion_text() == THINK_PREFILL


def test_same_seed_same_text_other_seed_other_text(llm: TransformersLLM) -> None:
    def rollout(seed: int) -> tuple[str, list[int]]:
        session = llm.start("", PROMPTS[0], GenerationSettings(temperature=1.0, seed=seed))
        session.generate(stop=STOP_STRINGS, max_new_tokens=12)
        session.inject("<results>\n1\n</results>\n")
        session.generate(stop=STOP_STRINGS, max_new_tokens=12)
        return session.completion_text(), session.token_ids

    before = torch.get_rng_state()
    assert rollout(3) == rollout(3)
    assert rollout(3) != rollout(4)
    assert torch.equal(torch.get_rng_state(), before), "seeded sampling must not move the global RNG"
    again = tiny(seed=0, plan=CPU).start("", PROMPTS[0], GenerationSettings(temperature=1.0, seed=3))
    first = llm.start("", PROMPTS[0], GenerationSettings(temperature=1.0, seed=3))
    assert again.generate(stop=(), max_new_tokens=12) == first.generate(stop=(), max_new_tokens=12)
    assert tiny(seed=1, plan=CPU).start("", PROMPTS[0], GREEDY).generate(stop=(), max_new_tokens=12) != (
        llm.start("", PROMPTS[0], GREEDY).generate(stop=(), max_new_tokens=12)
    )


def test_save_pretrained_then_load_generates_the_same(llm: TransformersLLM, tmp_path: Path) -> None:
    llm.save_pretrained(tmp_path)
    loaded = load(str(tmp_path), plan=CPU)
    assert loaded.info == LLMInfo("transformers", str(tmp_path), None)
    for tag in TAG_STRINGS:
        assert loaded.encode(tag) == llm.encode(tag), tag
    assert loaded.render_prompt("S", "U") == llm.render_prompt("S", "U")
    for settings in (GREEDY, GenerationSettings(temperature=0.8, seed=5)):
        a, b = llm.start("S", PROMPTS[1], settings), loaded.start("S", PROMPTS[1], settings)
        assert a.generate(stop=STOP_STRINGS, max_new_tokens=16) == b.generate(
            stop=STOP_STRINGS, max_new_tokens=16
        )
        assert a.token_ids == b.token_ids and a.token_mask == b.token_mask


def test_generation_stops_right_after_a_stop_string(llm: TransformersLLM) -> None:
    full = greedy_run(llm, PROMPTS[0], 40)
    text = full.completion_text().removeprefix(THINK_PREFILL)
    # the first two-character piece (no undecodable bytes) whose first occurrence is here
    start = next(
        i for i in range(len(text) - 1) if "�" not in text[i : i + 2] and text.find(text[i : i + 2]) == i
    )
    stop = text[start : start + 2]
    session = llm.start("", PROMPTS[0], GREEDY)
    out = session.generate(stop=["never-produced", stop], max_new_tokens=40)
    assert out == text[: start + 2] and out.endswith(stop)
    new = session.completion_ids[len(llm.encode(THINK_PREFILL)) :]
    assert session.completion_ids == full.completion_ids[: len(session.completion_ids)], "same tokens, cut"
    assert llm.decode(new) == out and len(new) < 40


def test_a_stop_string_ending_inside_a_token_is_cut_there(llm: TransformersLLM) -> None:
    # through generate: a multi-character token (a tag or chat token) in a greedy run, cut halfway
    for user in PROMPTS:
        full = greedy_run(llm, user, 40)
        ids = full.completion_ids[2:]
        pieces = [llm.decode([i]) for i in ids]
        j = next((j for j, p in enumerate(pieces) if len(p) >= 4 and "�" not in p), None)
        if j is None:
            continue
        offset, stop = len(llm.decode(ids[:j])), pieces[j][:3]
        text = llm.decode(ids)
        if text.find(stop) != offset:
            continue
        session = llm.start("", user, GREEDY)
        assert session.generate(stop=[stop], max_new_tokens=40) == text[: offset + 3]
        assert session.completion_ids[2:] == ids[:j] + llm.encode(stop)
        assert sum(session.completion_mask) == j + len(llm.encode(stop))
        break
    else:
        pytest.fail("no greedy run of the tiny model wrote a multi-character token")
    # and directly on ids: the tag token "</execute>" runs past the stop string "</exec"
    session = llm.start("", "U", GREEDY)
    ids = llm.encode("ab</execute>cd")
    assert session.cut(ids, ["</exec"]) == (llm.encode("ab") + llm.encode("</exec"), "ab</exec")
    assert session.cut(ids, ["</execute>"]) == (llm.encode("ab</execute>"), "ab</execute>")
    assert session.cut(ids, ["d", "</execute>"]) == (llm.encode("ab</execute>"), "ab</execute>")
    eos = llm.eos_ids[0]
    assert session.cut([*llm.encode("ab"), eos, *llm.encode("cd")], STOP_STRINGS) == (
        [*llm.encode("ab"), eos],
        "ab",
    )
    assert session.finished


def test_inject_appends_masked_ids_and_generation_resumes_from_all_ids(llm: TransformersLLM) -> None:
    session = llm.start("S", PROMPTS[2], GREEDY)
    first = session.generate(stop=STOP_STRINGS, max_new_tokens=6)
    before = session.token_ids
    injected = "<results>\n{'dog': 3}\n</results>\n"
    session.inject(injected)
    added = session.token_ids[len(before) :]
    assert added == llm.encode(injected) and session.token_mask[len(before) :] == [0] * len(added)
    second = session.generate(stop=STOP_STRINGS, max_new_tokens=6)
    # the continuation is what the model writes from the whole id sequence
    context = torch.tensor([session.token_ids[: len(before) + len(added)]])
    with torch.inference_mode():
        reference = llm.model.generate(  # type: ignore[operator]
            context, attention_mask=torch.ones_like(context), max_new_tokens=6, do_sample=False, top_k=None
        )[0, context.shape[1] :].tolist()
    assert (
        session.token_ids[len(before) + len(added) :]
        == reference[: len(session.token_ids) - context.shape[1]]
    )
    assert len(session.token_mask) == len(session.token_ids)
    assert session.token_mask == [0] * len(session.prompt_ids) + session.completion_mask
    assert session.completion_mask == [0, 0] + [1] * (len(before) - len(session.prompt_ids) - 2) + [0] * len(
        added
    ) + [1] * (len(session.token_ids) - len(before) - len(added))
    assert [s.source for s in session.segments] == ["prefill", "generated", "injected", "generated"]
    assert session.completion_text() == session.prefill + first + injected + second
    assert llm.decode(session.completion_ids) == session.completion_text()


def test_max_new_tokens_per_call_and_per_session(llm: TransformersLLM) -> None:
    session = llm.start("", PROMPTS[0], GenerationSettings(temperature=0, max_new_tokens=10))
    session.generate(stop=(), max_new_tokens=7)
    assert sum(session.completion_mask) == 7 and not session.finished
    session.generate(stop=(), max_new_tokens=7)
    assert sum(session.completion_mask) == 10 and session.budget_left == 0
    assert session.generate(stop=(), max_new_tokens=7) == ""
    with pytest.raises(RiverError, match="`stop` must be a sequence"):
        session.generate(stop="</execute>", max_new_tokens=3)
    with pytest.raises(RiverError, match="`max_new_tokens` must be an integer ≥ 1, got 0"):
        session.generate(stop=(), max_new_tokens=0)


def test_paper_model_offline_without_cache_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    if isinstance(try_to_load_from_cache(PAPER_MODEL_ID, "config.json"), str):
        pytest.skip("the paper checkpoint is in this machine's cache")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    began = time.monotonic()
    with pytest.raises(
        ModelUnavailableError, match=r"'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B' is not in"
    ) as err:
        load(PAPER_MODEL_ID, plan=CPU)
    assert time.monotonic() - began < 10
    assert "\n" not in str(err.value) and "hf download deepseek-ai/DeepSeek-R1-Distill-Qwen-7B" in str(
        err.value
    )


def test_paper_config_is_r1_distill_qwen_7b() -> None:
    config = llm_transformers.paper_config()
    assert (config.hidden_size, config.intermediate_size) == (3584, 18944)
    assert (config.num_hidden_layers, config.num_attention_heads, config.num_key_value_heads) == (28, 28, 4)
    assert (config.vocab_size, config.max_position_embeddings) == (152064, 131072)
    assert config.rope_parameters is not None and config.rope_parameters["rope_theta"] == 10000.0
    assert config.rms_norm_eps == 1e-6 and config.tie_word_embeddings is False
    assert (config.bos_token_id, config.eos_token_id) == (151646, 151643)


# --- settings and --llm ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_new_tokens": 0}, "`max_new_tokens` must be an integer ≥ 1, got 0"),
        ({"max_new_tokens": 2.5}, "`max_new_tokens`"),
        ({"temperature": -0.1}, r"`temperature` must be a finite number ≥ 0, got -0\.1; use 0 for greedy"),
        ({"temperature": float("nan")}, "`temperature`"),
        ({"top_p": 0}, r"`top_p` must be in \(0, 1\], got 0"),
        ({"top_p": 1.5}, "`top_p`"),
        ({"seed": -1}, r"`seed` must be None or an integer in \[0, 2147483648\), got -1"),
        ({"seed": True}, "`seed`"),
    ],
)
def test_generation_settings_refuse_bad_values(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(RiverError, match=match):
        GenerationSettings(**kwargs)


def test_call_seeds_start_with_the_seed_and_differ() -> None:
    assert call_seed(7, 0) == 7
    assert len({call_seed(7, k) for k in range(50)}) == 50


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("paper", ("paper", None)),
        ("tiny", ("tiny", None)),
        ("replay:runs/rollouts.jsonl", ("replay", "runs/rollouts.jsonl")),
        ("transformers:/ckpt/grpo-step-500", ("transformers", "/ckpt/grpo-step-500")),
        ("openai:http://127.0.0.1:8000", ("openai", "http://127.0.0.1:8000")),
        ("openai:https://llm.lan/v1#model=r1", ("openai", "https://llm.lan/v1#model=r1")),
    ],
)
def test_llm_specs_accepted(spec: str, expected: tuple[str, str | None]) -> None:
    assert parse_llm_spec(spec) == expected


@pytest.mark.parametrize(
    "spec",
    ["", "gpt4", "replay:", "openai:", "openai:127.0.0.1:8000", "openai:http://h#mdl=x", "vllm:http://h"],
)
def test_llm_specs_rejected_name_the_accepted_forms(spec: str) -> None:
    with pytest.raises(RiverError, match=r"paper, tiny, .*replay:FILE, openai:URL|URL#model=NAME|http\(s\)"):
        parse_llm_spec(spec)


# --- OpenAI-compatible HTTP backend ---------------------------------------------------------------


@dataclass
class FakeServer:
    """Answers each request with the next of ``answers`` (status, JSON-able or bytes, delay) and
    records (method, path, headers, body)."""

    url: str
    answers: list[tuple[int, Any, float]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)

    def completion(self, text: str, finish: str = "stop", **extra: Any) -> None:
        choice = {"index": 0, "text": text, "finish_reason": finish, **extra}
        self.answers.append((200, {"choices": [choice], "usage": {"completion_tokens": 5}}, 0.0))


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer("")

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            fake.requests.append((self.command, self.path, dict(self.headers.items()), body))
            status, payload, delay = fake.answers.pop(0)
            time.sleep(delay)
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except BrokenPipeError:  # the client gave up waiting (the timeout test)
                pass

        do_GET = do_POST = answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield fake
    httpd.shutdown()
    httpd.server_close()


def test_requests_carry_template_rollout_stops_budget_seed_and_key(server: FakeServer) -> None:
    llm = OpenAICompatibleLLM(server.url + "/v1/", model="r1", api_key="sekret")
    assert llm.info == LLMInfo("openai", "r1")
    session = llm.start("SYS", "Remove the dog.", GenerationSettings(seed=7, max_new_tokens=100, top_p=0.9))
    server.completion("I count.\n<execute>\nprint(1)\n", stop_reason="</execute>")
    first = session.generate(stop=STOP_STRINGS, max_new_tokens=50)
    assert first == "I count.\n<execute>\nprint(1)\n</execute>"
    session.inject("<results>\n1\n</results>\n")
    server.completion("\nDone.\n</think>\n<edit>{}")  # no stop_reason: the open <edit> is closed
    second = session.generate(stop=STOP_STRINGS, max_new_tokens=500)
    assert second == "\nDone.\n</think>\n<edit>{}</edit>"

    prompt = "SYS<｜User｜>Remove the dog.<｜Assistant｜><think>\n"
    (method, path, headers, body), (_, _, _, body2) = server.requests
    assert (method, path) == ("POST", "/v1/completions")
    assert headers["Authorization"] == "Bearer sekret"
    assert body == {
        "model": "r1",
        "prompt": prompt,
        "max_tokens": 50,
        "temperature": 0.6,
        "top_p": 0.9,
        "n": 1,
        "stream": False,
        "stop": list(STOP_STRINGS),
        "seed": 7,
    }
    assert body2["prompt"] == prompt + first + "<results>\n1\n</results>\n"
    assert (body2["max_tokens"], body2["seed"]) == (95, call_seed(7, 1))  # 100 minus 5 used
    assert [s.source for s in session.segments] == ["prefill", "generated", "injected", "generated"]
    assert session.completion_text() == THINK_PREFILL + first + "<results>\n1\n</results>\n" + second


@pytest.mark.parametrize(
    ("text", "finish", "extra", "expected"),
    [
        ("a<execute>x=1", "stop", {}, "a<execute>x=1</execute>"),  # open block, no report: its tag
        ("ok</think>\n<edit>{}", "stop", {}, "ok</think>\n<edit>{}</edit>"),
        ("all done", "stop", {}, "all done"),  # nothing open: end of sequence
        ("a<execute>x=1", "stop", {"stop_reason": None}, "a<execute>x=1"),  # vLLM: end of sequence
        ("a<execute>x=1", "stop", {"stop_reason": 151643}, "a<execute>x=1"),  # vLLM: a stop token id
        ("a<edit>{}", "stop", {"stop_reason": "</edit>"}, "a<edit>{}</edit>"),
        ("a<edit>{}", "stop", {"stopping_word": "</edit>"}, "a<edit>{}</edit>"),  # llama.cpp
        ("a<edit>{}", "stop", {"stopping_word": ""}, "a<edit>{}"),
        ("a<execute>x=1", "length", {}, "a<execute>x=1"),  # out of tokens
        ("a<execute>x</execute>", "stop", {}, "a<execute>x</execute>"),  # server kept the stop string
        ("a<execute>x</execute>more", "stop", {}, "a<execute>x</execute>"),  # ran past it: cut
    ],
)
def test_the_stop_string_a_server_left_out_is_restored(
    server: FakeServer, text: str, finish: str, extra: dict[str, Any], expected: str
) -> None:
    session = OpenAICompatibleLLM(server.url, model="m").start("", "U", GenerationSettings())
    server.completion(text, finish, **extra)
    assert session.generate(stop=STOP_STRINGS, max_new_tokens=20) == expected
    assert session.finished == (finish == "stop" and not expected.endswith(STOP_STRINGS))


def test_the_model_is_discovered_or_named_in_the_url(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RIVER_LLM_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    server.answers.append((200, {"object": "list", "data": [{"id": "served-r1"}, {"id": "other"}]}, 0.0))
    llm = OpenAICompatibleLLM(server.url)
    assert llm.info == LLMInfo("openai", "served-r1")
    server.completion("x")
    llm.start("", "U", GenerationSettings()).generate(stop=STOP_STRINGS, max_new_tokens=4)
    (get, path, headers, _), (_, _, _, body) = server.requests
    assert (get, path, headers["Authorization"]) == ("GET", "/v1/models", "Bearer from-env")
    assert body["model"] == "served-r1" and "seed" not in body

    monkeypatch.delenv("OPENAI_API_KEY")
    named = OpenAICompatibleLLM(server.url + "/v1#model=r1-q4")
    assert named.model == "r1-q4" and named.base_url == server.url
    server.completion("y")
    named.start("", "U", GenerationSettings()).generate(stop=STOP_STRINGS, max_new_tokens=4)
    assert "Authorization" not in server.requests[-1][2] and server.requests[-1][3]["model"] == "r1-q4"
    server.answers.append((200, {"data": []}, 0.0))
    with pytest.raises(ModelUnavailableError, match="lists no model at /v1/models"):
        _ = OpenAICompatibleLLM(server.url).model


def test_no_server_says_how_to_start_one() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    session = OpenAICompatibleLLM(f"http://127.0.0.1:{port}", model="m").start("", "U", GenerationSettings())
    with pytest.raises(ModelUnavailableError) as err:
        session.generate(stop=STOP_STRINGS, max_new_tokens=4)
    message = str(err.value)
    assert message.startswith(f"no LLM server answers at http://127.0.0.1:{port} (")
    assert "`vllm serve deepseek-ai/DeepSeek-R1-Distill-Qwen-7B`" in message and "--llm openai:URL" in message


@pytest.mark.parametrize(
    ("status", "payload", "error", "match"),
    [
        (
            500,
            {"error": {"message": "CUDA out of\nmemory", "code": 500}},
            RiverError,
            "HTTP 500: CUDA out of memory; see the server's log",
        ),
        (
            400,
            {"error": "prompt is too long"},
            RiverError,
            "HTTP 400: prompt is too long; check the model name",
        ),
        (
            404,
            {"detail": "model 'm' not found"},
            ModelUnavailableError,
            "HTTP 404: model 'm' not found; check the URL",
        ),
        (401, b"Unauthorized", RiverError, "HTTP 401: Unauthorized; set the API key in RIVER_LLM_API_KEY"),
        (200, b"<html>not json</html>", RiverError, r"answered with invalid JSON \(<html>not json</html>\)"),
        (200, {"object": "error"}, RiverError, "answered without completion choices"),
    ],
)
def test_server_failures_are_one_line(
    server: FakeServer, status: int, payload: Any, error: type[RiverError], match: str
) -> None:
    session = OpenAICompatibleLLM(server.url, model="m", api_key="sekret").start(
        "", "U", GenerationSettings()
    )
    server.answers.append((status, payload, 0.0))
    with pytest.raises(error, match=match) as err:
        session.generate(stop=STOP_STRINGS, max_new_tokens=4)
    assert "\n" not in str(err.value) and "sekret" not in str(err.value)
    assert server.url in str(err.value)
    assert session.segments[1:] == []


def test_a_slow_server_times_out(server: FakeServer) -> None:
    session = OpenAICompatibleLLM(server.url, model="m", timeout_s=0.2).start("", "U", GenerationSettings())
    server.answers.append((200, {"choices": []}, 1.0))
    with pytest.raises(ModelUnavailableError, match=r"did not answer within 0\.2 s"):
        session.generate(stop=STOP_STRINGS, max_new_tokens=4)


def test_bad_urls_and_arguments_are_refused() -> None:
    with pytest.raises(RiverError, match="not an http"):
        OpenAICompatibleLLM("127.0.0.1:8000")
    with pytest.raises(RiverError, match="contradicts"):
        OpenAICompatibleLLM("http://h#model=a", model="b")
    with pytest.raises(RiverError, match="`timeout_s`"):
        OpenAICompatibleLLM("http://h", timeout_s=0)
