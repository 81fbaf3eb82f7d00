"""Many profiles side by side (`econalign compare RUN RUN ...`): one table of every headline figure.

A figure whose estimate sits on its search bound is kept but marked, and no difference is taken
from it: the bound is a property of the search range, not of the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from econalign import EconalignError
from econalign.io import read_json, write_text


@dataclass(frozen=True)
class Figure:
    value: float | None
    on_bound: bool = False


def load_summary(folder: Path) -> dict:
    path = Path(folder) / "summary.json"
    if not path.exists():
        raise EconalignError(f"{folder} holds no summary.json; run `econalign profile --out {folder}` first")
    summary = read_json(path)
    if "estimates" not in summary or "answers" not in summary:
        raise EconalignError(f"{path} is not a profile summary")
    return summary


def metrics(summary: dict) -> dict[str, Figure]:
    """The headline figures of a profile of any battery, flattened to name -> figure."""
    from econalign.measure.battery import get_battery

    out = {f"{model} {name}": Figure(p["value"], bool(p.get("on_bound")))
           for model, est in summary["estimates"].items() for name, p in est["params"].items()}
    out |= {name: Figure(value) for name, value in get_battery(summary.get("battery", "risk")).headline(summary).items()}
    out["answer-token mass"] = Figure(summary["answers"]["mean_option_mass"])
    return out


def difference(a, b) -> float | None:
    return a - b if a is not None and b is not None else None


@dataclass
class Comparison:
    runs: list[dict]  # per run: folder, model, battery, method, verdict
    figures: dict[str, list[Figure | None]]  # metric -> one figure per run (None where the run lacks it)


def compare(folders: list[Path]) -> Comparison:
    summaries = [load_summary(f) for f in folders]
    per_run = [metrics(s) for s in summaries]
    names = list(dict.fromkeys(k for m in per_run for k in m))
    runs = [{"run": str(f), "model": s["model"], "battery": s.get("battery", "risk"), "method": s["method"],
             "verdict": s.get("verdict", "")} for f, s in zip(folders, summaries)]
    return Comparison(runs, {k: [m.get(k) for m in per_run] for k in names})


def figure_text(f: Figure | None, digits: int = 3) -> str:
    from econalign.measure.report import fmt

    if f is None or f.value is None:
        return "—"
    return fmt(f.value, digits) + (" (bound)" if f.on_bound else "")


def change(figures: list[Figure | None]) -> float | None:
    """B - A for two runs, None where either is missing or on its search bound."""
    a, b = figures
    if a is None or b is None or a.on_bound or b.on_bound:
        return None
    return difference(b.value, a.value)


def display_frame(c: Comparison) -> pd.DataFrame:
    """Metric rows, one column per run (and B - A for two runs), bound values marked."""
    from econalign.measure.report import fmt

    labels = run_labels(c.runs)
    rows = []
    for name, figures in c.figures.items():
        row = {"metric": name, **{label: figure_text(f) for label, f in zip(labels, figures)}}
        if len(c.runs) == 2:
            row["B − A"] = fmt(change(figures), 3)
        rows.append(row)
    return pd.DataFrame(rows)


def run_labels(runs: list[dict]) -> list[str]:
    """Column names: the folder names, made unique (two runs may sit in folders of the same name)."""
    labels = []
    for r in runs:
        label = Path(r["run"]).name or r["run"]
        labels.append(label if label not in labels else r["run"])
    return [f"{label} [{i + 1}]" if labels.count(label) > 1 else label for i, label in enumerate(labels)]


def leaderboard(c: Comparison) -> pd.DataFrame:
    """One row per run, one column per figure (numbers), and `<figure> on bound` beside every estimate."""
    rows = []
    for i, run in enumerate(c.runs):
        row = dict(run)
        for name, figures in c.figures.items():
            f = figures[i]
            row[name] = None if f is None else f.value
            if any(g is not None and g.on_bound for g in figures):
                row[f"{name} on bound"] = None if f is None else f.on_bound
        rows.append(row)
    return pd.DataFrame(rows)


def write_comparison(c: Comparison, out: Path) -> None:
    from econalign.measure.report import html_page

    write_text(out / "compare.csv", leaderboard(c).to_csv(index=False))
    verdicts = pd.DataFrame([{"run": label, "model": r["model"], "battery": r["battery"], "verdict": r["verdict"]}
                             for label, r in zip(run_labels(c.runs), c.runs)])
    lead = (f"{len(c.runs)} profiles side by side. Values marked (bound) sit on their search bound: not identified, "
            "and no difference is taken from them.")
    tables = {"Verdicts": verdicts, "Headline figures": display_frame(c)}
    write_text(out / "compare.html", html_page("Profiles side by side", [], tables, {}, lead=lead,
                                               footer="The same figures, one row per run: compare.csv."))
