"""Holt & Laury (2002) multiple price list: ten rows, safe A ($2.00/$1.60) vs risky B ($3.85/$0.10).

In row k the high prize comes with probability k/10. The number of safe (A) choices before the
switch brackets the CRRA coefficient: in row k the chooser is indifferent at r = boundary(k).
"""

from __future__ import annotations

import math
from functools import cache

from scipy.optimize import brentq

from econalign.preferences.base import Lottery
from econalign.preferences.crra import CRRA
from econalign.tasks.base import Task, parse_letter
from econalign.tasks.pair import render_prompt

FAMILY = "holt_laury"
OPTIONS = ["A", "B"]
INSTRUCTION = "Answer with one letter: A or B."
SAFE = (2.00, 1.60)
RISKY = (3.85, 0.10)
ROWS = 10


def lotteries(row: int, scale: float = 1.0) -> tuple[Lottery, Lottery]:
    p = row / ROWS
    return (
        Lottery.binary(p, SAFE[0] * scale, SAFE[1] * scale),
        Lottery.binary(p, RISKY[0] * scale, RISKY[1] * scale),
    )


def make(row: int, scale: float = 1.0, system: str | None = None) -> Task:
    a, b = lotteries(row, scale)
    return Task(
        id=f"{FAMILY}-x{scale:g}-row{row:02d}",
        family=FAMILY,
        params={"row": row, "scale": float(scale), "wealth": 0.0, "options": {"A": a.to_list(), "B": b.to_list()}},
        prompt=render_prompt(a, b, cents=True),
        options=list(OPTIONS),
        instruction=INSTRUCTION,
        system=system,
    )


def generate(scale: float = 1.0, system: str | None = None) -> list[Task]:
    return [make(row, scale, system) for row in range(1, ROWS + 1)]


def parse(text: str) -> str | None:
    return parse_letter(text, OPTIONS)


@cache
def boundary(row: int) -> float:
    """The CRRA r at which row `row` leaves the chooser indifferent (rows 1-9; row 10 has none)."""
    a, b = lotteries(row)

    def gap(r):
        u = CRRA(r)
        return u.value(a) - u.value(b)

    return brentq(gap, -5.0, 5.0, xtol=1e-10)


def safe_choices(preference, scale: float = 1.0) -> int:
    """Safe choices of an exact chooser: the rows where A is strictly preferred."""
    return sum(preference.value(a) > preference.value(b) for a, b in (lotteries(k, scale) for k in range(1, ROWS + 1)))


def crra_interval(n_safe: int) -> tuple[float, float]:
    """CRRA r consistent with choosing A in rows 1..n and B after (Holt & Laury 2002, Table 3)."""
    if not 0 <= n_safe <= ROWS:
        raise ValueError(f"safe choices must be 0..{ROWS}, got {n_safe}")
    # A in row 10 (a sure $2.00 over a sure $3.85) fits no CRRA r: like Table 3, count 9-10 together.
    lo = -math.inf if n_safe == 0 else boundary(min(n_safe, ROWS - 1))
    hi = math.inf if n_safe >= ROWS - 1 else boundary(n_safe + 1)
    return lo, hi
