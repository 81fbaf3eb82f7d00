"""The agent batch test: grading traces against a target preference, and the command end to end."""

import json

import pytest

from econalign.agent.evaluate import (
    evaluate_agent,
    grade,
    held_out_tasks,
    load_tasks,
    metrics,
)
from econalign.data.traces import trace
from econalign.preferences import parse_preference
from econalign.tasks import solve

from commands import econalign

FAMILIES = ["gamble", "holt_laury", "insurance", "bet"]


@pytest.mark.parametrize("mode", ["agentic", "blind"])
def test_exact_traces_are_graded_correct(mode):
    pref = parse_preference("pt:alpha=0.88,lambda=2.25")
    for task in held_out_tasks(pref.spec(), FAMILIES, 24, seed=3):
        solve(task, pref)
        g = grade(task, pref, trace(task, pref, mode))
        assert g["well_formed"] and g["correct"] and g["score"] == pytest.approx(1.0), (task.id, g)


def test_another_preferences_traces_are_graded_wrong_where_optima_differ():
    target, other = parse_preference("crra:r=2"), parse_preference("risk-loving")
    wrong = 0
    for task in held_out_tasks(target.spec(), ["gamble", "bet"], 20, seed=1):
        theirs = trace(solve(task, other), other, "agentic")
        differ = task.optimal != solve(task, target).optimal
        g = grade(task, target, theirs)
        assert g["well_formed"] and g["correct"] != differ or task.family == "bet"
        wrong += not g["correct"]
    assert wrong > 0


@pytest.mark.parametrize(
    "completion",
    ["", "Final answer: accept", "<think>x</think>\nFinal answer: maybe", "<think>" + "y" * 50_000, "\x00\udcff"],
)
def test_garbage_is_counted_not_fatal(completion):
    pref = parse_preference("crra:r=1")
    for task in held_out_tasks(pref.spec(), FAMILIES, 4, seed=0):
        g = grade(solve(task, pref), pref, completion)
        assert not g["correct"] and g["score"] == 0.0


def test_metrics_counts():
    rows = [
        {"correct": True, "score": 1.0, "well_formed": True, "choice": "accept", "tool_calls": 2, "tool_errors": 1, "turn_limit_hit": False},
        {"correct": False, "score": 0.0, "well_formed": False, "choice": None, "tool_calls": 0, "tool_errors": 0, "turn_limit_hit": True},
    ]
    m = metrics(rows)
    assert m["decision_accuracy"] == 0.5 and m["format_errors"] == 1 and m["unparsed"] == 1
    assert m["tool_call_success_rate"] == 0.5 and m["items_using_tool"] == 1 and m["turn_limit_hits"] == 1


def test_evaluate_agent_on_a_tiny_model(tmp_path, tiny_backend):
    pref = parse_preference("crra:r=2")
    tasks = held_out_tasks(pref.spec(), FAMILIES, 6, seed=0)
    summary = evaluate_agent(tiny_backend, tasks, pref, "agentic", tmp_path, max_turns=2, max_new_tokens=12)
    assert summary["n"] == 6 and summary["format_errors"] == 6  # a random model cannot follow the format
    rows = [json.loads(line) for line in (tmp_path / "traces.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [t.id for t in tasks]
    assert all(r["completion"] for r in rows)
    again = evaluate_agent(tiny_backend, tasks, pref, "agentic", tmp_path, max_turns=2, max_new_tokens=12)
    assert again["items_resumed"] == 6 and again["decision_accuracy"] == summary["decision_accuracy"]


def test_eval_agent_cli_with_data_file(tmp_path, tiny_dir):
    data = tmp_path / "data"
    run = econalign("data", "--preference", "log", "--tasks", "gamble,bet", "--n", "4", "--eval-n", "4", "--mode", "blind",
                    "--out", data)
    assert run.returncode == 0, run.stderr
    assert len(load_tasks(data / "eval.jsonl")) == 4
    out = tmp_path / "eval"
    run = econalign("eval", "agent", "--model", tiny_dir, "--preference", "log", "--data", data / "eval.jsonl",
                    "--mode", "blind", "--out", out, "--max-new-tokens", "8")
    assert run.returncode == 0, run.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 4 and summary["mode"] == "blind" and summary["tool_calls"] == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--model", "sim:crra:r=1", "--preference", "log"],  # sim agents do not write traces
        ["--model", "default", "--preference", "moralis:kappa=0.5"],
        ["--model", "default", "--preference", "log", "--mode", "psychic"],
        ["--model", "default", "--preference", "log", "--data", "/nonexistent.jsonl"],
        ["--model", "default", "--preference", "log", "--tasks", "poker"],
    ],
)
def test_eval_agent_bad_input(tmp_path, args):
    run = econalign("eval", "agent", *args, "--out", tmp_path / "o", "--n", "2")
    assert run.returncode != 0
    assert run.stderr.strip().startswith("error:") and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "Traceback" not in run.stdout + run.stderr
