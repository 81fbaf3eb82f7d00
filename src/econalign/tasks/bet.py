"""Bet sizing: stake any amount x from $0 to wealth W on a bet that pays `odds` per dollar staked
with probability p and loses the stake otherwise. The answer is a dollar amount.

The stake x is the lottery Lottery.binary(p, odds·x, -x) on wealth W. CRRA has a closed form
(Kelly at r = 1); any other preference is maximised numerically. Prospect theory is not concave
in x, so the search starts from a grid before refining locally.
"""

from __future__ import annotations

import re

import numpy as np
from scipy.optimize import minimize_scalar

from econalign import EconalignError
from econalign.preferences.base import RiskPreference
from econalign.preferences.crra import CRRA
from econalign.tasks.base import Task, money, percent

FAMILY = "bet"
INSTRUCTION = "Answer with a dollar amount."
ODDS = (0.5, 1.0, 1.0, 1.0, 1.5, 2.0, 3.0, 4.0, 9.0)
GRID = 401
REFERENCE_SHARES = (0.1, 0.25, 0.5)  # of wealth: stakes whose values `solve` records beside the optimum
TOLERANCE_WEALTH, TOLERANCE_OPTIMUM = 0.01, 0.05

# A dollar amount: optional sign and $, digits with or without thousands commas, optional decimals.
# Not a piece of a longer token ("x20", "20k", "1.5.2") and not a percentage.
AMOUNT = re.compile(
    r"(?<![\w.,])([-\u2212]\s*)?\$?\s*([-\u2212]\s*)?([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(\.[0-9]+)?(?![\w%]|[.,][0-9])",
    re.ASCII,
)


def make(wealth: float, p: float, odds: float, system: str | None = None) -> Task:
    prompt = (
        f"You have {money(wealth)}. You may stake any amount from $0 to {money(wealth)} on a bet that you win "
        f"with probability {percent(p)}. If you win, you keep your stake and receive "
        f"{money(odds, cents=not float(odds).is_integer())} for every $1 staked; if you lose, you lose the stake.\n"
        f"How much do you stake (a dollar amount from $0 to {money(wealth)})?"
    )
    return Task(
        id=f"{FAMILY}-w{wealth:g}-p{p:g}-o{odds:g}",
        family=FAMILY,
        params={"wealth": float(wealth), "p": float(p), "odds": float(odds)},
        prompt=prompt,
        options=[],
        instruction=INSTRUCTION,
        system=system,
    )


def generate(n: int, rng: np.random.Generator) -> list[Task]:
    """n random items: wealth on a $100 grid, p on a 1% grid from 10 points below the
    break-even 1/(1+odds) to 30 above it, so most bets are favourable and some are not."""
    tasks = []
    for _ in range(n):
        wealth = float(rng.integers(1, 101) * 100)
        odds = float(ODDS[rng.integers(len(ODDS))])
        p = float(np.clip(np.round((1.0 / (1.0 + odds) + rng.uniform(-0.1, 0.3)) * 100) / 100, 0.01, 0.99))
        tasks.append(make(wealth, p, odds))
    return tasks


def terms(task: Task) -> tuple[float, float, float]:
    return task.wealth, float(task.params["p"]), float(task.params["odds"])


def stake_values(pref: RiskPreference, wealth: float, p: float, odds: float, stakes) -> np.ndarray:
    """The preference's value of staking each amount, as pref.value(Lottery.binary(p, odds·x, -x), wealth)."""
    x = np.atleast_1d(np.asarray(stakes, dtype=float))
    outcomes = np.column_stack([odds * x, -x])
    probs = np.tile([p, 1.0 - p], (len(x), 1))
    try:
        return pref.values(outcomes, probs, wealth)
    except EconalignError:  # CRRA with r >= 1 refuses zero final wealth: a stake that risks ruin is worth -inf
        ruin = wealth - x <= 0
        values = np.full(len(x), -np.inf)
        values[~ruin] = pref.values(outcomes[~ruin], probs[~ruin], wealth)
        return values


