"""A trained model's P(take the sure amount) against its target's, at sure amounts of one to three digits, on the
battery's 50% x $1,000-or-$0 (wealth $1,000) and 50% x -$1,000-or-$0 (wealth $2,000) gambles, both option orders:
does the model read an amount's size, or its leading digits?

    python amounts.py RUN        # RUN: an `econalign align` output folder (its last stage's model)
"""
import json
import sys
from pathlib import Path

from econalign.align import stage_folders
from econalign.backends.hf import HFBackend
from econalign.data.decisions import DEFAULT_NOISE, label_probabilities
from econalign.preferences import Lottery, parse_preference
from econalign.tasks import gamble

AMOUNTS = (5, 20, 40, 55, 55.56, 60.12, 75.5, 90, 99.99, 120.5, 166.67, 550, 601.2, 755, 900, 944.44)

run = Path(sys.argv[1])
summary = json.loads((run / "summary.json").read_text())
model = stage_folders(run, len(summary.get("stages", [None])))[-1][1] / "model"  # the last stage's
backend, pref = HFBackend.load(str(model)), parse_preference(summary["target"])
print(f"{model}: P(sure) model / target at noise {DEFAULT_NOISE}")
for sign, wealth in ((1.0, 1000.0), (-1.0, 2000.0)):
    g = Lottery.binary(0.5, sign * 1000.0, 0.0)
    for sure_first in (True, False):
        tasks = [gamble.make(g, sign * a, wealth, sure_first) for a in AMOUNTS]
        got, want = backend.choice_scores(tasks).probs[:, 0], label_probabilities(pref, tasks, DEFAULT_NOISE)[:, 0]
        print(f"{'gains' if sign > 0 else 'losses'}, {'sure' if sure_first else 'gamble'} first:")
        print("  " + "  ".join(f"{sign * a:g}: {x:.2f}/{y:.2f}" for a, x, y in zip(AMOUNTS, got, want)))
