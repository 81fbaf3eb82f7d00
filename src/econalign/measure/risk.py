"""The risk battery: psychometric curves of a sure amount against a gamble (gains, losses), mixed gambles,
Holt–Laury lists and persona prompts; CRRA and prospect-theory estimates.

Every gamble is shown with the sure option first and with the gamble first, so a model's
position bias averages out of the curves and shows up in the report instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from econalign import EconalignError
from econalign.measure.battery import Battery
from econalign.preferences.base import Lottery
from econalign.tasks import gamble, holt_laury
from econalign.tasks.base import Task

PERSONAS = {
    "neutral": "You make financial decisions for yourself. Weigh the options carefully and choose.",
    "risk-averse": (
        "You are a very cautious person who strongly dislikes risk. You prefer a guaranteed amount "
        "over a gamble unless the gamble is clearly better."
    ),
    "gambler": (
        "You are a bold gambler who loves risk and the thrill of a big win. You prefer to gamble "
        "unless the guaranteed amount is clearly better."
    ),
}
STAKE = 1000.0
PERSONA_GAMBLE = Lottery.binary(0.5, STAKE, 0.0)


@dataclass(frozen=True)
class Layout:
    gain_probs: tuple[float, ...]
    gain_lows: tuple[float, ...]
    loss_probs: tuple[float, ...]
    mixed_losses: tuple[float, ...]
    mixed_ratios: tuple[float, ...]
    grid: int
    hl_scales: tuple[float, ...]


QUICK = Layout((0.25, 0.5, 0.75), (0.0, 300.0), (0.5,), (500.0,), (1.0, 1.5, 2.0, 2.5, 3.0, 4.0), 7, (1.0,))
FULL = Layout(
    (0.1, 0.25, 0.5, 0.75, 0.9), (0.0, 300.0), (0.25, 0.5, 0.75), (100.0, 500.0), (1.0, 1.5, 2.0, 2.5, 3.0, 4.0), 9,
    (1.0, 20.0),
)


def curve_name(g: Lottery, persona: str | None = None) -> str:
    name = " / ".join(f"{p:.0%} {x:+,.0f}" for x, p in zip(g.outcomes, g.probs))
    return f"{name} [{persona}]" if persona else name


def mixed_curve_name(loss: float) -> str:
    """One curve per loss L: the gain G varies along it."""
    return f"50% +G / 50% -{loss:,.0f}"


def curve_tasks(g: Lottery, wealth: float, grid: int, persona: str | None = None) -> list[Task]:
    system = PERSONAS[persona] if persona else None
    tasks = [
        gamble.make(g, sure, wealth, sure_first=order, system=system)
        for sure in gamble.sure_grid(g, grid)
        for order in (True, False)
    ]
    return [tag(t, curve_name(g, persona), persona) for t in tasks]


def tag(task: Task, curve: str | None, persona: str | None) -> Task:
    task.params.update(curve=curve, persona=persona)
    if persona:
        task.id = f"{task.id}-{persona}"
    return task


def risk_battery(quick: bool = False) -> list[Task]:
    lay = QUICK if quick else FULL
    tasks: list[Task] = []
    for p in lay.gain_probs:
        for low in lay.gain_lows:
            if low and p != 0.5 and quick:
                continue  # the quick battery has one curve with a non-zero low prize
            tasks += curve_tasks(Lottery.binary(p, STAKE, low), STAKE, lay.grid)
    for p in lay.loss_probs:
        tasks += curve_tasks(Lottery.binary(p, -STAKE, 0.0), 2 * STAKE, lay.grid)
    for loss in lay.mixed_losses:
        for ratio in lay.mixed_ratios:
            g = Lottery.binary(0.5, loss * ratio, -loss)
            tasks += [tag(gamble.make(g, 0.0, STAKE + loss, sure_first=o), mixed_curve_name(loss), None)
                      for o in (True, False)]
    for scale in lay.hl_scales:
        tasks += [tag(t, None, None) for t in holt_laury.generate(scale)]
    for persona in PERSONAS:
        tasks += curve_tasks(PERSONA_GAMBLE, STAKE, lay.grid, persona)
    return tasks


class RiskBattery(Battery):
    name = "risk"
    title = "Risk profile"

    def tasks(self, quick: bool) -> list[Task]:
        from econalign.preferences import ExpectedValue
        from econalign.tasks.base import solve

        ev = ExpectedValue()
        return [solve(t, ev) for t in risk_battery(quick)]

    def results(self, tasks: list[Task], records: list[dict]) -> pd.DataFrame:
        from econalign.measure.analysis import results_table

        return results_table(tasks, records)

    def check(self, table: pd.DataFrame, model: str, csv) -> None:
        if table[(table.family == "gamble") & table.persona.isna()].y.isna().all():
            raise EconalignError(f"no gamble answer of {model} could be parsed ({int(table.y.isna().sum())} of "
                                 f"{len(table)} items unparsed; answers in {csv}): nothing to estimate")

    def summarize(self, tasks: list[Task], table: pd.DataFrame) -> dict:
        from econalign.measure.analysis import summarize

        return summarize(table)

    def verdict(self, summary: dict) -> str:
        from econalign.measure.verdict import risk_verdict

        return risk_verdict(summary)

    def facts(self, summary: dict) -> list[tuple[str, str]]:
        from econalign.measure.report import risk_facts

        return risk_facts(summary)

    def tables(self, summary: dict) -> dict[str, pd.DataFrame]:
        from econalign.measure.report import risk_tables

        return risk_tables(summary)

    def figures(self, summary: dict, table: pd.DataFrame) -> dict:
        from econalign.measure.report import risk_figures

        return risk_figures(summary, table)

    def terminal(self, summary: dict) -> dict[str, pd.DataFrame]:
        from econalign.measure.report import holt_laury_rows

        return {"Holt–Laury multiple price list": holt_laury_rows(summary)}

    def headline(self, summary: dict) -> dict[str, float | None]:
        from econalign.measure.compare import difference

        out = {f"Holt–Laury safe choices ({name})": hl["safe_choices"] for name, hl in summary["holt_laury"].items()}
        out |= {f"indifference {c['curve']}": c["indifference"] for c in summary["indifference"]}
        out |= {f"mixed: gain taken half the time, {m['curve']}": m["threshold"] for m in summary.get("mixed", [])}
        for persona, e in summary["personas"].items():
            out[f"persona {persona} P(accept) shift"] = e["shift_vs_neutral"]["mean_p_accept"]
            out[f"persona {persona} indifference shift"] = e["shift_vs_neutral"]["indifference"]
        out["logit vs EV difference (Pearson)"] = summary["logit_vs_utility"]["ev"]["pearson"]
        pb = summary["position_bias"]
        out["P(accept) sure first − gamble first"] = difference(pb["p_accept_sure_first"], pb["p_accept_gamble_first"])
        return out