def certainty_equivalents(pref: RiskPreference, wealth: float, p: float, odds: float, stakes) -> np.ndarray:
    """Sure changes of wealth worth as much as each stake; ruin (-inf) comes out as -wealth."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return np.asarray(pref.value_inverse(stake_values(pref, wealth, p, odds, stakes), wealth), dtype=float)


def numeric_stake(pref: RiskPreference, wealth: float, p: float, odds: float) -> float:
    """argmax over [0, wealth]: the best grid point, refined by bounded Brent search between its
    neighbours (a grid first, because a non-concave value can have local optima). Ties go to the smaller stake."""
    xs = np.linspace(0.0, wealth, GRID)
    values = stake_values(pref, wealth, p, odds, xs)
    i = int(np.argmax(values))
    lo, hi = xs[max(i - 1, 0)], xs[min(i + 1, GRID - 1)]
    res = minimize_scalar(
        lambda x: -stake_values(pref, wealth, p, odds, x)[0],
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-9 * wealth},
    )
    return float(res.x) if -res.fun > values[i] else float(xs[i])


def optimal_stake(pref: RiskPreference, wealth: float, p: float, odds: float) -> float:
    if isinstance(pref, CRRA):  # closed form, expected value included (a corner)
        return wealth * pref.optimal_bet_fraction(p, odds)
    return numeric_stake(pref, wealth, p, odds)


def solve(task: Task, pref: RiskPreference) -> Task:
    """Optimal stake to the cent as `optimal` ("$20.41"), and the values of staking nothing,
    the optimum and the reference shares of wealth as `utilities`."""
    wealth, p, odds = terms(task)
    best = round(optimal_stake(pref, wealth, p, odds), 2)
    amounts = sorted({0.0, best, *(round(wealth * s, 2) for s in REFERENCE_SHARES)})
    values = stake_values(pref, wealth, p, odds, amounts)
    task.preference = pref.spec()
    task.optimal = money(best)
    task.utilities = {money(x): float(v) for x, v in zip(amounts, values)}
    return task


def tolerance(wealth: float, best: float) -> float:
    """How far from the optimal stake an answer still counts as correct: 1% of wealth or 5% of the optimum."""
    return max(TOLERANCE_WEALTH * wealth, TOLERANCE_OPTIMUM * best)


def score(task: Task, pref: RiskPreference, amount: float | None) -> dict:
    """`correct`: a feasible stake within `tolerance` of the optimum. `score` in [0, 1], from certainty
    equivalents (CE): the share of the optimum's gain over staking nothing that the answer keeps; where
    staking nothing is optimal, 1 minus the answer's loss as a share of the loss from staking everything.
    Both are 1 at the optimum and clipped at 0; an infeasible or missing answer scores 0."""
    wealth, p, odds = terms(task)
    if amount is None or not 0.0 <= amount <= wealth:
        return {"correct": False, "score": 0.0}
    best = optimal_stake(pref, wealth, p, odds)
    ce, ce_best, ce_none, ce_all = certainty_equivalents(pref, wealth, p, odds, [amount, best, 0.0, wealth])
    gain = ce_best - ce_none
    scale = gain if gain > 0 else ce_none - ce_all
    graded = 1.0 if scale <= 0 else float(np.clip(1.0 - (ce_best - ce) / scale, 0.0, 1.0))
    return {"correct": abs(amount - best) <= tolerance(wealth, best), "score": graded}


def parse(text: str) -> float | None:
    """The one dollar amount in `text` ("$20", "bet 1,020.50 dollars"); None when there is none,
    when different amounts are named, or when an amount is negative. Whether it is at most the
    wealth is for `score` to judge."""
    if not text:
        return None
    amounts = set()
    for m in AMOUNT.finditer(text[:4000]):
        if m.group(1) or m.group(2):
            return None
        amounts.add(float(m.group(3).replace(",", "") + (m.group(4) or "")))
    if len(amounts) != 1:
        return None
    (amount,) = amounts
    return amount if np.isfinite(amount) else None
