"""`econalign profile --battery consistency`: does a model's choice survive changes that should not matter?

Items (180): 20 lottery triples (tasks/pair.py: a risk ladder of three gains lotteries with expected values
within 5% of each other), each of the three pairs asked in both listing orders (120), and 15 gain/loss frame
problems (Tversky & Kahneman 1981) in the risk battery's sure-vs-gamble wording, each frame in both orders
(60). A frame problem is one decision over final wealth told twice: "You have $1,000": a sure +S, or +$1,000
with probability p (else $0); and "You have $2,000": a sure −($1,000 − S), or −$1,000 with probability 1 − p
(else $0). Any preference over final wealth (CRRA) answers both frames alike; prospect theory judges the
outcomes as gains and as losses and takes the sure option in the first, the gamble in the second, where
p^(1/α) < S/$1,000 < 1 − (1 − p)^(1/β) (without probability weighting).

Every pair (a triple's pair, or one frame of a problem) has a reference option, X (the riskier lottery of a
triple pair, the sure option of a frame), and q1, q2 = P(choose X) with X listed first and second: from
logits the option probabilities, from a generated answer 0 or 1. Then, per unit:

- order flip (a pair): q1(1 − q2) + q2(1 − q1), the probability that the two orders, each answered
  independently, choose different options; for generated answers, 1 where they did;
- frame flip (a problem): the same between its gain and its loss frame, in the same listing order, averaged
  over the two orders (a pure position bias then flips no frame);
- majority cycle (a triple): with each pair's order-averaged q = (q1 + q2)/2 taken as its choice, the three
  choices form a cycle (X1 ≻ X2 ≻ X3 ≻ X1 or the reverse); a pair at exactly ½ decides nothing, so it
  makes no cycle;
- cycle probability (a triple): P(cycle) when each pair is chosen independently with its q:
  q12·q23·(1 − q13) + (1 − q12)(1 − q23)·q13; ¼ for a coin-flip chooser and above 0 for any noisy one,
  transitive or not, so it is read against the agent's noise (a noisy CRRA agent has no majority cycle).

Each rate is the mean over its units (answered units: a pair needs both orders, a triple all six items)
with a 95% Wilson score interval over the units, the mean in place of the success share: for 0/1 units
it is the usual Wilson interval, for probabilities it is conservative, since a variable in [0, 1] with
mean m has variance at most m(1 − m). The frame shift, mean P(sure | gain) − P(sure | loss) over the
problems (positive: Tversky & Kahneman's reflection), has a percentile bootstrap interval over problems.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from econalign import EconalignError  # noqa: E402
from econalign.measure.battery import Battery  # noqa: E402
from econalign.measure.estimate import Z95  # noqa: E402
from econalign.measure.report import fmt  # noqa: E402
from econalign.measure.verdict import consistency_verdict  # noqa: E402
from econalign.preferences.base import Lottery  # noqa: E402
from econalign.tasks import gamble, pair  # noqa: E402
from econalign.tasks.base import Task  # noqa: E402

TRIPLES = 20
SEED = 19
STAKE = 1000.0  # the gamble's prize and the gain frame's endowment, as in the risk battery
FRAME_PROBS = (0.25, 0.5, 0.75)
FRAME_SURE = (0.8, 0.9, 1.0, 1.1, 1.2)  # sure amount / the gamble's expected value
PAIRS = ((0, 1), (0, 2), (1, 2))
BOOTSTRAP = 2000


def tag(task: Task, item: str, problem: int, unit: str, x_first: bool) -> Task:
    """`unit` names the pair within its problem (a triple's "12", a frame's "gain"); X is its reference option."""
    task.params.update(item=item, problem=problem, unit=unit, x_first=x_first)
    return task


def triple_tasks(rng: np.random.Generator) -> list[Task]:
    tasks = []
    for k in range(TRIPLES):
        lots = pair.triple(rng)
        for i, j in PAIRS:  # X is lots[i], the riskier lottery
            unit = f"{i + 1}{j + 1}"
            tasks += [tag(pair.make(lots[i], lots[j]), "triple", k, unit, True),
                      tag(pair.make(lots[j], lots[i]), "triple", k, unit, False)]
    return tasks


def frame_problems() -> list[tuple[float, float]]:
    """(p, S): the gamble's chance of the prize and the sure gain."""
    return [(p, round(p * STAKE * k)) for p in FRAME_PROBS for k in FRAME_SURE]


