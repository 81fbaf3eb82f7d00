"""The agent batch test: roll out held-out tasks, grade each trace against a target preference.

Reports tool-call success, tool errors, format errors and decision accuracy, overall and per
family, with every trace saved. Unparseable output is counted, never fatal.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from econalign import EconalignError
from econalign.agent.format import agent_task, parse_trace
from econalign.agent.runner import run_rollouts
from econalign.backends.base import Backend
from econalign.io import jsonl, read_jsonl, write_json, write_text
from econalign.preferences import RiskPreference
from econalign.resume import fingerprint, run_chunks
from econalign.tasks import FAMILIES, Task, solve
from econalign.tools.calculator import CalcResult, evaluate


def held_out_tasks(preference_spec: str, families: list[str], n: int, seed: int) -> list[Task]:
    """Tasks from the held-out stream of `econalign data` with the same seed."""
    from econalign.data.generate import EVAL_STREAM, generate_dataset

    records = generate_dataset(preference_spec, families, n, "blind", [seed, EVAL_STREAM])
    return [Task(**r["task"]) for r in records]


def load_tasks(path: Path) -> list[Task]:
    """Tasks of a JSONL file written by `econalign data` (its `task` fields)."""
    tasks = []
    for where, row in read_jsonl(path):
        try:
            tasks.append(Task(**row["task"]))
        except (KeyError, TypeError) as exc:
            raise EconalignError(f"{where}: not a record of `econalign data` ({exc})") from None
    if not tasks:
        raise EconalignError(f"{path} holds no tasks")
    return tasks


def utility_share(task: Task, choice: str | None) -> float:
    """Where the choice's utility lies between the worst option's (0) and the best's (1): one minus the
    scaled utility regret; 0 for no choice."""
    u = task.utilities
    if choice not in u:
        return 0.0
    span = max(u.values()) - min(u.values())
    return 1.0 if span <= 0 else (u[choice] - min(u.values())) / span


def grade(task: Task, pref: RiskPreference, completion: str) -> dict:
    """Format, parsed decision and its correctness under `pref` (score: graded, 1 = optimal)."""
    trace = parse_trace(completion)
    family = FAMILIES[task.family]
    choice = family.parse(trace.answer) if trace.answer is not None else None
    if hasattr(family, "score"):
        verdict = family.score(task, pref, choice)
    else:
        verdict = {"correct": choice is not None and choice == task.optimal, "score": utility_share(task, choice)}
    return {
        "well_formed": trace.well_formed,
        "format_errors": trace.errors,
        "answer": trace.answer,
        "choice": choice,
        "optimal": task.optimal,
        **verdict,
    }


CHUNK_BATCHES = 4  # batches of rollouts per saved chunk: continuous batching refills a batch's slots within a chunk


def rollout_chunk(backend, tasks, pref, mode, calculator, max_turns, max_new_tokens, seed, advance) -> list[dict]:
    prompts = [backend.render(agent_task(t, mode)) for t in tasks]
    rollouts = run_rollouts(
        backend, prompts, tools=mode == "agentic", calculator=calculator, max_turns=max_turns,
        max_new_tokens=max_new_tokens, seed=seed, progress=advance,
    )
    return [
        {
            "id": t.id,
            "family": t.family,
            "prompt": r.prompt,
            "completion": r.completion,
            "turns": r.turns,
            "turn_limit_hit": r.turn_limit_hit,
            "tool_calls": len(r.tool_results),
            "tool_errors": sum(not x.ok for x in r.tool_results),
            **grade(t, pref, r.completion),
        }
        for t, r in zip(tasks, rollouts)
    ]


def metrics(rows: list[dict]) -> dict:
    calls = sum(r["tool_calls"] for r in rows)
    errors = sum(r["tool_errors"] for r in rows)
    return {
        "n": len(rows),
        "decision_accuracy": float(np.mean([r["correct"] for r in rows])) if rows else None,
        "mean_score": float(np.mean([r["score"] for r in rows])) if rows else None,
        "format_errors": sum(not r["well_formed"] for r in rows),
        "unparsed": sum(r["choice"] is None for r in rows),
        "tool_calls": calls,
        "tool_errors": errors,
        "tool_call_success_rate": (calls - errors) / calls if calls else None,
        "items_using_tool": sum(r["tool_calls"] > 0 for r in rows),
        "turn_limit_hits": sum(r["turn_limit_hit"] for r in rows),
    }


def evaluate_agent(
    backend: Backend,
    tasks: list[Task],
    pref: RiskPreference,
    mode: str,
    out: Path,
    seed: int = 0,
    max_turns: int = 6,
    max_new_tokens: int = 384,
    calculator: Callable[[str], CalcResult] = evaluate,
    batch: int = 16,
) -> dict:
    tasks = [solve(t, pref) for t in tasks]
    chunk = CHUNK_BATCHES * batch
    key = fingerprint(backend.name, pref.spec(), mode, seed, max_turns, max_new_tokens, chunk, [t.id for t in tasks])
    rows, figures = run_chunks(
        tasks,
        lambda chunk, i, advance: rollout_chunk(
            backend, chunk, pref, mode, calculator, max_turns, max_new_tokens, seed + i, advance
        ),
        out / ".cache",
        key,
        f"{mode} agent · {backend.name}",
        chunk,
    )
    summary = {
        "model": backend.name,
        "preference": pref.spec(),
        "mode": mode,
        "seed": seed,
        "items_resumed": figures["items_resumed"],
        **metrics(rows),
        "by_family": {f: metrics([r for r in rows if r["family"] == f]) for f in dict.fromkeys(t.family for t in tasks)},
    }
    write_text(out / "traces.jsonl", jsonl(rows))
    write_json(out / "summary.json", summary)
    return summary
