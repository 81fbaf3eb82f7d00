"""`econalign profile --battery giving`: tokens divided between self and another person at varying prices of
giving (Andreoni & Miller 2002), tested for consistency with utility maximisation and fitted by homo moralis
and Fehr–Schmidt.

Each choice is a point on its budget line own + p·other = income: from logits, the expected allocation over
the eleven lettered allocations; from a generated answer, the number of tokens it names. As in Andreoni and
Miller, the (own, other) payoffs are the bundles and (1, p) their prices for GARP, CCEI and Houtman–Maks;
every item is one observation, so answers that change with the listing order count against consistency.
κ and Fehr–Schmidt (α, β) with the logit noise are fitted by maximum likelihood to the choices among the
lettered allocations, as in the social battery. Fehr–Schmidt α never moves the exact demand on a budget
line (tasks/giving.py): it is seen only in how rarely noisy choices pass beyond equal payoffs.
"""

from __future__ import annotations

from fractions import Fraction

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from econalign.measure.battery import Battery  # noqa: E402
from econalign.measure.budget import (  # noqa: E402
    chosen_amount,
    consistency_row,
    order_gap,
    require_answers,
    revealed_headline,
)
from econalign.measure.estimate import SOCIAL_MODELS, nan_to_none  # noqa: E402
from econalign.measure.report import fmt  # noqa: E402
from econalign.measure.revealed import Data, indices  # noqa: E402
from econalign.measure.social import estimates, reference_level  # noqa: E402
from econalign.measure.verdict import giving_verdict, identified  # noqa: E402
from econalign.preferences.choice import Menus, menu_probabilities  # noqa: E402
from econalign.tasks import giving  # noqa: E402
from econalign.tasks.base import Task  # noqa: E402

# Token values (kept, passed): prices of giving 1/4 to 4, each with equal payoffs at a whole number of tokens,
# so that the Leontief demand of inequity aversion is one of the allocations; four incomes at each price.
VALUES = ((1, 4), (3, 7), (2, 3), (1, 1), (3, 2), (7, 3), (4, 1))
SCALES = (1, 2, 3, 4)
# Andreoni and Miller's three types, as exact preferences: keeps everything; equal payoffs at every price
# (β / (1 - β) = 9 > 4); all to whoever's token is worth more (the sum of payoffs).
TYPES = {"selfish": "homo-economicus", "Leontief": "fs:alpha=0.9,beta=0.9", "perfect substitutes": "homo-kantiensis"}
PASSED = np.arange(giving.TOKENS + 1)  # tokens of the asked kind, letter by letter


def giving_battery() -> list[Task]:
    return [giving.make((k * a, k * b), swapped) for a, b in VALUES for k in SCALES for swapped in (False, True)]


def results_table(tasks: list[Task], records: list[dict]) -> pd.DataFrame:
    by_id = {r["id"]: r for r in records}
    rows = []
    for t in tasks:
        rec = by_id[t.id]
        asked = chosen_amount(rec, giving.tokens, PASSED)  # tokens passed, or kept where swapped
        position = None if asked is None else asked / giving.TOKENS
        given = None if position is None else (1.0 - position if t.params["swapped"] else position)
        own, other = (None, None) if given is None else giving.payoffs(given * giving.TOKENS, giving.values(t))
        rows.append({"id": t.id, "price": t.params["price"], "keep_value": t.params["keep_value"],
                     "pass_value": t.params["pass_value"], "swapped": t.params["swapped"], "position": position,
                     "given": given, "own": own, "other": other, "probs": rec["probs"], "mass": rec["mass"],
                     "answer": rec["answer"], **{f"given {name}": reference_level(t, spec) for name, spec in TYPES.items()}})
    return pd.DataFrame(rows).astype({"position": float, "given": float, "own": float, "other": float, "mass": float})


def revealed(table: pd.DataFrame) -> dict:
    """GARP, CCEI and Houtman–Maks over the (own, other) payoffs at prices (1, price of giving)."""
    rows = table.dropna(subset=["given"])
    prices = np.column_stack([np.ones(len(rows)), rows["price"]])
    return indices(Data.of(prices, rows[["own", "other"]].to_numpy()))


def mean(x: pd.Series) -> float | None:
    return nan_to_none(float(x.mean())) if x.notna().any() else None


def amounts(table: pd.DataFrame) -> dict:
    """Share of the tokens passed: on average, where giving is cheap (price < 1) and dear (> 1), per price next to
    Andreoni and Miller's types, and how far the model's shares are from each type's (mean absolute gap)."""
    by_price = {price_label(p): {"price": float(p), "model": mean(rows["given"]),
                                 **{name: mean(rows[f"given {name}"]) for name in TYPES}}
                for p, rows in table.groupby("price")}
    answered = table.dropna(subset=["given"])
    gaps = {name: float((answered["given"] - answered[f"given {name}"]).abs().mean()) for name in TYPES}
    return {"mean": mean(table["given"]), "cheap": mean(table.loc[table["price"] < 1, "given"]),
            "dear": mean(table.loc[table["price"] > 1, "given"]), "by_price": by_price, "type_gaps": gaps,
            "nearest_type": min(gaps, key=gaps.get)}


