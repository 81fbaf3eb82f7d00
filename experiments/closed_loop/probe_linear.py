"""Is the target's choice on the align mix a linear read-out of the answer position's state? Logistic regression
from the layer-18 / 24 last-position states of the 1,000 align items (r = 2 labels) to the battery's items,
scored like train.py's evaluation. Needs scikit-learn and the caches of cache.py (battery, train1000)."""
import os, json, copy, torch, numpy as np
from sklearn.linear_model import LogisticRegression
from econalign.tasks.base import Task
from econalign.data.decisions import label_probabilities, shape_of
from econalign.preferences.spec import parse_preference
from econalign.measure.profile import results_table
from econalign.measure.analysis import estimates
torch.set_num_threads(2)
pref = parse_preference("crra:r=2")
def load(name, L):
    d = torch.load(os.environ.get("EXP_DIR", "/tmp/exp") + f"/{name}.pt")
    return [Task(**t) for t in d["tasks"]], d["states"][L]
for L in (18, 24):
    bt, bs = load("battery", L); tt, ts = load("train1000", L)
    Xt = torch.stack([s[-1] for s in ts]).numpy(); Xb = torch.stack([s[-1] for s in bs]).numpy()
    pt = label_probabilities(pref, tt, 0.05)[:, 0]; yt = (pt > 0.5).astype(int)
    tp = label_probabilities(pref, bt, 0.0)
    for C in (0.01, 0.1, 1.0):
        m = LogisticRegression(C=C, max_iter=3000).fit(Xt, yt)
        P0 = m.predict_proba(Xb)[:, 1]
        P = np.stack([P0, 1 - P0], 1)
        recs = [{"id": t.id, "y": float(p[0]), "probs": p.tolist(), "mass": None, "answer": None} for t, p in zip(bt, P)]
        rows = results_table(bt, recs)
        gam = rows[(rows.family == "gamble") & rows.persona.isna()]
        est = estimates(gam)["crra"]
        decided = np.abs(tp[:, 0] - 0.5) > 0.25
        agree = float((P[decided] * tp[decided]).sum(1).mean())
        curve = rows[rows.curve == "50% +1,000 / 50% +0"].groupby("sure").y.mean()
        hl = {sc: round(float(part.y.sum()), 1) for sc, part in rows[rows.family == "holt_laury"].groupby("scale")}
        print(L, C, "train acc", round(m.score(Xt, yt), 3), "r", est["params"], est.get("on_bound"), "agree", round(agree, 3),
              "hl", hl, "c50", [round(v, 2) for v in curve.values], flush=True)
