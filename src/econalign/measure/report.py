"""The report of a profile: the risk battery's plots, tables and facts, and the one self-contained
`report.html` page (verdict, facts, plots, tables) that every battery's report uses."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from econalign.io import save_figure, write_text  # noqa: E402
from econalign.measure.psychometric import fit_curve  # noqa: E402
from econalign.measure.verdict import param_text, switching  # noqa: E402
from econalign.tasks import holt_laury  # noqa: E402

PT_REFERENCE = "pt:alpha=0.88,lambda=2.25"


def plot_curve(ax, rows: pd.DataFrame, lo: float, hi: float, title: str, lines: dict[str, float]) -> None:
    mean = rows.groupby("sure").y.mean()
    ax.scatter(mean.index, mean.values, s=18, color="black", zorder=3, label="measured (both orders)")
    curve = fit_curve(rows.sure, rows.y, lo, hi)
    xs = np.linspace(lo, hi, 200)
    ax.plot(xs, curve.predict(xs), color="tab:red", label="logistic fit")
    for (label, x), color in zip(lines.items(), ("gray", "tab:blue", "tab:green", "tab:purple")):
        if x is not None and math.isfinite(x):
            ax.axvline(x, color=color, ls="--", lw=1, label=label)
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(r"sure amount (\$)", fontsize=8)
    ax.set_ylabel("P(accept sure)", fontsize=8)
    ax.tick_params(labelsize=7)


def curves_figure(summary: dict, table: pd.DataFrame):
    curves = summary["indifference"]
    cols = 3
    fig, axes = plt.subplots(math.ceil(len(curves) / cols), cols, figsize=(4 * cols, 3 * math.ceil(len(curves) / cols)), squeeze=False)
    for ax, c in zip(axes.flat, curves):
        xs = [x for x, _ in c["gamble"]]
        lines = {"EV": c["theory"]["ev"], "CRRA fit CE": c["theory"]["crra_fit"], "indifference": c["indifference"]}
        plot_curve(ax, table[table.curve == c["curve"]], min(xs), max(xs), c["curve"], lines)
    for ax in axes.flat[len(curves) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    return fig


def personas_figure(summary: dict, table: pd.DataFrame):
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for (persona, entry), color in zip(summary["personas"].items(), ("gray", "tab:blue", "tab:red")):
        rows = table[table.persona == persona]
        mean = rows.groupby("sure").y.mean()
        ax.plot(mean.index, mean.values, "o-", color=color, label=f"{persona} (indiff. {fmt(entry['indifference'])})")
    ax.axvline(500, color="black", ls=":", lw=1, label=r"EV = \$500")
    ax.set_xlabel(r"sure amount (\$) vs 50% of \$1,000")
    ax.set_ylabel("P(accept sure)")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def mixed_figure(summary: dict):
    """P(take 50% +G / 50% -L) against G / L, one line per loss, with the thresholds of reference preferences."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for m, color in zip(summary["mixed"], ("tab:red", "tab:green", "tab:purple")):
        ratios = [float(g) / m["loss"] for g in m["p_take"]]
        ax.plot(ratios, list(m["p_take"].values()), "o-", color=color,
                label=f"L = {m['loss']:,.0f} ({taken_text(m['threshold'], m['loss'])})")
    first = summary["mixed"][0] if summary["mixed"] else None
    refs = {"EV": "ev", "PT (0.88, 2.25)": PT_REFERENCE, "PT fit": "pt_fit"}
    for (label, key), color in zip(refs.items(), ("gray", "tab:blue", "black")):
        g = first and first["theory"].get(key)
        if g is not None:
            ax.axvline(g / first["loss"], color=color, ls="--", lw=1, label=f"{label}: G/L = {g / first['loss']:.2f}")
    ax.axhline(0.5, color="gray", lw=0.6)
    ax.set(xlabel="gain / loss (G / L)", ylabel="P(take the gamble)", ylim=(-0.03, 1.03))
    ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def taken_text(gain, loss) -> str:
    return "never taken half the time" if gain is None else f"taken half the time at G/L = {gain / loss:.2f}"


