"""The agent trace format and the multi-turn calculator loop."""

import pytest

from econalign.agent.format import agent_task, instruction, parse_trace
from econalign.agent.runner import pending_tool_call, run_rollouts
from econalign.backends.base import Backend
from econalign.preferences import Lottery
from econalign.tasks import gamble

GOOD = "<think>\nEV of the gamble: <tool>0.5*1000</tool>\n<tool_output>500</tool_output>\nmore than 400.\n</think>\nFinal answer: reject"


def test_well_formed_trace():
    t = parse_trace(GOOD)
    assert t.well_formed, t.errors
    assert t.answer == "reject"
    assert t.tool_calls == ["0.5*1000"] and t.tool_outputs == ["500"]


def test_blind_trace_without_tools_is_well_formed():
    t = parse_trace("<think>0.5 x 1000 = 500 > 400</think>\nFinal answer: reject")
    assert t.well_formed and t.answer == "reject" and t.tool_calls == []


@pytest.mark.parametrize(
    "text, error",
    [
        ("", "does not start with <think>"),
        ("Final answer: accept", "does not start with <think>"),
        ("<think>x</think>\nFinal answer: accept\nFinal answer: reject", "exactly one line"),
        ("<think>Final answer: reject</think>\nFinal answer: accept", "inside the reasoning"),
        ("<think>I reject. Final answer: reject</think>", "exactly one line"),  # decision only inside think
        ("<think><tool>1+1</tool></think>\nFinal answer: accept", "without its output"),
        ("<think><tool>1+1</think>\nFinal answer: accept", "unclosed tool tag"),
        ("<think>a</think><think>b</think>\nFinal answer: accept", "appears 2 times"),
        ("<think>a</think>\n<tool>1</tool>\nFinal answer: accept", "tags after </think>"),
        ("<think>a</think>\nI think so.\nFinal answer: accept", "exactly one line"),
        ("<think>" + "x" * 30_000 + "</think>\nFinal answer: accept", "longer than"),
    ],
)
def test_malformed_traces_are_refused(text, error):
    t = parse_trace(text)
    assert not t.well_formed
    assert any(error in e for e in t.errors), t.errors


def test_agent_task_replaces_only_the_instruction():
    task = gamble.make(Lottery.binary(0.5, 1000), 400, 1000)
    agent = agent_task(task, "agentic")
    assert agent.prompt == task.prompt and agent.options == task.options
    assert "<tool>" in agent.instruction and "Final answer: accept or reject" in agent.instruction
    assert "<tool>" not in agent_task(task, "blind").instruction
    with pytest.raises(ValueError):
        instruction("x", "telepathic")


def test_pending_tool_call():
    assert pending_tool_call("so <tool>2*3</tool>") == "2*3"
    assert pending_tool_call("so <tool>2*3</tool> done") is None
    assert pending_tool_call("</tool>") is None  # a closing tag without a call


class ScriptedAgent(Backend):
    """Continues text from a fixed script, one tool call per turn: it stands in for a trained
    model so the loop itself (stop, calculator, resume) is exercised with the real calculator."""

    name = "scripted"

    def __init__(self, turns):
        self.turns = turns

    def choice_scores(self, tasks, progress=None):
        raise NotImplementedError

    def generate(self, tasks, max_new_tokens=64, seed=0, progress=None):
        raise NotImplementedError

    def complete(self, texts, max_new_tokens=256, stop=None, temperature=0.0, seed=0, progress=None):
        return [self.turns[min(t.count("<tool_output>"), len(self.turns) - 1)] for t in texts]


def test_rollout_runs_the_calculator_and_resumes():
    agent = ScriptedAgent(["<think>\n<tool>0.5*1000**0.88</tool>", "\nSo reject.\n</think>\nFinal answer: reject"])
    (r,) = run_rollouts(agent, ["PROMPT"])
    assert r.turns == 2 and not r.turn_limit_hit
    assert "<tool_output>218.2579161</tool_output>" in r.completion
    trace = parse_trace(r.completion)
    assert trace.well_formed, trace.errors
    assert trace.answer == "reject"


def test_rollout_counts_tool_errors_and_stops_at_the_turn_limit():
    agent = ScriptedAgent(["<think><tool>9**9**9</tool>"])  # calls the tool forever
    (r,) = run_rollouts(agent, ["PROMPT"], max_turns=3)
    assert r.turn_limit_hit and r.turns == 3
    assert len(r.tool_results) == 3 and not any(x.ok for x in r.tool_results)
    assert "<tool_output>error:" in r.completion


def test_rollout_progress_ticks_once_per_rollout_as_it_ends():
    ticks = []
    agent = ScriptedAgent(["<think><tool>1+1</tool>", "</think>\nFinal answer: accept"])
    run_rollouts(agent, ["A", "B", "C"], progress=ticks.append)
    assert ticks == [1, 1, 1]
    (r,) = run_rollouts(agent, ["A"], max_turns=1, progress=ticks.append)  # ends at the turn limit
    assert r.turn_limit_hit and ticks == [1, 1, 1, 1]


def test_blind_rollout_never_calls_the_tool():
    agent = ScriptedAgent(["<think><tool>1+1</tool>"])
    (r,) = run_rollouts(agent, ["PROMPT"], tools=False)
    assert r.turns == 1 and r.tool_results == [] and "<tool_output>" not in r.completion
