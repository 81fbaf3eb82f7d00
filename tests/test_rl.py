"""GRPO and expert iteration on a tiny model, end to end on CPU; EI's selection on real traces."""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from econalign import EconalignError
from econalign.agent.format import agent_task
from econalign.data.generate import generate_dataset
from econalign.data.traces import trace
from econalign.preferences import parse_preference
from econalign.tasks import Task
from econalign.training import EIRunConfig, GRPORunConfig, load_config
from econalign.training.dataset import reward_records
from econalign.training.ei import select_correct, select_correct_math, train_ei
from econalign.training.grpo import train_grpo

from commands import econalign

SPEC = "crra:r=1"


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rl-data")
    rows = generate_dataset(SPEC, ["holt_laury", "gamble"], 8, "blind", seed=0)
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder / "train.jsonl"


def write(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_grpo_runs_saves_curves_and_resumes(tiny_dir, records, tmp_path):
    cfg = {"model": str(tiny_dir), "data": {"paths": [str(records)]}, "output_dir": str(tmp_path / "run"),
           "grpo": {"max_steps": 2, "batch_size": 4, "num_generations": 2, "max_completion_length": 16,
                    "save_steps": 1, "learning_rate": 1e-3}}
    with pytest.warns(UserWarning, match=r"(\d+) of \1 training records' own answers are longer than "
                      r"grpo.max_completion_length \(16 tokens"):  # blind traces run to ~100 tokens
        result = train_grpo(load_config(write(tmp_path / "grpo.yaml", cfg), GRPORunConfig))
    assert result.global_step == 2 and [c["step"] for c in result.curves] == [1, 2]
    # a random model writes no trace: every reward is 0, and the curves say so
    assert all(c["reward"] == 0 and c["format_rate"] == 0 and c["completion_length"] == 16 for c in result.curves)
    # ... every group has one reward (no signal), and the policy still samples widely
    assert all(c["frac_zero_std"] == 1 and c["reward_std"] == 0 and c["entropy"] > 1 for c in result.curves)
    out = tmp_path / "run"
    assert "<dt>reward, mean of the first → last 1 steps</dt><dd>0.000 → 0.000</dd>" in (out / "report.html").read_text()
    assert {"curves.csv", "curves.png", "report.html", "summary.json", "config.yaml"} <= {p.name for p in out.iterdir()}
    assert (out / "model" / "config.json").exists()
    # a longer run continues from the last checkpoint, also one saved before settings were added to `grpo:`
    saved = yaml.safe_load((out / "config.yaml").read_text())
    del saved["grpo"]["loss_type"], saved["grpo"]["top_p"]
    (out / "config.yaml").write_text(yaml.safe_dump(saved))
    cfg["grpo"]["max_steps"] = 3
    again = train_grpo(load_config(write(tmp_path / "grpo.yaml", cfg), GRPORunConfig))
    assert again.resumed_from == 2 and again.global_step == 3


def test_grpo_curves_keep_the_steps_that_reuse_rollouts(tiny_dir, records, tmp_path):
    """num_iterations 2: the second step trains on the first step's rollouts; it logs no reward, only the
    clipping, which the curves must keep."""
    cfg = {"model": str(tiny_dir), "data": {"paths": [str(records)]}, "output_dir": str(tmp_path / "run"),
           "grpo": {"max_steps": 2, "batch_size": 2, "num_generations": 2, "max_completion_length": 8,
                    "num_iterations": 2}}
    result = train_grpo(load_config(write(tmp_path / "g.yaml", cfg), GRPORunConfig))
    generated, reused = result.curves
    assert generated["reward"] == 0 and reused["reward"] is None and reused["clip_ratio"] is not None


def gold_value(completions, gold, **kwargs) -> list[float]:
    """A reward that pays each record its `gold` as a number, whatever the completion: the means are known."""
    return [float(g) for g in gold]


def text_records(path: Path, golds: list[str]) -> Path:
    path.write_text("".join(json.dumps({"prompt": f"item {i}", "gold": g}) + "\n" for i, g in enumerate(golds)))
    return path


def test_grpo_reports_held_out_rewards_every_eval_steps(tiny_dir, tmp_path):
    """TRL evaluates the held-out records before the first step and every eval_steps steps; each evaluation
    rewards every held-out record (4 records x 2 completions in 2 full batches: mean 3/4), none of the
    training records (all 0)."""
    cfg = {"model": str(tiny_dir), "data": {"paths": [str(text_records(tmp_path / "train.jsonl", ["0"] * 4))]},
           "eval": str(text_records(tmp_path / "eval.jsonl", ["0", "1", "1", "1"])), "output_dir": str(tmp_path / "run"),
           "grpo": {"max_steps": 4, "batch_size": 4, "num_generations": 2, "max_completion_length": 8, "save_steps": 100,
                    "eval_steps": 2, "eval_batch_size": 4, "eval_generations": 2}}
    result = train_grpo(load_config(write(tmp_path / "g.yaml", cfg), GRPORunConfig), reward_funcs=[gold_value])
    out = tmp_path / "run"
    csv = pd.read_csv(out / "curves.csv")
    assert list(csv["step"]) == [0, 1, 2, 3, 4]
    assert csv["eval_reward"].tolist()[::2] == [0.75] * 3 and csv["eval_reward"].isna().tolist() == [False, True] * 2 + [False]
    assert csv["reward"].isna().tolist() == [True] + [False] * 4 and (csv["reward"][1:] == 0).all()
    report = (out / "report.html").read_text()
    assert "<dt>held-out reward, step 0 → 4</dt><dd>0.750 → 0.750</dd>" in report
    assert "<dt>held-out records</dt><dd>4</dd>" in report
    assert json.loads((out / "summary.json").read_text())["held_out_records"] == 4 == result.held_out_records


@pytest.mark.parametrize("settings, used", [
    ({}, lambda t: (t.args.eval_strategy, t.args.eval_on_start, t.eval_dataset["prompt"])),
    ({"eval_steps": 3}, lambda t: t.args.eval_steps),
    ({"eval_batch_size": 8}, lambda t: t.args.per_device_eval_batch_size),
    ({"eval_generations": 2}, lambda t: t.num_generations_eval),
], ids=["eval", "eval_steps", "eval_batch_size", "eval_generations"])
def test_held_out_knob_reaches_the_trainer(tiny_dir, tmp_path, settings, used):
    from econalign.training.grpo import build_trainer

    held_out = text_records(tmp_path / "eval.jsonl", ["1"] * 8)
    cfg = {"model": str(tiny_dir), "data": {"paths": [str(text_records(tmp_path / "train.jsonl", ["0"] * 4))]},
           "eval": {"paths": [str(held_out)], "max_examples": 8}, "output_dir": str(tmp_path / "run"),
           "grpo": {"batch_size": 2, "num_generations": 2, "max_completion_length": 8, **settings}}
    trainer = build_trainer(load_config(write(tmp_path / "g.yaml", cfg), GRPORunConfig))
    expected = {"eval_steps": 3, "eval_batch_size": 8, "eval_generations": 2}
    assert used(trainer) == expected.get(next(iter(settings), None), ("steps", True, [f"item {i}" for i in range(8)]))


def test_without_held_out_records_trl_never_evaluates(tiny_dir, records, tmp_path):
    from econalign.training.grpo import build_trainer

    cfg = {"model": str(tiny_dir), "data": {"paths": [str(records)]}, "output_dir": str(tmp_path / "run"),
           "grpo": {"batch_size": 2, "num_generations": 2}}
    trainer = build_trainer(load_config(write(tmp_path / "g.yaml", cfg), GRPORunConfig))
    assert (trainer.args.eval_strategy, trainer.args.eval_on_start, trainer.eval_dataset) == ("no", False, None)


def test_bad_held_out_records_are_one_line(tmp_path, records, math_records):
    from econalign.training.grpo import build_trainer

    question_only = math_file(tmp_path / "qo.jsonl", "question_only")
    cases = [
        ({"eval": str(records)}, {"eval_batch_size": 6}, "do not fill whole evaluation batches of 6"),
        ({"eval": str(math_records)}, {}, "not of the kind of the training records"),
        ({"data": {"paths": [str(question_only)]}}, {"rewards": {"math_format": 0.1, "math_answer": 1.0}},
         "question_only math records have no format reward"),
    ]
    for top, grpo, message in cases:
        cfg = {"data": {"paths": [str(records)]}, "output_dir": str(tmp_path / "o"), **top,
               "grpo": {"batch_size": 2, "num_generations": 2, **grpo}}
        with pytest.raises(EconalignError, match=message):
            build_trainer(load_config(write(tmp_path / "g.yaml", cfg), GRPORunConfig))
    assert not (tmp_path / "o").exists()
    missing = write(tmp_path / "g.yaml", {"data": {"paths": [str(records)]}, "eval": str(tmp_path / "none.jsonl"),
                                          "output_dir": str(tmp_path / "o")})
    with pytest.raises(EconalignError, match="eval.paths: .*none.jsonl does not exist"):
        load_config(missing, GRPORunConfig)


@pytest.mark.parametrize("grpo, message", [
    ({"batch_size": 6, "num_generations": 4}, "not a multiple of num_generations"),
    ({"batch_size": 4, "num_generations": 2, "eval_generations": 3}, "eval_batch_size 4 is not a multiple of eval_generations 3"),
    ({"rewards": {"style": 1.0}}, "grpo.rewards.style"),
    ({"num_generations": 1}, "grpo.num_generations"),
])
def test_bad_grpo_config_is_one_line(tmp_path, records, grpo, message):
    path = write(tmp_path / "g.yaml", {"data": {"paths": [str(records)]}, "output_dir": str(tmp_path / "o"), "grpo": grpo})
    with pytest.raises(EconalignError, match=message):
        load_config(path, GRPORunConfig)


def test_grpo_on_cpu_refuses_vllm(tiny_dir, records, tmp_path):
    cfg = {"model": str(tiny_dir), "data": {"paths": [str(records)]}, "output_dir": str(tmp_path / "run"),
           "grpo": {"vllm": "colocate", "batch_size": 2, "num_generations": 2}}
    run = econalign("train", "grpo", "--config", write(tmp_path / "g.yaml", cfg))
    assert run.returncode == 2 and "needs a GPU" in run.stderr and "Traceback" not in run.stderr


def test_expert_iteration_keeps_only_verified_correct_completions():
    rows = generate_dataset(SPEC, ["holt_laury"], 3, "agentic", seed=1)
    asked = [agent_task(Task(**r["task"]), "agentic") for r in rows]
    pref = parse_preference(SPEC)
    right = [trace(t, pref, "agentic") for t in asked]
    other = {"A": "B", "B": "A"}
    wrong = [text.rsplit("Final answer: ", 1)[0] + "Final answer: " + other[t.optimal] for t, text in zip(asked, right)]
    kept, accuracy = select_correct(asked * 3, right + wrong + right, [SPEC] * 9)
    assert accuracy == pytest.approx(6 / 9)
    assert len(kept) == 3  # each correct completion once, however often it was sampled
    assert [r["messages"][-1]["content"] for r in kept] == right
    assert all([m["role"] for m in r["messages"]] == ["user", "assistant"] for r in kept)


def test_expert_iteration_round_end_to_end(tiny_dir, records, tmp_path):
    cfg = {"model": str(tiny_dir), "data": {"paths": [str(records)], "max_examples": 2}, "eval": str(records),
           "output_dir": str(tmp_path / "ei"),
           "ei": {"rounds": 2, "samples": 2, "mode": "blind", "max_new_tokens": 12, "sft": {"max_steps": 1}}}
    summary = train_ei(load_config(write(tmp_path / "ei.yaml", cfg), EIRunConfig))
    first = summary["rounds"][1]
    # the random model never answers correctly: the round says so and stops instead of training on nothing
    assert summary["rounds"][0]["eval_accuracy"] == 0.0
    assert (first["samples"], first["kept"], first["sample_accuracy"]) == (4, 0, 0.0) and "stopped" in first
    assert json.loads((tmp_path / "ei" / "summary.json").read_text()) == summary


GSM8K = Path(__file__).parent / "fixtures" / "gsm8k_train.jsonl"
GSM8K_TEST = Path(__file__).parent / "fixtures" / "gsm8k_test.jsonl"


def math_file(path: Path, prompt: str = "r1_zero", source: Path = GSM8K, n: int = 4) -> Path:
    """Records of `econalign math data --prompt PROMPT`."""
    from econalign.math.data import load_problems, sft_records

    path.write_text("".join(json.dumps(r) + "\n" for r in sft_records(load_problems(str(source), "train", n), prompt)))
    return path


@pytest.fixture
def math_records(tmp_path):
    return math_file(tmp_path / "math.jsonl")


def test_grpo_on_math_records(tiny_dir, tmp_path, math_records):
    """`econalign math data` records train with the r1_zero rewards through the same trainer."""
    data = math_records
    cfg = {"model": str(tiny_dir), "data": {"paths": [str(data)]}, "output_dir": str(tmp_path / "run"),
           "grpo": {"max_steps": 1, "batch_size": 2, "num_generations": 2, "max_completion_length": 8,
                    "rewards": {"math_format": 0.1, "math_answer": 1.0}}}
    result = train_grpo(load_config(write(tmp_path / "g.yaml", cfg), GRPORunConfig))
    assert result.global_step == 1 and result.curves[0]["accuracy"] == 0.0 and result.curves[0]["format_rate"] == 0.0


def test_grpo_on_question_only_math_records_with_held_out_accuracy(tiny_dir, tmp_path):
    """`econalign math data --prompt question_only` records: chat prompts, the answer reward alone, held-out
    accuracy on question_only test records before and after the step."""
    from econalign.training.config import DataConfig

    data = math_file(tmp_path / "train.jsonl", "question_only")
    held_out = math_file(tmp_path / "test.jsonl", "question_only", GSM8K_TEST, 8)
    assert reward_records(DataConfig(paths=[data]))[0]["prompt"] == [
        {"role": "user", "content": json.loads(GSM8K.read_text().splitlines()[0])["question"].strip()}]
    cfg = {"model": str(tiny_dir), "data": {"paths": [str(data)]}, "eval": str(held_out),
           "output_dir": str(tmp_path / "run"),
           "grpo": {"max_steps": 1, "batch_size": 2, "num_generations": 2, "max_completion_length": 8,
                    "rewards": {"math_answer": 1.0}, "eval_steps": 1, "eval_batch_size": 4}}
    result = train_grpo(load_config(write(tmp_path / "g.yaml", cfg), GRPORunConfig))
    before, step = result.curves
    assert (before["step"], before["eval_accuracy"], before["reward"]) == (0, 0.0, None)
    assert (step["step"], step["accuracy"], step["eval_accuracy"], step["format_rate"]) == (1, 0.0, 0.0, None)
    assert result.held_out_records == 8


def test_math_rewards_by_hand():
    from econalign.training.rewards import math_answer_reward, math_format_reward

    completions = [" 2+2=4 </think> <answer> 4 </answer>", " 2+2=5 </think> <answer> 5 </answer>", " no tags"]
    prompts = ["Q: 2+2? <think>"] * 3
    assert math_format_reward(prompts, completions, gold=["4"] * 3) == [1.0, 1.0, 0.0]
    assert math_answer_reward(prompts, completions, gold=["4"] * 3) == [1.0, 0.0, 0.0]


def test_math_rewards_grade_as_the_record_prompts():
    """A text prompt is r1_zero (tags required), chat messages question_only (the box or last number);
    TRL passes a chat prompt's completion as messages."""
    from econalign.training.rewards import math_answer_reward

    chat = [{"role": "user", "content": "What is 2+2?"}]
    said = [[{"role": "assistant", "content": text}] for text in ["2+2 is \\boxed{4}.", "2+2 = 4", "It is 4, not 5."]]
    assert math_answer_reward([chat] * 3, said, gold=["4"] * 3) == [1.0, 1.0, 0.0]
    assert math_answer_reward(["Q <think>"] * 3, [m[0]["content"] for m in said], gold=["4"] * 3) == [0.0] * 3


@pytest.mark.parametrize("completion, gold", [
    ("The answer is not 12 ... 13", "12"), ("I get 12, then 13, so 14.", "13"), ("\\boxed{12}", "13"),
    ("\\boxed{12} or \\boxed{13}", "13"), ("", "13"), ("It is 12, not 13.", "13"), ("maybe 13", "13"),
])
def test_question_only_answer_reward_refuses_wrong_or_hedged_answers(completion, gold):
    from econalign.training.rewards import math_answer_reward

    chat = [{"role": "user", "content": "How many?"}]
    assert math_answer_reward([chat], [[{"role": "assistant", "content": completion}]], gold=[gold]) == [0.0]


def test_expert_iteration_keeps_correct_math_answers_in_the_r1_zero_format():
    prompts = ["P1", "P2", "P1", "P1"]
    completions = [" 2+2=4 </think> <answer> 4 </answer>", " 3+3=7 </think> <answer> 7 </answer>",
                   " 2+2=4 </think> <answer> 4 </answer>", " it is 4 <answer> 4 </answer>"]
    kept, accuracy = select_correct_math(prompts, completions, ["4", "6", "4", "4"])
    assert accuracy == 0.5  # the unclosed <think> of the last one fails the format rule
    assert kept == [{"prompt": "P1", "completion": completions[0]}]


def test_expert_iteration_keeps_correct_question_only_answers_as_chat_records():
    chat = [{"role": "user", "content": "What is 2+2?"}]
    completions = ["2+2 = 4", "So \\boxed{5}.", "2+2 = 4", "4, or 5"]
    kept, accuracy = select_correct_math([chat] * 4, completions, ["4"] * 4)
    assert accuracy == 0.5 and kept == [{"messages": [*chat, {"role": "assistant", "content": "2+2 = 4"}]}]


@pytest.mark.parametrize("prompt, rendered", [("r1_zero", "Assistant: <think>"), ("question_only", "<|im_start|>user")])
def test_expert_iteration_on_math_records(tiny_dir, tmp_path, prompt, rendered):
    """Math records go through the same EI loop: samples of their prompt, graded by math-verify as that prompt
    asks, GSM8K held-out rows prompted the same way."""
    data = math_file(tmp_path / "math.jsonl", prompt)
    cfg = {"model": str(tiny_dir), "data": {"paths": [str(data)], "max_examples": 2}, "eval": str(GSM8K),
           "output_dir": str(tmp_path / "ei"), "ei": {"rounds": 1, "samples": 2, "max_new_tokens": 8}}
    summary = train_ei(load_config(write(tmp_path / "ei.yaml", cfg), EIRunConfig))
    assert summary["rounds"][0]["eval_accuracy"] == 0.0
    assert summary["rounds"][1]["samples"] == 4 and summary["rounds"][1]["kept"] == 0
    rows = [json.loads(r) for r in (tmp_path / "ei" / "round-0" / "eval" / "generations.jsonl").read_text().splitlines()]
    assert len(rows) == len(GSM8K.read_text().splitlines()) and all(rendered in r["prompt"] for r in rows)


def test_expert_iteration_refuses_mixed_records(tiny_dir, tmp_path, records, math_records):
    cfg = {"model": str(tiny_dir), "data": {"paths": [str(records), str(math_records)]},
           "output_dir": str(tmp_path / "ei")}
    with pytest.raises(EconalignError, match="not a mix"):
        train_ei(load_config(write(tmp_path / "ei.yaml", cfg), EIRunConfig))


def test_grpo_and_ei_records_are_a_seeded_sample_of_each_path(records, math_records):
    from econalign.training.config import DataConfig

    take = [reward_records(DataConfig(paths=[records, math_records], max_examples=3, seed=s)) for s in (1, 1, 2)]
    assert take[0] == take[1] != take[2]
    assert [("gold" in r) for r in take[0]] == [False] * 3 + [True] * 3
    everything = reward_records(DataConfig(paths=[records]))
    assert len(everything) == len(records.read_text().splitlines()) and all(r in everything for r in take[0][:3])


def test_a_completion_budget_shorter_than_the_records_own_answers_is_named(tiny_dir, records):
    from transformers import AutoTokenizer

    from econalign.training.config import DataConfig
    from econalign.training.grpo import budget_shortfall

    rows, tokenizer = reward_records(DataConfig(paths=[records])), AutoTokenizer.from_pretrained(tiny_dir)
    lengths = sorted(len(tokenizer(json.loads(line)["messages"][-1]["content"], add_special_tokens=False)["input_ids"]) + 1
                     for line in records.read_text().splitlines())  # the answer and its end of sequence
    assert budget_shortfall(rows, tokenizer, lengths[-1]) is None
    assert budget_shortfall(rows, tokenizer, lengths[-1] - 1) == (
        f"{lengths.count(lengths[-1])} of {len(rows)} training records' own answers are longer than "
        f"grpo.max_completion_length ({lengths[-1] - 1} tokens; the longest {lengths[-1]}): rollouts that long are cut "
        "and earn no format reward")


def test_reward_records_name_the_bad_row(tmp_path, records):
    from econalign.training.config import DataConfig

    bad = tmp_path / "bad.jsonl"
    bad.write_text(records.read_text().splitlines()[0] + "\n" + json.dumps({"messages": [], "task": {"x": 1},
                                                                            "preference": SPEC}) + "\n")
    with pytest.raises(EconalignError, match="bad.jsonl line 2"):
        reward_records(DataConfig(paths=[bad]))


# ---------------------------------------------------------------- multi-turn GRPO rollouts with the calculator


def scripted(tokenizer, turns: list[str], seen: list):
    """A policy that writes the given turns in order (the last one ends with EOS)."""
    def generate(inputs, budget):
        seen.append((len(inputs), budget))
        out = []
        for ids in inputs:
            k = tokenizer.decode(ids).count("</tool>")  # tool calls written so far
            text = turns[min(k, len(turns) - 1)]
            new = tokenizer(text, add_special_tokens=False)["input_ids"]
            out.append(new + ([tokenizer.eos_token_id] if not text.endswith("</tool>") else []))
        return out
    return generate


def test_calculator_rollouts_answer_every_call_and_mask_the_answers(tokenizer):
    from econalign.agent.format import parse_trace, tool_output_block
    from econalign.tools.calculator import evaluate
    from econalign.training.rollout import tool_rollouts

    calls, seen = [], []
    turns = ["<think> EV of A <tool>0.5*1000</tool>", " so 500 vs <tool>450</tool>", " A is more. </think>\nFinal answer: A"]
    prompt = tokenizer("Choose A or B.", add_special_tokens=False)["input_ids"]
    completions, masks = tool_rollouts(scripted(tokenizer, turns, seen), tokenizer, [prompt, prompt], 400, 6,
                                       lambda e: calls.append(e) or evaluate(e))
    text = tokenizer.decode(completions[0], skip_special_tokens=True)
    assert text == (turns[0] + tool_output_block(evaluate("0.5*1000").text) + turns[1]
                    + tool_output_block(evaluate("450").text) + turns[2])
    assert parse_trace(text).well_formed and parse_trace(text).answer == "A"
    assert calls == ["0.5*1000"] * 2 + ["450"] * 2 and [n for n, _ in seen] == [2, 2, 2]
    assert completions[0][-1] == tokenizer.eos_token_id and completions[0] == completions[1]
    # the calculator's tokens, and only they, are masked out of the loss
    masked = [t for t, m in zip(completions[0], masks[0]) if m == 0]
    assert tokenizer.decode(masked) == tool_output_block(evaluate("0.5*1000").text) + tool_output_block("450")
    assert len(masks[0]) == len(completions[0])


def test_calculator_rollouts_respect_the_turn_and_token_limits(tokenizer):
    from econalign.tools.calculator import evaluate
    from econalign.training.rollout import tool_rollouts

    seen = []
    forever = scripted(tokenizer, ["<think> <tool>1+1</tool>"], seen)
    prompt = [tokenizer.bos_token_id or 0]
    completions, masks = tool_rollouts(forever, tokenizer, [prompt], 10_000, 3, evaluate)
    assert len(seen) == 3 and tokenizer.decode(completions[0]).count("<tool_output>2</tool_output>") == 3
    completions, masks = tool_rollouts(forever, tokenizer, [prompt], 12, 6, evaluate)
    assert len(completions[0]) == len(masks[0]) == 12  # cut at the budget, tool answer included
    assert [b for _, b in seen[3:]][0] == 12 and all(b <= 12 for _, b in seen[3:])


def test_turn_tokens_cut_after_the_tool_call_or_the_end_of_sequence(tokenizer):
    from econalign.training.rollout import turn_tokens

    call = tokenizer("I compute <tool>2*3</tool>", add_special_tokens=False)["input_ids"]
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    assert turn_tokens(tokenizer, call + [pad, pad], {eos}) == call  # padded after the stop string
    assert turn_tokens(tokenizer, call + [eos, eos], {eos}) == call
    done = tokenizer("Final answer: A", add_special_tokens=False)["input_ids"]
    assert turn_tokens(tokenizer, done + [eos, pad, pad], {eos}) == done + [eos]
    assert turn_tokens(tokenizer, done, {eos}) == done  # the token budget ran out


def test_grpo_with_calculator_rollouts_end_to_end(tiny_dir, tmp_path):
    rows = generate_dataset(SPEC, ["holt_laury"], 4, "agentic", seed=0)
    data = tmp_path / "agentic.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = {"model": str(tiny_dir), "data": {"paths": [str(data)]}, "output_dir": str(tmp_path / "run"),
           "grpo": {"max_steps": 1, "batch_size": 4, "num_generations": 2, "max_completion_length": 12,
                    "calculator": True, "max_turns": 2}}
    result = train_grpo(load_config(write(tmp_path / "g.yaml", cfg), GRPORunConfig))
    assert result.global_step == 1 and result.curves[0]["format_rate"] == 0.0
    assert 0 < result.curves[0]["completion_length"] <= 12