def holt_laury_figure(summary: dict):
    fig, ax = plt.subplots(figsize=(5, 3.5))
    rows = np.arange(1, holt_laury.ROWS + 1)
    for name, entry in summary["holt_laury"].items():
        ax.plot(rows, entry["p_safe"], "o-", label=f"model, stakes {name} ({entry['safe_choices']} safe)")
    ax.step(rows, (rows <= 4).astype(float), where="mid", color="gray", ls="--", label="risk neutral (4 safe)")
    ax.set_xlabel("row (probability of the high prize × 10)")
    ax.set_ylabel("P(safe option A)")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def logit_figure(summary: dict, table: pd.DataFrame):
    from econalign.measure.analysis import pairs_of
    from econalign.preferences import ExpectedValue
    from econalign.preferences.choice import scaled_differences

    gam = table[(table.family == "gamble") & table.persona.isna() & table.y.notna()]
    x = scaled_differences(ExpectedValue(), pairs_of(gam))
    y = np.log(np.clip(gam.y, 1e-6, 1 - 1e-6) / np.clip(1 - gam.y, 1e-6, 1 - 1e-6))
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.scatter(x, y, s=10, c=np.where(gam.sure_first, "tab:blue", "tab:orange"))
    corr = summary["logit_vs_utility"]["ev"]["pearson"]
    ax.set_title(f"logit vs EV difference (Pearson r = {fmt(corr, 3)}); blue: sure first", fontsize=9)
    ax.set_xlabel("(EV sure - EV gamble) / range")
    ax.set_ylabel("log P(accept) / P(reject)")
    fig.tight_layout()
    return fig


def fmt(x, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:,.{digits}f}" if isinstance(x, (int, float)) else str(x)


def estimate_rows(summary: dict) -> pd.DataFrame:
    rows = []
    for model, est in summary["estimates"].items():
        for name, p in est["params"].items():
            ci = p["ci95"]
            rows.append(
                {
                    "model": model,
                    "parameter": name,
                    "estimate": fmt(p["value"], 3) + (" (search bound)" if p.get("on_bound") else ""),
                    "s.e.": fmt(p["se"], 3),
                    "95% CI": f"[{fmt(ci[0], 3)}, {fmt(ci[1], 3)}]" if ci else
                    "on its search bound" if p.get("on_bound") else "not identified",
                    "log-lik": fmt(est["loglik"], 2),
                }
            )
    return pd.DataFrame(rows)


def theory_text(key: str, value) -> str:
    """A fitted preference's figure is missing only where its fit sits on a search bound."""
    return "not identified" if value is None and key.endswith("_fit") else fmt(value)


def indifference_rows(summary: dict) -> pd.DataFrame:
    return theory_table(summary["indifference"], "CE", lambda c: {
        "gamble": c["curve"], "P(accept) mean": fmt(c["mean_p_accept"], 3),
        "indifference": fmt(c["indifference"]) if c["indifference"] is not None else "none (flat)"})


def mixed_rows(summary: dict) -> pd.DataFrame:
    return theory_table(summary["mixed"], "G", lambda m: {
        "gamble": m["curve"], "wealth": fmt(m["wealth"], 0),
        "gain G taken half the time": fmt(m["threshold"]) if m["threshold"] is not None else "none (never)"})


def theory_table(entries: list[dict], prefix: str, measured) -> pd.DataFrame:
    """One row per entry: what was measured, then what each reference preference and identified fit predicts."""
    return pd.DataFrame([measured(e) | {f"{prefix} {k}": theory_text(k, v) for k, v in e["theory"].items()}
                         for e in entries])


def holt_laury_rows(summary: dict) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "stakes": name,
                "safe choices": e["safe_choices"],
                "expected safe choices": fmt(e["expected_safe_choices"], 2),
                "pattern": switching(e),
                "implied CRRA r": crra_interval_text(e["crra_interval"]) if e["consistent"] else "—",
            }
            for name, e in summary["holt_laury"].items()
        ]
    )


def crra_interval_text(interval) -> str:
    lo, hi = interval
    return f"({'−∞' if lo is None else fmt(lo, 2)}, {'∞' if hi is None else fmt(hi, 2)})"


def persona_rows(summary: dict) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "persona": name,
                "indifference": fmt(e["indifference"]),
                "mean P(accept)": fmt(e["mean_p_accept"], 3),
                "CRRA r": param_text(e["crra_r"]),
                "shift of indifference": fmt(e["shift_vs_neutral"]["indifference"]),
                "shift of P(accept)": fmt(e["shift_vs_neutral"]["mean_p_accept"], 3),
            }
            for name, e in summary["personas"].items()
        ]
    )


def save_figures(figures: dict, out: Path) -> dict[str, str]:
    """Each figure as out/<name> and, from the same PNG bytes (rendered once), as a data URI for the HTML page."""
    images = {}
    for name, fig in figures.items():
        images[name] = "data:image/png;base64," + base64.b64encode(save_figure(fig, out / name)).decode()
        plt.close(fig)
    return images


def risk_figures(summary: dict, table: pd.DataFrame) -> dict:
    return {  # the key plot first
        "curves.png": ("Psychometric curves", curves_figure(summary, table)),
        "mixed.png": ("Mixed gambles (loss aversion)", mixed_figure(summary)),
        "holt_laury.png": ("Holt–Laury choices", holt_laury_figure(summary)),
        "personas.png": ("Persona prompts on 50% of $1,000", personas_figure(summary, table)),
        "logit_vs_utility.png": ("Logit difference vs utility difference", logit_figure(summary, table)),
    }


