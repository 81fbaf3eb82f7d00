"""Where Fehr-Schmidt's beta shows in the social battery, and what a trained model does there: the items whose
choice probabilities differ most between the target (alpha 0.85, beta 0.315) and the same alpha with beta 0, with
the trained model's probabilities beside them (its profile's results.csv; both option orders shown).

    python beta_items.py RUN [--top 16]   # RUN: an `econalign align` output folder toward fs:alpha=0.85,beta=0.315
"""
import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from econalign.backends.sim import SimBackend
from econalign.data.decisions import DEFAULT_NOISE
from econalign.measure.social import social_battery
from econalign.preferences import parse_preference

parser = argparse.ArgumentParser()
parser.add_argument("run", type=Path)
parser.add_argument("--top", type=int, default=16)
args = parser.parse_args()
target = parse_preference(json.loads((args.run / "summary.json").read_text())["target"])
no_beta = parse_preference(f"fs:alpha={target.alpha},beta=0")
tasks = social_battery()
want, without = (SimBackend(p, DEFAULT_NOISE).option_probs(tasks) for p in (target, no_beta))
model = pd.read_csv(args.run / "after" / "results.csv").set_index("id")
gap = np.abs(want - without).max(axis=1)
print(f"{args.run}: option probabilities, target {target.spec()} / the same with beta 0 / the trained model")
for i in np.argsort(-gap, kind="stable")[: args.top]:
    got = json.loads(model.loc[tasks[i].id, "probs"])
    cells = "  ".join(f"{o}: {w:.2f}/{b:.2f}/{g:.2f}" for o, w, b, g in zip(tasks[i].options, want[i], without[i], got)
                      if max(w, b, g) > 0.02)
    print(f"{tasks[i].id}  {cells}")
