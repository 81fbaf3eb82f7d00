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
        logits = top_logits(top, [states[i] for i in idx])
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
    `split` run (neither the top layers nor the LM head)."""
    import torch

    def keep(layer, args, kwargs):
        caught.append(args[0] if args else kwargs["hidden_states"])
        raise _Reached

    states, caught = [None] * len(seqs), []
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    pad = model.config.pad_token_id or 0
    hook = model.model.layers[split].register_forward_pre_hook(keep, with_kwargs=True)
    try:
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                tokens = torch.full((len(idx), max(len(seqs[i]) for i in idx)), pad, device=model.device)
                for r, i in enumerate(idx):  # padded on the right: causal attention keeps the real tokens' states exact
                    tokens[r, : len(seqs[i])] = torch.tensor(seqs[i], device=model.device)
                caught.clear()
                try:
                    model(input_ids=tokens, use_cache=False)
                except _Reached:
                    pass
                for r, i in enumerate(idx):
                    states[i] = caught[0][r, : len(seqs[i])].clone()
    finally:
        hook.remove()
    return states


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


def top_logits(top, states: list):
    """Next-token logits at each sequence's last position, the top layers run on the cached states."""
    import torch

    width, hidden = max(s.shape[0] for s in states), states[0].shape[1]
    x = states[0].new_zeros((len(states), width, hidden))
    for r, s in enumerate(states):
        x[r, : s.shape[0]] = s
    model = top.get_base_model()
    h = model.model(inputs_embeds=x, use_cache=False).last_hidden_state
    last = torch.tensor([s.shape[0] - 1 for s in states], device=x.device)
    return model.lm_head(h[torch.arange(len(states), device=x.device), last])


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
