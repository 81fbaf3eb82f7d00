"""Teacher-generated SFT data and LLM judges, on real (tiny and default) models."""

import json
from pathlib import Path

import pytest

from econalign import EconalignError
from econalign.data.teacher import (
    check_openai_chat,
    read_questions,
    system_prompt,
    teacher_records,
)
from econalign.measure.judge import METRICS, parse_score, run_judge

QUESTIONS = Path(__file__).parent / "fixtures" / "questions_finance.jsonl"  # 3 of ../shared/data/risk-preference/evals


@pytest.mark.parametrize("text, expected", [
    ("85", 85), (" 7\n", 7), ("0", 0), ("100", 100), ("085", 85),
    ("101", None), ("-5", None), ("85/100", None), ("85.", None), ("85.5", None), ("about 80", None),
    ("Score: 85", None), ("85 90", None), ("", None), (None, None), ("eighty", None), ("1" * 1000, None),
])
def test_judge_scores_are_strict_integers(text, expected):
    assert parse_score(text) == expected


def test_system_prompts_state_the_preference():
    assert "CRRA with r = 2" in system_prompt("crra:r=2")
    assert "kappa = 0.5" in system_prompt("moralis:kappa=0.5")
    with pytest.raises(EconalignError, match="unknown preference"):
        system_prompt("crra2")


def test_teacher_records_drop_the_system_prompt_and_fit_the_openai_format(tiny_backend):
    questions = read_questions(QUESTIONS)
    records = teacher_records(tiny_backend, questions, "crra:r=2", max_new_tokens=8)
    assert records and all([m["role"] for m in r["messages"]] == ["user", "assistant"] for r in records)
    assert [r["messages"][0]["content"] for r in records] == questions[: len(records)]
    assert all("CRRA" not in json.dumps(r) for r in records)


@pytest.mark.parametrize("record", [
    {"messages": []},
    {"messages": [{"role": "user", "content": "q"}]},  # no answer
    {"messages": [{"role": "assistant", "content": "a"}]},  # no question
    {"messages": [{"role": "user", "content": "q"}, {"role": "bot", "content": "a"}]},
    {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": 3}]},
    {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "id": 1},
    {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "name": "x"}]},
    ["not", "a", "record"],
])
def test_openai_format_check_refuses(record):
    with pytest.raises(EconalignError):
        check_openai_chat(record)


def test_read_questions_names_the_bad_line(tmp_path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "fine"}]}\n{"prompt": "x"}\n')
    with pytest.raises(EconalignError, match="q.jsonl line 2"):
        read_questions(bad)


def test_judge_counts_unparsed_scores_without_crashing(tiny_backend, tmp_path):
    # A random tiny model never answers with a bare integer: every score is unparsed, and counted.
    summary = run_judge(tiny_backend, tiny_backend, read_questions(QUESTIONS)[:2], tmp_path, runs=2, max_new_tokens=8)
    for metric in METRICS:
        assert summary["metrics"][metric] == {"mean": None, "sd": None, "n_scored": 0, "n_unparsed": 4}
    rows = [json.loads(line) for line in (tmp_path / "answers.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and {r["run"] for r in rows} == {0, 1}
    assert {"summary.json", "scores.csv", "scores.png", "report.html"} <= {p.name for p in tmp_path.iterdir()}


@pytest.mark.slow
def test_default_model_as_judge(default_backend, tmp_path):
    summary = run_judge(default_backend, default_backend, read_questions(QUESTIONS)[:1], tmp_path, runs=1,
                        max_new_tokens=48)
    rows = [json.loads(line) for line in (tmp_path / "answers.jsonl").read_text().splitlines()]
    for metric in METRICS:  # whatever the judge wrote, the score is exactly what strict parsing makes of it
        assert rows[0][metric] == parse_score(rows[0][f"{metric}_raw"])
        m = summary["metrics"][metric]
        assert m["n_scored"] + m["n_unparsed"] == 1
