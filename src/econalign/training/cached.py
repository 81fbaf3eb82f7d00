"""Fine-tune the top layers of a model on its frozen bottom's cached hidden states (align's `trainer: cached`).

With LoRA on the last k of L layers only, the first L - k layers compute the same states at every
step. Here they run once per training item, and a step runs only the top k layers and the LM head at
the answer position: ~1.6 s per step of 16 on 2 CPU cores for the default model with k = 6, where
TRL's SFT step, which runs the whole model, took ~11 s (k = 10). No library trains on cached states,
so the loop is written out; the optimiser, schedule and LoRA are torch's, transformers' and peft's.

The loss is the choice's, as the profile scores it: each option's probability is the mass of its
first-token variants (`HFBackend.option_token_ids`), renormalised over the options, and its
cross-entropy is taken against the target's choice probabilities at the stage's label noise (the
soft labels the SFT data samples from), minus MASS_WEIGHT x the log of the options' total mass, so
that the answer stays one of the option words.

output_dir receives config.yaml, checkpoint.pt (every save_steps; a rerun resumes from it),
summary.json, the loss curve and model/ (the full model with the trained layers merged, and its
tokenizer), as the SFT trainer's runs do.
"""

from __future__ import annotations

import copy
import io
import time
from pathlib import Path

import numpy as np

from econalign import EconalignError
from econalign.io import read_json, writable_dir, write_bytes, write_dir, write_json
from econalign.tasks.base import Task

MASS_WEIGHT = 0.1


