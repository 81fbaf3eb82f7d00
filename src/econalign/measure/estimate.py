"""Maximum-likelihood estimates of preference parameters from choices.

Choices are modelled by the contextual-utility logit of preferences/choice.py: binary choices
between lotteries for risk models (CRRA, PT), menus of game options for social models (homo
moralis κ, Fehr–Schmidt α and β). Observations are choice probabilities: one-hot for sampled
answers, or a model's choice probabilities (soft labels; each item then counts as one
observation). Standard errors come from the observed information (numerical Hessian of the
log-likelihood) over the free parameters: a parameter on its search bound is held there, reported as
on its bound, with no standard error. Intervals are Wald 95% intervals on a scale where the
parameter's domain is the whole real line (log for a positive parameter, logit for a bounded one),
mapped back, so they never leave the domain. Fehr–Schmidt is estimated without imposing α >= β, so
the data can contradict it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, logit

from econalign.preferences.choice import (
    Menus,
    Pairs,
    choice_probabilities,
    lottery_menu_probabilities,
    menu_probabilities,
)
from econalign.preferences.base import Lottery
from econalign.preferences.crra import CRRA
from econalign.preferences.prospect import MIN_WEIGHT_GAMMA, ProspectTheory
from econalign.preferences.social import fs_weights, moralis_weights

Z95 = 1.959963984540054
EPS = 1e-9
FLAT = 1e-10  # curvature below this (relative to the Hessian's largest entry) is none at all


@dataclass(frozen=True)
class Model:
    names: tuple[str, ...]
    build: Callable  # parameters -> a RiskPreference (risk models) or utility weights (social models)
    bounds: tuple[tuple[float, float], ...]  # where the search looks
    starts: tuple[tuple[float, ...], ...]
    domains: tuple[tuple[float, float], ...]  # the values the parameter can take: intervals stay inside


INF = np.inf
MODELS = {
    "crra": Model(("r",), lambda t: CRRA(t[0]), ((-3.0, 5.0),), ((-1.0,), (0.5,), (2.0,)), ((-INF, INF),)),
    # beta = alpha and delta = gamma: the usual restriction that keeps the model identified.
    "pt": Model(
        ("alpha", "lambda", "gamma"),
        lambda t: ProspectTheory(alpha=t[0], lam=t[1], gamma=t[2]),
        ((0.2, 1.5), (0.2, 10.0), (0.3, 1.5)),
        tuple(itertools.product((0.5, 1.0), (1.0, 2.5), (0.6, 1.0))),
        ((0.0, INF), (0.0, INF), (MIN_WEIGHT_GAMMA, 2.0)),
    ),
}
SOCIAL_MODELS = {
    # Weights, not preference objects: the Hessian steps just past the bounds, where the classes refuse.
    "moralis": Model(("kappa",), lambda t: moralis_weights(t[0]), ((0.0, 1.0),), ((0.1,), (0.5,), (0.9,)),
                     ((0.0, 1.0),)),
    "fs": Model(
        ("alpha", "beta"), lambda t: fs_weights(t[0], t[1]), ((0.0, 5.0), (0.0, 0.99)),
        tuple(itertools.product((0.2, 1.5), (0.1, 0.6))), ((0.0, INF), (0.0, 1.0)),
    ),
}
LOG_NOISE_BOUNDS = (np.log(1e-3), np.log(5.0))
NOISE_DOMAIN = (0.0, INF)


@dataclass
class Fit:
    model: str
    params: dict[str, float]
    se: dict[str, float]
    n: int
    loglik: float
    converged: bool
    domains: dict[str, tuple[float, float]]
    on_bound: tuple[str, ...]  # estimates on a search bound: held there, no standard error

    def interval(self, name: str) -> tuple[float, float] | None:
        se = self.se.get(name, np.nan)
        if not np.isfinite(se):
            return None
        return wald_interval(self.params[name], se, self.domains[name])

    def to_dict(self) -> dict:
        return {
            "params": {
                k: {"value": v, "se": nan_to_none(self.se.get(k)), "ci95": self.interval(k), "on_bound": k in self.on_bound}
                for k, v in self.params.items()
            },
            "n": self.n,
            "loglik": self.loglik,
            "converged": self.converged,
        }


def wald_interval(value: float, se: float, domain: tuple[float, float]) -> tuple[float, float]:
    """value ± z·se on the scale where `domain` is the real line (identity if unbounded, log(x - lo) if
    bounded below, logit((x - lo) / (hi - lo)) if bounded on both sides), se carried over by the delta
    method, and the ends mapped back."""
    lo, hi = domain
    if np.isinf(lo) and np.isinf(hi):
        return (value - Z95 * se, value + Z95 * se)
    if np.isinf(hi):
        half = Z95 * se / (value - lo)
        return (lo + (value - lo) * float(np.exp(-half)), lo + (value - lo) * float(np.exp(half)))
    u = (value - lo) / (hi - lo)
    half = Z95 * se / ((hi - lo) * u * (1 - u))
    return (lo + (hi - lo) * float(expit(logit(u) - half)), lo + (hi - lo) * float(expit(logit(u) + half)))


def nan_to_none(x):
    return None if x is None or not np.isfinite(x) else float(x)


def negloglik(model: Model, theta: np.ndarray, pairs: Pairs, y: np.ndarray) -> float:
    pref = model.build(theta[:-1])
    with np.errstate(all="ignore"):
        p = choice_probabilities(pref, pairs, float(np.exp(theta[-1])))
    if not np.all(np.isfinite(p)):
        return 1e12
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)))


def hessian(f: Callable, x: np.ndarray, rel_step: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian (the observed information at the optimum)."""
    k = len(x)
    h = rel_step * np.maximum(np.abs(x), 1.0)
    H = np.zeros((k, k))
    for i, j in itertools.combinations_with_replacement(range(k), 2):
        ei, ej = np.eye(k)[i] * h[i], np.eye(k)[j] * h[j]
        H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
    return H


