"""A trained model's P(reject the mixed gamble) against its target's, on 50% +G / 50% -$500 at gains around the
target's acceptable gain and at several stated wealths, both option orders averaged: is the $500 series' threshold
missed through the wealth ($1,500 in the battery, equal to one of its gains) or through how round gains are read?

    python mixed_gains.py RUN        # RUN: an `econalign align` output folder (its last stage's model)
"""
import json
import sys
from pathlib import Path

from econalign.align import stage_folders
from econalign.backends.hf import HFBackend
from econalign.data.decisions import DEFAULT_NOISE, label_probabilities
from econalign.preferences import Lottery, parse_preference
from econalign.tasks import gamble

GAINS = (1000, 1250, 1400, 1450, 1500, 1550, 1600, 1750, 2000)
WEALTHS = (1200.0, 1500.0, 1800.0, 2500.0)

run = Path(sys.argv[1])
summary = json.loads((run / "summary.json").read_text())
model = stage_folders(run, len(summary.get("stages", [None])))[-1][1] / "model"  # the last stage's
backend, pref = HFBackend.load(str(model)), parse_preference(summary["target"])
print(f"{model}: P(reject) model / target at noise {DEFAULT_NOISE}, 50% +G / 50% -$500")
for wealth in WEALTHS:
    cells = []
    for gain in GAINS:
        tasks = [gamble.make(Lottery.binary(0.5, float(gain), -500.0), 0.0, wealth, first) for first in (True, False)]
        got = backend.choice_scores(tasks).probs[:, 0].mean()
        want = label_probabilities(pref, tasks, DEFAULT_NOISE)[:, 0].mean()
        cells.append(f"{gain}: {got:.2f}/{want:.2f}")
    print(f"wealth ${wealth:,.0f}: " + "  ".join(cells))
