"""What a battery is: one shape for every set of one-shot decisions that `econalign profile` measures.

A battery names its items, turns the scored records into its per-item results table, summarises
them (estimates with intervals and its own figures), words its verdict and lays out its report
(facts, plots, tables). `measure/profile.py` runs any battery the same way: score the items
resumably, check, summarise, write results.csv, report.html and summary.json. A new battery is one
new module with a Battery subclass, added to BATTERIES below.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from econalign import EconalignError
from econalign.tasks.base import Task


class Battery:
    """The interface; each method's docstring says what the runner expects of it."""

    name = ""
    title = ""  # the report's heading: "<title> of <model>"
    estimates_title = "Maximum-likelihood estimates (contextual-utility logit noise)"

    def tasks(self, quick: bool) -> list[Task]:
        """The items, in a fixed order (the full battery, or a short one where `quick`)."""
        raise NotImplementedError

    def results(self, tasks: list[Task], records: list[dict]) -> pd.DataFrame:
        """results.csv: one row per item from the scored records (`id`, `probs`, `y`, `mass`, `answer`)."""
        raise NotImplementedError

    def check(self, table: pd.DataFrame, model: str, csv: Path) -> None:
        """Raise EconalignError if nothing can be estimated from the answers (results.csv is kept)."""

    def summarize(self, tasks: list[Task], table: pd.DataFrame) -> dict:
        """The battery's summary keys: `estimates` (model -> params with value, se, ci95, on_bound; may be empty),
        `position_bias` and its own figures."""
        raise NotImplementedError

    def verdict(self, summary: dict) -> str:
        """One or two plain sentences drawn from the summary (wording rules in measure/verdict.py)."""
        raise NotImplementedError

    def facts(self, summary: dict) -> list[tuple[str, str]]:
        """The report's fact list beyond model, method, answers, timings and tokens."""
        return []

    def tables(self, summary: dict) -> dict[str, pd.DataFrame]:
        """The report's tables beyond the estimates, by title."""
        return {}

    def figures(self, summary: dict, table: pd.DataFrame) -> dict:
        """The report's plots: file name -> (caption, matplotlib figure), the key plot first."""
        return {}

    def terminal(self, summary: dict) -> dict[str, pd.DataFrame]:
        """The tables the command line prints after the verdict and the estimates."""
        return {}

    def headline(self, summary: dict) -> dict[str, float | None]:
        """The figures `econalign compare` sets side by side, beyond the estimates and the answer mass."""
        return {}


def batteries() -> dict[str, Battery]:
    from econalign.measure.risk import RiskBattery
    from econalign.measure.budget import BudgetBattery
    from econalign.measure.consistency import ConsistencyBattery
    from econalign.measure.giving import GivingBattery
    from econalign.measure.social import SocialBattery

    return {b.name: b for b in (RiskBattery(), SocialBattery(), BudgetBattery(), GivingBattery(), ConsistencyBattery())}


def get_battery(name: str) -> Battery:
    known = batteries()
    if name not in known:
        raise EconalignError(f"unknown battery {name!r}; use one of {', '.join(known)}")
    return known[name]
