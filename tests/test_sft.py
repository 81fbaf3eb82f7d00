"""Supervised fine-tuning on a tiny random Llama with the default model's tokenizer: masking, loss, LoRA, resume."""

import json
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from transformers import LlamaForCausalLM

from econalign import EconalignError
from econalign.agent.format import (
    FINAL,
    OUTPUT_OPEN,
    TOOL_CLOSE,
    parse_trace,
    tool_output_block,
)
from econalign.backends import load_backend
from econalign.data.generate import generate_dataset
from econalign.measure.risk import risk_battery
from econalign.training import AlignRunConfig, EIRunConfig, GRPORunConfig, SFTRunConfig, load_config, train_sft
from econalign.training.config import DataConfig
from econalign.training.dataset import (
    load_dataset,
    to_prompt_completion,
    tokenize_record,
)
from econalign.training.sft import build_trainer, resume_point

from commands import ECONALIGN, econalign

ROOT = Path(__file__).parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "sft_chat.jsonl"  # 10 CRRA teacher answers (cut short), 6 synthetic
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_model(make_tiny_llama) -> Path:
    # Wide enough that LoRA on a few layers moves the loss; conftest's 0.5 makes 4 steps of full SFT diverge.
    return make_tiny_llama(initializer_range=0.2)


def write_config(folder: Path, model: Path, training=None, **top) -> Path:
    """A run config on the fixture: batches of 2, 128 tokens, a log every step, a checkpoint every 2."""
    cfg = {
        "model": str(model),
        "data": {"paths": [str(FIXTURE)]},
        "output_dir": str(folder / "run"),
        "training": {"max_steps": 4, "learning_rate": 1e-2, "batch_size": 2, "max_length": 128,
                     "logging_steps": 1, "save_steps": 2, "save_total_limit": 2, **(training or {})},
        **top,
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def complete_checkpoints(run: Path) -> list[int]:
    steps = []
    for state in run.glob("checkpoint-*/trainer_state.json"):
        try:
            steps.append(json.loads(state.read_text())["global_step"])
        except ValueError:  # cut mid-write by the kill
            pass
    return sorted(steps)


# ---------------------------------------------------------------- data and masking


def test_only_answer_tokens_carry_labels(tiny_model, tmp_path):
    trainer = build_trainer(load_config(write_config(tmp_path, tiny_model, training={"max_length": 512})))
    tokenizer = trainer.processing_class
    data = trainer.train_dataset
    assert len(data) == 16
    assert {"id", "family", "preference", "messages"}.isdisjoint(data.column_names)  # metadata dropped
    for example in data:
        prompt = tokenizer.apply_chat_template(example["prompt"], add_generation_prompt=True, return_dict=True)
        n = len(prompt["input_ids"])
        ids, labels = example["input_ids"], example["labels"]
        assert ids[:n] == prompt["input_ids"]
        assert labels[:n] == [-100] * n  # system, user, and the assistant header
        assert labels[n:] == ids[n:]  # the whole answer, end-of-turn token included
        assert tokenizer.decode(labels[n:]) == example["completion"][0]["content"] + "<|im_end|>\n"


def masked_record(answer: str) -> dict:
    return {"prompt": [{"role": "user", "content": "q"}], "completion": [{"role": "assistant", "content": answer}]}


def trained_text(record: dict, tokenizer) -> str:
    out = tokenize_record(record, tokenizer)
    return tokenizer.decode([i for i, keep in zip(out["input_ids"], out["completion_mask"]) if keep])


def test_tool_outputs_carry_no_loss(tokenizer):
    answer = "<think>\nx = <tool>2*3</tool>\n<tool_output>6</tool_output>\nso 6.\n</think>\nFinal answer: accept"
    assert trained_text(masked_record(answer), tokenizer) == (
        "<think>\nx = <tool>2*3</tool>so 6.\n</think>\nFinal answer: accept<|im_end|>\n"
    )


@pytest.mark.parametrize(
    "answer",
    [
        "<think>\n<tool_output>6</tool_output>\n</think>\nFinal answer: accept",  # an output nobody asked for
        "<think>\nI typed <tool_output> by hand\n</think>\nFinal answer: accept",  # an unclosed tag
        "<think>\nThe </tool> tag closes a call.\n</think>\nFinal answer: accept",  # a call tag in prose
    ],
)
def test_only_outputs_that_answer_a_call_are_masked(tokenizer, answer):
    assert trained_text(masked_record(answer), tokenizer) == answer + "<|im_end|>\n"


def test_generated_agentic_traces_train_on_calls_not_results(tokenizer):
    """Every calculator result in real traces is masked, every call and the final line are trained,
    and the masked text is exactly what the runner appends at inference."""
    records = generate_dataset("pt:alpha=0.88,lambda=2.25", ["gamble", "bet", "insurance", "holt_laury"], 8,
                               "agentic", seed=0)
    for row in records:
        answer = row["messages"][-1]["content"]
        parsed = parse_trace(answer)
        trained = trained_text(to_prompt_completion(row, "test"), tokenizer)
        assert OUTPUT_OPEN not in trained and trained.count(TOOL_CLOSE) == len(parsed.tool_calls) > 0
        assert trained.endswith(f"{FINAL} {parsed.answer}<|im_end|>\n")
        without = answer
        for output in parsed.tool_outputs:
            without = without.replace(tool_output_block(output), "", 1)
        assert trained == without + "<|im_end|>\n"


def test_records_are_subsampled_per_file_with_the_seed(tmp_path):
    take = [load_dataset(DataConfig(paths=[FIXTURE, FIXTURE], max_examples=3, seed=s)) for s in (1, 1, 2)]
    assert len(take[0]) == 6 and take[0]["completion"] == take[1]["completion"] != take[2]["completion"]


def test_a_saved_datasets_folder_is_read_like_jsonl(tmp_path):
    from datasets import Dataset, DatasetDict

    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    DatasetDict({"train": Dataset.from_list(rows[10:])}).save_to_disk(tmp_path / "saved")
    data = load_dataset(DataConfig(paths=[tmp_path / "saved"]))
    assert sorted(data["completion"], key=str) == sorted(([r["messages"][-1]] for r in rows[10:]), key=str)


@pytest.mark.parametrize("recipe", sorted(p.name for p in (ROOT / "recipes").glob("*.yaml")))
def test_recipes_are_valid_configs(recipe, monkeypatch):
    monkeypatch.chdir(ROOT)  # recipe paths are relative to the repository root
    kind = {"sft": SFTRunConfig, "grpo": GRPORunConfig, "ei": EIRunConfig, "align": AlignRunConfig}[recipe.split("_")[0]]
    try:
        cfg = load_config(Path("recipes") / recipe, kind)
    except EconalignError as exc:  # only its data may be missing: made by `econalign data` first, or cloned (README)
        made = r"runs/data/[\w-]+/train\.jsonl"
        cloned = r"\.\./risk-preference/sft_data/responses_[\w-]+\.jsonl"
        assert re.search(rf"data\.paths: ({made}|{cloned}) does not exist", str(exc)), exc
        return
    # the default model, or the model of an earlier recipe's run
    assert re.fullmatch(r"default|runs/sft/[\w-]+/model", cfg.model) and cfg.lora is not None


# ---------------------------------------------------------------- training


def test_social_data_trains_unchanged(tiny_model, tmp_path):
    """`econalign data` for a social target feeds the same SFT code path, tool outputs masked."""
    data = tmp_path / "moralis"
    run = econalign("data", "--preference", "moralis:kappa=0.5", "--tasks", "games,dilemma", "--n", "8", "--out", data)
    assert run.returncode == 0, run.stderr
    cfg = write_config(tmp_path, tiny_model, training={"max_length": 1024, "max_steps": 2, "save_steps": 2})
    cfg.write_text(cfg.read_text().replace(str(FIXTURE), str(data / "train.jsonl")))
    result = train_sft(load_config(cfg))
    assert result.global_step == 2 and result.first_loss > 0 and (Path(result.model_dir) / "config.json").exists()


def test_resume_point_skips_checkpoints_cut_by_a_kill(tmp_path):
    for step, state in [(2, "{}"), (4, "{}"), (6, "{"), (8, None)]:  # 6: state cut mid-write; 8: not written yet
        (tmp_path / f"checkpoint-{step}").mkdir()
        if state is not None:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    (tmp_path / "checkpoint-notes").mkdir()
    assert resume_point(tmp_path, resume=True) == tmp_path / "checkpoint-4"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-2", "checkpoint-4", "checkpoint-notes"]
    assert resume_point(tmp_path, resume=False) is None  # starting over drops the earlier run's checkpoints
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-notes"]



def test_full_sft_lowers_the_loss_and_resumes_from_its_checkpoint(tiny_model, tmp_path):
    config = write_config(tmp_path, tiny_model)
    first = train_sft(load_config(config))
    run = Path(first.output_dir)
    assert first.resumed_from is None and first.global_step == 4
    assert first.losses[-1]["loss"] < first.losses[0]["loss"] - 0.1
    assert [r["step"] for r in first.losses] == [1, 2, 3, 4]
    assert (run / "model" / "model.safetensors").exists() and first.adapter_dir is None
    assert (run / "loss.png").read_bytes().startswith(PNG_MAGIC)
    assert len((run / "loss.csv").read_text().splitlines()) == 1 + len(first.losses)
    assert json.loads((run / "checkpoint-4" / "trainer_state.json").read_text())["global_step"] == 4
    saved = (run / "checkpoint-4" / "optimizer.pt").stat().st_mtime_ns

    second = train_sft(load_config(write_config(tmp_path, tiny_model, training={"max_steps": 6})))
    assert second.resumed_from == 4 and second.global_step == 6
    assert json.loads((run / "checkpoint-6" / "trainer_state.json").read_text())["global_step"] == 6
    # Steps 1-4 were not run again: checkpoint-4 was not rewritten, and its logged losses carried over.
    assert (run / "checkpoint-4" / "optimizer.pt").stat().st_mtime_ns == saved
    assert second.losses[:4] == first.losses
    assert [r["step"] for r in second.losses] == [1, 2, 3, 4, 5, 6]

    lora = write_config(tmp_path, tiny_model, training={"max_steps": 8}, lora={"r": 4})
    with pytest.raises(EconalignError, match="holds checkpoints of a run with other lora settings; use --no-resume"):
        train_sft(load_config(lora))


def test_lora_saves_an_adapter_and_a_merged_model_that_scores(tiny_model, tmp_path):
    lora = {"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": ["q_proj", "v_proj", "up_proj"]}
    config = write_config(tmp_path, tiny_model, training={"max_steps": 6, "learning_rate": 3e-2}, lora=lora)
    result = train_sft(load_config(config))
    assert result.losses[-1]["loss"] < result.losses[0]["loss"] - 0.1
    adapter, merged = Path(result.adapter_dir), Path(result.model_dir)
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 8
    assert not (merged / "adapter_config.json").exists()

    base = LlamaForCausalLM.from_pretrained(tiny_model)
    trained = LlamaForCausalLM.from_pretrained(merged)
    assert set(base.state_dict()) == set(trained.state_dict())  # no lora_A / lora_B left
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(base.state_dict()[q], trained.state_dict()[q])  # the adapter was merged in
    k = "model.layers.0.self_attn.k_proj.weight"
    assert torch.equal(base.state_dict()[k], trained.state_dict()[k])  # untargeted weights unchanged

    scores = load_backend(str(merged)).choice_scores(risk_battery(quick=True)[:4])
    assert np.allclose(scores.probs.sum(axis=1), 1) and np.isfinite(scores.probs).all()


def test_killed_run_resumes_from_its_last_checkpoint(tiny_model, tmp_path):
    config = write_config(tmp_path, tiny_model, training={"max_steps": 1000})
    run = tmp_path / "run"
    log = tmp_path / "first.log"
    with open(log, "w") as sink:
        proc = subprocess.Popen([str(ECONALIGN), "train", "sft", "--config", str(config)], stdout=sink, stderr=sink)
        try:
            deadline = time.monotonic() + 120
            while not complete_checkpoints(run):
                assert proc.poll() is None, f"exited early ({proc.returncode}): {log.read_text()[-2000:]}"
                assert time.monotonic() < deadline, "no checkpoint within 120 s"
                time.sleep(0.05)
        finally:
            proc.kill()  # SIGKILL: nothing is cleaned up
            proc.wait()
    assert proc.returncode == -9 and not (run / "model").exists()
    step = complete_checkpoints(run)[-1]

    write_config(tmp_path, tiny_model, training={"max_steps": step + 2})
    res = econalign("train", "sft", "--config", config)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"resumed from the checkpoint at step {step}" in res.stdout
    assert f"model saved to {run / 'model'}" in res.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["resumed_from"], summary["global_step"]) == (step, step + 2)
    assert f"→ {summary['last_loss']:.4f} (step {step + 2})" in res.stdout


