"""Math problems from a Hugging Face hub id or a local JSONL file / folder, through one code path.

GSM8K rows carry `question` and `answer` (worked solution ending in `#### <number>`); MATH rows carry
`problem` and `solution` (the answer in its last \\boxed{}). Both become
`{"id", "question", "solution", "gold"}`.
"""

from __future__ import annotations

import re
from pathlib import Path

from econalign import EconalignError
from econalign.math.grader import boxed, gsm8k_gold
from econalign.math.prompts import check_prompt, question_only, question_only_completion, r1_zero, r1_zero_completion

HUB = {"gsm8k": ("openai/gsm8k", "main"), "math": ("hendrycks/competition_math", None)}


def load_problems(source: str, split: str = "test", n: int | None = None) -> list[dict]:
    """The first n problems of `split`: `gsm8k`/`math` (hub), any hub id, a .jsonl file, or a folder of <split>.jsonl."""
    rows = read_rows(source, split)
    rows = rows if n is None else rows[:n]
    problems = [normalise(row, f"{source}:{split} row {i}") | {"id": f"{split}-{i:05d}"} for i, row in enumerate(rows)]
    if not problems:
        raise EconalignError(f"{source} ({split}) holds no problems")
    return problems


def read_rows(source: str, split: str) -> list[dict]:
    from datasets import load_dataset

    path = Path(source)
    if path.is_dir():
        path = path / f"{split}.jsonl"
        if not path.exists():
            raise EconalignError(f"{source} has no {split}.jsonl")
    try:
        if path.is_file():
            return list(load_dataset("json", data_files=str(path), split="train"))
        hub_id, config = HUB.get(source, (source, None))
        return list(load_dataset(hub_id, config, split=split))
    except EconalignError:
        raise
    except Exception as exc:  # datasets raises many types: offline hub, bad JSON, unknown split
        raise EconalignError(f"cannot load {source} ({split}): {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def normalise(row: dict, where: str) -> dict:
    if "question" in row and "answer" in row:  # GSM8K
        try:
            return {"question": row["question"], "solution": row["answer"], "gold": gsm8k_gold(row["answer"])}
        except ValueError as exc:
            raise EconalignError(f"{where}: {exc}") from None
    if "problem" in row and "solution" in row:  # MATH
        gold = row.get("answer") or boxed(row["solution"])
        if gold is None:
            raise EconalignError(f"{where}: the MATH solution has no \\boxed{{}} answer")
        return {"question": row["problem"], "solution": row["solution"], "gold": gold}
    raise EconalignError(f"{where}: expected GSM8K (question, answer) or MATH (problem, solution) fields")


def worked_solution(problem: dict) -> str:
    """The reasoning of a solution without its final answer line or GSM8K's <<calculator>> notes."""
    text = problem["solution"].rsplit("####", 1)[0]
    return re.sub(r"<<[^>]*>>", "", text).strip()


def sft_records(problems: list[dict], prompt: str = "r1_zero") -> list[dict]:
    """SFT records of the worked solutions: r1_zero prompt/completion text (the reasoning, then the gold in
    the answer tags), or question_only chat messages (the question as the user turn, the reasoning ending
    on the boxed gold). SFT trains on them; GRPO and expert iteration prompt with them and reward against `gold`."""
    check_prompt(prompt)
    if prompt == "r1_zero":
        return [{"prompt": r1_zero(p["question"]), "completion": r1_zero_completion(worked_solution(p), p["gold"]),
                 "gold": p["gold"], "id": p["id"]} for p in problems]
    return [{"messages": [*question_only(p["question"]), {"role": "assistant", "content": question_only_completion(
        worked_solution(p), p["gold"])}], "gold": p["gold"], "id": p["id"]} for p in problems]
