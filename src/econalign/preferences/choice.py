"""Noisy choice between two lotteries: logit on contextual utility (Wilcox 2011).

The value difference is divided by the value range of the choice context (best minus worst
outcome on offer), so one noise parameter means the same thing for every CRRA r, every
prospect-theory curvature and every stake size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from econalign.preferences.base import Lottery, RiskPreference, stack


@dataclass(frozen=True)
class Pairs:
    """n binary choices, option a against option b, as arrays ready for vectorised preferences."""

    ax: np.ndarray
    ap: np.ndarray
    bx: np.ndarray
    bp: np.ndarray
    wealth: np.ndarray

    @classmethod
    def of(cls, pairs: list[tuple[Lottery, Lottery]], wealth) -> "Pairs":
        ax, ap = stack([a for a, _ in pairs])
        bx, bp = stack([b for _, b in pairs])
        return cls(ax, ap, bx, bp, np.broadcast_to(np.asarray(wealth, dtype=float), (len(pairs),)))

    def extremes(self) -> tuple[np.ndarray, np.ndarray]:
        both = np.concatenate([self.ax, self.bx], axis=1)
        return both.max(axis=1, keepdims=True), both.min(axis=1, keepdims=True)


def scaled_differences(pref: RiskPreference, pairs: Pairs) -> np.ndarray:
    """(V(a) - V(b)) / (V(best outcome) - V(worst outcome)): in [-1, 1], 0 at indifference."""
    hi, lo = pairs.extremes()
    sure = np.ones_like(hi)
    span = pref.values(hi, sure, pairs.wealth) - pref.values(lo, sure, pairs.wealth)
    diff = pref.values(pairs.ax, pairs.ap, pairs.wealth) - pref.values(pairs.bx, pairs.bp, pairs.wealth)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(span > 0, diff / np.where(span > 0, span, 1.0), 0.0)


def choice_probabilities(pref: RiskPreference, pairs: Pairs, noise: float) -> np.ndarray:
    """P(choose a over b) for each pair; noise = 0 is the exact (deterministic) chooser."""
    d = scaled_differences(pref, pairs)
    if noise <= 0:
        return np.sign(d) * 0.5 + 0.5
    return expit(d / noise)


def choice_probability(pref: RiskPreference, a: Lottery, b: Lottery, wealth: float = 0.0, noise: float = 0.1) -> float:
    return float(choice_probabilities(pref, Pairs.of([(a, b)], wealth), noise)[0])
