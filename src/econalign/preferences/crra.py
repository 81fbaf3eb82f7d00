"""Expected value and constant relative risk aversion (CRRA) expected utility."""

from __future__ import annotations

import math

import numpy as np

from econalign import EconalignError
from econalign.preferences.base import RiskPreference

# Named CRRA types of the risk-preference teacher data (coefficients 2, 1, 0, -1).
NAMED_CRRA = {"risk-averse": 2.0, "log": 1.0, "linear": 0.0, "risk-loving": -1.0}


class CRRA(RiskPreference):
    """u(w) = w^(1-r)/(1-r), ln w at r = 1, applied to final wealth w = W + x > 0."""

    name = "crra"

    def __init__(self, r: float):
        if not math.isfinite(r):
            raise EconalignError(f"CRRA coefficient r must be a finite number, got {r}")
        self.r = float(r)

    def params(self):
        return {"r": self.r}

    def utility(self, w):
        w = np.asarray(w, dtype=float)
        if np.any(w <= 0) and self.r >= 1:
            raise EconalignError(
                f"CRRA with r={self.r:g} needs positive final wealth; state a wealth level above the largest loss"
            )
        if np.any(w < 0):
            raise EconalignError("CRRA needs non-negative final wealth; state a wealth level above the largest loss")
        if self.r == 1.0:
            return np.log(w)
        return w ** (1.0 - self.r) / (1.0 - self.r)

    def utility_inverse(self, u):
        u = np.asarray(u, dtype=float)
        if self.r == 1.0:
            return np.exp(u)
        return ((1.0 - self.r) * u) ** (1.0 / (1.0 - self.r))

    def values(self, outcomes, probs, wealth=0.0):
        w = np.asarray(wealth, dtype=float).reshape(-1, 1) + outcomes
        return np.sum(probs * self.utility(w), axis=1)

    def value_inverse(self, v, wealth=0.0):
        return self.utility_inverse(v) - wealth

    def optimal_bet_fraction(self, p: float, odds: float = 1.0) -> float:
        """Share of wealth to stake on a bet that pays `odds` per unit with probability p.

        First-order condition p·b·(1+bf)^-r = q·(1-f)^-r gives f = (k-1)/(b+k), k = (p·b/q)^(1/r);
        at r = 1 this is Kelly's f = p - q/b. Never negative (no short side) and below 1 for r > 0.
        """
        if not 0.0 < p < 1.0 or odds <= 0:
            raise EconalignError("a bet needs 0 < p < 1 and positive odds")
        if self.r <= 0:  # convex or linear utility: the optimum is a corner
            stake_all = p * self.utility(1.0 + odds) + (1.0 - p) * self.utility(0.0)
            return 1.0 if stake_all > self.utility(1.0) else 0.0
        if p * odds <= 1.0 - p:
            return 0.0
        k = (p * odds / (1.0 - p)) ** (1.0 / self.r)
        return (k - 1.0) / (odds + k)


class ExpectedValue(CRRA):
    """Risk neutrality: u(x) = x (CRRA with r = 0, wealth irrelevant)."""

    name = "ev"

    def __init__(self):
        super().__init__(0.0)

    def params(self):
        return {}

    def utility(self, w):
        return np.asarray(w, dtype=float)

    def utility_inverse(self, u):
        return np.asarray(u, dtype=float)
