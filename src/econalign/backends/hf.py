"""Hugging Face causal LMs: batched next-token scoring of answer options, and greedy generation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from econalign import EconalignError
from econalign.backends import prefix_tree
from econalign.backends.base import Backend, ChoiceScores
from econalign.tasks.base import Task


def load_pretrained(model: str, dtype):
    """Causal LM and tokenizer of `default`, a local folder or a hub id, or one clear error."""
    path = check_model(model)  # before importing transformers: a wrong path fails in a second
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        return AutoModelForCausalLM.from_pretrained(path, dtype=dtype), AutoTokenizer.from_pretrained(path)
    except Exception as exc:  # missing files, bad config, corrupt weights: all the user's input
        where = "a local folder" if Path(path).exists() else "a local path or a model in the Hugging Face cache"
        raise EconalignError(f"cannot load model {model!r}: not {where} holding a causal LM ({first_line(exc)})") from None


def check_model(model: str) -> str:
    """The path or hub id of `model`, or one clear error: cheap, so commands call it before making outputs."""
    path = resolve(model)
    if not Path(path).exists() and not in_hub_cache(path) and not hub_reachable():
        raise EconalignError(
            f"unknown model {model!r}: no such local folder, not in the Hugging Face cache, and the hub is unreachable"
        )
    if Path(path).is_dir() and not (Path(path) / "config.json").is_file():
        raise EconalignError(f"cannot load model {model!r}: the folder holds no config.json")
    return path


def resolve(model: str) -> str:
    if model == "default":
        from econalign.backends.default_model import default_checkpoint

        return str(default_checkpoint())
    return model


PLAN_PROMPTS = 256  # prompts per prefix plan: bounds the prefixes' keys and values held at once


class HFBackend(Backend):
    def __init__(self, model, tokenizer, name: str, batch_size: int = 16):
        self.model, self.tokenizer, self.name, self.batch_size = model, tokenizer, name, batch_size

    @classmethod
    def load(cls, model: str, device: str | None = None, batch_size: int = 16) -> HFBackend:
        check_model(model)  # a wrong path fails before the seconds of importing torch
        import torch

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        lm, tokenizer = load_pretrained(model, torch.bfloat16 if device.startswith("cuda") else torch.float32)
        lm = lm.to(device).eval()
        tokenizer.padding_side = "left"  # the last position is then every row's next token
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return cls(lm, tokenizer, name=model, batch_size=batch_size)

    def settings(self) -> dict:
        return {"batch_size": self.batch_size}  # padding within a batch moves the logits slightly

    def render(self, task: Task) -> str:
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(task.messages(), tokenize=False, add_generation_prompt=True)
        system = f"{task.system}\n\n" if task.system else ""
        return f"{system}{task.prompt}\nAnswer:"

    def option_token_ids(self, options: list[str]) -> list[list[int]]:
        """First tokens of each option as the model may start its reply: as given, capitalised,
        and after a space (small chat models often write "Accept"). A token shared by two
        options would make their probabilities meaningless, so it is refused."""
        variants = [{v, v.capitalize(), " " + v, " " + v.capitalize()} for v in options]
        ids = [sorted({self.tokenizer.encode(v, add_special_tokens=False)[0] for v in vs}) for vs in variants]
        flat = [i for group in ids for i in group]
        if len(set(flat)) != len(flat):
            raise EconalignError(f"options {options} share a first token; they cannot be scored from one position")
        return ids

    def batches(self, texts: list[str]):
        """Batches of (indices, texts), ordered by length so that little is padding."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            yield idx, [texts[i] for i in idx]

    def encode(self, texts: list[str]):
        return self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.model.device)

    def last_logits(self, seqs: list[list[int]]):
        """(indices, next-token logits) per batch, computing each shared token prefix once.

        Battery prompts differ in a few amounts, so most of their tokens are shared with others;
        `prefix_tree.plan` says which prefixes to compute once, `schedule` in which batches. A row is
        a prefix's own tokens or a prompt's last distinct tokens, after an earlier prefix's keys and
        values; rows after different prefixes share a batch, each prefix left-padded to the longest
        and positions continuing from its own, which gives the plain forward pass's logits.
        """
        order = sorted(range(len(seqs)), key=lambda i: seqs[i])
        for start in range(0, len(order), PLAN_PROMPTS):
            part = order[start : start + PLAN_PROMPTS]
            for idx, logits in self._planned_logits([seqs[i] for i in part]):
                yield [part[k] for k in idx], logits

    def _planned_logits(self, seqs):
        kvs = {}  # a prefix node's keys and values, per layer, once computed
        for batch in prefix_tree.schedule(prefix_tree.plan(seqs), seqs, self.batch_size):
            logits, new = self._run_rows([(row.what, kvs.get(id(row.after)), row.tokens) for row in batch])
            kvs.update((id(row.what), kv) for row, kv in zip(batch, new) if kv is not None)
            prompts = [k for k, row in enumerate(batch) if isinstance(row.what, int)]
            if prompts:
                yield [batch[k].what for k in prompts], logits[prompts]

    def _run_rows(self, batch):
        """Last-position logits of each row, and the full prefix keys/values of each node row (None for prompts)."""
        import torch
        from transformers import DynamicCache

        dev = self.model.device
        depths = [0 if kv is None else kv[0][0].shape[1] for _, kv, _ in batch]
        prefix, width, n = max(depths), max(len(tokens) for _, _, tokens in batch), len(batch)
        tokens = torch.full((n, width), self.tokenizer.pad_token_id, device=dev)
        mask = torch.zeros((n, prefix + width), dtype=torch.long, device=dev)
        for r, (_, _, row_tokens) in enumerate(batch):
            tokens[r, width - len(row_tokens) :] = torch.tensor(row_tokens, device=dev)
            mask[r, prefix - depths[r] : prefix] = 1
            mask[r, prefix + width - len(row_tokens) :] = 1
        positions = (torch.tensor(depths, device=dev)[:, None] + mask[:, prefix:].cumsum(1) - 1).clamp(min=0)
        cache = None
        if prefix:
            cache = DynamicCache(ddp_cache_data=[self._stack([kv[layer] if kv else None for _, kv, _ in batch], prefix)
                                                 for layer in range(self.model.config.num_hidden_layers)])
        keep = any(not isinstance(what, int) for what, _, _ in batch)
        out = self.model(input_ids=tokens, attention_mask=mask, position_ids=positions, cache=cache,
                         use_cache=keep, logits_to_keep=1)
        kvs = [None] * n
        if keep:
            for r, (what, _, row_tokens) in enumerate(batch):
                if not isinstance(what, int):
                    spans = (slice(prefix - depths[r], prefix), slice(prefix + width - len(row_tokens), None))
                    kvs[r] = [tuple(torch.cat([t[r][:, s] for s in spans], dim=1) for t in (layer.keys, layer.values))
                              for layer in out.cache.layers]
        return out.logits[:, -1, :].float(), kvs

    @staticmethod
    def _stack(per_row, length):
        """One layer's keys and values for a batch: each row's (heads, depth, dim) left-padded to `length`."""
        like = next(kv for kv in per_row if kv is not None)[0]
        out = [like.new_zeros((len(per_row), like.shape[0], length, like.shape[2])) for _ in range(2)]
        for r, kv in enumerate(per_row):
            if kv is not None:
                for t, part in zip(out, kv):
                    t[r, :, length - part.shape[1] :] = part
        return tuple(out)

    def choice_scores(self, tasks, progress=None):
        import torch

        probs = np.zeros((len(tasks), max((len(t.options) for t in tasks), default=2)))
        mass = np.zeros(len(tasks))
        token_ids = {}
        with torch.inference_mode():
            seqs = [self.tokenizer(self.render(t), add_special_tokens=False)["input_ids"] for t in tasks]
            for idx, logits in self.last_logits(seqs):
                logp = torch.log_softmax(logits, dim=-1)
                for row, i in enumerate(idx):
                    options = tuple(tasks[i].options)
                    ids = token_ids.setdefault(options, self.option_token_ids(list(options)))
                    option_logp = torch.stack([torch.logsumexp(logp[row, group], dim=0) for group in ids])
                    probs[i, : len(ids)] = torch.softmax(option_logp, dim=-1).cpu().numpy()
                    mass[i] = option_logp.exp().sum().item()
                if progress:
                    progress(len(idx))
        return ChoiceScores(probs=probs, mass=mass)

    def generate(self, tasks, max_new_tokens=64, seed=0, progress=None, temperature=0.0):
        texts = [self.render(t) for t in tasks]
        return [a.strip() for a in self.complete(texts, max_new_tokens, temperature=temperature, seed=seed, progress=progress)]

    def complete(self, texts, max_new_tokens=256, stop=None, temperature=0.0, seed=0, progress=None):
        """Continue each raw text; a continuation that reaches a stop string ends right after it."""
        import torch

        torch.manual_seed(seed)
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        outputs = [""] * len(texts)
        with torch.inference_mode():
            for idx, batch in self.batches(texts):
                enc = self.encode(batch)
                out = self.model.generate(
                    **enc, max_new_tokens=max_new_tokens, pad_token_id=self.tokenizer.pad_token_id,
                    stop_strings=stop or None, tokenizer=self.tokenizer, **sampling,
                )
                new = self.tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
                for i, text in zip(idx, new):
                    outputs[i] = cut_after_stop(text, stop or [])
                if progress:
                    progress(len(idx))
        return outputs

    def converse(self, texts, respond, max_new_tokens=256, stop=None, temperature=0.0, seed=0):
        """Continuous batching (`continuous.Slots`): a row whose turn ends is answered and resumes, or hands its
        slot to the next text, while the other rows keep decoding; no text is re-encoded."""
        import torch

        from econalign.backends.continuous import Slots, handles

        if not handles(self.model.generation_config):  # e.g. a repetition penalty: generate applies it
            return super().converse(texts, respond, max_new_tokens, stop, temperature, seed)
        with torch.inference_mode():
            Slots(self.model, self.tokenizer, self.batch_size, max_new_tokens, stop, temperature, seed).run(texts, respond)


def end_tokens(config) -> list[int]:
    """A generation config's end-of-sequence ids as a list: a config holds one id, a list of them, or none."""
    eos = config.eos_token_id
    return [] if eos is None else list(eos) if isinstance(eos, (list, tuple)) else [eos]


def cut_after_stop(text: str, stop: list[str]) -> str:
    """Generation checks stop strings per token, so a token may carry text past the stop string."""
    ends = [text.find(s) + len(s) for s in stop if s in text]
    return text[: min(ends)] if ends else text


def in_hub_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except ValueError:  # not a valid repo id either
        return False


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether downloading is worth trying (instead of minutes of retries on an offline machine)."""
    import socket

    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
