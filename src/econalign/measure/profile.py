"""`econalign profile`: run the risk battery against a backend, resumably, and write the results."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from econalign import EconalignError, __version__
from econalign.backends.base import Backend
from econalign.io import write_json, write_text
from econalign.measure.analysis import summarize
from econalign.measure.battery import risk_battery
from econalign.resume import fingerprint, left_to_do, run_chunks
from econalign.tasks import FAMILIES
from econalign.tasks.base import Task

CHUNK = 32
METHODS = ("logits", "generate", "agent")
AGENT_TOKENS = 384  # per turn: a trained agent reasons before its final line


def check_method(method: str) -> None:
    if method not in METHODS:
        raise EconalignError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")


def resume_key(backend: Backend, method: str, seed: int, tasks: list[Task], chunk: int) -> str:
    """Everything that changes the saved records: model and settings, method, seed, chunk size (each chunk
    has its own seed) and the items themselves."""
    return fingerprint(backend.name, backend.settings(), method, seed, chunk, [t.to_dict() for t in tasks])


def score_chunk(backend: Backend, tasks: list[Task], method: str, seed: int, advance) -> list[dict]:
    """One record per task: probs = P(each option), from logits, or one-hot from the parsed answer
    (None if unparsed) of a short greedy reply (generate) or of a calculator-agent rollout (agent);
    y = P(first option)."""
    if method == "logits":
        scores = backend.choice_scores(tasks, progress=advance)
        return [
            {"id": t.id, "y": float(p[0]), "probs": p[: len(t.options)].tolist(), "mass": float(m), "answer": None}
            for t, p, m in zip(tasks, scores.probs, scores.mass)
        ]
    if method == "agent":
        answers = agent_answers(backend, tasks, seed)
        advance(len(tasks))
    else:
        answers = backend.generate(tasks, max_new_tokens=32, seed=seed, progress=advance)
    records = []
    for t, text in zip(tasks, answers):
        choice = FAMILIES[t.family].parse(text) if text is not None else None
        probs = None if choice not in t.options else [float(choice == o) for o in t.options]
        records.append({"id": t.id, "y": probs and probs[0], "probs": probs, "mass": None, "answer": text})
    return records


def agent_answers(backend: Backend, tasks: list[Task], seed: int) -> list[str | None]:
    """The final-answer line of each task's agentic rollout (None where the trace has none)."""
    from econalign.agent.format import agent_task, parse_trace
    from econalign.agent.runner import run_rollouts

    prompts = [backend.render(agent_task(t, "agentic")) for t in tasks]
    rollouts = run_rollouts(backend, prompts, max_new_tokens=AGENT_TOKENS, seed=seed)
    return [parse_trace(r.completion).answer for r in rollouts]


def results_table(tasks: list[Task], records: list[dict]) -> pd.DataFrame:
    by_id = {r["id"]: r for r in records}
    rows = []
    for t in tasks:
        a, b = t.options
        rows.append(
            {
                "id": t.id,
                "family": t.family,
                "kind": t.params.get("kind"),
                "curve": t.params.get("curve"),
                "persona": t.params.get("persona"),
                "sure": t.params.get("sure"),
                "sure_first": t.params.get("sure_first"),
                "row": t.params.get("row"),
                "scale": t.params.get("scale"),
                "wealth": t.wealth,
                "option_a": a,
                "option_b": b,
                "lottery_a": t.params["options"][a],
                "lottery_b": t.params["options"][b],
                "ev_choice": t.optimal,
                "y": by_id[t.id]["y"],
                "mass": by_id[t.id]["mass"],
                "answer": by_id[t.id]["answer"],
            }
        )
    return pd.DataFrame(rows).astype({"y": float, "mass": float})


def score_battery(backend: Backend, tasks: list, out: Path, seed: int, method: str, label: str) -> tuple[list, dict]:
    """Score `tasks` by chunks kept in out/.cache (a rerun reuses the chunks a killed run finished):
    the records and the scoring figures of `timings`, those of resumed items from the run that scored them."""
    return run_chunks(
        tasks, lambda chunk, i, advance: score_chunk(backend, chunk, method, seed + i, advance), out / ".cache",
        resume_key(backend, method, seed, tasks, CHUNK), f"{label} · {backend.name}", CHUNK,
    )


def battery_tasks(battery: str, quick: bool) -> list[Task]:
    """The items `profile` (risk) or `social_profile` (social) scores."""
    if battery == "social":
        from econalign.measure.social import social_battery

        return social_battery()
    from econalign.preferences import ExpectedValue
    from econalign.tasks.base import solve

    ev = ExpectedValue()
    return [solve(t, ev) for t in risk_battery(quick)]


def left_to_score(backend: Backend, out: Path, battery: str, quick: bool, seed: int, method: str) -> int:
    """Items of the battery with no answer saved in out/.cache for this backend, method and seed: a
    backend made without its weights will do, so a finished run need not load the model again."""
    tasks = battery_tasks(battery, quick)
    return left_to_do(len(tasks), out / ".cache", resume_key(backend, method, seed, tasks, CHUNK), CHUNK)


def timings(load_seconds: float | None, scoring: dict, start: float) -> dict:
    """load_s is None where no model was loaded: every answer came from an earlier run."""
    return {"load_s": load_seconds, **scoring, "total_s": (load_seconds or 0.0) + time.perf_counter() - start}


def profile(backend: Backend, out: Path, quick: bool, seed: int, method: str, load_seconds: float | None = 0.0) -> dict:
    from econalign.measure.report import write_report
    from econalign.measure.verdict import risk_verdict

    check_method(method)
    np.random.seed(seed)
    tasks = battery_tasks("risk", quick)
    start = time.perf_counter()
    records, scoring = score_battery(backend, tasks, out, seed, method, method)
    table = results_table(tasks, records)
    if table[(table.family == "gamble") & table.persona.isna()].y.isna().all():
        write_text(out / "results.csv", table.to_csv(index=False))
        raise EconalignError(f"no gamble answer of {backend.name} could be parsed ({int(table.y.isna().sum())} of "
                             f"{len(table)} items unparsed; answers in {out / 'results.csv'}): nothing to estimate")
    summary = {
        "econalign_version": __version__,
        "model": backend.name,
        "method": method,
        "quick": quick,
        "seed": seed,
        **summarize(table),
        "timings": timings(load_seconds, scoring, start),
        "tokens": backend.tally(),
    }
    summary["verdict"] = risk_verdict(summary)
    write_text(out / "results.csv", table.to_csv(index=False))
    write_report(summary, table, out)
    write_json(out / "summary.json", summary)
    return summary
