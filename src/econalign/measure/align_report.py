"""The before / after / target report of `econalign align`: summary.json, report.html and its plots."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from econalign.io import write_json, write_text  # noqa: E402
from econalign.measure.report import fmt, html_page, save_figures  # noqa: E402
from econalign.measure.analysis import mixed_items  # noqa: E402
from econalign.measure.target import risk_comparison, social_comparison  # noqa: E402
from econalign.measure.verdict import estimate_text  # noqa: E402
from econalign.preferences import Lottery, parse_preference  # noqa: E402
from econalign.preferences.choice import choice_probability  # noqa: E402
from econalign.tasks import holt_laury  # noqa: E402

LIST_COLUMNS = ("lottery_a", "lottery_b", "probs")
CAPTIONS = {"curves.png": "Choice curves: before, after and the target", "holt_laury.png": "Holt–Laury choices",
            "mixed.png": "Mixed gambles (loss aversion)", "behaviour.png": "Behaviour per game"}
STYLE = {"before": dict(color="gray", marker="o", ls=":"), "after": dict(color="black", marker="o", ls="-")}


def read_results(path: Path) -> pd.DataFrame:
    """A profile's results.csv with its list columns (lotteries, choice probabilities) as lists again."""
    table = pd.read_csv(path)
    for col in LIST_COLUMNS:
        if col in table:
            table[col] = [json.loads(v) if isinstance(v, str) else None for v in table[col]]
    if "persona" in table:
        table["persona"] = table["persona"].where(table["persona"].notna(), None)
    return table


DATA_KEYS = ("n", "noise", "draws", "shapes", "answers", "battery_items_in_data", "battery_items_drawn_and_dropped")
TRAINING_KEYS = ("global_step", "first_loss", "last_loss", "train_seconds")


def write_align_report(config, battery: str, before: dict, after: dict, datas: list[dict], sfts: list[dict],
                       out: Path, seconds: float) -> dict:
    """`datas` and `sfts`: the data and training summaries of each stage, in training order."""
    tables = {k: read_results(out / k / "results.csv") for k in ("before", "after")}
    compare = risk_comparison if battery == "risk" else social_comparison
    comparison = compare(config.preference, before, after, tables["before"], tables["after"])
    summary = {
        "model": config.model,
        "seed": config.seed,
        **comparison,
        "retention": {k: s["retention"] for k, s in (("before", before), ("after", after))},
        **all_stages([{k: d.get(k) for k in DATA_KEYS} for d in datas],
                     [{k: t.get(k) for k in TRAINING_KEYS} for t in sfts]),
        "seconds": seconds,
    }
    figures = risk_figures(summary, tables, config.data[-1].noise) if battery == "risk" else social_figures(summary)
    images = {CAPTIONS[name]: uri for name, uri in save_figures(figures, out).items()}
    write_text(out / "report.html", html_page(
        f"Aligning {config.model} to {summary['target']}", facts(summary), report_tables(summary), images,
        footer="Profiles: before/ and after/ (summary.json, results.csv, report.html); " + (
            f"data: data-1/ … data-{len(datas)}/; training: sft-1/ … sft-{len(datas)}/, in that order."
            if len(datas) > 1 else "data: data/; training: sft/."),
        lead=summary["verdict"]["line"]))
    write_json(out / "summary.json", summary)
    return summary


def all_stages(datas: list[dict], sfts: list[dict]) -> dict:
    """data and training over all stages (items and steps added, first loss of the first, last of the last);
    with more than one stage, each stage's own under `stages`."""
    if len(datas) == 1:
        return {"data": datas[0], "training": sfts[0]}
    counts = ("n", "battery_items_in_data", "battery_items_drawn_and_dropped")
    data = {**{k: sum(d[k] for d in datas) for k in counts}, "noise": datas[-1]["noise"], "draws": datas[-1]["draws"],
            **{k: dict(sum((Counter(d[k]) for d in datas), Counter())) for k in ("shapes", "answers")}}
    seconds = [t["train_seconds"] for t in sfts]
    training = {"global_step": sum(t["global_step"] for t in sfts), "first_loss": sfts[0]["first_loss"],
                "last_loss": sfts[-1]["last_loss"], "train_seconds": None if None in seconds else sum(seconds)}
    return {"data": data, "training": training,
            "stages": [{"data": d, "training": t} for d, t in zip(datas, sfts)]}