def frame_tasks() -> list[Task]:
    tasks = []
    for k, (p, sure) in enumerate(frame_problems()):
        frames = {"gain": (Lottery.binary(p, STAKE, 0.0), sure, STAKE),
                  "loss": (Lottery.binary(1 - p, -STAKE, 0.0), sure - STAKE, 2 * STAKE)}
        for name, (lot, amount, wealth) in frames.items():
            tasks += [tag(gamble.make(lot, amount, wealth, sure_first=first), "frame", k, name, first)
                      for first in (True, False)]
    return tasks


def consistency_battery() -> list[Task]:
    return triple_tasks(np.random.default_rng(SEED)) + frame_tasks()


def x_option(task: Task) -> str:
    if task.params["item"] == "frame":
        return "accept"  # the sure option, whichever is listed first
    return "A" if task.params["x_first"] else "B"


def results_table(tasks: list[Task], records: list[dict]) -> pd.DataFrame:
    """One row per item: p_x = P(choose X), p_first = P(choose the first-listed option)."""
    by_id = {r["id"]: r for r in records}
    rows = []
    for t in tasks:
        rec = by_id[t.id]
        p_x = rec["probs"][t.options.index(x_option(t))] if rec["probs"] else None
        p_first = None if p_x is None else p_x if t.params["x_first"] else 1.0 - p_x
        rows.append({"id": t.id, **{k: t.params[k] for k in ("item", "problem", "unit", "x_first")},
                     "p_x": p_x, "p_first": p_first, "probs": rec["probs"], "mass": rec["mass"], "answer": rec["answer"]})
    return pd.DataFrame(rows).astype({"p_x": float, "p_first": float, "mass": float})


def by_order(table: pd.DataFrame) -> pd.DataFrame:
    """One row per pair (item, problem, unit): q1, q2 = P(X) with X listed first, second."""
    wide = table.set_index(["item", "problem", "unit", "x_first"])["p_x"].unstack("x_first")
    return wide.rename(columns={True: "q1", False: "q2"}).reset_index()[["item", "problem", "unit", "q1", "q2"]]


def disagree(a, b):
    """P(two independent choices, with P(X) = a and b, differ)."""
    return a * (1 - b) + b * (1 - a)


def cycle_probability(q12, q13, q23):
    return q12 * q23 * (1 - q13) + (1 - q12) * (1 - q23) * q13


def majority_cycle(q12, q13, q23):
    return ((q12 > 0.5) & (q23 > 0.5) & (q13 < 0.5)) | ((q12 < 0.5) & (q23 < 0.5) & (q13 > 0.5))