def test_calculator_rollouts_refuse_vllm(tmp_path, records):
    path = write(tmp_path / "g.yaml", {"data": {"paths": [str(records)]}, "output_dir": str(tmp_path / "o"),
                                       "grpo": {"calculator": True, "vllm": "colocate"}})
    with pytest.raises(EconalignError, match="set vllm: off"):
        load_config(path, GRPORunConfig)


# ---------------------------------------------------------------- GRPO learns: a reward the policy earns sometimes

TOY_WORDS = ["yes", "no", "a", "b", "c", "d", "e", "f", "<tool>", "</tool>", "<tool_output>", "</tool_output>",
             *"0123456789", "+", "*"]
# Mean reward of the last 5 steps minus that of the first 5 must exceed MARGIN. Without learning (learning rate
# 1e-9, seeds 0-2, 60 steps) a step's `yes` share has SD 0.023, so the difference of two 5-step means has SD
# 0.015 (measured: -0.019, +0.019, -0.009; with the calculator -0.032): 0.1 is 6.8 SDs. Learning gives 0.24-0.33.
MARGIN = 0.1


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory):
    """A tiny random Llama over 30 words (the calculator's tags, digits and `+` among them): it samples each
    about as often as the others, so it writes `yes` ~1 token in 28 and a calculator call now and then."""
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["<pad>", "<eos>", "<unk>", *TOY_WORDS])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(
        Regex(r"</?tool(?:_output)?>|yes|no|\S"), behavior="isolated")])
    core.decoder = decoders.Fuse()  # "<tool>1+1</tool>" decodes as written: the stop string and the calculator see it
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>",
                                        chat_template="{% for m in messages %}{{ m['content'] }} {% endfor %}")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True, bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    path = tmp_path_factory.mktemp("toy")
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def yes_gain(toy_dir, tmp_path, sign: float = 1.0, **grpo) -> tuple[float, float, list[str]]:
    """Mean share of `yes` tokens over the first and the last 5 of 20 GRPO steps, with a reward of
    `sign` x that share, and the completions seen."""
    from transformers import AutoTokenizer

    yes = AutoTokenizer.from_pretrained(toy_dir).convert_tokens_to_ids("yes")
    seen = []

    def yes_share(completions, completion_ids, **kwargs):
        seen.extend(completions)
        return [sign * ids.count(yes) / len(ids) for ids in completion_ids]

    data = tmp_path / "prompts.jsonl"  # text prompts with a `gold` column: the reward ignores it
    data.write_text("".join(json.dumps({"prompt": p, "gold": "0"}) + "\n" for p in ["ab", "cd", "ef", "ba"]))
    cfg = {"model": str(toy_dir), "data": {"paths": [str(data)]}, "output_dir": str(tmp_path / "run"),
           "grpo": {"max_steps": 20, "batch_size": 8, "num_generations": 4, "max_completion_length": 16,
                    "learning_rate": 1e-2, "save_steps": 100, **grpo}}
    result = train_grpo(load_config(write(tmp_path / "g.yaml", cfg), GRPORunConfig), reward_funcs=[yes_share])
    share = [sign * c["reward"] for c in result.curves]
    return sum(share[:5]) / 5, sum(share[-5:]) / 5, seen


