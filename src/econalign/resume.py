"""Resumable batch work: items are processed in chunks, each saved whole as it finishes.

An interrupted run, started again with the same work description, reuses the saved chunks;
a different description (model and its settings, method, seed, items) clears them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from econalign.io import read_json, write_json

# work(chunk, chunk_index, advance) -> one record per item; advance(n) moves the progress bar
Work = Callable[[list, int, Callable[[int], None]], list[dict]]


def fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def progress_bar() -> Progress:
    """The progress bar of every long command: description, bar, done/total, time left."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    transient=False)


def run_chunks(items: list, work: Work, cache: Path, key: str, label: str, chunk: int = 32) -> tuple[list[dict], int]:
    """All records, in item order, and how many came from an earlier run. The cache (and the folders
    above it) is made when the first chunk is done: a run that fails at once leaves nothing behind."""
    meta = cache / "meta.json"
    marked = meta.exists() and read_json(meta).get("fingerprint") == key
    if not marked:
        for old in cache.glob("chunk-*.json"):
            old.unlink()  # other work, or work of unknown kind: nothing to reuse
    records: list[dict] = []
    reused = 0
    with progress_bar() as bar:
        job = bar.add_task(escape(label), total=len(items))
        for i, start in enumerate(range(0, len(items), chunk)):
            part = items[start : start + chunk]
            path = cache / f"chunk-{i:05d}.json"
            if path.exists():
                done = read_json(path)
                reused += len(done)
                bar.advance(job, len(part))
            else:
                done = work(part, i, lambda n: bar.advance(job, n))
                if not marked:
                    cache.mkdir(parents=True, exist_ok=True)
                    write_json(meta, {"fingerprint": key})
                    marked = True
                write_json(path, done)
            records += done
    return records, reused
