"""Psychometric curves: P(accept the sure amount) against the sure amount, with a logistic fit.

The fitted midpoint is the indifference point, to be compared with the certainty equivalent
each preference model predicts. A model that barely reacts to the sure amount has no
indifference point inside the offered range; we report None rather than an extrapolation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from scipy.stats import pearsonr, spearmanr

EPS = 1e-9
# A fitted logit change across the whole offered range below this (P(accept) moving by less than
# about 5 points) is a flat curve: its midpoint is arbitrary, not an indifference point.
MIN_SLOPE = 0.2


@dataclass
class Curve:
    midpoint: float
    slope: float  # logit change across the whole offered range
    low: float
    high: float

    @property
    def indifference(self) -> float | None:
        inside = self.low <= self.midpoint <= self.high and self.slope > MIN_SLOPE
        return float(self.midpoint) if inside else None

    def predict(self, sure) -> np.ndarray:
        return expit(self.slope * (np.asarray(sure, dtype=float) - self.midpoint) / (self.high - self.low))


def fit_curve(sure, p_accept, low: float, high: float) -> Curve:
    """Logistic fit by maximum likelihood with soft labels; the range [low, high] scales the slope."""
    s = np.asarray(sure, dtype=float)
    y = np.asarray(p_accept, dtype=float)
    span = high - low

    def nll(theta):
        p = np.clip(expit(theta[1] * (s - theta[0]) / span), EPS, 1 - EPS)
        return -np.sum(y * np.log(p) + (1 - y) * np.log1p(-p))

    starts = [(low + span * f, b) for f in (0.25, 0.5, 0.75) for b in (2.0, 10.0)]
    bounds = [(low - 2 * span, high + 2 * span), (-100.0, 100.0)]
    best = min((minimize(nll, np.array(x0), method="L-BFGS-B", bounds=bounds) for x0 in starts), key=lambda r: r.fun)
    return Curve(midpoint=float(best.x[0]), slope=float(best.x[1]), low=low, high=high)


def correlation(x, y) -> dict:
    """Pearson and Spearman correlations, None where either side is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"pearson": None, "spearman": None, "n": int(len(x))}
    return {"pearson": float(pearsonr(x, y)[0]), "spearman": float(spearmanr(x, y)[0]), "n": int(len(x))}
