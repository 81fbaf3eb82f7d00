"""The agent trace format shared by data generation, rollouts, evaluation and rewards.

    <think>
    reasoning ... <tool>0.5*1000**0.88</tool>
    <tool_output>218.2579161</tool_output> ... more reasoning
    </think>
    Final answer: accept

Tool calls live inside <think>; every <tool> is followed by its <tool_output>; after </think>
comes exactly one line "Final answer: ...". Blind traces are the same without tool calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from econalign.tasks.base import Task

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
TOOL_OPEN, TOOL_CLOSE = "<tool>", "</tool>"
OUTPUT_OPEN, OUTPUT_CLOSE = "<tool_output>", "</tool_output>"
FINAL = "Final answer:"
MODES = ("agentic", "blind")
MAX_TRACE_CHARS = 20_000

TOOL_CALL = re.compile(re.escape(TOOL_OPEN) + r"(.*?)" + re.escape(TOOL_CLOSE), re.DOTALL)
TOOL_OUTPUT = re.compile(re.escape(OUTPUT_OPEN) + r"(.*?)" + re.escape(OUTPUT_CLOSE), re.DOTALL)
TAGS = (THINK_OPEN, THINK_CLOSE, TOOL_OPEN, TOOL_CLOSE, OUTPUT_OPEN, OUTPUT_CLOSE)
# A tool's answer as the runner writes it after </tool>; SFT leaves these spans out of the loss.
TOOL_OUTPUT_BLOCK = re.compile(
    "(?<=" + re.escape(TOOL_CLOSE) + r")\s*" + re.escape(OUTPUT_OPEN) + ".*?" + re.escape(OUTPUT_CLOSE) + r"\n?",
    re.DOTALL,
)


def tool_output_block(result: str) -> str:
    """What follows a </tool> once the calculator has answered."""
    return f"\n{OUTPUT_OPEN}{result}{OUTPUT_CLOSE}\n"


def tool_output_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of `text` written by the calculator, not by the model."""
    return [m.span() for m in TOOL_OUTPUT_BLOCK.finditer(text)]


def instruction(answers: str, mode: str) -> str:
    """How an agent must answer; `answers` describes the final answer, e.g. "accept or reject"."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    tool = (
        f" To calculate, write an arithmetic expression as {TOOL_OPEN}expression{TOOL_CLOSE}; the calculator's "
        f"result then appears as {OUTPUT_OPEN}result{OUTPUT_CLOSE}."
        if mode == "agentic"
        else " Do the arithmetic yourself; no calculator is available."
    )
    return (
        f"Reason step by step inside {THINK_OPEN} ... {THINK_CLOSE}.{tool} "
        f"After {THINK_CLOSE}, write exactly one line: {FINAL} {answers}"
    )


def agent_task(task: Task, mode: str) -> Task:
    """The same task, asking for a think/tool/final-answer trace instead of a bare answer."""
    answers = " or ".join(task.options) if task.options else "a dollar amount"  # bet sizing has no options
    return replace(task, instruction=instruction(answers, mode), params={**task.params, "mode": mode})


@dataclass
class Trace:
    """What a completion contains, and whether it follows the format."""

    answer: str | None  # text after "Final answer:", if exactly one final line follows </think>
    tool_calls: list[str] = field(default_factory=list)
    tool_outputs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def well_formed(self) -> bool:
        return not self.errors


def parse_trace(text: str) -> Trace:
    """Split a completion into reasoning, tool calls and the final answer, listing format errors."""
    if len(text) > MAX_TRACE_CHARS:
        return Trace(answer=None, errors=[f"longer than {MAX_TRACE_CHARS} characters"])
    errors = []
    text = text.strip()
    if not text.startswith(THINK_OPEN):
        errors.append(f"does not start with {THINK_OPEN}")
    for tag in (THINK_OPEN, THINK_CLOSE):
        if text.count(tag) != 1:
            errors.append(f"{tag} appears {text.count(tag)} times, not once")
    think, _, after = text.partition(THINK_CLOSE)
    if any(tag in after for tag in TAGS):
        errors.append(f"tags after {THINK_CLOSE}")
    calls = TOOL_CALL.findall(think)
    outputs = TOOL_OUTPUT.findall(think)
    if think.count(TOOL_OPEN) != len(calls) or think.count(OUTPUT_OPEN) != len(outputs):
        errors.append("unclosed tool tag")
    elif len(calls) != len(outputs) or not tools_answered(think):
        errors.append("a tool call without its output")
    finals = [line for line in after.splitlines() if line.strip()]
    answer = None
    if len(finals) == 1 and finals[0].strip().startswith(FINAL):
        answer = finals[0].strip()[len(FINAL) :].strip()
    else:
        errors.append(f"after {THINK_CLOSE} there must be exactly one line '{FINAL} ...'")
    if FINAL in think:
        errors.append(f"'{FINAL}' inside the reasoning")
    return Trace(answer=answer, tool_calls=[c.strip() for c in calls], tool_outputs=[o.strip() for o in outputs], errors=errors)


def tools_answered(think: str) -> bool:
    """Every </tool> is followed (after whitespace) by a <tool_output>."""
    return all(think[m.end() :].lstrip().startswith(OUTPUT_OPEN) for m in re.finditer(re.escape(TOOL_CLOSE), think))
