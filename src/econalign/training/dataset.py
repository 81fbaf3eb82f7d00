"""Chat records for SFT, as TRL's conversational prompt/completion examples, tokenized here.

A record `{"messages": [..., {"role": "assistant", ...}]}` becomes
`{"prompt": [...all but the last message], "completion": [the last message]}`. Earlier assistant
turns of a multi-turn record are context, not targets. `tokenize` renders each record with the
chat template and marks which tokens carry loss: the answer's, except the calculator's outputs
inside it, which the runner writes at inference time (a model trained on them learns to make up
tool results). TRL turns the `completion_mask` into labels; its own `assistant_only_loss` would
need `{% generation %}` markers that SmolLM2's template lacks. Text records `{"prompt": str,
"completion": str}` (the r1_zero math format) are taken as they are, without a chat template.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from econalign import EconalignError
from econalign.agent.format import tool_output_spans
from econalign.io import read_jsonl
from econalign.tasks import Task
from econalign.training.config import DataConfig

ROLES = ("system", "user", "assistant", "tool")


def load_dataset(cfg: DataConfig):
    """One shuffled `datasets.Dataset` of prompt/completion records from every path in `cfg`."""
    from datasets import Dataset

    rng = random.Random(cfg.seed)
    records = per_path(cfg, rng, lambda path: [to_prompt_completion(row, where) for where, row in read_jsonl(path)]
                       if path.is_file() else read_saved(path))
    rng.shuffle(records)
    return Dataset.from_list(records)


def per_path(cfg: DataConfig, rng: random.Random, read) -> list:
    """The records `read(path)` returns for each path, a seeded sample of `max_examples` of each where set:
    SFT, GRPO and expert iteration subsample alike."""
    records = []
    for path in cfg.paths:
        part = read(path)
        if not part:
            raise EconalignError(f"{path} holds no records")
        if cfg.max_examples and len(part) > cfg.max_examples:
            part = rng.sample(part, cfg.max_examples)
        records += part
    return records


def reward_records(cfg: DataConfig) -> list[dict]:
    """Records whose answers are graded (GRPO, expert iteration): the prompt and what the rewards read —
    task and preference for `econalign data` records (with the solver's own answer, `reference`), gold for
    `econalign math data` records (an r1_zero text prompt, or question_only chat messages)."""
    return per_path(cfg, random.Random(cfg.seed), read_reward_records)


def read_reward_records(path: Path) -> list[dict]:
    if not path.is_file():
        raise EconalignError(f"GRPO and expert iteration read JSONL files of `econalign data` or "
                             f"`econalign math data`; {path} is a folder")
    records = []
    for where, row in read_jsonl(path):
        try:
            records.append(reward_record(row))
        except (KeyError, TypeError, AttributeError):
            raise EconalignError(f"{where}: expected a record of `econalign data` (messages, task, preference) "
                                 "or of `econalign math data` (prompt or messages, gold)") from None
    return records


def reward_record(row: dict) -> dict:
    if isinstance(row.get("prompt"), str):
        return {"prompt": row["prompt"], "gold": str(row["gold"])}
    prompt = [m for m in row["messages"] if m["role"] != "assistant"]
    if "gold" in row:  # a question_only math record
        return {"prompt": prompt, "gold": str(row["gold"])}
    Task(**row["task"])  # a malformed task fails here, not in the middle of a run
    answer = "".join(m["content"] for m in row["messages"] if m["role"] == "assistant")
    return {"prompt": prompt, "task": json.dumps(row["task"]), "preference": row["preference"], "reference": answer}


def tokenize(dataset, tokenizer):
    """Add `input_ids` and `completion_mask` to every prompt/completion record."""
    if not tokenizer.is_fast:
        raise EconalignError("SFT needs a fast tokenizer (character offsets locate the tool outputs)")
    return dataset.map(lambda record: tokenize_record(record, tokenizer))


def tokenize_record(record: dict, tokenizer) -> dict:
    if isinstance(record["prompt"], str):  # raw text (the r1_zero math prompt): no chat template, EOS ends the answer
        prompt = record["prompt"]
        text = prompt + record["completion"] + tokenizer.eos_token
    else:
        prompt = tokenizer.apply_chat_template(record["prompt"], add_generation_prompt=True, tokenize=False)
        text = tokenizer.apply_chat_template(record["prompt"] + record["completion"], tokenize=False)
    if not text.startswith(prompt):
        raise EconalignError("the chat template renders the prompt differently once the answer follows it")
    masked = [(0, len(prompt))] + [(len(prompt) + a, len(prompt) + b) for a, b in tool_output_spans(text[len(prompt) :])]
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    mask = [int(not any(a <= start < b for a, b in masked)) for start, _ in encoded["offset_mapping"]]
    return {"input_ids": encoded["input_ids"], "completion_mask": mask}


def read_saved(path: Path) -> list[dict]:
    """A `save_to_disk` folder: a Dataset, or a DatasetDict whose "train" split is used."""
    from datasets import DatasetDict, load_from_disk

    try:
        data = load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise EconalignError(f"{path} is not a datasets folder saved with save_to_disk ({exc})") from None
    if isinstance(data, DatasetDict):
        if "train" not in data:
            raise EconalignError(f"{path} has splits {list(data)} but no 'train' split")
        data = data["train"]
    return [to_prompt_completion(row, f"{path} row {i}") for i, row in enumerate(data)]


def to_prompt_completion(row, where: str) -> dict:
    """Only the conversation is kept: metadata fields would otherwise reach the trainer's columns."""
    if not isinstance(row, dict):
        raise EconalignError(f"{where}: expected a JSON object, got {type(row).__name__}")
    if "messages" in row:
        messages = clean_messages(row["messages"], where)
        prompt, completion = messages[:-1], messages[-1:]
    elif isinstance(row.get("prompt"), str) and isinstance(row.get("completion"), str):
        if not row["prompt"] or not row["completion"]:
            raise EconalignError(f"{where}: empty prompt or completion text")
        return {"prompt": row["prompt"], "completion": row["completion"]}
    elif "prompt" in row and "completion" in row:
        prompt, completion = clean_messages(row["prompt"], where), clean_messages(row["completion"], where)
    else:
        raise EconalignError(f"{where}: expected a 'messages' list, 'prompt' and 'completion' lists, or texts")
    if [m["role"] for m in completion] != ["assistant"]:
        raise EconalignError(f"{where}: the conversation must end with one assistant message")
    if not prompt or prompt[-1]["role"] == "assistant":
        raise EconalignError(f"{where}: the conversation must have a prompt before the final assistant answer")
    return {"prompt": prompt, "completion": completion}


def clean_messages(messages, where: str) -> list[dict]:
    if not isinstance(messages, list) or not messages:
        raise EconalignError(f"{where}: messages must be a non-empty list")
    cleaned = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise EconalignError(f"{where}: message {i} needs a role in {ROLES} and a string content")
        cleaned.append({"role": m["role"], "content": m["content"]})
    return cleaned