@pytest.mark.parametrize("grpo", [{}, {"calculator": True, "max_turns": 4}], ids=["single-turn", "calculator"])
def test_grpo_raises_a_reward_the_starting_policy_earns_sometimes(toy_dir, tmp_path, grpo):
    first, last, seen = yes_gain(toy_dir, tmp_path, **grpo)
    assert 0 < first < 0.15 and last - first > MARGIN
    if grpo:  # the calculator answered calls inside the rollouts
        assert sum("</tool><tool_output>" in c for c in seen) > 10


def test_the_learning_check_fails_when_the_reward_pays_the_opposite(toy_dir, tmp_path):
    """The same run rewarding fewer `yes` (the advantages' signs flipped): the share must not rise."""
    first, last, _ = yes_gain(toy_dir, tmp_path, sign=-1.0)
    assert last - first < MARGIN and last < first


def test_calculator_rollouts_run_in_the_held_out_evaluation_too(toy_dir, tmp_path):
    """TRL's evaluation goes through the same rollout_func: the calculator answers held-out calls too, and
    the held-out reward counts them (the share of completions it answered in)."""
    def answered(completions, **kwargs):
        return [float("</tool><tool_output>" in c) for c in completions]

    cfg = {"model": str(toy_dir), "data": {"paths": [str(text_records(tmp_path / "train.jsonl", ["0"] * 4))]},
           "eval": str(text_records(tmp_path / "eval.jsonl", ["0"] * 8)), "output_dir": str(tmp_path / "run"),
           "grpo": {"max_steps": 1, "batch_size": 8, "num_generations": 4, "max_completion_length": 128,
                    "calculator": True, "max_turns": 4, "eval_steps": 1, "eval_generations": 2, "save_steps": 100}}
    result = train_grpo(load_config(write(tmp_path / "g.yaml", cfg), GRPORunConfig), reward_funcs=[answered])
    assert [c["step"] for c in result.curves] == [0, 1]
    held_out = [c["eval_reward"] for c in result.curves]  # shares of 8 records x 2 completions
    assert sum(held_out) > 0 and all((16 * r).is_integer() and r < 1 for r in held_out)