def train_cached(sft, noise: float, say=print) -> dict:
    """Train `sft.model`'s top `sft.lora.top_layers` layers on the records of `sft.data`; returns the summary
    (global_step, first_loss, last_loss, train_seconds, losses) also written to summary.json."""
    import torch
    from peft import get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict

    from econalign.backends.hf import HFBackend
    from econalign.data.decisions import label_probabilities
    from econalign.io import read_jsonl
    from econalign.preferences import parse_preference
    from econalign.training.sft import lora_config, save_curve

    out = Path(sft.output_dir)
    records = [row for path in sft.data.paths for _, row in read_jsonl(path)]
    tasks = [Task(**r["task"]) for r in records]
    targets = torch.tensor(label_probabilities(parse_preference(records[0]["preference"]), tasks, noise))
    torch.manual_seed(sft.seed)
    backend = HFBackend.load(sft.model)
    full, t = backend.model.float(), sft.training
    split = full.config.num_hidden_layers - sft.lora.top_layers
    if split < 0:
        raise EconalignError(f"lora.top_layers is {sft.lora.top_layers} but the model has "
                             f"{full.config.num_hidden_layers} layers")
    seqs = [backend.tokenizer(backend.render(task), add_special_tokens=False)["input_ids"] for task in tasks]
    say(f"      caching the states entering layer {split} of {len(seqs)} items")
    states = cached_states(full, seqs, split, t.batch_size)
    groups = [backend.option_token_ids(list(task.options)) for task in tasks]
    top = top_model(full, split)
    top = get_peft_model(top, lora_config(sft.lora, top))  # every layer of the top model
    steps = t.max_steps or max(1, int(t.epochs * len(tasks) / t.batch_size))
    params = [p for p in top.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=t.learning_rate, weight_decay=t.weight_decay)
    scheduler = schedule(optimizer, t, steps)
    order = epoch_order(len(tasks), steps * t.batch_size, sft.seed)
    step, losses, seconds = 0, [], 0.0
    saved = writable_dir(out) / "checkpoint.pt"
    if saved.exists():
        state = torch.load(saved, weights_only=False)
        set_peft_model_state_dict(top, state["adapter"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, losses, seconds = state["step"], state["losses"], state["seconds"]
        say(f"      resuming at step {step} of {steps}")
    top.train()
    began, window = time.perf_counter() - seconds, []
    while step < steps:
        idx = order[step * t.batch_size : (step + 1) * t.batch_size]
        logits = top_logits(top, [states[i] for i in idx], shared_prefix([seqs[i] for i in idx]))
        loss = choice_loss(logits, [groups[i] for i in idx], targets[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        step += 1
        window.append(loss.item())
        if step % t.logging_steps == 0 or step == steps:
            losses.append({"step": step, "epoch": step * t.batch_size / len(tasks), "loss": float(np.mean(window)),
                           "learning_rate": scheduler.get_last_lr()[0]})
            say(f"      step {step}/{steps} loss {losses[-1]['loss']:.4f}")
            window = []
        if step % t.save_steps == 0 and step < steps:
            checkpoint = {"step": step, "adapter": get_peft_model_state_dict(top), "optimizer": optimizer.state_dict(),
                          "scheduler": scheduler.state_dict(), "losses": losses,
                          "seconds": time.perf_counter() - began}
            buffer = io.BytesIO()
            torch.save(checkpoint, buffer)
            write_bytes(saved, buffer.getvalue())
    seconds = time.perf_counter() - began
    merge_into(full, top.merge_and_unload(), split)
    write_dir(out / "model", lambda tmp: (full.save_pretrained(tmp), backend.tokenizer.save_pretrained(tmp)))
    save_curve(losses, out)
    summary = {"output_dir": str(out), "model_dir": str(out / "model"), "global_step": step, "losses": losses,
               "first_loss": losses[0]["loss"] if losses else None,
               "last_loss": losses[-1]["loss"] if losses else None, "train_seconds": seconds}
    write_json(out / "summary.json", summary)
    saved.unlink(missing_ok=True)
    return read_json(out / "summary.json")


def epoch_order(n: int, draws: int, seed: int) -> np.ndarray:
    """At least `draws` item indices: one shuffle of range(n) per epoch, each epoch its own order."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.permutation(n) for _ in range(-(-draws // n))])


class _Reached(Exception):
    """Raised by the hook on layer `split` once it holds that layer's input: the layers above need not run."""


def cached_states(model, seqs: list[list[int]], split: int, batch_size: int) -> list:
    """Each sequence's hidden states entering layer `split`, (length, hidden) per sequence; only the layers below
    `split` run (neither the top layers nor the LM head), and a batch's common first tokens run once."""
    import torch
    from transformers import DynamicCache

    def keep(layer, args, kwargs):
        caught.append(args[0] if args else kwargs["hidden_states"])
        raise _Reached

    def below_split(tokens, cache):
        caught.clear()
        try:
            model(input_ids=tokens, cache=cache, use_cache=cache is not None)
        except _Reached:
            pass
        return caught[0]

    states, caught = [None] * len(seqs), []
    order = sorted(range(len(seqs)), key=lambda i: seqs[i])  # neighbours share their longest prefixes
    pad = model.config.pad_token_id or 0
    hook = model.model.layers[split].register_forward_pre_hook(keep, with_kwargs=True)
    try:
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                shared, cache, head = shared_prefix([seqs[i] for i in idx]), None, []
                if shared:
                    cache = DynamicCache(config=model.config)
                    head = [below_split(torch.tensor([seqs[idx[0]][:shared]], device=model.device), cache)[0]]
                    cache.batch_repeat_interleave(len(idx))
                tokens = torch.full((len(idx), max(len(seqs[i]) for i in idx) - shared), pad, device=model.device)
                for r, i in enumerate(idx):  # padded on the right: causal attention keeps the real tokens' states exact
                    tokens[r, : len(seqs[i]) - shared] = torch.tensor(seqs[i][shared:], device=model.device)
                tails = below_split(tokens, cache)
                for r, i in enumerate(idx):
                    states[i] = torch.cat([*head, tails[r, : len(seqs[i]) - shared]]).clone()
    finally:
        hook.remove()
    return states


def shared_prefix(seqs: list[list[int]]) -> int:
    """How many first tokens all of `seqs` have in common, leaving each at least its last token of its own."""
    most = min(len(s) for s in seqs) - 1
    n = 0
    while n < most and all(s[n] == seqs[0][n] for s in seqs):
        n += 1
    return n


def top_model(full, split: int):
    """A model of the same kind holding only layers split.. of `full` (and its final norm and LM head)."""
    from transformers import AutoModelForCausalLM

    config = copy.deepcopy(full.config)
    config.num_hidden_layers -= split
    if isinstance(getattr(config, "layer_types", None), list):  # per-layer attention kinds, where a model has them
        config.layer_types = config.layer_types[split:]
    top = AutoModelForCausalLM.from_config(config).to(full.device, full.dtype)
    weights = full.state_dict()
    top.load_state_dict({name: weights[shifted(name, split)] for name in top.state_dict()})
    for p in top.parameters():
        p.requires_grad_(False)
    return top


def shifted(name: str, by: int) -> str:
    """model.layers.3.mlp... -> model.layers.{3 + by}.mlp...; other names unchanged."""
    parts = name.split(".")
    if "layers" in parts:
        at = parts.index("layers") + 1
        parts[at] = str(int(parts[at]) + by)
    return ".".join(parts)


def merge_into(full, top, split: int) -> None:
    """Copy the trained top model's layers back into `full`'s layers split.."""
    import torch

    target = full.state_dict()
    with torch.no_grad():
        for name, value in top.state_dict().items():
            if ".layers." in name:
                target[shifted(name, split)].copy_(value)


def top_logits(top, states: list, shared: int = 0):
    """Next-token logits at each sequence's last position, the top layers run on the cached states; the first
    `shared` positions, common to all the sequences (the same tokens, so the same states), run once."""
    import torch

    model = top.get_base_model()
    cache = None
    if shared:
        cache = model.model(inputs_embeds=states[0][None, :shared], use_cache=True).cache
        cache.batch_repeat_interleave(len(states))
    tails = [s[shared:] for s in states]
    x = tails[0].new_zeros((len(tails), max(t.shape[0] for t in tails), tails[0].shape[1]))
    for r, t in enumerate(tails):
        x[r, : t.shape[0]] = t
    h = model.model(inputs_embeds=x, cache=cache, use_cache=cache is not None).last_hidden_state
    last = torch.tensor([t.shape[0] - 1 for t in tails], device=x.device)
    return model.lm_head(h[torch.arange(len(tails), device=x.device), last])


def choice_loss(logits, groups: list[list[list[int]]], targets):
    """Mean over rows of the options' cross-entropy against the target probabilities, minus MASS_WEIGHT x the
    log of the option tokens' total mass."""
    import torch

    logp = torch.log_softmax(logits.float(), dim=-1)
    total = logp.new_zeros(())
    for r, options in enumerate(groups):
        per_option = torch.stack([torch.logsumexp(logp[r, ids], dim=0) for ids in options])
        p = targets[r, : len(options)].to(logp)
        total = total - (p * torch.log_softmax(per_option, dim=0)).sum() - MASS_WEIGHT * torch.logsumexp(per_option, 0)
    return total / len(groups)


def schedule(optimizer, t, steps: int):
    from transformers import get_scheduler

    warmup = int(t.warmup * steps) if t.warmup < 1 else int(t.warmup)
    return get_scheduler(t.lr_scheduler, optimizer, num_warmup_steps=warmup, num_training_steps=steps)
