"""Continuous batching of multi-turn continuations on a Hugging Face causal LM.

`generate` runs a batch until its slowest row ends, so in a multi-turn rollout every row waits for the
longest turn and the longest rollout, and each turn re-encodes the text so far. Here each of `batch_size`
slots decodes one token per step; a row that reaches a stop string hands its text to `respond`, whose
answer (a tool's output) is fed after the row's cached tokens while the other rows wait one step; a row
that ends frees its slot for the next text. One key/value cache holds all slots: a row's tokens need
not be contiguous (the mask leaves holes, positions count only a row's own tokens), so feeding one
row appends columns the other rows mask out, and `compact` squeezes the holes out when they dominate.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache, DynamicLayer, LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from econalign.backends.hf import cut_after_stop, end_tokens


@dataclass
class Row:
    index: int  # which text
    text: str  # the text so far: prompt, outputs, answers
    ids: list[int] = field(default_factory=list)  # tokens whose keys and values are cached, in order
    cols: list[int] = field(default_factory=list)  # their cache columns
    feed: list[int] = field(default_factory=list)  # tokens to run before the next sample
    turn: list[int] = field(default_factory=list)  # tokens sampled this turn; the last not yet run


class GrowingLayer(DynamicLayer):
    """A cache layer with room to grow: a step writes its new columns in place, where DynamicLayer
    concatenates and so copies the whole cache every step."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor):
        super().__init__()
        self.device, self.is_initialized, self.length = keys.device, True, 0
        self.buffers = [t.new_empty((*t.shape[:2], 0, t.shape[3])) for t in (keys, values)]
        self.put(keys, values)

    def update(self, key_states, value_states, *args, **kwargs):
        self.put(key_states, value_states)
        return self.keys, self.values

    def put(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        end = self.length + keys.shape[2]
        if end > self.buffers[0].shape[2]:
            grown = [b.new_empty((*b.shape[:2], 2 * end + 64, b.shape[3])) for b in self.buffers]
            for new, old in zip(grown, self.buffers):
                new[:, :, : self.length] = old[:, :, : self.length]
            self.buffers = grown
        for buffer, part in zip(self.buffers, (keys, values)):
            buffer[:, :, self.length : end] = part
        self.length = end
        self.keys, self.values = (b[:, :, :end] for b in self.buffers)


class Slots:
    def __init__(self, model, tokenizer, batch_size: int, max_new_tokens: int, stop: list[str] | None,
                 temperature: float, seed: int):
        self.model, self.tokenizer = model, tokenizer
        self.batch_size, self.max_new_tokens, self.stop = batch_size, max_new_tokens, stop or []
        self.rows: list[Row | None] = []
        self.layers: list[GrowingLayer] | None = None  # keys and values per layer: (rows, heads, columns, dim)
        self.mask = torch.zeros((0, 0), dtype=torch.long, device=model.device)
        self.eos = set(end_tokens(model.generation_config) or [tokenizer.eos_token_id])
        self.generator = torch.Generator(device=model.device).manual_seed(seed)
        self.warp = sampling_warpers(model.generation_config, temperature)

    def run(self, texts: list[str], respond: Callable[[int, str], str | None]) -> None:
        waiting = deque(range(len(texts)))
        while waiting or any(self.rows):
            while waiting and (None in self.rows or len(self.rows) < self.batch_size):
                i = waiting.popleft()
                self.admit(Row(i, texts[i], feed=self.tokenizer(texts[i], add_special_tokens=False)["input_ids"]))
            feeding = [r for r, row in enumerate(self.rows) if row and row.feed]
            if feeding:
                self.sample(feeding, self.forward(feeding, [self.rows[r].feed for r in feeding]), respond)
            else:
                busy = [r for r, row in enumerate(self.rows) if row]
                self.sample(busy, self.forward(busy, [self.rows[r].turn[-1:] for r in busy]), respond)
            cached = max((len(row.ids) for row in self.rows if row), default=0)
            if (None in self.rows and not waiting) or self.mask.shape[1] > 1.25 * cached + 32:
                self.compact(keep_free=bool(waiting))

    def admit(self, row: Row) -> None:
        if None in self.rows:
            r = self.rows.index(None)
            self.mask[r] = 0  # the last text's columns
        else:
            r = len(self.rows)
            self.rows.append(None)
            self.mask = torch.cat([self.mask, self.mask.new_zeros((1, self.mask.shape[1]))])
            if self.layers is not None:
                self.replace([tuple(torch.cat([t, t.new_zeros((1, *t.shape[1:]))]) for t in pair)
                              for pair in self.pairs()])
        self.rows[r] = row

    def pairs(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(layer.keys, layer.values) for layer in self.layers]

    def replace(self, pairs) -> None:
        self.layers = [GrowingLayer(keys, values) for keys, values in pairs]

    def forward(self, rows: list[int], tokens: list[list[int]]) -> torch.Tensor:
        """Run each row's tokens after its cached ones; the other rows get masked columns. Next-token logits."""
        dev, width, columns = self.model.device, max(map(len, tokens)), self.mask.shape[1]
        index = torch.tensor(rows, device=dev)
        ids = torch.full((len(rows), width), self.tokenizer.pad_token_id, device=dev)
        new_mask = torch.zeros((len(rows), width), dtype=torch.long, device=dev)
        positions = torch.zeros((len(rows), width), dtype=torch.long, device=dev)
        for k, (r, toks) in enumerate(zip(rows, tokens)):
            start, done = width - len(toks), len(self.rows[r].ids)
            ids[k, start:] = torch.tensor(toks, device=dev)
            new_mask[k, start:] = 1
            positions[k, start:] = torch.arange(done, done + len(toks), device=dev)
        # every row, in order (a decoding step): the model writes into the cache in place
        in_place = self.layers is not None and len(rows) == len(self.rows)
        cache = DynamicCache()
        if in_place:
            cache.layers = self.layers
        elif self.layers is not None:
            cache = DynamicCache(ddp_cache_data=[(k[index], v[index]) for k, v in self.pairs()])
        out = self.model(input_ids=ids, attention_mask=torch.cat([self.mask[index], new_mask], dim=1),
                         position_ids=positions, cache=cache, use_cache=True, logits_to_keep=1)
        if not in_place:  # new columns: the rows that ran get theirs, every other row a masked hole
            pairs = []
            for layer in out.cache.layers:
                pair = []
                for new in (layer.keys, layer.values):
                    full = new.new_zeros((len(self.rows), new.shape[1], width, new.shape[3]))
                    full[index] = new[:, :, columns:]
                    pair.append(full)
                pairs.append(pair)
            if self.layers is None:
                self.replace(pairs)
            else:
                for layer, pair in zip(self.layers, pairs):
                    layer.put(*pair)
        mask = self.mask.new_zeros((len(self.rows), width))
        mask[index] = new_mask
        self.mask = torch.cat([self.mask, mask], dim=1)
        for r, toks in zip(rows, tokens):
            row = self.rows[r]
            row.ids += toks
            row.cols += range(columns + width - len(toks), columns + width)
            row.feed = []
        return out.logits[:, -1, :].float()

    def sample(self, rows: list[int], logits: torch.Tensor, respond) -> None:
        if self.warp is None:
            tokens = logits.argmax(dim=-1)
        else:
            probs = torch.softmax(self.warp(None, logits), dim=-1)
            tokens = torch.multinomial(probs, 1, generator=self.generator)[:, 0]
        for r, token in zip(rows, tokens.tolist()):
            row = self.rows[r]
            row.turn.append(token)
            text = self.tokenizer.decode(row.turn, skip_special_tokens=True)
            if token in self.eos or any(s in text for s in self.stop) or len(row.turn) == self.max_new_tokens:
                self.end_turn(r, cut_after_stop(text, self.stop), respond)

    def end_turn(self, r: int, output: str, respond) -> None:
        row = self.rows[r]
        row.turn = []
        answer = respond(row.index, output)
        if answer is None:
            self.rows[r] = None
            return
        row.text += output + answer
        ids = self.tokenizer(row.text, add_special_tokens=False)["input_ids"]
        common = 0  # re-tokenized text may merge tokens across the seam: keep only the common prefix's cache
        while common < min(len(row.ids), len(ids) - 1) and row.ids[common] == ids[common]:
            common += 1
        self.mask[r, row.cols[common:]] = 0
        row.ids, row.cols, row.feed = row.ids[:common], row.cols[:common], ids[common:]

    def compact(self, keep_free: bool) -> None:
        """Squeeze the masked holes out of the cache, and the free slots once no text waits."""
        keep = [r for r, row in enumerate(self.rows) if row or keep_free]
        width = max((len(self.rows[r].ids) for r in keep if self.rows[r]), default=0)
        if not width:
            self.rows, self.layers = [self.rows[r] for r in keep], None
            self.mask = self.mask.new_zeros((len(keep), 0))
            return
        mask = self.mask.new_zeros((len(keep), width))
        columns = torch.zeros((len(keep), width), dtype=torch.long, device=mask.device)  # masked ones read column 0
        for k, r in enumerate(keep):
            row = self.rows[r]
            if row and row.ids:
                start = width - len(row.ids)
                mask[k, start:] = 1
                columns[k, start:] = torch.tensor(row.cols, device=mask.device)
                row.cols = list(range(start, width))
        index = torch.tensor(keep, device=mask.device)
        pairs = []
        for pair in self.pairs():
            gather = columns[:, None, :, None].expand(-1, pair[0].shape[1], -1, pair[0].shape[3])
            pairs.append(tuple(torch.gather(t[index], 2, gather) for t in pair))
        self.rows, self.mask = [self.rows[r] for r in keep], mask
        self.replace(pairs)


# generate's processors that Slots does not apply, at their neutral values: a model whose generation config sets
# another value is rolled out turn by turn with generate instead (HFBackend.converse)
NEUTRAL = {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "min_length": 0, "min_new_tokens": None,
           "min_p": None, "top_h": None, "typical_p": 1.0, "epsilon_cutoff": 0.0, "eta_cutoff": 0.0,
           "bad_words_ids": None, "suppress_tokens": None, "begin_suppress_tokens": None, "sequence_bias": None,
           "forced_bos_token_id": None, "forced_eos_token_id": None, "exponential_decay_length_penalty": None}


def handles(config) -> bool:
    return all(getattr(config, name, None) in (None, neutral) for name, neutral in NEUTRAL.items())


def sampling_warpers(config, temperature: float) -> LogitsProcessorList | None:
    """What `generate(do_sample=True, temperature=...)` applies with the model's generation config (top-k 50 where
    the model sets none, as generate does); None: greedy."""
    if temperature <= 0:
        return None
    warpers = LogitsProcessorList([TemperatureLogitsWarper(temperature)])
    top_k = 50 if config.top_k is None else config.top_k
    if top_k:
        warpers.append(TopKLogitsWarper(top_k))
    if config.top_p is not None and config.top_p < 1.0:
        warpers.append(TopPLogitsWarper(config.top_p))
    return warpers

