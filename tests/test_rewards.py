"""Reward functions against hand-computed values and reward-hacking strings."""

import json

import pytest

from econalign.data.traces import trace
from econalign.preferences import parse_preference
from econalign.tasks import games, holt_laury, solve
from econalign.tasks.bet import make as make_bet
from econalign.training.rewards import REWARDS, format_reward, outcome_reward, regret_reward

CRRA2 = "crra:r=2"


def columns(task, spec, n):
    return {"task": [json.dumps(task.to_dict())] * n, "preference": [spec] * n}


def rewards(completions, task, spec):
    cols = columns(task, spec, len(completions))
    return {name: REWARDS[name](completions, **cols) for name in ("format", "outcome", "regret")}


def answer(final: str, think: str = "I compare the options.") -> str:
    return f"<think>\n{think}\n</think>\nFinal answer: {final}"


def test_optimal_trace_earns_every_reward():
    task = solve(holt_laury.make(3), parse_preference(CRRA2))  # row 3: the safe A is best at r = 2
    best = trace(task, parse_preference(CRRA2), "agentic")
    assert rewards([best], task, CRRA2) == {"format": [1.0], "outcome": [1.0], "regret": [1.0]}


def test_graded_regret_by_hand():
    # Dictator game, M = 100, homo moralis κ = 0.5: U(give g) = 0.5(100 - g) + 0.5·50 = 75 - g/2.
    # Options give 0, 10, 25, 50, 75, 100 -> U = 75, 70, 62.5, 50, 37.5, 25; giving $25 (C) keeps
    # (62.5 - 25)/(75 - 25) = 0.75 of the range.
    spec = "moralis:kappa=0.5"
    task = solve(games.dictator(100), parse_preference(spec))
    r = rewards([answer("C"), answer("A"), answer("F")], task, spec)
    assert r["regret"] == pytest.approx([0.75, 1.0, 0.0])
    assert r["outcome"] == [0.0, 1.0, 0.0] and r["format"] == [1.0, 1.0, 1.0]


def test_bet_outcome_within_tolerance_and_graded_by_certainty_equivalents():
    # Kelly (r = 1): p = 0.6 at even odds -> stake 20% of $1,000 = $200; tolerance max($10, $10).
    spec = "crra:r=1"
    task = solve(make_bet(1000, 0.6, 1.0), parse_preference(spec))
    r = rewards([answer("$200"), answer("$205"), answer("$1,000"), answer("$5,000")], task, spec)
    assert r["outcome"] == [1.0, 1.0, 0.0, 0.0]
    assert r["regret"][0] == 1.0 and 0.99 < r["regret"][1] < 1.0 and r["regret"][2] == 0.0 and r["regret"][3] == 0.0


@pytest.mark.parametrize("completion, fmt", [
    ("", 0.0),  # empty
    ("A", 0.0),  # no trace at all
    (answer("A\nFinal answer: B"), 0.0),  # several decisions
    ("<think>\nFinal answer: A\n</think>\nI would rather not say.", 0.0),  # a decision only inside <think>
    ("<think>\nx = <tool>2*3</tool>\n</think>\nFinal answer: A", 0.0),  # a tool call without its result
    ("<think>\n<tool_output>6</tool_output>\n</think>\nFinal answer: A", 0.0),  # a result without a call
    (answer("A") + "x" * 30_000, 0.0),  # huge
    (answer("A or B"), 1.0),  # well formed, but no single decision: outcome 0 below
])
def test_reward_hacking_strings_earn_no_outcome(completion, fmt):
    task = solve(holt_laury.make(3), parse_preference(CRRA2))
    r = rewards([completion], task, CRRA2)
    assert r["format"] == [fmt] and r["outcome"] == [0.0] and r["regret"] == [0.0]


def test_conversational_completions_are_read_from_the_assistant_message():
    task = solve(holt_laury.make(3), parse_preference(CRRA2))
    convo = [{"role": "assistant", "content": answer("A")}]
    assert outcome_reward([convo], **columns(task, CRRA2, 1)) == [1.0]
    assert format_reward([convo]) == [1.0] and regret_reward([convo], **columns(task, CRRA2, 1)) == [1.0]
