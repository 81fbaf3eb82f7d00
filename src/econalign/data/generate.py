"""Synthetic SFT data: tasks drawn per family, solved under a target preference, traced.

A record is `{"messages": [user, assistant], "task": ..., "preference": ..., "mode": ...}`: the user
message is the agent-format question (no system prompt), the assistant message the trace.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from econalign import EconalignError
from econalign.agent.format import MODES, agent_task
from econalign.data.decisions import apportion
from econalign.data.expressions import supported
from econalign.data.traces import trace
from econalign.io import jsonl, writable_dir, write_dir, write_text
from econalign.preferences import RiskPreference, parse_preference
from econalign.tasks import FAMILIES, Task, holt_laury, solve

EVAL_STREAM = 1  # the held-out split draws from the seed sequence [seed, EVAL_STREAM]
MAX_ROUNDS = 50  # draws of a family before giving up on finding enough distinct items


def preference_for(spec: str, names: Sequence[str]):
    """The preference, if every family asked for takes its kind (risk or social) and traces support it."""
    pref = parse_preference(spec)
    for name in names:
        kind = getattr(FAMILIES[name], "PREFERENCE", RiskPreference)
        if not isinstance(pref, kind):
            wanted = "a risk preference (ev, crra or pt)" if kind is RiskPreference else "a social preference (moralis or fs)"
            raise EconalignError(f"{name} tasks need {wanted}, got {pref.spec()}; ask for risk and social families separately")
    if isinstance(pref, RiskPreference):
        supported(pref)
    return pref


def families(names: Sequence[str]) -> list[str]:
    chosen = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    unknown = [n for n in chosen if n not in FAMILIES]
    if unknown or not chosen:
        given = ", ".join(unknown) or "(none given)"
        raise EconalignError(f"unknown task family {given}; known: {', '.join(FAMILIES)}")
    return chosen


def check_request(preference_spec: str, tasks: Sequence[str], n: int, mode: str, eval_n: int = 0):
    """The preference and families of a valid request; anything else is refused before any work."""
    names = families(tasks)
    pref = preference_for(preference_spec, names)
    if n <= 0:
        raise EconalignError(f"the number of items must be positive, got {n}")
    if eval_n < 0:
        raise EconalignError(f"the number of held-out items cannot be negative, got {eval_n}")
    if mode not in MODES:
        raise EconalignError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return pref, names


def sample(family: str, n: int, rng: np.random.Generator) -> list[Task]:
    if family == holt_laury.FAMILY:  # the ten rows at a random stake multiple: 1,000 distinct items
        rows, scales = rng.integers(1, holt_laury.ROWS + 1, n), rng.integers(1, 101, n)
        return [holt_laury.make(int(row), float(scale)) for row, scale in zip(rows, scales)]
    return FAMILIES[family].generate(n, rng)


def draw(family: str, n: int, rng: np.random.Generator, exclude: set[str]) -> list[Task]:
    """n tasks with distinct ids, none of them in `exclude`."""
    tasks, seen = [], set(exclude)
    for _ in range(MAX_ROUNDS):
        if len(tasks) == n:
            break
        for task in sample(family, n - len(tasks), rng):
            if task.id not in seen:
                seen.add(task.id)
                tasks.append(task)
    if len(tasks) < n:
        raise EconalignError(f"could not draw {n} distinct {family} items (found {len(tasks)}); ask for fewer")
    return tasks


def generate_dataset(
    preference_spec: str,
    tasks: Sequence[str],
    n: int,
    mode: str,
    seed: int | Sequence[int],
    exclude: set[str] = frozenset(),
    progress: Callable[[int], None] | None = None,
) -> list[dict]:
    """n records split evenly across the task families (the first ones get the remainder), shuffled;
    the same arguments give the same records."""
    pref, names = check_request(preference_spec, tasks, n, mode)
    rng = np.random.default_rng(seed)
    records = []
    for family, want in zip(names, apportion(n, [1] * len(names))):
        for task in draw(family, want, rng, exclude):
            records.append(record(solve(task, pref), pref, mode))
            if progress:
                progress(1)
    return [records[i] for i in rng.permutation(len(records))]


def record(task: Task, pref: RiskPreference, mode: str) -> dict:
    asked = agent_task(task, mode)
    user = [m for m in asked.messages() if m["role"] != "system"]
    messages = [*user, {"role": "assistant", "content": trace(task, pref, mode)}]
    return {"messages": messages, "task": asked.to_dict(), "preference": pref.spec(), "mode": mode}


def generate_splits(
    preference_spec: str,
    tasks: Sequence[str],
    n: int,
    mode: str,
    seed: int,
    eval_n: int = 0,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[dict], list[dict]]:
    """Training records and `eval_n` held-out ones: another random stream, and no item of the training set."""
    check_request(preference_spec, tasks, n, mode, eval_n)
    train = generate_dataset(preference_spec, tasks, n, mode, seed, progress=progress)
    if not eval_n:
        return train, []
    seen = {r["task"]["id"] for r in train}
    return train, generate_dataset(preference_spec, tasks, eval_n, mode, [seed, EVAL_STREAM], seen, progress)


def save(records: list[dict], out: Path, eval_records: list[dict] = ()) -> Path:
    """Write out/train.jsonl, out/dataset (Hugging Face `datasets`, for `load_from_disk`) and, with held-out
    records, out/eval.jsonl; each whole or not at all.

    The dataset keeps `task` as JSON text: families' parameters differ in shape, and Arrow needs one schema.
    """
    from datasets import Dataset  # slow import, only when saving
    from datasets.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    out = writable_dir(out)
    write_text(out / "train.jsonl", jsonl(records))
    if eval_records:
        write_text(out / "eval.jsonl", jsonl(eval_records))
    else:  # one from an earlier run would not be held out from this training set
        (out / "eval.jsonl").unlink(missing_ok=True)
    rows = [{**r, "task": json.dumps(r["task"], allow_nan=False)} for r in records]
    quiet = are_progress_bars_disabled()
    disable_progress_bars()  # the caller shows progress its own way
    try:
        write_dir(out / "dataset", lambda tmp: Dataset.from_list(rows).save_to_disk(str(tmp)))
    finally:
        if not quiet:
            enable_progress_bars()
    return out