# ---------------------------------------------------------------- the knobs of `grpo:` reach the trainer TRL runs


@pytest.mark.parametrize("knob, value, used", [
    ("loss_type", "dr_grpo", lambda t: t.loss_type),
    ("scale_rewards", "none", lambda t: t.scale_rewards),
    ("num_iterations", 2, lambda t: t.num_iterations),
    ("epsilon", 0.1, lambda t: (t.epsilon_low, t.epsilon_high)),
    ("top_p", 0.9, lambda t: t.generation_config.top_p),  # what single-turn and calculator rollouts sample with
    ("grad_accum", 2, lambda t: (t.args.gradient_accumulation_steps, t.args.generation_batch_size)),
], ids=lambda x: x if isinstance(x, str) else "")
def test_grpo_knob_reaches_the_trainer(tiny_dir, records, tmp_path, knob, value, used):
    from econalign.training.grpo import build_trainer

    grpo = {"batch_size": 2, "num_generations": 2, "max_completion_length": 8, knob: value}
    cfg = {"model": str(tiny_dir), "data": {"paths": [str(records)]}, "output_dir": str(tmp_path / "run"), "grpo": grpo}
    trainer = build_trainer(load_config(write(tmp_path / "g.yaml", cfg), GRPORunConfig))
    expected = {"epsilon": (0.1, 0.1), "grad_accum": (2, 4)}.get(knob, value)  # 4 = 2 completions x 2 passes
    assert used(trainer) == expected


