"""Cumulative prospect theory (Tversky & Kahneman 1992)."""

from __future__ import annotations

import math

import numpy as np

from econalign import EconalignError
from econalign.preferences.base import RiskPreference

# Below this curvature the TK weighting function stops being increasing in p (Ingersoll 2008).
MIN_WEIGHT_GAMMA = 0.28


def tk_weight(p, gamma: float):
    """w(p) = p^γ / (p^γ + (1-p)^γ)^(1/γ); γ = 1 is the identity."""
    p = np.asarray(p, dtype=float)
    if gamma == 1.0:
        return p
    num = p**gamma
    return num / (num + (1.0 - p) ** gamma) ** (1.0 / gamma)


class ProspectTheory(RiskPreference):
    """Value v(x) = x^α for gains, -λ(-x)^β for losses, relative to a reference point,
    with rank-dependent decision weights from w(p) (γ for gains, δ for losses).

    γ = δ = 1 gives the variant without probability weighting. Wealth does not enter:
    outcomes are judged as gains and losses against `reference`.
    """

    name = "pt"

    def __init__(self, alpha=0.88, beta=None, lam=2.25, gamma=1.0, delta=None, reference=0.0):
        beta = alpha if beta is None else beta
        delta = gamma if delta is None else delta
        for label, v in (("alpha", alpha), ("beta", beta), ("lambda", lam)):
            if not (math.isfinite(v) and v > 0):
                raise EconalignError(f"prospect theory needs {label} > 0, got {v}")
        for label, v in (("gamma", gamma), ("delta", delta)):
            if not (math.isfinite(v) and MIN_WEIGHT_GAMMA <= v <= 2.0):
                raise EconalignError(
                    f"prospect theory needs {label} in [{MIN_WEIGHT_GAMMA}, 2] (weighting must increase in p), got {v}"
                )
        self.alpha, self.beta, self.lam = float(alpha), float(beta), float(lam)
        self.gamma, self.delta, self.reference = float(gamma), float(delta), float(reference)

    def params(self):
        out = {"alpha": self.alpha, "beta": self.beta, "lambda": self.lam, "gamma": self.gamma, "delta": self.delta}
        if self.reference:
            out["reference"] = self.reference
        return out

    def v(self, x):
        x = np.asarray(x, dtype=float)
        gains = np.abs(x) ** self.alpha
        losses = -self.lam * np.abs(x) ** self.beta
        return np.where(x >= 0, gains, losses)

    def decision_weights(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Rank-dependent weights of (n, k) outcomes relative to the reference point.

        A gain gets w+(P(better or equal)) - w+(P(strictly better)), a loss the same from the
        worst outcome up with w-. Equal outcomes are ranked by position so their weights add up once.
        """
        k = x.shape[1]
        earlier = np.tril(np.ones((k, k), dtype=bool))  # [j, m]: m at or before j
        same = x[:, :, None] == x[:, None, :]
        better = (x[:, None, :] > x[:, :, None]) | (same & earlier)
        worse = (x[:, None, :] < x[:, :, None]) | (same & earlier)
        at_least = np.einsum("njm,nm->nj", better, p).clip(0.0, 1.0)
        at_most = np.einsum("njm,nm->nj", worse, p).clip(0.0, 1.0)
        gain_w = tk_weight(at_least, self.gamma) - tk_weight((at_least - p).clip(0.0, 1.0), self.gamma)
        loss_w = tk_weight(at_most, self.delta) - tk_weight((at_most - p).clip(0.0, 1.0), self.delta)
        return np.where(x >= 0, gain_w, loss_w)

    def values(self, outcomes, probs, wealth=0.0):
        x = np.asarray(outcomes, dtype=float) - self.reference
        return np.sum(self.decision_weights(x, np.asarray(probs, dtype=float)) * self.v(x), axis=1)

    def value_inverse(self, v, wealth=0.0):
        v = np.asarray(v, dtype=float)
        gains = np.abs(v) ** (1.0 / self.alpha)
        losses = -((np.abs(v) / self.lam) ** (1.0 / self.beta))
        return self.reference + np.where(v >= 0, gains, losses)
