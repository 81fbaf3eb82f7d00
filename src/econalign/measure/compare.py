"""Differences between two profiles (`econalign compare A B`)."""

from __future__ import annotations

from pathlib import Path

from econalign import EconalignError
from econalign.io import read_json


def load_summary(folder: Path) -> dict:
    path = Path(folder) / "summary.json"
    if not path.exists():
        raise EconalignError(f"{folder} holds no summary.json; run `econalign profile --out {folder}` first")
    summary = read_json(path)
    if "estimates" not in summary:
        raise EconalignError(f"{path} is not a profile summary")
    return summary


def metrics(summary: dict) -> dict[str, float | None]:
    """The headline figures of a profile, flattened to name -> number."""
    out: dict[str, float | None] = {}
    for model, est in summary["estimates"].items():
        for name, p in est["params"].items():
            out[f"{model} {name}"] = p["value"]
    for name, hl in summary["holt_laury"].items():
        out[f"Holt–Laury safe choices ({name})"] = hl["safe_choices"]
    for c in summary["indifference"]:
        out[f"indifference {c['curve']}"] = c["indifference"]
    for persona, e in summary["personas"].items():
        out[f"persona {persona} P(accept) shift"] = e["shift_vs_neutral"]["mean_p_accept"]
        out[f"persona {persona} indifference shift"] = e["shift_vs_neutral"]["indifference"]
    out["logit vs EV difference (Pearson)"] = summary["logit_vs_utility"]["ev"]["pearson"]
    out["answer-token mass"] = summary["answers"]["mean_option_mass"]
    return out


def compare(a: Path, b: Path) -> list[tuple[str, float | None, float | None, float | None]]:
    """Rows of (metric, value in A, value in B, B - A)."""
    ma, mb = metrics(load_summary(a)), metrics(load_summary(b))
    rows = []
    for key in [*ma, *(k for k in mb if k not in ma)]:
        va, vb = ma.get(key), mb.get(key)
        rows.append((key, va, vb, vb - va if va is not None and vb is not None else None))
    return rows
