"""The report of `econalign utilities`: the ranked utilities, utility against money with the fitted CRRA curve,
exchange rates between kinds of outcome, and report.html (the page of measure/report.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from econalign.io import write_text  # noqa: E402
from econalign.measure.report import estimate_rows, fmt, html_page, save_figures, timings_line, tokens_facts  # noqa: E402
from econalign.measure.utilities import crra_values  # noqa: E402
from econalign.measure.verdict import curve_problem, quantity_text  # noqa: E402
from econalign.preferences.base import Lottery  # noqa: E402

COLOURS = {"money": "tab:green", "lottery": "tab:orange", "free text": "tab:blue"}
PLURAL = {"money": "sums of money", "lottery": "lotteries", "free text": "free-text outcomes"}


def plain(text: str) -> str:
    """Text matplotlib shows as written: a dollar sign would start mathtext."""
    return text.replace("$", r"\$")


def fitted(summary: dict) -> list[dict]:
    return [o for o in summary["outcomes"] if o["mu"] is not None]


def ranking_figure(summary: dict):
    """Every outcome's utility (mean ± sigma), highest at the top, coloured by type."""
    rows = sorted(fitted(summary), key=lambda o: o["mu"])
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.24 * len(rows)))
    y = np.arange(len(rows))
    for kind, colour in COLOURS.items():
        at = [k for k, o in enumerate(rows) if o["type"] == kind]
        if at:
            ax.errorbar([rows[k]["mu"] for k in at], at, xerr=[rows[k]["sigma"] for k in at], fmt="o", ms=4,
                        color=colour, label=kind, capsize=2)
    ax.set_yticks(y, [plain(textwrap.shorten(o["text"], 60)) for o in rows], fontsize=7)
    ax.axvline(0, color="gray", lw=0.6)
    ax.set(xlabel="utility (Thurstonian mean ± sigma; mean 0, sd 1 over the outcomes)", ylim=(-0.7, len(rows) - 0.3),
           title=plain(f"{summary['model']}: utilities of {len(rows)} outcomes"))
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def money_figure(summary: dict):
    """Utility against the amount (log scale), lotteries at their expected value, and the fitted CRRA curve mapped
    onto the utility scale where r is identified."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    sure = [o for o in fitted(summary) if o["amount"] is not None and o["amount"] > 0]
    lotteries = [o for o in fitted(summary) if o["type"] == "lottery" and o["expected_value"] > 0]
    ax.errorbar([o["amount"] for o in sure], [o["mu"] for o in sure], yerr=[o["sigma"] for o in sure], fmt="o", ms=4,
                color=COLOURS["money"], capsize=2, label="sure amounts (± sigma)")
    if lotteries:
        ax.scatter([o["expected_value"] for o in lotteries], [o["mu"] for o in lotteries], marker="D", s=24,
                   facecolors="none", edgecolors=COLOURS["lottery"], label="lotteries, at their expected value")
    curve, est = summary["crra_curve"], summary["estimates"].get("crra")
    title = "no CRRA curve: too few money outcomes"
    if est is not None:
        r, problem = est["params"]["r"], curve_problem(est)
        if problem is None:
            lo, hi = curve["range"]
            xs = np.geomspace(lo, hi, 200)
            v = crra_values(r["value"], [Lottery.sure(x) for x in xs], lo, hi)
            line = curve["to_utility"]
            ax.plot(xs, line["intercept"] + line["slope"] * v, color="black", lw=1.2,
                    label=f"CRRA r = {r['value']:.2f}, fitted to the same choices")
            title = f"CRRA r = {r['value']:.2f} [{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]"
        else:
            title = "no CRRA curve: " + ("choices do not follow it" if r["ci95"] is not None and not r.get("on_bound")
                                         else "r not identified")
    ax.set_xscale("log")
    ax.set(xlabel=r"amount (\$, log scale)", ylabel="utility", title=plain(f"{summary['model']}: {title}"))
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def exchange_figure(summary: dict):
    """Utility against ln(quantity) for each kind, with its fitted line."""
    ex = summary["exchange"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for (kind, line), colour in zip(ex["lines"].items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        rows = [o for o in fitted(summary) if o["kind"] == kind]
        q = np.array([o["quantity"] for o in rows])
        ax.scatter(q, [o["mu"] for o in rows], s=18, color=colour)
        xs = np.geomspace(q.min(), q.max(), 50)
        ax.plot(xs, line["intercept"] + line["slope"] * np.log(xs), color=colour,
                label=plain(f"{kind}: {line['slope']:.2f} per ln unit (R² {fmt(line['r2'], 2)})"))
    ax.set_xscale("log")
    ax.set(xlabel="quantity (log scale)", ylabel="utility", title=plain(f"{summary['model']}: utility against quantity"))
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def figures(summary: dict) -> dict:
    """File name -> (caption, figure), the key plot first."""
    out = {"utilities.png": ("Utilities, highest at the top", ranking_figure(summary))}
    if summary["money"] is not None:
        out["money.png"] = ("Utility against money, with the CRRA curve fitted to the same choices", money_figure(summary))
    if summary["exchange"] is not None:
        out["exchange.png"] = ("Exchange rates: utility against the quantity of each kind", exchange_figure(summary))
    return out


def utility_rows(summary: dict) -> pd.DataFrame:
    rows = sorted(summary["outcomes"], key=lambda o: -np.inf if o["mu"] is None else -o["mu"])
    return pd.DataFrame([{"outcome": o["text"], "type": o["type"], "kind": o["kind"] or "",
                          "quantity": "" if o["quantity"] is None else quantity_text(o["quantity"]),
                          "utility": fmt(o["mu"], 3), "sigma": fmt(o["sigma"], 3), "pairs": o["pairs"]} for o in rows])


def exchange_rows(summary: dict) -> pd.DataFrame:
    ex = summary["exchange"]
    ref = ex["reference"]
    return pd.DataFrame([{"kind": r["kind"], "quantity": quantity_text(r["quantity"]),
                          f"worth ({ref})": "—" if r["reference_quantity"] is None else quantity_text(r["reference_quantity"]),
                          f"{ref} per unit": "—" if r["per_unit"] is None else quantity_text(r["per_unit"]),
                          "note": r["why_not"] or ("extrapolated" if r["extrapolated"] else "")} for r in ex["rates"]])


def fit_text(scores: dict) -> str:
    if scores["accuracy"] is None:
        return "no pairs"
    return f"accuracy {scores['accuracy']:.3f}, log-loss {scores['log_loss']:.3f} over {scores['pairs']} pairs"


def facts(summary: dict) -> list[tuple[str, str]]:
    d, a, pb = summary["design"], summary["answers"], summary["position_bias"]
    types = pd.Series([o["type"] for o in summary["outcomes"]]).value_counts()
    out = [
        ("model", summary["model"]),
        ("method", summary["method"]),
        ("outcomes", f"{d['outcomes']} ({', '.join(f'{n} {PLURAL.get(t, t) if n > 1 else t}' for t, n in types.items())})"
                     + (f" from {summary['outcomes_file']}" if summary["outcomes_file"] else "")),
        ("pairs", f"{d['fitted_pairs']} fitted ({d['initial_pairs']} in a random cycle, then {d['rounds']} active rounds) and "
                  f"{d['holdout']} held out, each asked in both orders: {a['items']} answers ({a['unparsed']} unparsed)"),
        ("held-out pairs", fit_text(summary["fit"]["held_out"]) + " (a coin flip: 0.5, 0.693)"),
        ("decisiveness", f"P(an outcome) {summary['fit']['decisiveness']:.3f} from ½ on average over the fitted pairs, "
                         "both orders averaged (0: coin flips, 0.5: certain choices)"),
        ("fitted pairs", fit_text(summary["fit"]["train"])),
        ("answer-token mass", fmt(a["mean_option_mass"], 3)),
        ("position bias", f"P(first-listed option) {fmt(pb['p_first_listed'], 3)} (0.5 without a lean); "
                          f"P(an outcome) {fmt(pb['order_gap'], 3)} apart between the two orders on average"),
        ("timings", timings_line(summary["timings"]) + f"; fits {fmt(summary['timings']['fit_s'])} s"),
        *tokens_facts(summary),
    ]
    curve = summary["crra_curve"]
    if curve and curve["left_out"]:
        out.append(("left out of the CRRA fit", f"{len(curve['left_out'])} money outcomes with an amount of $0 or "
                                                "less (no CRRA utility at r >= 1)"))
    return out


def write_report(summary: dict, out: Path) -> None:
    """report.html (verdict, facts, plots, tables) and each plot as out/<name>."""
    made = figures(summary)
    images = save_figures({name: fig for name, (_, fig) in made.items()}, out)
    tables = {"Utilities": utility_rows(summary)}
    if summary["estimates"]:
        tables["CRRA r and noise fitted to the choices between money outcomes (maximum likelihood)"] = estimate_rows(summary)
    if summary["exchange"] is not None:
        tables[f"Exchange rates against {summary['exchange']['reference']}"] = exchange_rows(summary)
    write_text(out / "report.html", html_page(
        f"Utilities of {summary['model']}", facts(summary), tables,
        {caption: images[name] for name, (caption, _) in made.items()},
        footer="Per outcome: utilities.csv; per pair: pairs.csv; all figures: summary.json.", lead=summary["verdict"]))
