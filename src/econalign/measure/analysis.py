"""From the per-item results table of a profile to its summary: estimates, curves, Holt–Laury, personas."""

from __future__ import annotations

import numpy as np
import pandas as pd

from econalign.measure.risk import PERSONA_GAMBLE, curve_name
from econalign.measure.estimate import fit
from econalign.measure.psychometric import correlation, fit_curve
from econalign.preferences import ExpectedValue, Lottery, parse_preference
from econalign.preferences.choice import Pairs, scaled_differences
from econalign.tasks import holt_laury
from econalign.tasks.base import Task
from econalign.tasks.gamble import acceptable_gain

# Certainty equivalents of these preferences are shown beside every measured indifference point.
REFERENCES = ("ev", "risk-averse", "log", "risk-loving", "pt:alpha=0.88,lambda=2.25", "tk92")


def results_table(tasks: list[Task], records: list[dict]) -> pd.DataFrame:
    """results.csv of the risk battery: each item's task, options, lotteries and answer."""
    by_id = {r["id"]: r for r in records}
    rows = []
    for t in tasks:
        a, b = t.options
        rows.append(
            {
                "id": t.id,
                "family": t.family,
                "kind": t.params.get("kind"),
                "curve": t.params.get("curve"),
                "persona": t.params.get("persona"),
                "sure": t.params.get("sure"),
                "sure_first": t.params.get("sure_first"),
                "row": t.params.get("row"),
                "scale": t.params.get("scale"),
                "wealth": t.wealth,
                "option_a": a,
                "option_b": b,
                "lottery_a": t.params["options"][a],
                "lottery_b": t.params["options"][b],
                "ev_choice": t.optimal,
                "y": by_id[t.id]["y"],
                "mass": by_id[t.id]["mass"],
                "answer": by_id[t.id]["answer"],
            }
        )
    return pd.DataFrame(rows).astype({"y": float, "mass": float})


def pairs_of(rows: pd.DataFrame) -> Pairs:
    """Each row's two options (first option = accept / A) as lottery pairs."""
    return Pairs.of([(Lottery.from_list(a), Lottery.from_list(b)) for a, b in zip(rows.lottery_a, rows.lottery_b)], rows.wealth.to_numpy())


def estimates(rows: pd.DataFrame) -> dict:
    pairs, y = pairs_of(rows), rows.y.to_numpy()
    return {name: fit(name, pairs, y).to_dict() for name in ("crra", "pt")}


def interior_fit(est: dict) -> bool:
    """A fit whose preference parameters all have an interior optimum (the noise may sit on its bound)."""
    return not any(p.get("on_bound") for name, p in est["params"].items() if name != "noise")


def fitted_preferences(est: dict) -> dict:
    """The fitted CRRA and PT preferences, None where a parameter sits on its search bound: a certainty
    equivalent computed from a bound value is an artefact of the search range, not a finding."""
    crra, pt = est["crra"]["params"], est["pt"]["params"]
    return {
        "crra_fit": parse_preference(f"crra:r={crra['r']['value']}") if interior_fit(est["crra"]) else None,
        "pt_fit": parse_preference(
            f"pt:alpha={pt['alpha']['value']},lambda={pt['lambda']['value']},gamma={pt['gamma']['value']}"
        ) if interior_fit(est["pt"]) else None,
    }


def theory(fitted: dict, value) -> dict:
    """value(preference) for the reference preferences and the identified fits (None for the others)."""
    prefs = {name: parse_preference(name) for name in REFERENCES} | fitted
    return {name: value(pref) if pref is not None else None for name, pref in prefs.items()}


def curve_summary(rows: pd.DataFrame, fitted: dict) -> dict:
    g = Lottery.from_list(rows.lottery_b.iloc[0])
    wealth = float(rows.wealth.iloc[0])
    lo, hi = min(g.outcomes), max(g.outcomes)
    curve = fit_curve(rows.sure, rows.y, lo, hi)
    return {
        "curve": rows.curve.iloc[0],
        "gamble": g.to_list(),
        "wealth": wealth,
        "indifference": curve.indifference,
        "midpoint": curve.midpoint,
        "slope": curve.slope,
        "mean_p_accept": float(rows.y.mean()),
        "theory": theory(fitted, lambda pref: pref.certainty_equivalent(g, wealth)),
    }


def mixed_items(table: pd.DataFrame) -> pd.DataFrame:
    """The answered mixed gambles (50% +G / 50% -L against $0) with their gain G and loss L."""
    rows = table[(table.kind == "mixed") & table.persona.isna() & table.y.notna()].copy()
    lots = [Lottery.from_list(x) for x in rows.lottery_b]
    rows["gain"] = [max(g.outcomes) for g in lots]
    rows["loss"] = [-min(g.outcomes) for g in lots]
    return rows


