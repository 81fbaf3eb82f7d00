"""A model's profile set against a target preference: parameters, behaviour, and the verdict of `econalign align`.

Everything here is a pure function of profile summaries, results tables and the target, so the
verdict rules can be tested on hand-made summaries.

Verdict: **recovered** when every parameter of the target comes back from the trained model's
choice probabilities — identified (an interval, off the search bound; a bound counts only where
the target itself sits on it), inside its tolerance of the target, and with a 95% interval inside
twice the tolerance (an interval that would hold any value cannot tell the target from another) —
and, for social targets, every game's mean behaviour lies within BEHAVIOUR of the target's exact
level; **moved but not recovered** when the share of choice probability on the target's choices
rose by at least MOVED (but something missed); **not moved** otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from econalign.preferences import ExpectedValue, Lottery, parse_preference
from econalign.preferences.crra import CRRA
from econalign.preferences.prospect import ProspectTheory
from econalign.preferences.social import FehrSchmidt, HomoMoralis
from econalign.tasks import holt_laury
from econalign.tasks.gamble import acceptable_gain

# How far an estimate may sit from the target and still count as the target (the goals).
TOLERANCE = {("crra", "r"): 0.3, ("pt", "alpha"): 0.15, ("pt", "lambda"): 0.5, ("pt", "gamma"): 0.2,
             ("moralis", "kappa"): 0.15, ("fs", "alpha"): 0.3, ("fs", "beta"): 0.15}
BEHAVIOUR = 0.15  # largest gap between a game's mean level and the target's that counts as the target's behaviour
MOVED = 0.05  # rise in the share of choice probability on the target's choices that counts as a move
BOUND = 1e-6


def target_parameters(pref) -> dict[str, dict[str, float]]:
    """The estimated model and parameter values a profile of a perfect student of `pref` should return."""
    if isinstance(pref, ExpectedValue):
        return {"crra": {"r": 0.0}}
    if isinstance(pref, CRRA):
        return {"crra": {"r": pref.r}}
    if isinstance(pref, ProspectTheory):  # estimated with beta = alpha, delta = gamma
        return {"pt": {"alpha": pref.alpha, "lambda": pref.lam, "gamma": pref.gamma}}
    if isinstance(pref, HomoMoralis):
        return {"moralis": {"kappa": pref.kappa}}
    if isinstance(pref, FehrSchmidt):
        return {"fs": {"alpha": pref.alpha, "beta": pref.beta}}
    raise TypeError(f"no estimated model for {pref.spec()}")


def on_bound(value: float, bounds: tuple[float, float]) -> bool:
    return min(abs(value - bounds[0]), abs(value - bounds[1])) < BOUND


def parameter_rows(target: dict, before: dict, after: dict) -> list[dict]:
    """One row per target parameter: target, before and after (value, interval, bound) and whether recovered."""
    from econalign.measure.estimate import MODELS, SOCIAL_MODELS

    rows = []
    for model, params in target.items():
        spec = {**MODELS, **SOCIAL_MODELS}[model]
        for name, goal in params.items():
            bounds = spec.bounds[spec.names.index(name)]
            b, a = before["estimates"][model]["params"][name], after["estimates"][model]["params"][name]
            rows.append({
                "model": model, "parameter": name, "target": goal, "tolerance": TOLERANCE[(model, name)],
                "before": b["value"], "before_ci": b["ci95"], "before_bound": on_bound(b["value"], bounds),
                "after": a["value"], "after_ci": a["ci95"], "after_bound": on_bound(a["value"], bounds),
                "recovered": recovered(a, goal, TOLERANCE[(model, name)], bounds),
            })
    return rows


def recovered(estimate: dict, goal: float, tolerance: float, bounds: tuple[float, float]) -> bool:
    value, ci = estimate["value"], estimate["ci95"]
    if on_bound(value, bounds):  # no interval there; only a target on that same bound is hit
        return on_bound(goal, bounds) and abs(value - goal) < BOUND
    if ci is None:
        return False
    return abs(value - goal) <= tolerance and goal - 2 * tolerance <= ci[0] and ci[1] <= goal + 2 * tolerance


def verdict(rows: list[dict], agreement_before: float, agreement_after: float, missed: list[str] = ()) -> dict:
    """The verdict, its one-line wording (from the figures), and the rule's inputs; `missed` names the
    behaviour checks that failed (social targets: games off the target's level)."""
    moved = agreement_after - agreement_before >= MOVED
    hit = rows and all(r["recovered"] for r in rows) and not missed
    status = "recovered" if hit else "moved" if moved else "not moved"
    head = {"recovered": "Recovered", "moved": "Moved but not recovered", "not moved": "Not moved"}[status]
    params = "; ".join([*(describe(r) for r in rows), *missed])
    share = f"share of choice probability on the target's choices {agreement_before:.2f} → {agreement_after:.2f}"
    return {"status": status, "line": f"{head}: {params}; {share}.", "agreement_before": agreement_before,
            "agreement_after": agreement_after}


def describe(row: dict) -> str:
    from econalign.measure.verdict import estimate_text

    name = f"{row['model'].upper() if row['model'] != 'moralis' else 'homo moralis'} {row['parameter']}"
    value = estimate_text(row["after"], row["after_ci"], row["after_bound"])
    if row["after_bound"] and row["recovered"]:  # e.g. kappa = 0 for homo economicus: the bound is the target
        value = f"{row['after']:.2f} (on its bound, where the target is)"
    mark = "" if row["recovered"] else ", missed"
    return f"{name} {value} (target {row['target']:g}{mark})"


def risk_agreement(table: pd.DataFrame, pref) -> float:
    """Mean probability the model puts on the target's choice over the battery's unprompted items (ties: ½)."""
    rows = table[table.persona.isna() & table.y.notna()]
    a = [pref.value(Lottery.from_list(x), w) for x, w in zip(rows.lottery_a, rows.wealth)]
    b = [pref.value(Lottery.from_list(x), w) for x, w in zip(rows.lottery_b, rows.wealth)]
    target_a = np.where(np.isclose(a, b, rtol=1e-12, atol=1e-12), 0.5, np.greater(a, b).astype(float))
    y = rows.y.to_numpy()
    return float(np.mean(target_a * y + (1 - target_a) * (1 - y)))


def social_agreement(tasks, table: pd.DataFrame, pref) -> float:
    """Mean probability on the target's best option(s) per menu (all of them where the target is indifferent)."""
    from econalign.measure.social import best_options

    shares = [sum(probs[task.options.index(o)] for o in best_options(task, pref))
              for task, probs in zip(tasks, table["probs"]) if probs is not None]
    return float(np.mean(shares))


def curve_rows(before: dict, after: dict, pref) -> list[dict]:
    """Each gamble curve's indifference point before and after against the target's certainty equivalent."""
    rows = []
    for b, a in zip(before["indifference"], after["indifference"]):
        g = Lottery.from_list(a["gamble"])
        rows.append({"curve": a["curve"], "before": b["indifference"], "after": a["indifference"],
                     "target": pref.certainty_equivalent(g, a["wealth"]), "gamble": a["gamble"], "wealth": a["wealth"]})
    return rows


def holt_laury_rows(before: dict, after: dict, pref) -> list[dict]:
    target = holt_laury.safe_choices(pref)
    return [{"stakes": k, "before": before["holt_laury"][k]["safe_choices"], "after": a["safe_choices"],
             "after_expected": a["expected_safe_choices"], "target": target} for k, a in after["holt_laury"].items()]


def mixed_rows(before: dict, after: dict, pref) -> list[dict]:
    """Per loss size of the battery's mixed gambles: the gain that makes them acceptable, before, after, target."""
    return [{"loss": a["loss"], "wealth": a["wealth"], "target": acceptable_gain(pref, a["loss"], a["wealth"]),
             "before": b["threshold"], "after": a["threshold"]} for b, a in zip(before["mixed"], after["mixed"])]


def behaviour_rows(before: dict, after: dict, tasks, target_spec: str) -> list[dict]:
    """Mean kindness level per game before and after, against the target's exact level."""
    from econalign.measure.social import game_of, reference_level

    levels: dict[str, list[float]] = {}
    for t in tasks:
        levels.setdefault(game_of(t), []).append(reference_level(t, target_spec))
    return [{"game": g, "before": before["behaviour"][g]["model"], "after": after["behaviour"][g]["model"],
             "target": float(np.mean(v))} for g, v in levels.items()]


def behaviour_missed(rows: list[dict]) -> list[str]:
    """One phrase for the games whose mean level after training is more than BEHAVIOUR from the target's."""
    off = [r for r in rows if r["after"] is None or abs(r["after"] - r["target"]) > BEHAVIOUR]
    if not off:
        return []
    gaps = ", ".join(f"{r['game']} {level(r['after'])} vs {r['target']:.2f}" for r in off)
    return [f"{len(off)} of {len(rows)} games more than {BEHAVIOUR:g} from the target's level ({gaps})"]


def level(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def risk_comparison(spec: str, before: dict, after: dict, before_table: pd.DataFrame, after_table: pd.DataFrame) -> dict:
    pref = parse_preference(spec)
    rows = parameter_rows(target_parameters(pref), before, after)
    return {
        "target": pref.spec(),
        "battery": "risk",
        "parameters": rows,
        "verdict": verdict(rows, risk_agreement(before_table, pref), risk_agreement(after_table, pref)),
        "curves": curve_rows(before, after, pref),
        "holt_laury": holt_laury_rows(before, after, pref),
        "mixed": mixed_rows(before, after, pref),
    }


def social_comparison(spec: str, before: dict, after: dict, before_table: pd.DataFrame, after_table: pd.DataFrame) -> dict:
    from econalign.measure.social import social_battery

    pref = parse_preference(spec)
    tasks = social_battery()
    rows = parameter_rows(target_parameters(pref), before, after)
    behaviour = behaviour_rows(before, after, tasks, pref.spec())
    return {
        "target": pref.spec(),
        "battery": "social",
        "parameters": rows,
        "verdict": verdict(rows, social_agreement(tasks, before_table, pref), social_agreement(tasks, after_table, pref),
                           behaviour_missed(behaviour)),
        "behaviour": behaviour,
        "ultimatum": {"before": before["ultimatum_acceptance"], "after": after["ultimatum_acceptance"]},
    }