def facts(s: dict) -> list[tuple[str, str]]:
    r, d, t = s["retention"], s["data"], s["training"]
    return [
        ("target", s["target"]),
        ("model", s["model"]),
        ("battery", f"{s['battery']} (next-token logits, both option orders)"),
        ("training data", f"{d['n']} direct decisions, labels sampled at noise {d['noise']:g}; battery items in "
                          f"the data: {d['battery_items_in_data']}"),
        ("training", f"{t['global_step']} steps, loss {fmt(t['first_loss'], 3)} → {fmt(t['last_loss'], 3)}"),
        ("perplexity (held-out text)", f"{fmt(r['before']['perplexity'], 2)} → {fmt(r['after']['perplexity'], 2)}"),
        ("option-token mass", f"{fmt(r['before']['mean_option_mass'], 3)} → {fmt(r['after']['mean_option_mass'], 3)}"),
        ("wall time", f"{fmt(s['seconds'] / 60, 1)} min"),
    ]


def report_tables(s: dict) -> dict[str, pd.DataFrame]:
    params = pd.DataFrame([{
        "model": r["model"], "parameter": r["parameter"], "target": f"{r['target']:g} (±{r['tolerance']:g})",
        "before": estimate_text(r["before"], r["before_ci"], r["before_bound"], 3),
        "after": estimate_text(r["after"], r["after_ci"], r["after_bound"], 3),
        "recovered": "yes" if r["recovered"] else "no",
    } for r in s["parameters"]])
    tables = {"Estimates against the target (95% intervals)": params}
    if "stages" in s:
        tables["Curriculum: the item sets, trained in order"] = pd.DataFrame([{
            "stage": i, "items": st["data"]["n"], "draws": st["data"]["draws"],
            "shapes": ", ".join(f"{k} {v}" for k, v in st["data"]["shapes"].items()),
            "steps": st["training"]["global_step"],
            "loss": f"{fmt(st['training']['first_loss'], 3)} → {fmt(st['training']['last_loss'], 3)}",
        } for i, st in enumerate(s["stages"], 1)])
    if s["battery"] == "risk":
        tables["Indifference points against the target's certainty equivalents"] = pd.DataFrame([{
            "gamble": c["curve"], "wealth": fmt(c["wealth"], 0), "target CE": fmt(c["target"], 2),
            "before": fmt(c["before"], 2), "after": fmt(c["after"], 2),
            "after vs target": fmt(relative(c["after"], c["target"]), 1) + " %" if c["after"] is not None else "—",
        } for c in s["curves"]])
        tables["Holt–Laury safe choices"] = pd.DataFrame([{
            "stakes": h["stakes"], "target": h["target"], "before": h["before"],
            "after": f"{h['after']} (expected {h['after_expected']:.2f})"} for h in s["holt_laury"]])
        tables["Mixed gambles: the gain that makes 50% +G / 50% −L acceptable"] = pd.DataFrame([{
            "loss L": fmt(m["loss"], 0), "target G": fmt(m["target"], 2), "before": fmt(m.get("before"), 2),
            "after": fmt(m.get("after"), 2)} for m in s["mixed"]])
    else:
        tables["Behaviour per game (mean level) against the target's exact behaviour"] = pd.DataFrame([{
            "game": b["game"], "target": fmt(b["target"], 2), "before": fmt(b["before"], 2), "after": fmt(b["after"], 2),
            "|after − target|": fmt(abs(b["after"] - b["target"]) if b["after"] is not None else None, 2),
        } for b in s["behaviour"]])
    return tables


def relative(x, target) -> float | None:
    return None if x is None or not target else 100 * (x - target) / abs(target)


