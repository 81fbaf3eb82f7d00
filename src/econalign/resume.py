"""Resumable batch work: items are processed in chunks, each saved whole as it finishes, and the
progress display of every long command.

An interrupted run, started again with the same work description, reuses the saved chunks;
a different description (model and its settings, method, seed, items) clears them.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from rich import get_console
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from econalign import EconalignError
from econalign.io import read_json, write_json

# work(chunk, chunk_index, advance) -> one record per item; advance(n) moves the progress bar
Work = Callable[[list, int, Callable[[int], None]], list[dict]]
FORMAT = 2  # chunk files hold {"records", "seconds"}; a cache of another format is not reused
EVERY = "ECONALIGN_PROGRESS_EVERY"  # seconds between progress lines in a log file


def fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def live(console: Console) -> bool:
    """Whether `console` redraws in place (a terminal or a notebook); a log file or a pipe shows a
    redrawn bar or spinner only once it has finished."""
    return console.is_interactive or console.is_jupyter


def every() -> float:
    """Seconds between progress lines in a log file: $ECONALIGN_PROGRESS_EVERY, 5 by default."""
    text = os.environ.get(EVERY, "5")
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds >= 0:
        raise EconalignError(f"{EVERY} must be a number of seconds >= 0, got {text!r}")
    return seconds


class ProgressLines:
    """Progress for a log file: a plain line per task every `every()` seconds and when it is done (or
    stopped); the same add_task/advance calls as rich's Progress."""

    def __init__(self, console: Console):
        self.console, self.every, self.tasks = console, every(), []

    def __enter__(self) -> ProgressLines:
        return self

    def __exit__(self, *exc) -> None:
        for task in self.tasks:
            if task["completed"] != task["shown"]:
                self.show(task)

    def add_task(self, description: str, total: int, completed: int = 0, unit: str = "items") -> int:
        now = time.monotonic()
        self.tasks.append({"description": description, "total": total, "completed": completed, "unit": unit,
                           "resumed": completed, "start": now, "shown_at": now, "shown": None})
        return len(self.tasks) - 1

    def advance(self, task_id: int, n: int = 1) -> None:
        task = self.tasks[task_id]
        task["completed"] += n
        if task["completed"] >= task["total"] or time.monotonic() - task["shown_at"] >= self.every:
            self.show(task)

    def show(self, task: dict) -> None:
        done, total, unit = task["completed"], task["total"], task["unit"]
        elapsed = time.monotonic() - task["start"]
        rate = (done - task["resumed"]) / elapsed if elapsed > 0 else 0.0
        line = f"{task['description']}: {done}/{total} {unit}"
        if task["resumed"]:
            line += f" ({task['resumed']} resumed)"
        if rate > 0:
            speed = f"{rate:,.1f}" if rate >= 1 else f"{rate:.2g}"
            left = "done" if done >= total else f"{timedelta(seconds=round((total - done) / rate))} left"
            line += f", {speed} {unit}/s, {left}"
        self.console.print(line, highlight=False, soft_wrap=True)
        task["shown"], task["shown_at"] = done, time.monotonic()


def progress_bar() -> Progress | ProgressLines:
    """The progress display of every long command: on a terminal a bar (description, bar, done/total,
    time left); in a log file a plain line every few seconds (done/total, rate, time left)."""
    console = get_console()
    if not live(console):
        return ProgressLines(console)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, transient=False)


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner with `message` (rich markup) on a terminal; in a log file, the message as one line."""
    console = get_console()
    if live(console):
        with console.status(message):
            yield
    else:
        console.print(message, highlight=False, soft_wrap=True)
        yield


def chunk_path(cache: Path, index: int) -> Path:
    return cache / f"chunk-{index:05d}.json"


def owned(cache: Path, key: str) -> bool:
    """Whether the chunks in `cache` were saved for the work `key` describes."""
    meta = cache / "meta.json"
    return meta.exists() and read_json(meta) == {"fingerprint": key, "format": FORMAT}


def saved_items(cache: Path, n: int, chunk: int) -> int:
    """How many of n items have their chunk in `cache`."""
    return sum(min(chunk, n - start) for i, start in enumerate(range(0, n, chunk)) if chunk_path(cache, i).exists())


def left_to_do(n: int, cache: Path, key: str, chunk: int = 32) -> int:
    """How many of n items `run_chunks` would still work on: cheap, so a command can skip loading a
    model when none is left."""
    return n - saved_items(cache, n, chunk) if owned(cache, key) else n


def run_chunks(items: list, work: Work, cache: Path, key: str, label: str, chunk: int = 32) -> tuple[list[dict], dict]:
    """All records, in item order, and the figures of the work: items_scored (now), items_resumed (from
    an earlier run), score_s (seconds of work on all the items, whichever run did it) and items_per_s.
    The cache (and the folders above it) is made when the first chunk is done: a run that fails at
    once leaves nothing behind."""
    marked = owned(cache, key)
    if not marked:
        for old in cache.glob("chunk-*.json"):
            old.unlink()  # other work, or work of unknown kind: nothing to reuse
    records: list[dict] = []
    seconds, resumed = 0.0, 0
    with progress_bar() as bar:
        job = bar.add_task(escape(label), total=len(items), completed=saved_items(cache, len(items), chunk))
        for i, start in enumerate(range(0, len(items), chunk)):
            path = chunk_path(cache, i)
            if path.exists():
                done = read_json(path)
                resumed += len(done["records"])
            else:
                began = time.perf_counter()
                done = {"records": work(items[start : start + chunk], i, lambda n: bar.advance(job, n))}
                done["seconds"] = time.perf_counter() - began
                if not marked:
                    cache.mkdir(parents=True, exist_ok=True)
                    write_json(cache / "meta.json", {"fingerprint": key, "format": FORMAT})
                    marked = True
                write_json(path, done)
            records += done["records"]
            seconds += done["seconds"]
    return records, {"score_s": seconds, "items_scored": len(records) - resumed, "items_resumed": resumed,
                     "items_per_s": len(records) / seconds if seconds else None}
