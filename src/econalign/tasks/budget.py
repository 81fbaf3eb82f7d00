"""Budget allocation between two Arrow securities (Choi, Fisman, Gale & Kariv 2007).

Exactly one of two states happens, state 1 with probability π1. A unit of security 1 (2) costs p1 (p2)
and pays $1 if state 1 (2) happens. The agent spends a budget of $100 on the two; spending s·$100 on
the first-listed security buys the bundle (x1, x2) on the budget line p1·x1 + p2·x2 = 100.

An answer is a point on the line, not one of a few options; to keep the battery measurable from
next-token logits the line is cut into eleven lettered allocations, $0, $10, ..., $100 on the first
security (A to L, without I), and a model's demand is its expected allocation. A generated answer may name a
letter or an amount ("$30", "30%"); an amount goes to the nearest allocation.

Each budget is asked twice, with the securities listed in both orders, so a preference for early
letters shows up as a lean towards the second-listed security instead of as a demand.
"""

from __future__ import annotations

import re

import numpy as np
from scipy.optimize import minimize_scalar

from econalign.preferences.base import Lottery, RiskPreference
from econalign.preferences.crra import CRRA
from econalign.tasks.base import Task, letter_or_amount, money, percent

FAMILY = "budget"
BUDGET = 100.0
SAVINGS = 20.0  # kept whatever happens: final wealth stays positive at the corners, where log utility needs it
SPENDS = np.linspace(0.0, BUDGET, 11)  # dollars on the first-listed security, option by option
LETTERS = "ABCDEFGHJKL"  # no I: "I choose C" must not name two options
AMOUNT = re.compile(r"\$\s?\d+(?:\.\d+)?|\d+(?:\.\d+)?\s?(?:%|percent|dollars?)", re.IGNORECASE)


def bundle(share: float, prices: tuple[float, float]) -> tuple[float, float]:
    """Payoffs in state 1 and state 2 when `share` of the budget goes to security 1."""
    return share * BUDGET / prices[0], (1.0 - share) * BUDGET / prices[1]


def lottery(share: float, prices, pi1: float) -> Lottery:
    x1, x2 = bundle(share, prices)
    return Lottery((x1, x2), (pi1, 1.0 - pi1))


def state1_share(task: Task, option: str) -> float:
    """Share of the budget spent on security 1 (state 1's security) when the agent picks `option`."""
    first = SPENDS[LETTERS.index(option)] / BUDGET
    return 1.0 - first if task.params["swapped"] else first


def make(pi1: float, prices: tuple[float, float], swapped: bool = False) -> Task:
    """`swapped` lists state 2's security first (it is then the one the letters count dollars on)."""
    p1, p2 = map(float, prices)
    labels = [LETTERS[i] for i in range(len(SPENDS))]
    task = Task(
        id=f"{FAMILY}-pi{pi1:g}-p{p1:g}_{p2:g}{'-swap' if swapped else ''}",
        family=FAMILY,
        params={"pi1": float(pi1), "prices": [p1, p2], "swapped": swapped, "wealth": SAVINGS},
        prompt="",
        options=labels,
        instruction=f"Answer with one letter: {', '.join(labels[:-1])} or {labels[-1]}.",
    )
    task.params["options"] = {o: lottery(state1_share(task, o), (p1, p2), pi1).to_list() for o in labels}
    task.prompt = render_prompt(task)
    return task


def render_prompt(task: Task) -> str:
    pi1, (p1, p2) = task.params["pi1"], task.params["prices"]
    assets = [("X", "state 1", pi1, p1), ("Y", "state 2", 1.0 - pi1, p2)]
    if task.params["swapped"]:
        assets = [("X", "state 2", 1.0 - pi1, p2), ("Y", "state 1", pi1, p1)]
    lines = [f"- Asset {name} costs {money(price, cents=True)} per unit and pays $1 per unit if {state} happens "
             f"({percent(prob)} chance)." for name, state, prob, price in assets]
    menu = []
    for o in task.options:
        spend = SPENDS[LETTERS.index(o)]
        x1, x2 = bundle(state1_share(task, o), (p1, p2))
        pay = {"state 1": x1, "state 2": x2}
        menu.append(f"{o}: {money(spend)} on X, {money(BUDGET - spend)} on Y (you get {money(round(pay[assets[0][1]], 2))} "
                    f"if {assets[0][1]} happens, {money(round(pay[assets[1][1]], 2))} if {assets[1][1]} happens)")
    return (
        f"You have {money(SAVINGS)} in savings, which you keep whatever happens, and {money(BUDGET)} to spend on two "
        "assets. Exactly one of two states will happen.\n" + "\n".join(lines) + "\n"
        f"How much of the {money(BUDGET)} do you spend on asset X? The rest buys asset Y.\n" + "\n".join(menu)
    )