def test_calculator_rollouts_train_on_the_sampled_tokens_with_their_sampling_probabilities(toy_dir, tmp_path):
    """TRL scores our multi-turn rollouts with a fresh forward pass (old_per_token_logps, computed when
    num_iterations > 1); every model token must get the log-probability it was sampled with, the
    calculator's tokens none (tool_mask 0), and advantages must take the sign of reward - group mean."""
    import copy

    import torch

    from econalign.training.grpo import build_trainer

    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"prompt": p, "gold": "0"}) + "\n" for p in ["ab", "cd"]))
    cfg = {"model": str(toy_dir), "data": {"paths": [str(data)]}, "output_dir": str(tmp_path / "run"),
           "grpo": {"batch_size": 16, "num_generations": 4, "max_completion_length": 200, "calculator": True,
                    "max_turns": 6, "num_iterations": 2}}
    yes = 3  # the id of `yes` in the toy vocabulary
    trainer = build_trainer(load_config(write(tmp_path / "g.yaml", cfg), GRPORunConfig),
                            [lambda completion_ids, **kw: [ids.count(yes) / len(ids) for ids in completion_ids]])
    sampled, real = {}, trainer.model.generate  # input ids (unpadded) -> [(new ids, their sampling log-probs)]

    def recording(input_ids, attention_mask, generation_config, **kwargs):
        config = copy.deepcopy(generation_config)
        config.output_scores = config.return_dict_in_generate = True
        out = real(input_ids=input_ids, attention_mask=attention_mask, generation_config=config, **kwargs)
        new = out.sequences[:, input_ids.shape[1]:]
        logps = torch.stack(out.scores, 1).log_softmax(-1).gather(-1, new.unsqueeze(-1)).squeeze(-1)
        for ids, mask, n, lp in zip(input_ids, attention_mask, new, logps):
            sampled.setdefault(tuple(ids[mask.bool()].tolist()), []).append((n.tolist(), lp.tolist()))
        return out.sequences

    trainer.model.generate = recording
    trainer.model.train()  # as in a training step: in eval mode TRL groups eval_generations completions, not 4
    batch = [trainer.train_dataset[i] for i in [0] * 4 + [1] * 4 + [0] * 4 + [1] * 4]
    out = trainer._generate_and_score_completions(batch)
    compared = after_calculator = 0
    for i in range(len(batch)):
        prompt = out["prompt_ids"][i][out["prompt_mask"][i].bool()].tolist()
        length = int(out["completion_mask"][i].sum())
        ids, mask = out["completion_ids"][i][:length].tolist(), out["tool_mask"][i][:length].tolist()
        k = 0
        while k < length:  # a run of model tokens is one turn, generated from everything before it
            end = next((j for j in range(k, length) if mask[j] == 0), length)
            logps = next(lp for new, lp in sampled[tuple(prompt + ids[:k])] if new[: end - k] == ids[k:end])
            assert torch.allclose(torch.tensor(logps[: end - k]), out["old_per_token_logps"][i][k:end], atol=1e-4)
            compared, after_calculator = compared + end - k, after_calculator + (end - k) * (k > 0)
            k = next((j for j in range(end, length) if mask[j] == 1), length)  # the calculator's answer
    assert compared > 100 and after_calculator > 10
    rewards = torch.tensor(trainer._logs["rewards"]["<lambda>"]).view(-1, 4)
    centred = (rewards - rewards.mean(1, keepdim=True)).flatten()
    advantages = torch.tensor(trainer._logs["advantages"])
    assert (centred.abs() > 0).any() and torch.equal(advantages.sign() * (centred.abs() > 1e-6), centred.sign())
