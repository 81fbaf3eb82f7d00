"""`econalign profile --battery budget`: allocations between two Arrow securities (Choi et al. 2007), tested for
consistency with utility maximisation (GARP, CCEI, Houtman–Maks) and fitted by CRRA demand.

Each choice is a point on its budget line: from logits, the expected allocation over the eleven lettered
allocations; from a generated answer, the amount it names. Every item is one observation of the revealed
preference tests, so answers that change with the listing order count against consistency. CRRA r and the
logit noise are fitted by maximum likelihood to the choices among the lettered allocations.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from econalign import EconalignError  # noqa: E402
from econalign.measure.battery import Battery  # noqa: E402
from econalign.measure.estimate import fit_lottery_menus, nan_to_none  # noqa: E402
from econalign.measure.report import fmt  # noqa: E402
from econalign.measure.revealed import Data, indices  # noqa: E402
from econalign.measure.verdict import budget_verdict  # noqa: E402
from econalign.preferences import Lottery  # noqa: E402
from econalign.tasks import budget  # noqa: E402
from econalign.tasks.base import Task  # noqa: E402

BUDGETS = 25
SEED = 19


def budget_battery() -> list[Task]:
    return budget.generate(BUDGETS, np.random.default_rng(SEED))


def chosen_amount(record: dict, read, grid: np.ndarray) -> float | None:
    """The amount a generated answer names (`read` from its text, exactly), else the expected amount over the
    lettered allocations (`grid`: each letter's amount, in letter order)."""
    if record["answer"] is not None:
        return read(record["answer"])
    return float(np.dot(record["probs"], grid[: len(record["probs"])])) if record["probs"] else None


def results_table(tasks: list[Task], records: list[dict]) -> pd.DataFrame:
    by_id = {r["id"]: r for r in records}
    rows = []
    for t in tasks:
        rec = by_id[t.id]
        spend = chosen_amount(rec, budget.spend, budget.SPENDS)  # dollars on the first-listed asset
        first = None if spend is None else spend / budget.BUDGET
        share = None if first is None else (1.0 - first if t.params["swapped"] else first)
        p1, p2 = t.params["prices"]
        x1, x2 = budget.bundle(share, (p1, p2)) if share is not None else (None, None)
        rows.append({"id": t.id, "pi1": t.params["pi1"], "p1": p1, "p2": p2, "log_price_ratio": np.log(p1 / p2),
                     "swapped": t.params["swapped"], "share_first": first, "share1": share, "x1": x1, "x2": x2,
                     "probs": rec["probs"], "mass": rec["mass"], "answer": rec["answer"]})
    return pd.DataFrame(rows).astype({"share_first": float, "share1": float, "x1": float, "x2": float, "mass": float})


def revealed(table: pd.DataFrame) -> dict:
    """GARP, CCEI and Houtman–Maks within each state-probability treatment (state 1's probability π or 1 - π
    with the states relabelled; bundles under different probabilities are ranked by different preferences),
    and over all: violations and pairs summed, the smallest CCEI, the share of choices kept."""
    rows = table.dropna(subset=["share1"])
    low = rows["pi1"] < 0.5  # relabel the states so that state 1 is the likelier one
    prices = np.where(low.to_numpy()[:, None], rows[["p2", "p1"]].to_numpy(), rows[["p1", "p2"]].to_numpy())
    bundles = np.where(low.to_numpy()[:, None], rows[["x2", "x1"]].to_numpy(), rows[["x1", "x2"]].to_numpy())
    treatment = np.maximum(rows["pi1"], 1 - rows["pi1"]).to_numpy()
    groups = {f"{pi:g}": indices(Data.of(prices[treatment == pi], bundles[treatment == pi]))
              for pi in np.unique(treatment)}
    total = {key: sum(g[key] for g in groups.values()) for key in ("observations", "pairs", "garp_violations")}
    return {**total, "ccei": min(g["ccei"] for g in groups.values()),
            "houtman_maks": sum(g["houtman_maks"] * g["observations"] for g in groups.values()) / total["observations"],
            "by_probability": groups}


def fit_crra(tasks: list[Task], table: pd.DataFrame) -> dict:
    """CRRA r and the logit noise by maximum likelihood over the eleven lettered allocations (y: their
    probabilities from logits, or one-hot on the letter nearest a named amount), the contextual-utility logit
    of the other batteries over k options: noise spreads the choices without moving r, where least squares on
    the expected share read the pull towards the middle of the line as risk aversion."""
    answered = [i for i, probs in enumerate(table["probs"]) if probs is not None]
    menus = [[Lottery.from_list(tasks[i].params["options"][o]) for o in tasks[i].options] for i in answered]
    y = np.array([table["probs"][i] for i in answered])
    return fit_lottery_menus("crra", menus, [tasks[i].wealth for i in answered], y).to_dict()


def order_gap(table: pd.DataFrame, column: str = "share1") -> float | None:
    """Mean |difference| in `column` (by default the share on state 1's security) between a budget's two
    listing orders (ids `...` and `...-swap`)."""
    key = table["id"].str.removesuffix("-swap")
    gaps = table.groupby(key)[column].agg(lambda s: s.max() - s.min() if s.notna().all() else np.nan)
    return nan_to_none(float(gaps.mean())) if gaps.notna().any() else None


def demand_figure(summary: dict, table: pd.DataFrame):
    """Chosen share on state 1's security against ln(p1/p2), one colour per state probability, with the
    fitted CRRA demand drawn at the battery's average price level."""
    fig, ax = plt.subplots(figsize=(6, 4))
    fit = summary["estimates"]["crra"]["params"]["r"]
    r = fit["value"] if fit["ci95"] is not None and fit["value"] > 0 else None  # no line from a bound or corner fit
    level = float(np.exp(np.log(table[["p1", "p2"]].to_numpy()).mean()))
    z = np.linspace(table["log_price_ratio"].min(), table["log_price_ratio"].max(), 200)
    curve_prices = np.column_stack([level * np.exp(z / 2), level * np.exp(-z / 2)])
    for (pi1, rows), color in zip(table.groupby("pi1"), ("tab:blue", "black", "tab:red")):
        ax.scatter(rows["log_price_ratio"], rows["share1"], s=18, color=color, label=f"π1 = {pi1:g}")
        if r is not None:
            ax.plot(z, budget.crra_share(r, np.full_like(z, pi1), curve_prices), color=color, lw=1)
    ax.set(xlabel="ln(p1 / p2)", ylabel="share of the budget on state 1", ylim=(-0.03, 1.03),
           title=f"{summary['model']}: " + (f"lines = fitted CRRA r = {r:.2f}" if r else "no identified interior CRRA fit"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def consistency_rows(summary: dict) -> pd.DataFrame:
    rp = summary["revealed"]
    parts = [*((f"π = {pi} (or {1 - float(pi):g})" if pi != "0.5" else "π = 0.5", g) for pi, g in rp["by_probability"].items()),
             ("all", rp)]
    return pd.DataFrame([{"state probabilities": name, **consistency_row(g)} for name, g in parts])


def consistency_row(g: dict) -> dict:
    """One data set's revealed-preference figures (`revealed.indices`) as table cells."""
    return {"choices": g["observations"], "GARP violations": f"{g['garp_violations']} of {g['pairs']} pairs",
            "CCEI": fmt(g["ccei"], 3), "Houtman–Maks": fmt(g["houtman_maks"], 3)}


def require_answers(table: pd.DataFrame, column: str, model: str, csv, what: str) -> None:
    """Refuse a run in which fewer than two answers could be read into `column`: nothing to test."""
    if table[column].notna().sum() < 2:
        raise EconalignError(f"fewer than two {what} answers of {model} could be read ({int(table[column].isna().sum())} "
                             f"of {len(table)} unparsed; answers in {csv}): nothing to test")


def revealed_headline(rp: dict) -> dict[str, float | None]:
    return {"GARP violations (pairs)": rp["garp_violations"], "CCEI": rp["ccei"], "Houtman–Maks": rp["houtman_maks"]}


class BudgetBattery(Battery):
    name = "budget"
    title = "Budget profile"
    estimates_title = "CRRA r and logit noise fitted to the choices among the lettered allocations (maximum likelihood)"

    def tasks(self, quick: bool) -> list[Task]:
        return budget_battery()  # one size: 50 items

    def results(self, tasks: list[Task], records: list[dict]) -> pd.DataFrame:
        return results_table(tasks, records)

    def check(self, table: pd.DataFrame, model: str, csv) -> None:
        require_answers(table, "share1", model, csv, "budget")

    def summarize(self, tasks: list[Task], table: pd.DataFrame) -> dict:
        return {
            "position_bias": {"share_first_asset": nan_to_none(float(table["share_first"].mean())),
                              "order_gap": order_gap(table)},
            "estimates": {"crra": fit_crra(tasks, table)},
            "revealed": revealed(table),
        }

    def verdict(self, summary: dict) -> str:
        return budget_verdict(summary)

    def facts(self, summary: dict) -> list[tuple[str, str]]:
        pb = summary["position_bias"]
        return [("position bias", f"share of the budget on the first-listed asset {fmt(pb['share_first_asset'], 3)} "
                                  f"(0.5 without a lean); same budget, other order: shares {fmt(pb['order_gap'], 3)} apart")]

    def tables(self, summary: dict) -> dict[str, pd.DataFrame]:
        return {"Consistency with utility maximisation": consistency_rows(summary)}

    def figures(self, summary: dict, table: pd.DataFrame) -> dict:
        return {"demand.png": ("Demand for the state-1 security against its relative price", demand_figure(summary, table))}

    def terminal(self, summary: dict) -> dict[str, pd.DataFrame]:
        return {"consistency with utility maximisation": consistency_rows(summary)}

    def headline(self, summary: dict) -> dict[str, float | None]:
        rp, pb = summary["revealed"], summary["position_bias"]
        return {**revealed_headline(rp), "share on the first-listed asset": pb["share_first_asset"]}
