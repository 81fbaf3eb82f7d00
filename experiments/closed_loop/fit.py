"""How well an align model fits its own training items: model P(first option) against the target's
(at align's default label noise), per shape
and per lottery (the sure amount stripped from the id), worst lotteries first.

    python fit.py RUN/sft-2/model RUN/data-2/train.jsonl [N]     # the first N items (default 1,000)
"""
import re
import sys

import pandas as pd

from econalign.backends.hf import HFBackend
from econalign.data.decisions import DEFAULT_NOISE, label_probabilities
from econalign.io import read_jsonl
from econalign.preferences import parse_preference
from econalign.tasks.base import Task

model, data = sys.argv[1], sys.argv[2]
records = [r for _, r in read_jsonl(data)][: int(sys.argv[3]) if len(sys.argv) > 3 else 1000]
tasks = [Task(**r["task"]) for r in records]
target = label_probabilities(parse_preference(records[0]["preference"]), tasks, DEFAULT_NOISE)[:, 0]
got = HFBackend.load(model).choice_scores(tasks).probs[:, 0]
table = pd.DataFrame({"shape": [r["shape"] for r in records],
                      "lottery": [re.sub(r"-s-?[0-9.]+|-sf|-gf", "", t.id) for t in tasks],
                      "err": got - target})
summary = {"n": ("err", "size"), "mae": ("err", lambda e: e.abs().mean()), "bias": ("err", "mean")}
print(table.groupby("shape").agg(**summary).round(3))
print(table.groupby("lottery").agg(**summary).round(3).sort_values("mae", ascending=False).head(25).to_string())
