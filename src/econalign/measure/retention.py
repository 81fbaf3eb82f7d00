"""What fine-tuning cost: perplexity on a fixed held-out text that no training data resembles.

`heldout.txt` (shipped with the package) is about 700 words of plain English prose written for
this purpose: market days, a weather notebook, bicycles, photosynthesis, a recipe. A model whose
perplexity on it barely moves after alignment has kept its language modelling; one whose
perplexity doubles has paid for its new preference with general capability.
"""

from __future__ import annotations

import math
from importlib.resources import files

WINDOW = 512  # tokens per forward pass: any causal LM's context holds it


def heldout_text() -> str:
    return files("econalign.measure").joinpath("heldout.txt").read_text(encoding="utf-8")


def perplexity(model, tokenizer, text: str | None = None) -> dict:
    """exp(mean negative log-likelihood per predicted token) of `text` (default: heldout.txt), in windows
    of WINDOW tokens, each starting with the tokenizer's BOS token where it has one."""
    import torch

    ids = tokenizer(text or heldout_text(), add_special_tokens=False)["input_ids"]
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    total, count = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(ids), WINDOW):
            window = bos + ids[start : start + WINDOW]
            if len(window) < 2:
                continue
            x = torch.tensor([window], device=model.device)
            logits = model(input_ids=x).logits[0, :-1].float()
            nll = torch.nn.functional.cross_entropy(logits, x[0, 1:], reduction="sum")
            total, count = total + nll.item(), count + len(window) - 1
    return {"perplexity": math.exp(total / count), "tokens": count}
