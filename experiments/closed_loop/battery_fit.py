"""How far an align run's trained model is from its target on the battery itself: the model's P(first option)
(after/results.csv) against the target's at align's default label noise, per curve and option order.

    python battery_fit.py RUN [RUN ...]     # RUN: an `econalign align` output folder
"""
import json
import sys
from pathlib import Path

import pandas as pd

from econalign.data.decisions import DEFAULT_NOISE, label_probabilities
from econalign.measure.risk import risk_battery
from econalign.preferences import parse_preference

tasks = {t.id: t for t in risk_battery(False)}
for run in map(Path, sys.argv[1:]):
    table = pd.read_csv(run / "after" / "results.csv")
    table = table[table.persona.isna()]
    pref = parse_preference(json.loads((run / "summary.json").read_text())["target"])
    table["target"] = label_probabilities(pref, [tasks[i] for i in table.id], DEFAULT_NOISE)[:, 0]
    table["err"] = table.y - table.target
    table["curve"] = table.curve.fillna(table.family + " x" + table.scale.astype(str))
    print(f"{run}: {pref.spec()}, mean |error| {table.err.abs().mean():.3f}")
    by = table.groupby(["curve", "sure_first"], dropna=False).err
    print(pd.DataFrame({"mae": by.apply(lambda e: e.abs().mean()), "bias": by.mean()}).unstack().round(2).to_string())