def wilson(mean: float, n: int) -> list[float]:
    """95% Wilson score interval for a share `mean` of n units."""
    z2 = Z95**2
    centre = (mean + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(mean * (1 - mean) / n + z2 / (4 * n**2)) / (1 + z2 / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def rate(units) -> dict:
    """Mean of per-unit values in [0, 1] (NaN: unanswered, left out) with its Wilson interval."""
    v = np.asarray(units, dtype=float)
    v = v[~np.isnan(v)]
    if not len(v):
        return {"value": None, "ci95": None, "n": 0}
    mean = float(v.mean())
    return {"value": mean, "ci95": wilson(mean, len(v)), "n": len(v)}


def bootstrap_mean(units, seed: int = 0) -> dict:
    """Mean with a 95% percentile bootstrap interval over the units (NaN left out)."""
    v = np.asarray(units, dtype=float)
    v = v[~np.isnan(v)]
    if not len(v):
        return {"value": None, "ci95": None, "n": 0}
    means = np.random.default_rng(seed).choice(v, (BOOTSTRAP, len(v))).mean(axis=1)
    return {"value": float(v.mean()), "ci95": [float(x) for x in np.percentile(means, [2.5, 97.5])], "n": len(v)}


def transitivity(pairs: pd.DataFrame) -> dict:
    q = pairs[pairs["item"] == "triple"].assign(q=lambda d: (d["q1"] + d["q2"]) / 2)
    q = q.pivot(index="problem", columns="unit", values="q").dropna()
    cycles = majority_cycle(q["12"], q["13"], q["23"])
    return {"triples": len(q), "cycles": int(cycles.sum()), "cycle_rate": rate(cycles.astype(float)),
            "cycle_probability": rate(cycle_probability(q["12"], q["13"], q["23"]))}


def frames(pairs: pd.DataFrame) -> tuple[dict, dict]:
    """Frame flips (same listing order, averaged over the orders) and the frame shift, over problems."""
    f = pairs[pairs["item"] == "frame"].set_index(["problem", "unit"])[["q1", "q2"]].unstack("unit")
    gain, loss = f.xs("gain", axis=1, level="unit"), f.xs("loss", axis=1, level="unit")
    flips = disagree(gain, loss).mean(axis=1, skipna=False)
    shift = (gain - loss).mean(axis=1, skipna=False)
    return rate(flips), bootstrap_mean(shift)


def summarize(table: pd.DataFrame) -> dict:
    pairs = by_order(table)
    flips = disagree(pairs["q1"], pairs["q2"])
    frame_flips, frame_shift = frames(pairs)
    lottery, framed = table["item"] == "triple", table["item"] == "frame"
    return {
        "estimates": {},
        "position_bias": {"first_lottery": rate(table.loc[lottery, "p_first"]),
                          "sure_option": rate(table.loc[framed, "p_x"])},
        "transitivity": transitivity(pairs),
        "order_flips": {"all": rate(flips), "lottery_pairs": rate(flips[pairs["item"] == "triple"]),
                        "frames": rate(flips[pairs["item"] == "frame"])},
        "frame_flips": frame_flips,
        "frame_shift": frame_shift,
    }


def figure_rows(summary: dict) -> list[tuple[str, dict, str, float | None]]:
    """(figure, its rate, the units, the value of a chooser that flips a coin for every item)."""
    t, o = summary["transitivity"], summary["order_flips"]
    pb = summary["position_bias"]
    return [
        ("majority cycles", t["cycle_rate"], "triples", None),
        ("cycle probability", t["cycle_probability"], "triples", 0.25),
        ("order flips, all pairs", o["all"], "pairs", 0.5),
        ("order flips, lottery pairs", o["lottery_pairs"], "pairs", 0.5),
        ("order flips, frames", o["frames"], "pairs", 0.5),
        ("frame flips", summary["frame_flips"], "problems", 0.5),
        ("frame shift P(sure | gain) − P(sure | loss)", summary["frame_shift"], "problems", 0.0),
        ("share on the first-listed lottery", pb["first_lottery"], "items", 0.5),
        ("share on the sure option (frames)", pb["sure_option"], "items", 0.5),
    ]


def interval_text(ci) -> str:
    return f"[{fmt(ci[0], 3)}, {fmt(ci[1], 3)}]" if ci else "—"


def consistency_rows(summary: dict) -> pd.DataFrame:
    return pd.DataFrame([{"figure": name, "value": fmt(r["value"], 3), "95% CI": interval_text(r["ci95"]),
                          "over": f"{r['n']} {units}", "coin-flip chooser": fmt(coin, 2)}
                         for name, r, units, coin in figure_rows(summary)])


def consistency_figure(summary: dict, table: pd.DataFrame):
    """Left: the flip and cycle rates with their intervals, a coin-flip chooser's as diamonds. Right: per pair,
    P(X) with X listed first against X listed second; the diagonal is order-invariant."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    rows = figure_rows(summary)[:6]  # the rates; not the shift or the shares
    values = [r[1]["value"] if r[1]["value"] is not None else np.nan for r in rows]
    errors = np.array([[v - r[1]["ci95"][0], r[1]["ci95"][1] - v] if r[1]["ci95"] else [0, 0]
                       for v, r in zip(values, rows)]).T
    y = np.arange(len(rows))
    left.barh(y, values, xerr=errors, color="tab:blue", capsize=3)
    coin = [np.nan if r[3] is None else r[3] for r in rows]
    left.scatter(coin, y, marker="D", s=30, color="tab:red", label="coin-flip chooser", zorder=3)
    left.set_yticks(y, [r[0] for r in rows], fontsize=8)
    left.invert_yaxis()
    left.set(xlim=(0, 1), xlabel="rate (95% interval)", title=summary["model"])
    left.legend(fontsize=8)
    pairs = by_order(table)
    groups = {"lottery pair: X the riskier": pairs["item"] == "triple",
              "gain frame: X the sure option": pairs["unit"] == "gain",
              "loss frame: X the sure option": pairs["unit"] == "loss"}
    for (label, rows), color, size in zip(groups.items(), ("tab:blue", "tab:green", "tab:red"), (16, 40, 12)):
        right.scatter(pairs.loc[rows, "q1"], pairs.loc[rows, "q2"], s=size, color=color, label=label, alpha=0.7)
    right.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    right.set(xlabel="P(X) with X listed first", ylabel="P(X) with X listed second", xlim=(-0.03, 1.03),
              ylim=(-0.03, 1.03))
    right.legend(fontsize=7)
    fig.tight_layout()
    return fig


class ConsistencyBattery(Battery):
    name = "consistency"
    title = "Consistency profile"

    def tasks(self, quick: bool) -> list[Task]:
        return consistency_battery()  # one size: 180 items

    def results(self, tasks: list[Task], records: list[dict]) -> pd.DataFrame:
        return results_table(tasks, records)

    def check(self, table: pd.DataFrame, model: str, csv) -> None:
        pairs = by_order(table)
        if pairs[["q1", "q2"]].isna().any(axis=1).all():
            raise EconalignError(f"no pair was answered by {model} in both listing orders ({int(table.p_x.isna().sum())} "
                                 f"of {len(table)} answers unparsed; answers in {csv}): nothing to compare")

    def summarize(self, tasks: list[Task], table: pd.DataFrame) -> dict:
        return summarize(table)

    def verdict(self, summary: dict) -> str:
        return consistency_verdict(summary)

    def facts(self, summary: dict) -> list[tuple[str, str]]:
        pb = summary["position_bias"]
        return [("position bias", f"share on the first-listed lottery {fmt(pb['first_lottery']['value'], 3)}, on the "
                                  f"sure option of a frame {fmt(pb['sure_option']['value'], 3)} (0.5 without a lean)")]

    def tables(self, summary: dict) -> dict[str, pd.DataFrame]:
        return {"Transitivity, listing order and framing (95% Wilson intervals over units; the frame shift's: "
                "bootstrap)": consistency_rows(summary)}

    def figures(self, summary: dict, table: pd.DataFrame) -> dict:
        return {"consistency.png": ("Cycles and flips with their 95% intervals; each pair's choice in both listing "
                                    "orders", consistency_figure(summary, table))}

    def terminal(self, summary: dict) -> dict[str, pd.DataFrame]:
        return {"transitivity, listing order and framing": consistency_rows(summary)}

    def headline(self, summary: dict) -> dict[str, float | None]:
        return {name: r["value"] for name, r, _, _ in figure_rows(summary)}
