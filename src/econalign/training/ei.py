"""Expert iteration: sample K completions per prompt, keep the verified-correct ones, SFT, repeat.

Each round samples every training record K times with the current model and keeps the distinct
verified-correct completions:
- records of `econalign data`: rollouts (multi-turn with the calculator in agentic mode), kept when
  well-formed with the target's optimum as decision (the outcome reward);
- records of `econalign math data`: completions of their r1_zero or question_only prompt, kept when
  the answer is right as that prompt grades it (the math_answer reward).
It then fine-tunes the current model on them with the SFT trainer (tool outputs masked). Accuracy
is reported per round: over the samples, and on held-out items when `eval` is set (an eval.jsonl of
`econalign data`, or GSM8K/MATH rows for math). Each finished round is kept in round-N/ and skipped
when the run is started again.
"""

from __future__ import annotations

import json
from pathlib import Path

from econalign import EconalignError
from econalign.agent.format import agent_task
from econalign.agent.runner import run_rollouts
from econalign.backends import load_backend
from econalign.backends.hf import check_model
from econalign.io import check_writable, jsonl, read_json, writable_dir, write_json, write_text
from econalign.math.prompts import STOP, math_task, prompt_name
from econalign.tasks import Task
from econalign.training.config import DataConfig, EIRunConfig, SFTRunConfig
from econalign.training.dataset import reward_records
from econalign.training.rewards import math_answer_reward, outcome_reward
from econalign.training.sft import train_sft


def sample_round(model: str, records: list[dict], config: EIRunConfig, seed: int) -> tuple[list[dict], float]:
    """The kept SFT records and the accuracy of all samples."""
    e = config.ei
    backend = load_backend(model)
    repeated = [r for r in records for _ in range(e.samples)]
    kind = record_kind(records[0])
    if kind != "preference":
        prompts = [r["prompt"] for r in repeated]
        texts = prompts if kind == "r1_zero" else [backend.render(math_task(p[-1]["content"])) for p in prompts]
        completions = backend.complete(texts, e.max_new_tokens, stop=STOP[kind], temperature=e.temperature, seed=seed)
        return select_correct_math(prompts, completions, [r["gold"] for r in repeated])
    asked = [agent_task(Task(**json.loads(r["task"])), e.mode) for r in repeated]
    rollouts = run_rollouts(backend, [backend.render(t) for t in asked], tools=e.mode == "agentic",
                            max_turns=e.max_turns, max_new_tokens=e.max_new_tokens, temperature=e.temperature, seed=seed)
    return select_correct(asked, [r.completion for r in rollouts], [r["preference"] for r in repeated])


def record_kind(record: dict) -> str:
    """preference (`econalign data`), or the prompt of a math record: r1_zero or question_only."""
    return prompt_name(record["prompt"]) if "gold" in record else "preference"


def select_correct(asked: list[Task], completions: list[str], prefs: list[str]) -> tuple[list[dict], float]:
    """Chat records of the verified-correct completions (each distinct one once), and the share correct."""
    correct = outcome_reward(completions, [json.dumps(t.to_dict()) for t in asked], prefs)
    records = [{"messages": [*(m for m in t.messages() if m["role"] != "system"), {"role": "assistant", "content": c}]}
               for t, c in zip(asked, completions)]
    return distinct_correct(records, correct), sum(correct) / len(correct)


def select_correct_math(prompts: list, completions: list[str], gold: list[str]) -> tuple[list[dict], float]:
    """SFT records of the completions with a correct answer as their prompt grades it: r1_zero text records,
    or question_only chat records."""
    correct = math_answer_reward(prompts, completions, gold)
    records = [{"prompt": p, "completion": c} if isinstance(p, str) else
               {"messages": [*p, {"role": "assistant", "content": c}]} for p, c in zip(prompts, completions)]
    return distinct_correct(records, correct), sum(correct) / len(correct)


def distinct_correct(records: list[dict], correct: list[float]) -> list[dict]:
    """Identical samples of one item would only weigh it more: each is kept once."""
    kept, seen = [], set()
    for record, ok in zip(records, correct):
        key = json.dumps(record, sort_keys=True)
        if ok and key not in seen:
            seen.add(key)
            kept.append(record)
    return kept


def held_out_accuracy(model: str, config: EIRunConfig, out: Path, kind: str) -> float | None:
    if config.eval is None:
        return None
    if kind != "preference":  # GSM8K/MATH rows, prompted as the training records are
        from econalign.math.data import load_problems
        from econalign.math.evaluate import evaluate_math

        summary = evaluate_math(load_backend(model), load_problems(str(config.eval)), kind, writable_dir(out),
                                max_new_tokens=config.ei.max_new_tokens, seed=config.seed)
        return summary["accuracy"]
    from econalign.agent.evaluate import evaluate_agent, load_tasks
    from econalign.preferences import parse_preference

    tasks = load_tasks(config.eval)
    pref = parse_preference(tasks[0].preference)
    summary = evaluate_agent(load_backend(model), tasks, pref, config.ei.mode, writable_dir(out), seed=config.seed,
                             max_turns=config.ei.max_turns, max_new_tokens=config.ei.max_new_tokens)
    return summary["decision_accuracy"]


def train_ei(config: EIRunConfig) -> dict:
    records = reward_records(config.data)
    kind = record_kind(records[0])
    if any(record_kind(r) != kind for r in records):
        raise EconalignError("expert iteration takes records of one kind: preference records, r1_zero math records "
                             "or question_only math records, not a mix")
    check_model(config.model)
    out = check_writable(Path(config.output_dir))  # made by the first evaluation, once the inputs are known good
    model = config.model
    rounds = [{"round": 0, "model": model, "eval_accuracy": held_out_accuracy(model, config, out / "round-0" / "eval", kind)}]
    for r in range(1, config.ei.rounds + 1):
        folder = out / f"round-{r}"
        if (folder / "round.json").exists():  # finished in an earlier run
            rounds.append(read_json(folder / "round.json"))
            model = rounds[-1]["model"]
            continue
        kept, accuracy = sample_round(model, records, config, config.seed + r)
        entry = {"round": r, "samples": len(records) * config.ei.samples, "kept": len(kept), "sample_accuracy": accuracy}
        if not kept:
            rounds.append({**entry, "model": model, "eval_accuracy": None, "stopped": "no correct sample to learn from"})
            break
        write_text(writable_dir(folder) / "kept.jsonl", jsonl(kept))
        sft = SFTRunConfig(model=model, data=DataConfig(paths=[folder / "kept.jsonl"], seed=config.seed),
                           output_dir=folder / "sft", seed=config.seed, training=config.ei.sft, lora=config.lora)
        model = train_sft(sft).model_dir
        entry |= {"model": model, "eval_accuracy": held_out_accuracy(model, config, folder / "eval", kind)}
        write_json(folder / "round.json", entry)
        rounds.append(entry)
    summary = {"model": config.model, "final_model": model, "rounds": rounds}
    write_json(out / "summary.json", summary)
    return summary