# ---------------------------------------------------------------- bad input


VALID = "data: {paths: FIXTURE}\noutput_dir: out\n"
BAD_CONFIGS = {
    "not-yaml": ("model: [default\n", "not valid YAML at line"),
    "not-a-mapping": ("- model\n", "must be a YAML mapping"),
    "unknown-key": (VALID + "training: {epochs: 1, batch: 4}\n", "training.batch: unknown key"),
    "wrong-type": (VALID + "training: {batch_size: four}\n", "training.batch_size: Input should be a valid integer"),
    "missing-data": ("data: {paths: [nope.jsonl]}\noutput_dir: out\n", "data.paths: nope.jsonl does not exist"),
    "no-output": ("data: {paths: FIXTURE}\n", "output_dir: missing"),
    "bad-lora": (VALID + "lora: {r: 0, rank: 8}\n", "lora.r: Input should be greater than 0 (got 0); lora.rank: unknown key"),
}


@pytest.mark.parametrize("name", BAD_CONFIGS)
def test_bad_config_is_one_clear_line(tmp_path, name):
    text, expected = BAD_CONFIGS[name]
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace("FIXTURE", str(FIXTURE)))
    with pytest.raises(EconalignError) as err:
        load_config(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and expected in message, message


def test_missing_config_file(tmp_path):
    with pytest.raises(EconalignError, match="does not exist"):
        load_config(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ('{"messages": [{"role": "user", "content": "hi"}', "line 3: not valid JSON"),
        ('{"messages": [{"role": "user", "content": "hi"}]}', "line 3: the conversation must end with one assistant"),
        ('{"text": "hi"}', "line 3: expected a 'messages' list"),
    ],
    ids=["corrupt-json", "no-answer", "no-messages"],
)
def test_bad_record_names_file_and_line(tmp_path, row, expected):
    path = tmp_path / "data.jsonl"
    path.write_text("".join(FIXTURE.read_text().splitlines(keepends=True)[:2]) + row + "\n")
    with pytest.raises(EconalignError, match=expected) as err:
        load_dataset(DataConfig(paths=[path]))
    assert str(path) in str(err.value)


@pytest.mark.parametrize("case", ["unknown-key", "corrupt-row", "no-model"])
def test_cli_reports_bad_input_in_one_line(tmp_path, tiny_model, case):
    data = tmp_path / "data.jsonl"
    data.write_text(FIXTURE.read_text() + ("" if case == "no-model" else "{not json\n"))
    extra = {"unknown-key": {"epoch": 1}, "corrupt-row": {}, "no-model": {"model": str(tmp_path / "no-model")}}[case]
    cfg = {"model": str(tiny_model), "data": {"paths": [str(data)]}, "output_dir": str(tmp_path / "run"), **extra}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    res = econalign("train", "sft", "--config", tmp_path / "c.yaml")
    assert res.returncode == 2
    assert "Traceback" not in res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    expected = {"unknown-key": "epoch: unknown key", "corrupt-row": f"{data} line 17: not valid JSON",
                "no-model": "unknown model"}[case]
    assert expected in lines[0]
    assert not (tmp_path / "run").exists()  # outputs come only after the inputs are checked