def risk_tables(summary: dict) -> dict[str, pd.DataFrame]:
    return {
        "Holt–Laury multiple price list": holt_laury_rows(summary),
        "Indifference points vs theoretical certainty equivalents": indifference_rows(summary),
        "Mixed gambles: the gain G that makes 50% +G / 50% -L worth taking": mixed_rows(summary),
        "Persona prompts": persona_rows(summary),
    }


def risk_facts(summary: dict) -> list[tuple[str, str]]:
    pb, lu = summary["position_bias"], summary["logit_vs_utility"]
    return [
        ("position bias", f"P(accept) {fmt(pb['p_accept_sure_first'], 3)} sure shown first vs "
                          f"{fmt(pb['p_accept_gamble_first'], 3)} gamble first"),
        ("logit vs EV difference", f"Pearson {fmt(lu['ev']['pearson'], 3)}, Spearman {fmt(lu['ev']['spearman'], 3)}"),
    ]


def write_report(battery, summary: dict, table: pd.DataFrame, out: Path) -> None:
    """report.html of any battery (measure/battery.py): the verdict, facts, the battery's plots, the estimates
    and the battery's tables; each plot is also saved as out/<name>."""
    figures = battery.figures(summary, table)
    images = save_figures({name: fig for name, (_, fig) in figures.items()}, out)
    a = summary["answers"]
    facts = [
        ("model", summary["model"]),
        ("method", summary["method"] + (" (quick battery)" if summary["quick"] else "")),
        ("items", f"{a['items']} ({a['unparsed']} unparsed answers)"),
        ("answer-token mass", fmt(a["mean_option_mass"], 3)),
        *battery.facts(summary),
        ("timings", timings_line(summary["timings"])),
        *tokens_facts(summary),
    ]
    estimates = {battery.estimates_title: estimate_rows(summary)} if summary["estimates"] else {}
    tables = {**estimates, **battery.tables(summary)}
    write_text(out / "report.html", html_page(f"{battery.title} of {summary['model']}", facts, tables,
                                              {caption: images[name] for name, (caption, _) in figures.items()},
                                              lead=summary["verdict"]))


def timings_line(t: dict) -> str:
    load = "model not loaded" if t["load_s"] is None else f"load {fmt(t['load_s'])} s"
    resumed = f", {t['items_resumed']} items scored by an earlier run" if t["items_resumed"] else ""
    return (f"{load}, scoring {fmt(t['score_s'])} s ({fmt(t['items_per_s'])} items/s{resumed}), "
            f"total {fmt(t['total_s'])} s")


def tokens_facts(summary: dict) -> list[tuple[str, str]]:
    """The API ledger as a fact, for a model behind an API (none for a local model)."""
    return [("API tokens (this run)", tokens_line(summary["tokens"]))] if summary["tokens"] else []


def tokens_line(t: dict) -> str:
    """Tokens sent in and out, requests answered from the response cache, and the estimated cost."""
    cached = f", {t['cached']:,} more answered from the response cache" if t["cached"] else ""
    if t["unreported"]:
        line = f"unknown: the server gave no token counts for {t['unreported']:,} of {t['requests']:,} requests{cached}"
    else:
        line = f"{t['in']:,} in, {t['out']:,} out over {t['requests']:,} requests{cached}"
    p = t["usd_per_million"]
    if p:
        cost = "unknown" if t["cost_usd"] is None else dollars(t["cost_usd"])
        line += f"; estimated cost {cost} at {dollars(p['in'])} / {dollars(p['out'])} per million tokens in / out"
    return line


def dollars(x: float) -> str:
    return f"${x:,.2f}" if x >= 1 else f"${x:.2g}"  # cents above a dollar; two significant digits below


def html_page(title: str, facts: list[tuple[str, object]], tables: dict[str, pd.DataFrame], images: dict[str, str],
              footer: str = "Per-item results: results.csv; all figures: summary.json.", lead: str | None = None) -> str:
    """One self-contained page: the lead (a verdict), a fact list, images (data URIs) under their captions, tables."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>econalign: {html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;font-size:13px;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "th{background:#f3f3f3}img{max-width:100%}dt{font-weight:bold;float:left;width:12em}dd{margin-left:13em}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p style='font-size:16px'><b>{html.escape(lead)}</b></p>" if lead else "",
        "<dl>",
        *(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in facts),
        "</dl>",
    ]
    for caption, uri in images.items():  # the plots first, then the tables behind them
        parts += [f"<h2>{html.escape(caption)}</h2><img alt='{html.escape(caption)}' src='{uri}'>"]
    for name, frame in tables.items():
        parts += [f"<h2>{html.escape(name)}</h2>", frame.to_html(index=False, escape=True, border=0)]
    parts += [f"<p>{html.escape(footer)}</p></body></html>"]
    return "\n".join(parts)