def measured_threshold(rows: pd.DataFrame) -> float | None:
    """The gain at which P(take the mixed gamble) crosses ½, linearly interpolated between offered gains
    (both option orders averaged); None if it never crosses from below."""
    take = (1 - rows.y).groupby(rows.gain).mean().sort_index()
    gains, p = take.index.to_numpy(), take.to_numpy()
    for i in range(len(p) - 1):
        if p[i] < 0.5 <= p[i + 1]:
            return float(gains[i] + (0.5 - p[i]) / (p[i + 1] - p[i]) * (gains[i + 1] - gains[i]))
    return float(gains[0]) if len(p) and p[0] >= 0.5 else None


def mixed_summary(table: pd.DataFrame, fitted: dict) -> list[dict]:
    """Per loss L of the mixed gambles (the loss-aversion data): P(take the gamble) by gain, the gain at which
    the model takes it half the time, and the gain each reference preference needs."""
    out = []
    for loss, part in mixed_items(table).groupby("loss"):
        wealth, p = float(part.wealth.iloc[0]), Lottery.from_list(part.lottery_b.iloc[0]).probs[0]
        take = (1 - part.y).groupby(part.gain).mean()
        out.append({
            "curve": part.curve.iloc[0],
            "loss": float(loss),
            "wealth": wealth,
            "p_take": {f"{g:g}": float(v) for g, v in take.items()},
            "threshold": measured_threshold(part),
            "theory": theory(fitted, lambda pref: acceptable_gain(pref, float(loss), wealth, p)),
        })
    return out


def holt_laury_summary(rows: pd.DataFrame) -> dict:
    rows = rows.sort_values("row")
    p_safe = rows.y.to_numpy()
    safe = p_safe > 0.5
    n_safe = int(safe.sum())
    lo, hi = holt_laury.crra_interval(n_safe)
    return {
        "p_safe": [float(x) for x in p_safe],
        "safe_choices": n_safe,
        "expected_safe_choices": float(p_safe.sum()),
        # one switch from A to B, never back: the interval only means something then
        "consistent": bool(np.all(safe[:n_safe])) and not bool(safe[-1]),
        "crra_interval": [finite_or_none(lo), finite_or_none(hi)],
    }


def finite_or_none(x: float):
    return float(x) if np.isfinite(x) else None


def persona_summary(rows: pd.DataFrame) -> dict:
    out = {}
    lo, hi = min(PERSONA_GAMBLE.outcomes), max(PERSONA_GAMBLE.outcomes)
    for persona, part in rows.groupby("persona", sort=False):
        curve = fit_curve(part.sure, part.y, lo, hi)
        out[persona] = {
            "curve": curve_name(PERSONA_GAMBLE, persona),
            "indifference": curve.indifference,
            "mean_p_accept": float(part.y.mean()),
            "crra_r": fit("crra", pairs_of(part), part.y.to_numpy()).to_dict()["params"]["r"],
        }
    base = out.get("neutral")
    for entry in out.values():
        both = base and entry["indifference"] is not None and base["indifference"] is not None
        entry["shift_vs_neutral"] = {
            "indifference": entry["indifference"] - base["indifference"] if both else None,
            "mean_p_accept": entry["mean_p_accept"] - base["mean_p_accept"] if base else None,
        }
    return out


def summarize(results: pd.DataFrame) -> dict:
    """Everything `summary.json` reports except run metadata and timings."""
    answered = results[results.y.notna()]
    gam = answered[(answered.family == "gamble") & answered.persona.isna()]
    est = estimates(gam)
    fitted = fitted_preferences(est)
    sure_curves = gam[gam.curve.notna() & (gam.kind != "mixed")]
    curves = [curve_summary(part, fitted) for _, part in sure_curves.groupby("curve", sort=False)]
    hl = answered[answered.family == "holt_laury"]
    logit = np.log(np.clip(gam.y, 1e-6, 1 - 1e-6) / np.clip(1 - gam.y, 1e-6, 1 - 1e-6))
    pairs = pairs_of(gam)
    order = gam.groupby("sure_first").y.mean()
    return {
        "estimates": est,
        "holt_laury": {f"x{scale:g}": holt_laury_summary(part) for scale, part in hl.groupby("scale")},
        "indifference": curves,
        "mixed": mixed_summary(gam, fitted),
        "logit_vs_utility": {
            "ev": correlation(scaled_differences(ExpectedValue(), pairs), logit),
            "crra_fit": correlation(scaled_differences(fitted["crra_fit"], pairs), logit) if fitted["crra_fit"] else None,
        },
        "personas": persona_summary(answered[answered.persona.notna()]),
        # None, not NaN, where there is nothing to average: summary.json stays strict JSON
        "position_bias": {
            "p_accept_sure_first": finite_or_none(order.get(True, np.nan)),
            "p_accept_gamble_first": finite_or_none(order.get(False, np.nan)),
        },
    }
