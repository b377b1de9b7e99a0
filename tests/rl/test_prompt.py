"""Training, evaluation and inference build one prompt: the reasoner's, in the recipe's style; the tiny
style (and the small one) fits a CPU recipe, and a trained model folder tells ``river reason`` which style
it learned."""

from __future__ import annotations

import json
from pathlib import Path

from river_core.cli.reasoning import _trained_prompt
from river_core.reasoning.reasoner import Reasoner, ReasonerSettings
from river_core.reasoning.view import index_view
from river_core.rl.config import load_config
from river_core.rl.rollout import prepare
from river_core.rl.sft import build_policy, save_policy
from river_core.rl.tasks import read_tasks
from river_core.twin.schema import load_twin

RECIPE = Path(__file__).resolve().parents[2] / "trainer" / "configs" / "tiny-cpu.yaml"


def test_tiny_cpu_trains_on_the_prompt_inference_sends(synth_dir: Path, tmp_path: Path) -> None:
    config = load_config(RECIPE, [f"tasks={synth_dir}", "tiny_hidden=16"])
    assert config.prompt == "tiny" and config.max_prompt_tokens is None
    llm = build_policy(config)
    for task in read_tasks(synth_dir / "test.jsonl"):
        episode = prepare(task, synth_dir, llm, prompt=config.prompt)
        twin = load_twin(task.twin_path(synth_dir))
        settings = ReasonerSettings(prompt="tiny", max_execute_rounds=config.max_execute_rounds)
        system, user, record = Reasoner(llm, sandbox=object(), settings=settings).build_prompt(  # type: ignore[arg-type]
            twin, task.query
        )
        prompt, prefill = llm.render_prompt(system, user)
        assert episode.prompt_ids == llm.encode(prompt) and episode.prefill == prefill
        assert len(episode.prompt_ids) < 300, len(episode.prompt_ids)  # byte-level tokens
        assert record["format"] == "none" and user.endswith(f"Editing request: {task.query}")
        fr = twin.video.frame_range
        assert f"frames {fr.start}-{fr.end - 1}" in user
        # the small style's object index lists every object
        small = ReasonerSettings(prompt="small", max_execute_rounds=config.max_execute_rounds)
        _, user, record = Reasoner(llm, sandbox=object(), settings=small).build_prompt(twin, task.query)  # type: ignore[arg-type]
        assert record["format"] == "index" and len(llm.encode(user)) < 1100
        view = index_view(twin)
        for entry in twin.frames:
            for obj in entry.objects:
                assert f'obj {obj.id} "{obj.category}" "{obj.attributes}" seen ' in view
    out = save_policy(llm.model, llm.tokenizer, tmp_path / "model", config)
    assert json.loads((out / "reasoner.json").read_text())["prompt"] == "tiny"
    assert _trained_prompt(f"transformers:{out}") == "tiny"
    assert _trained_prompt("tiny") is None and _trained_prompt(f"transformers:{tmp_path}") is None
