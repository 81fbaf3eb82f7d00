import os, torch, numpy as np
from econalign.tasks.base import Task
from sklearn.linear_model import RidgeCV, LogisticRegression
from sklearn.model_selection import cross_val_score
d = torch.load(os.environ.get("EXP_DIR", "/tmp/exp") + "/simple.pt")
tasks = [Task(**t) for t in d["tasks"]]
S = np.array([t.params["sure"] for t in tasks]); y = S > 333
for L in (18, 24):
    st = d["states"][L]
    X = torch.stack([s[-1] for s in st]).numpy()
    Xm = torch.stack([s.mean(0) for s in st]).numpy()
    sd = X.std(0)
    print(L, "last: R2(S)", cross_val_score(RidgeCV(alphas=np.logspace(-2, 4, 13)), X, S, cv=5).mean().round(3),
          "acc raw", cross_val_score(LogisticRegression(C=1, max_iter=5000), X, y, cv=5).mean().round(3),
          "mean-pos R2", cross_val_score(RidgeCV(alphas=np.logspace(-2, 4, 13)), Xm, S, cv=5).mean().round(3),
          "sd quantiles", np.quantile(sd, [0.1, 0.5, 0.9, 1.0]).round(3), flush=True)