def risk_figures(s: dict, tables: dict, noise: float) -> dict:
    return {"curves.png": curves_figure(s, tables, noise), "holt_laury.png": holt_laury_figure(s, tables),
            "mixed.png": mixed_figure(s, tables)}


def curves_figure(s: dict, tables: dict, noise: float):
    pref = parse_preference(s["target"])
    curves = s["curves"]
    cols = 3
    nrows = int(np.ceil(len(curves) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 3 * nrows), squeeze=False)
    for ax, c in zip(axes.flat, curves):
        g = Lottery.from_list(c["gamble"])
        lo, hi = min(g.outcomes), max(g.outcomes)
        xs = np.linspace(lo, hi, 120)
        ax.plot(xs, [choice_probability(pref, Lottery.sure(x), g, c["wealth"], noise) for x in xs], color="tab:blue",
                lw=1.2, label=f"target (noise {noise:g})")
        ax.axvline(c["target"], color="tab:blue", ls="--", lw=1, label=f"target CE {c['target']:,.0f}")
        for key in ("before", "after"):
            rows = tables[key][tables[key].curve == c["curve"]]
            mean = rows.groupby("sure").y.mean()
            ax.plot(mean.index, mean.values, ms=4, label=key, **STYLE[key])
        ax.set(ylim=(-0.03, 1.03), xlabel="sure amount ($)", ylabel="P(accept sure)")
        ax.set_title(c["curve"], fontsize=9)
    for ax in axes.flat[len(curves):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    return fig


def holt_laury_figure(s: dict, tables: dict):
    fig, ax = plt.subplots(figsize=(5, 3.5))
    rows = np.arange(1, holt_laury.ROWS + 1)
    target = s["holt_laury"][0]["target"]
    ax.step(rows, (rows <= target).astype(float), where="mid", color="tab:blue", ls="--", label=f"target ({target} safe)")
    for key in ("before", "after"):
        t = tables[key]
        for scale, part in t[t.family == "holt_laury"].groupby("scale"):
            part = part.sort_values("row")
            ax.plot(part.row, part.y, ms=4, label=f"{key}, stakes x{scale:g}", **STYLE[key])
    ax.set(xlabel="row (probability of the high prize x 10)", ylabel="P(safe option A)", ylim=(-0.03, 1.03))
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def mixed_figure(s: dict, tables: dict):
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    colors = dict(zip([m["loss"] for m in s["mixed"]], ("tab:red", "tab:green", "tab:purple")))
    for m in s["mixed"]:
        if m["target"] is not None:
            ax.axvline(m["target"] / m["loss"], color=colors[m["loss"]], ls="--", lw=1,
                       label=f"target, L = {m['loss']:,.0f}")
    for key in ("before", "after"):
        rows = mixed_items(tables[key])
        for loss, part in rows.groupby("loss"):
            take = (1 - part.y).groupby(part.gain / loss).mean()
            style = {**STYLE[key], "color": colors.get(loss, "black") if key == "after" else "gray"}
            ax.plot(take.index, take.values, ms=4, label=f"{key}, L = {loss:,.0f}", **style)
    ax.axhline(0.5, color="gray", lw=0.6)
    ax.set(xlabel="gain / loss (G / L)", ylabel="P(take 50% +G / 50% −L)", ylim=(-0.03, 1.03))
    ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def social_figures(s: dict) -> dict:
    games = [b["game"] for b in s["behaviour"]]
    fig, ax = plt.subplots(figsize=(10, 3.8))
    width = 0.27
    for k, (key, color) in enumerate((("target", "tab:blue"), ("before", "lightgray"), ("after", "black"))):
        values = [b[key] if b[key] is not None else np.nan for b in s["behaviour"]]
        ax.bar(np.arange(len(games)) + (k - 1) * width, values, width, label=key, color=color)
    ax.set_xticks(np.arange(len(games)), [g.replace("_", "\n") for g in games], fontsize=8)
    ax.set(ylabel="mean level (share given, P(cooperate), ...)", ylim=(0, 1.05), title=f"target {s['target']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return {"behaviour.png": fig}
