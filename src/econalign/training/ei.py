"""Expert iteration: sample K completions per prompt, keep the verified-correct ones, SFT, repeat.

Each round rolls out every training task K times with the current model (multi-turn with the
calculator in agentic mode), keeps the well-formed completions whose decision is the target's
optimum (the outcome reward), and fine-tunes the current model on them with the SFT trainer (tool
outputs masked). Accuracy is reported per round: over the samples, and on held-out items when
`eval` is set. Each finished round is kept in round-N/ and skipped when the run is started again.
"""

from __future__ import annotations

import json
from pathlib import Path

from econalign import EconalignError
from econalign.agent.format import agent_task
from econalign.agent.runner import run_rollouts
from econalign.backends import load_backend
from econalign.io import jsonl, read_json, read_jsonl, writable_dir, write_json, write_text
from econalign.tasks import Task
from econalign.training.config import DataConfig, EIRunConfig, SFTRunConfig
from econalign.training.rewards import outcome_reward
from econalign.training.sft import train_sft


def training_tasks(cfg: DataConfig) -> list[tuple[Task, str]]:
    tasks = []
    for path in cfg.paths:
        for where, row in read_jsonl(path):
            try:
                tasks.append((Task(**row["task"]), row["preference"]))
            except (KeyError, TypeError):
                raise EconalignError(f"{where}: expected a record of `econalign data` (task, preference)") from None
    return tasks[: cfg.max_examples] if cfg.max_examples else tasks


def sample_round(model: str, tasks: list[tuple[Task, str]], config: EIRunConfig, seed: int) -> tuple[list[dict], float]:
    """The kept chat records and the accuracy of all samples."""
    e = config.ei
    backend = load_backend(model)
    asked = [agent_task(t, e.mode) for t, _ in tasks for _ in range(e.samples)]
    rollouts = run_rollouts(backend, [backend.render(t) for t in asked], tools=e.mode == "agentic",
                            max_turns=e.max_turns, max_new_tokens=e.max_new_tokens, temperature=e.temperature, seed=seed)
    prefs = [p for _, p in tasks for _ in range(e.samples)]
    return select_correct(asked, [r.completion for r in rollouts], prefs)


def select_correct(asked: list[Task], completions: list[str], prefs: list[str]) -> tuple[list[dict], float]:
    """Chat records of the verified-correct completions (each distinct one once), and the share correct."""
    correct = outcome_reward(completions, [json.dumps(t.to_dict()) for t in asked], prefs)
    kept, seen = [], set()
    for task, completion, ok in zip(asked, completions, correct):
        if ok and (task.id, completion) not in seen:  # identical samples would only weigh an item more
            seen.add((task.id, completion))
            user = [m for m in task.messages() if m["role"] != "system"]
            kept.append({"messages": [*user, {"role": "assistant", "content": completion}]})
    return kept, sum(correct) / len(correct)


def held_out_accuracy(model: str, config: EIRunConfig, out: Path) -> float | None:
    from econalign.agent.evaluate import evaluate_agent, load_tasks
    from econalign.preferences import parse_preference

    if config.eval is None:
        return None
    tasks = load_tasks(config.eval)
    pref = parse_preference(tasks[0].preference)
    summary = evaluate_agent(load_backend(model), tasks, pref, config.ei.mode, writable_dir(out), seed=config.seed,
                             max_turns=config.ei.max_turns, max_new_tokens=config.ei.max_new_tokens)
    return summary["decision_accuracy"]


def train_ei(config: EIRunConfig) -> dict:
    out = writable_dir(config.output_dir)
    tasks = training_tasks(config.data)
    if not tasks:
        raise EconalignError("the expert-iteration data holds no records")
    model = config.model
    rounds = [{"round": 0, "model": model, "eval_accuracy": held_out_accuracy(model, config, out / "round-0" / "eval")}]
    for r in range(1, config.ei.rounds + 1):
        folder = out / f"round-{r}"
        if (folder / "round.json").exists():  # finished in an earlier run
            rounds.append(read_json(folder / "round.json"))
            model = rounds[-1]["model"]
            continue
        kept, accuracy = sample_round(model, tasks, config, config.seed + r)
        entry = {"round": r, "samples": len(tasks) * config.ei.samples, "kept": len(kept), "sample_accuracy": accuracy}
        if not kept:
            rounds.append({**entry, "model": model, "eval_accuracy": None, "stopped": "no correct sample to learn from"})
            break
        write_text(writable_dir(folder) / "kept.jsonl", jsonl(kept))
        sft = SFTRunConfig(model=model, data=DataConfig(paths=[folder / "kept.jsonl"], seed=config.seed),
                           output_dir=folder / "sft", seed=config.seed, training=config.ei.sft, lora=config.lora)
        model = train_sft(sft).model_dir
        entry |= {"model": model, "eval_accuracy": held_out_accuracy(model, config, folder / "eval")}
        write_json(folder / "round.json", entry)
        rounds.append(entry)
    summary = {"model": config.model, "final_model": model, "rounds": rounds}
    write_json(out / "summary.json", summary)
    return summary