def generate(n: int, rng: np.random.Generator) -> list[Task]:
    """n budgets, each in both listing orders: state 1's probability 1/2 for the first third, 0.3 or 0.7
    otherwise (equal and unequal states, as in Choi et al.); prices on a 5-cent grid from $0.40 to $2.00,
    so a state pays $50 to $250 when the whole budget goes to its security."""
    tasks = []
    for i in range(n):
        pi1 = 0.5 if i < n / 3 else float(rng.choice([0.3, 0.7]))
        prices = tuple(float(p) for p in np.round(rng.uniform(0.4, 2.0, 2) / 0.05) * 0.05)
        tasks += [make(pi1, prices), make(pi1, prices, swapped=True)]
    return tasks


def crra_share(r, pi1, prices, wealth: float = SAVINGS):
    """The share of the budget CRRA(r) spends on security 1 (vectorised; r > 0): interior first-order
    condition (W + x1) / (W + x2) = (π1·p2 / (π2·p1))^(1/r), on the budget line, clipped to the corners."""
    r, pi1 = np.asarray(r, dtype=float), np.asarray(pi1, dtype=float)
    p1, p2 = np.asarray(prices, dtype=float).T
    k = (pi1 * p2 / ((1 - pi1) * p1)) ** (1 / r)
    x2 = (BUDGET - p1 * wealth * (k - 1)) / (p1 * k + p2)
    return np.clip(1 - p2 * x2 / BUDGET, 0.0, 1.0)


def demand(task: Task, pref: RiskPreference) -> float:
    """The share of the budget on security 1 that `pref` likes best (closed form for CRRA with r > 0,
    numerical maximisation along the line otherwise)."""
    pi1, prices = task.params["pi1"], task.params["prices"]
    if type(pref) is CRRA and pref.r > 0:
        return float(crra_share(pref.r, pi1, [prices])[0])

    def loss(s):
        return -pref.value(lottery(s, prices, pi1), task.wealth)

    grid = np.linspace(0, 1, 201)  # a grid first: prospect theory and convex utilities need not be concave on the line
    best = grid[np.argmin([loss(s) for s in grid])]
    step = grid[1]
    res = minimize_scalar(loss, bounds=(max(best - step, 0), min(best + step, 1)), method="bounded",
                          options={"xatol": 1e-10})
    return float(res.x if res.fun <= loss(best) else best)


def solve(task: Task, pref: RiskPreference) -> Task:
    """Each allocation's value under `pref`, the best one, and the exact demand off the grid (`demand`)."""
    task.preference = pref.spec()
    task.utilities = {label: pref.value(lot, task.wealth) for label, lot in task.lotteries().items()}
    task.optimal = max(task.utilities, key=task.utilities.get)
    task.params["demand"] = demand(task, pref)
    return task


def spend(text: str) -> float | None:
    """Dollars on asset X named by an answer: a letter's amount, or one amount ("$30", "30%", "$42.50")."""
    return letter_or_amount(text, LETTERS, SPENDS, lambda t: (float(re.sub(r"[^\d.]", "", m)) for m in AMOUNT.findall(t)),
                            BUDGET)


def parse(text: str) -> str | None:
    """The allocation nearest the answer's amount (the battery reads the exact amount with `spend`)."""
    amount = spend(text)
    return None if amount is None else LETTERS[int(np.argmin(np.abs(SPENDS - amount)))]


def answer(task: Task, pref: RiskPreference, noise: float, rng: np.random.Generator) -> str:
    """A simulated agent's written answer: an amount on X drawn by contextual-utility logit over 201 points of
    the line (its exact demand when noise = 0)."""
    from econalign.preferences.choice import lottery_menu_probabilities

    best = demand(task, pref)
    shares = np.union1d(np.linspace(0, 1, 201), [best])
    menu = [lottery(s, task.params["prices"], task.params["pi1"]) for s in shares]
    probs = lottery_menu_probabilities(pref, [menu], [task.wealth], noise)[0]
    share = best if noise <= 0 else rng.choice(shares, p=probs)
    first = 1.0 - share if task.params["swapped"] else share
    return f"${first * BUDGET:.8f}"  # not to the cent: rounding would move it off the exact demand
