"""The figures train.py and probe_linear.py print for a model's choice probabilities P on the cached battery."""
import numpy as np
from econalign.measure.analysis import estimates, results_table


def battery_figures(bt, P, tp) -> dict:
    """CRRA fit, share of probability on the target's clear choices (tp: the target's exact choices), expected
    Holt–Laury safe choices per scale, and P(accept) along the 50% x $1,000 curve."""
    recs = [{"id": t.id, "y": float(p[0]), "probs": p.tolist(), "mass": None, "answer": None} for t, p in zip(bt, P)]
    rows = results_table(bt, recs)
    est = estimates(rows[(rows.family == "gamble") & rows.persona.isna()])["crra"]
    decided = np.abs(tp[:, 0] - 0.5) > 0.25
    hl = rows[rows.family == "holt_laury"]  # y = P(first option) = P(safe A)
    curve = rows[rows.curve == "50% +1,000 / 50% +0"].groupby("sure").y.mean()
    return {"r": est["params"], "agree": round(float((P[decided] * tp[decided]).sum(1).mean()), 3),
            "hl": {float(sc): round(float(part.y.sum()), 2) for sc, part in hl.groupby("scale")},
            "c50": [round(float(v), 2) for v in curve.values]}
