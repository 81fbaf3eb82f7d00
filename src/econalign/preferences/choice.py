"""Noisy choice: logit on contextual utility (Wilcox 2011).

Between two lotteries, the value difference is divided by the value range of the choice
context (best minus worst outcome on offer), so one noise parameter means the same thing for
every CRRA r, every prospect-theory curvature and every stake size. Among social options
(games), utilities are divided by the range of material payoffs on offer, for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, softmax

from econalign.preferences.base import Lottery, RiskPreference, stack
from econalign.preferences.social import FEATURES, SocialOption


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


def lottery_menu_probabilities(pref: RiskPreference, menus: list[list[Lottery]], wealth, noise: float) -> np.ndarray:
    """P(option j) in each menu of lotteries (all menus the same length): softmax of value / (value range of
    the menu's outcomes · noise), which is `choice_probabilities` for two options; noise = 0 splits the
    probability evenly among the best options."""
    x, p = stack([lot for menu in menus for lot in menu])
    n, k = len(menus), len(menus[0])
    w = np.repeat(np.broadcast_to(np.asarray(wealth, dtype=float), (n,)), k)
    v = pref.values(x, p, w).reshape(n, k)
    hi, lo = x.reshape(n, -1).max(axis=1), x.reshape(n, -1).min(axis=1)
    sure = np.ones((n, 1))
    span = pref.values(hi[:, None], sure, w[::k]) - pref.values(lo[:, None], sure, w[::k])
    u = (v - v.max(axis=1, keepdims=True)) / np.where(span > 0, span, 1.0)[:, None]
    if noise <= 0:
        best = u >= -1e-12
        return best / best.sum(axis=1, keepdims=True)
    return softmax(u / noise, axis=1)


def choice_probability(pref: RiskPreference, a: Lottery, b: Lottery, wealth: float = 0.0, noise: float = 0.1) -> float:
    return float(choice_probabilities(pref, Pairs.of([(a, b)], wealth), noise)[0])


@dataclass(frozen=True)
class Menus:
    """n choices among up to k social options, as arrays: features (n, k, 4), which slots hold an
    option (n, k), and each menu's payoff range (n,), the contextual scale of its utilities."""

    features: np.ndarray
    present: np.ndarray
    span: np.ndarray

    @classmethod
    def of(cls, menus: list[list[SocialOption]]) -> "Menus":
        k = max(len(m) for m in menus)
        features = np.zeros((len(menus), k, len(FEATURES)))
        present = np.zeros((len(menus), k), dtype=bool)
        span = np.ones(len(menus))
        for i, menu in enumerate(menus):
            features[i, : len(menu)] = [o.features() for o in menu]
            present[i, : len(menu)] = True
            payoffs = [v for o in menu for v in o.payoffs()]
            span[i] = max(max(payoffs) - min(payoffs), 1e-12)
        return cls(features, present, span)


def menu_probabilities(weights: np.ndarray, menus: Menus, noise: float) -> np.ndarray:
    """P(option j) in each menu: softmax of utility / (payoff range · noise); noise = 0 splits
    the probability evenly among the best options."""
    u = menus.features @ weights / menus.span[:, None]
    u = np.where(menus.present, u, -np.inf)
    if noise <= 0:
        best = menus.present & (u >= u.max(axis=1, keepdims=True) - 1e-12)
        return best / best.sum(axis=1, keepdims=True)
    return softmax(u / noise, axis=1)
