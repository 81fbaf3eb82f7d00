"""`econalign math eval`: generate an answer per problem, grade it, count the three categories.

Every generation is saved with its rewards (generations.jsonl); summary.json holds accuracy and
the counts of (format 1, answer 1), (format 1, answer 0) and (format 0). Resumable by chunks.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from econalign import __version__
from econalign.backends.base import Backend
from econalign.io import jsonl, write_json, write_text
from econalign.math.grader import grade
from econalign.math.prompts import STOP, check_prompt, math_task, r1_zero
from econalign.resume import fingerprint, run_chunks


def render(backend: Backend, problem: dict, prompt: str) -> str:
    if prompt == "r1_zero":
        return r1_zero(problem["question"])
    return backend.render(math_task(problem["question"], problem["id"]))


def generate_chunk(backend, problems, prompt, max_new_tokens, seed, advance) -> list[dict]:
    texts = [render(backend, p, prompt) for p in problems]
    responses = backend.complete(texts, max_new_tokens, stop=STOP[prompt], seed=seed, progress=advance)
    return [
        {"id": p["id"], "question": p["question"], "gold": p["gold"], "prompt": text, "response": response,
         **grade(response, p["gold"], prompt).to_dict()}
        for p, text, response in zip(problems, texts, responses)
    ]


def categories(rows: list[dict]) -> dict:
    return {
        "format1_answer1": sum(r["format_reward"] == 1 and r["answer_reward"] == 1 for r in rows),
        "format1_answer0": sum(r["format_reward"] == 1 and r["answer_reward"] == 0 for r in rows),
        "format0": sum(r["format_reward"] == 0 for r in rows),
    }


def evaluate_math(backend: Backend, problems: list[dict], prompt: str, out: Path, max_new_tokens: int = 512,
                  seed: int = 0, batch: int = 16, data: str = "") -> dict:
    check_prompt(prompt)
    start = time.perf_counter()
    key = fingerprint(backend.name, prompt, max_new_tokens, seed, [(p["id"], p["question"]) for p in problems])
    rows, figures = run_chunks(
        problems, lambda chunk, i, advance: generate_chunk(backend, chunk, prompt, max_new_tokens, seed + i, advance),
        out / ".cache", key, f"math {prompt} · {backend.name}", batch,
    )
    summary = {
        "econalign_version": __version__,
        "model": backend.name,
        "data": data,
        "prompt": prompt,
        "n": len(rows),
        "accuracy": float(np.mean([r["answer_reward"] for r in rows])),
        "format_rate": float(np.mean([r["format_reward"] for r in rows])),
        "categories": categories(rows),
        "mean_response_chars": float(np.mean([len(r["response"]) for r in rows])),
        "max_new_tokens": max_new_tokens,
        "seed": seed,
        "items_resumed": figures["items_resumed"],
        "seconds": time.perf_counter() - start,
    }
    write_text(out / "generations.jsonl", jsonl(rows))
    write_json(out / "summary.json", summary)
    return summary
