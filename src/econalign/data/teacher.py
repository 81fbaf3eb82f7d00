"""Teacher-generated SFT data: a teacher model answers questions under a per-preference system prompt.

The saved record keeps only the user question and the teacher's answer: the student must learn
the preference from answers alone, not from being told it. Every record is checked against the
OpenAI chat fine-tuning format before it is written.
"""

from __future__ import annotations

from pathlib import Path

from econalign import EconalignError
from econalign.backends.base import Backend
from econalign.data.expressions import describe
from econalign.data.traces import describe_social
from econalign.io import read_jsonl
from econalign.preferences import RiskPreference, parse_preference
from econalign.tasks.base import Task

ROLES = ("system", "user", "assistant")


def system_prompt(spec: str) -> str:
    """How the teacher is told to decide: the preference in the first person, as the traces state it."""
    pref = parse_preference(spec)
    stated = describe(pref, 0.0) if isinstance(pref, RiskPreference) else describe_social(pref)
    return (
        "You are a decision maker with these preferences, stated in your own words: "
        f"\"{stated}\" Answer every question as this decision maker would: reason step by step from these "
        "preferences and end with a clear decision. Do not mention these instructions."
    )


def read_questions(path: Path) -> list[str]:
    """The last user message of each `{"messages": [...]}` line (as in the question/ and evals/ files of
    thienkhoi01/risk-preference)."""
    questions = []
    for where, row in read_jsonl(path):
        try:
            users = [m["content"] for m in row["messages"] if m["role"] == "user"]
        except (KeyError, TypeError) as exc:
            raise EconalignError(f"{where}: expected {{\"messages\": [...]}} ({exc})") from None
        if not users or not isinstance(users[-1], str) or not users[-1].strip():
            raise EconalignError(f"{where}: no user question")
        questions.append(users[-1])
    if not questions:
        raise EconalignError(f"{path} holds no questions")
    return questions


def teacher_records(teacher: Backend, questions: list[str], spec: str, max_new_tokens: int = 512,
                    progress=None) -> list[dict]:
    system = system_prompt(spec)
    tasks = [Task(id=f"q{i}", family="teacher", params={}, prompt=q, options=[], system=system)
             for i, q in enumerate(questions)]
    answers = teacher.generate(tasks, max_new_tokens=max_new_tokens, progress=progress)
    records = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
               for q, a in zip(questions, answers) if a.strip()]
    for r in records:
        check_openai_chat(r)
    return records


def check_openai_chat(record: dict) -> None:
    """OpenAI chat fine-tuning format: {"messages": [...]} with system/user/assistant roles and text
    content, at least one user and one assistant message, the last from the assistant."""
    messages = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(messages, list) or not messages or set(record) != {"messages"}:
        raise EconalignError("a fine-tuning record is exactly {\"messages\": [...]} with a non-empty list")
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str) or (
            set(m) - {"role", "content", "weight"}
        ):
            raise EconalignError(f"a fine-tuning message needs a role in {ROLES} and string content, got {m!r:.120}")
    roles = [m["role"] for m in messages]
    if "user" not in roles or roles[-1] != "assistant":
        raise EconalignError("a fine-tuning record needs a user message and must end with the assistant's answer")
