"""Is the target's choice on the align mix a linear read-out of the answer position's state? Logistic regression
from the layer-18 / 24 last-position states of the 1,000 align items (r = 2 labels) to the battery's items,
scored like train.py's evaluation. Needs scikit-learn and the caches of cache.py (battery, train1000)."""
import os, torch, numpy as np
from sklearn.linear_model import LogisticRegression
from scores import battery_figures
from econalign.tasks.base import Task
from econalign.data.decisions import label_probabilities
from econalign.preferences.spec import parse_preference
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
        figures = battery_figures(bt, P, tp)
        print(L, C, "train acc", round(m.score(Xt, yt), 3), figures, flush=True)