def price_label(price: float) -> str:
    return str(Fraction(price).limit_denominator(10))


def fitted_shares(fit: dict, model: str, prices: np.ndarray) -> np.ndarray | None:
    """Expected share passed under a fitted model and its logit noise at each price (None where a preference
    parameter is not identified); the contextual scale makes it the same at every income."""
    params = fit["params"]
    names = SOCIAL_MODELS[model].names
    if not all(identified(params[n]) for n in names):
        return None
    weights = SOCIAL_MODELS[model].build([params[n]["value"] for n in names])
    menus = Menus.of([[giving.option(n, (p, 1.0)) for n in PASSED] for p in prices])
    return menu_probabilities(weights, menus, params["noise"]["value"]) @ (PASSED / giving.TOKENS)


def giving_figure(summary: dict, table: pd.DataFrame):
    """Share of the tokens passed against the price of giving, both orders, with the fitted models' expected
    demand on top."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for swapped, marker, label in ((False, "o", "asked how many to pass"), (True, "x", "asked how many to keep")):
        rows = table[table["swapped"] == swapped]
        ax.scatter(rows["price"], rows["given"], s=22, marker=marker, color="black", alpha=0.6, label=label)
    prices = np.geomspace(table["price"].min(), table["price"].max(), 200)
    for model, color, name in (("moralis", "tab:blue", "homo moralis κ"), ("fs", "tab:red", "Fehr–Schmidt")):
        shares = fitted_shares(summary["estimates"][model], model, prices)
        if shares is None:
            ax.plot([], [], color=color, label=f"{name}: not identified")
        else:
            ax.plot(prices, shares, color=color, lw=1.5, label=f"{name} fit ({fit_label(summary['estimates'][model])})")
    ax.set_xscale("log")
    ticks = sorted(table["price"].unique())
    ax.set_xticks(ticks, [price_label(p) for p in ticks])
    ax.minorticks_off()
    ax.set(xlabel="price of giving (value of a token kept / passed)", ylabel="share of the tokens passed",
           ylim=(-0.03, 1.03), title=summary["model"])
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


SYMBOLS = {"kappa": "κ", "alpha": "α", "beta": "β"}


def fit_label(fit: dict) -> str:
    return ", ".join(f"{SYMBOLS.get(k, k)} {v['value']:.2f}" for k, v in fit["params"].items())


def consistency_rows(summary: dict) -> pd.DataFrame:
    return pd.DataFrame([{"budgets": "all", **consistency_row(summary["revealed"])}])


def price_rows(summary: dict) -> pd.DataFrame:
    return pd.DataFrame([{"price of giving": label, **{k: fmt(v, 2) for k, v in row.items() if k != "price"}}
                         for label, row in summary["giving"]["by_price"].items()])


class GivingBattery(Battery):
    name = "giving"
    title = "Giving profile"
    estimates_title = "Homo moralis κ and Fehr–Schmidt (α, β) fitted to the choices among the lettered allocations"

    def tasks(self, quick: bool) -> list[Task]:
        return giving_battery()  # one size: 56 items

    def results(self, tasks: list[Task], records: list[dict]) -> pd.DataFrame:
        return results_table(tasks, records)

    def check(self, table: pd.DataFrame, model: str, csv) -> None:
        require_answers(table, "given", model, csv, "giving")

    def summarize(self, tasks: list[Task], table: pd.DataFrame) -> dict:
        return {
            "position_bias": {"position": mean(table["position"]), "order_gap": order_gap(table, "given")},
            "estimates": estimates(tasks, table),
            "revealed": revealed(table),
            "giving": amounts(table),
        }

    def verdict(self, summary: dict) -> str:
        return giving_verdict(summary)

    def facts(self, summary: dict) -> list[tuple[str, str]]:
        pb = summary["position_bias"]
        return [("position bias", f"mean place of the chosen allocation in the list {fmt(pb['position'], 3)} (0 the first "
                                  f"letter, 1 the last; 0.5 without a lean); same budget, other order: shares passed "
                                  f"{fmt(pb['order_gap'], 3)} apart")]

    def tables(self, summary: dict) -> dict[str, pd.DataFrame]:
        return {"Consistency with utility maximisation": consistency_rows(summary),
                "Share of the tokens passed by price of giving: the model and Andreoni and Miller's types":
                    price_rows(summary)}

    def figures(self, summary: dict, table: pd.DataFrame) -> dict:
        return {"giving.png": ("Share of the tokens passed against the price of giving", giving_figure(summary, table))}

    def terminal(self, summary: dict) -> dict[str, pd.DataFrame]:
        return {"consistency with utility maximisation": consistency_rows(summary),
                "share passed by price of giving": price_rows(summary)}

    def headline(self, summary: dict) -> dict[str, float | None]:
        g = summary["giving"]
        return {**revealed_headline(summary["revealed"]), "share passed": g["mean"], "share passed (price < 1)": g["cheap"],
                "share passed (price > 1)": g["dear"], "mean place in the list": summary["position_bias"]["position"]}