def menu_negloglik(model: Model, theta: np.ndarray, menus: Menus, y: np.ndarray) -> float:
    p = menu_probabilities(model.build(theta[:-1]), menus, float(np.exp(theta[-1])))
    return float(-np.sum(y * np.log(np.clip(p, EPS, 1.0))))


def fit(model_name: str, pairs: Pairs, y: np.ndarray) -> Fit:
    """MLE of a risk model's parameters and the logit noise; y = P(option a) per pair."""
    model = MODELS[model_name]
    y = np.asarray(y, dtype=float)
    return maximise(model_name, model, lambda t: negloglik(model, t, pairs, y), len(y))


def fit_lottery_menus(model_name: str, menus: list[list[Lottery]], wealth, y: np.ndarray) -> Fit:
    """MLE of a risk model's parameters and the logit noise from choices among k lotteries per menu (all menus
    the same length); y[i, j] = P(option j of menu i): the same contextual-utility logit as `fit`, over k options."""
    model = MODELS[model_name]
    y = np.asarray(y, dtype=float)

    def f(theta: np.ndarray) -> float:
        p = lottery_menu_probabilities(model.build(theta[:-1]), menus, wealth, float(np.exp(theta[-1])))
        return float(-np.sum(y * np.log(np.clip(p, EPS, 1.0))))

    return maximise(model_name, model, f, len(y))


def fit_social(model_name: str, menus: Menus, y: np.ndarray) -> Fit:
    """MLE of a social model's parameters and the logit noise; y[i, j] = P(option j of menu i)."""
    model = SOCIAL_MODELS[model_name]
    y = np.asarray(y, dtype=float)
    return maximise(model_name, model, lambda t: menu_negloglik(model, t, menus, y), len(y))


def maximise(name: str, model: Model, f: Callable, n: int) -> Fit:
    """The best of several L-BFGS-B starts, with Wald standard errors."""
    bounds = [*model.bounds, LOG_NOISE_BOUNDS]
    best = None
    for start in model.starts:
        for log_noise in (np.log(0.05), np.log(0.5)):
            res = minimize(f, np.array([*start, log_noise]), method="L-BFGS-B", bounds=bounds)
            if best is None or res.fun < best.fun:
                best = res
    theta = best.x
    se = standard_errors(f, theta, bounds)
    names = (*model.names, "noise")
    params = dict(zip(names, map(float, [*theta[:-1], np.exp(theta[-1])])))
    errors = dict(zip(names, map(float, [*se[:-1], np.exp(theta[-1]) * se[-1]])))  # delta method for noise
    domains = dict(zip(names, (*model.domains, NOISE_DOMAIN)))
    on_bound = tuple(k for k, b in zip(names, at_bound(theta, bounds)) if b)
    return Fit(name, params, errors, n, -float(best.fun), bool(best.success), domains, on_bound)


def at_bound(theta: np.ndarray, bounds) -> np.ndarray:
    return np.array([min(abs(t - lo), abs(t - hi)) < 1e-6 for t, (lo, hi) in zip(theta, bounds)])


def standard_errors(f: Callable, theta: np.ndarray, bounds) -> np.ndarray:
    """sqrt(diag(H^-1)) of the Hessian over the free parameters, those on a bound held there; NaN for
    the ones on a bound and wherever the likelihood is flat."""
    se = np.full(len(theta), np.nan)
    free = np.flatnonzero(~at_bound(theta, bounds))
    if not len(free):
        return se

    def restricted(x: np.ndarray) -> float:
        t = theta.copy()
        t[free] = x
        return f(t)

    H = hessian(restricted, theta[free])
    curved = np.diag(H) > FLAT * max(1.0, float(np.abs(H).max()))  # a parameter the likelihood ignores: no se,
    free, H = free[curved], H[np.ix_(curved, curved)]               # and it must not take the others' with it
    try:
        cov = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return se
    ok = (np.diag(cov) > 0) & np.all(np.isfinite(cov))
    se[free[ok]] = np.sqrt(np.diag(cov)[ok])
    return se
