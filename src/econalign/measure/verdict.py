"""The plain verdict that opens every profile report and the command line's output.

All wording rules live here and read only a profile's summary, so they are tested on hand-made
summaries. A value on its search bound is never worded as a finding: the estimator found no
interior optimum there, so it is said to be not identified.
"""

from __future__ import annotations

import numpy as np

FLAT_SHARE = 0.9  # taking one kind of option this often on every curve is no preference between them
ORDER_GAP = 0.2  # P(accept) this much apart between the two listing orders is worth a warning
LOW_MASS = 0.5  # below this share of next-token probability on the option words, the answers are shaky
FIRST_SHARE = 0.85  # picking the first listed option this often (or its complement) is position, not preference


def estimate_text(value: float, ci, on_bound: bool, digits: int = 2) -> str:
    """`1.90 [1.60, 2.20]`, or the value marked as on its search bound / not identified."""
    if on_bound:
        return f"{value:.{digits}f} (on its search bound: not identified)"
    if ci is None:
        return f"{value:.{digits}f} (not identified)"
    return f"{value:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def param_text(p: dict, digits: int = 2) -> str:
    return estimate_text(p["value"], p["ci95"], bool(p.get("on_bound")), digits)


def identified(p: dict) -> bool:
    return not p.get("on_bound") and p["ci95"] is not None


def why_not(name: str, p: dict) -> str:
    """Why an estimate is not a finding: `CRRA r = 5.00 is on its search bound`."""
    return f"{name} = {p['value']:.2f} " + ("is on its search bound" if p.get("on_bound") else "has no finite interval")


def switching(hl: dict) -> str:
    """How a Holt–Laury list was answered: one switch (the only case with an implied CRRA interval) or not."""
    if hl["consistent"]:
        return "switching once"
    if hl["safe_choices"] == len(hl["p_safe"]):
        return "never switching to the risky option, not even in the last row where it pays more for sure"
    return "switching more than once"


def risk_verdict(summary: dict) -> str:
    """One or two sentences on a risk profile: the attitude to risk, Holt–Laury, loss aversion, caveats."""
    r = summary["estimates"]["crra"]["params"]["r"]
    curves = summary["indifference"]
    shares = [c["mean_p_accept"] for c in curves]
    if curves and all(c["indifference"] is None for c in curves):
        head = f"No measurable risk preference: {flat_text(shares)}"
        if not identified(r):
            head += "; the estimators find no interior optimum"
    elif not identified(r):
        crossing = sum(c["indifference"] is not None for c in curves)
        head = (f"Risk preference not identified: {why_not('CRRA r', r)}; "
                f"{crossing} of {len(curves)} choice curves cross ½ inside the offered amounts")
    else:
        head = f"{attitude(r)}: CRRA r = {param_text(r)}"
    return sentences(head, [holt_laury_text(summary["holt_laury"]), loss_text(summary), *risk_caveats(summary)])


def flat_text(shares: list[float]) -> str:
    mean, lo, hi = np.mean(shares), min(shares), max(shares)
    if lo >= FLAT_SHARE:
        return f"accepts the sure option {mean:.0%} of the time at every stake ({lo:.0%}–{hi:.0%} across the curves)"
    if hi <= 1 - FLAT_SHARE:
        return f"takes the gamble {1 - mean:.0%} of the time at every stake ({1 - hi:.0%}–{1 - lo:.0%} across the curves)"
    return f"its choices do not follow the sure amount on any curve (P(accept the sure option) {mean:.0%} on average)"


def attitude(r: dict) -> str:
    lo, hi = r["ci95"]
    return "Risk-averse" if lo > 0 else "Risk-loving" if hi < 0 else "Close to risk-neutral"


def holt_laury_text(hl: dict) -> str:
    answers = {(e["safe_choices"], switching(e)) for e in hl.values()}
    if len(answers) == 1 and len(hl) > 1:  # the same at every stake: say it once
        (safe, how), = answers
        return f"Holt–Laury: {safe} safe choices at every stake ({', '.join(hl)}), {how}"
    parts = [f"{e['safe_choices']} safe choices at stakes {name}, {switching(e)}" for name, e in hl.items()]
    return f"Holt–Laury: {'; '.join(parts)}" if parts else ""


def loss_text(summary: dict) -> str:
    lam = summary["estimates"]["pt"]["params"]["lambda"]
    if not identified(lam):
        return f"loss aversion not identified ({why_not('PT λ', lam)})"
    lo, hi = lam["ci95"]
    kind = "loss-averse" if lo > 1 else "gain-seeking in mixed gambles" if hi < 1 else "no clear loss aversion"
    return f"{kind}, PT λ = {param_text(lam)}"


def risk_caveats(summary: dict) -> list[str]:
    out = mass_caveat(summary)
    pb = summary["position_bias"]
    first, second = pb["p_accept_sure_first"], pb["p_accept_gamble_first"]
    if first is not None and second is not None and abs(first - second) >= ORDER_GAP:
        out.append(f"the answer depends on the listing order (P(accept) {first:.2f} with the sure option first, "
                   f"{second:.2f} with the gamble first)")
    return out


def mass_caveat(summary: dict) -> list[str]:
    mass = summary["answers"]["mean_option_mass"]
    if mass is not None and mass < LOW_MASS:
        return [f"only {mass:.0%} of the next-token probability falls on the option words, so read these figures "
                "with care"]
    return []


def social_verdict(summary: dict) -> str:
    """One or two sentences on a social profile: whether its choices follow the payoffs at all, then the
    nearest reference preference, κ and Fehr–Schmidt."""
    first = summary["position_bias"]["p_first_option"]
    est = summary["estimates"]
    params = [f"homo moralis κ {param_text(est['moralis']['params']['kappa'])}"] if "moralis" in est else []
    if "fs" in est:
        fs = est["fs"]["params"]
        params.append(f"Fehr–Schmidt α {param_text(fs['alpha'])}, β {param_text(fs['beta'])}")
    name, gap, games = nearest_reference(summary["behaviour"])
    if first is not None and (first >= FIRST_SHARE or first <= 1 - FIRST_SHARE):
        which = "first" if first >= FIRST_SHARE else "second"
        share = first if which == "first" else 1 - first
        head = f"No measurable social preference: picks the {which} listed option {share:.0%} of the time whatever it offers"
    elif "moralis" in est and payoff_blind(est["moralis"]["params"]):
        head = ("No measurable social preference: its choices barely follow the payoffs (the homo moralis fit puts its "
                f"noise on the search bound); its mean levels are nearest {name}'s, {gap:.2f} apart over {games} games")
    else:
        head = f"Behaves closest to {name}: mean level {gap:.2f} from it on average over {games} games"
    return sentences(head, [*params, *mass_caveat(summary)])


def payoff_blind(moralis: dict) -> bool:
    """Choices the logit explains only with the most noise it allows: no trade-off between payoffs is visible.
    (The noise's lower bound, 0.001, is the opposite: an agent that always takes its best option.)"""
    noise = moralis["noise"]
    return bool(noise.get("on_bound")) and noise["value"] > 1.0


def nearest_reference(behaviour: dict) -> tuple[str, float, int]:
    """The reference preference whose exact per-game behaviour is nearest the model's (mean absolute gap)."""
    refs = [k for k in next(iter(behaviour.values())) if k != "model"]
    gaps = {}
    for ref in refs:
        pairs = [(g["model"], g[ref]) for g in behaviour.values() if g["model"] is not None and g[ref] is not None]
        gaps[ref] = (float(np.mean([abs(m - x) for m, x in pairs])), len(pairs)) if pairs else (np.inf, 0)
    best = min(gaps, key=lambda k: gaps[k][0])
    return best, *gaps[best]


def sentences(head: str, rest: list[str]) -> str:
    rest = [x for x in rest if x]
    tail = "; ".join(rest)
    return f"{head}." + (f" {tail[0].upper()}{tail[1:]}." if tail else "")


NEAR_RATIONAL = 0.95  # CCEI at or above this is "nearly consistent" (a common cut-off since Choi et al. 2007)
LEAN = 0.15  # a mean share on the first-listed asset (or place in the list) this far from 1/2 is a lean towards a position


def budget_verdict(summary: dict) -> str:
    """One or two sentences on a budget profile: consistency with utility maximisation, then the CRRA r of
    its demands, then caveats."""
    head = consistency_text(summary["revealed"])
    return sentences(head, [demand_text(summary["estimates"]["crra"]["params"]["r"]), *budget_caveats(summary)])


def consistency_text(rp: dict) -> str:
    """Whether the choices pass GARP, and if not how far they are from it (CCEI, Houtman–Maks)."""
    if rp["garp_violations"] == 0:
        return f"Consistent with utility maximisation: no GARP violation in {rp['observations']} choices"
    kind = "Nearly consistent" if rp["ccei"] >= NEAR_RATIONAL else "Not consistent"
    return (f"{kind} with utility maximisation: {rp['garp_violations']} of {rp['pairs']} pairs of choices violate "
            f"GARP (CCEI {rp['ccei']:.2f}, Houtman–Maks {rp['houtman_maks']:.2f}; budgets must shrink by "
            f"{1 - rp['ccei']:.0%} to remove every violation)")


def demand_text(r: dict) -> str:
    if not identified(r):
        return f"risk attitude not identified ({why_not('CRRA r', r)})"
    return f"its demands fit CRRA r = {param_text(r)}"


def budget_caveats(summary: dict) -> list[str]:
    out = mass_caveat(summary)
    lean = summary["position_bias"]["share_first_asset"]
    if lean is not None and abs(lean - 0.5) >= LEAN:
        which = "first" if lean > 0.5 else "second"
        out.append(f"it leans towards the {which}-listed asset ({lean:.0%} of the budget on the first-listed one on "
                   "average over both orders)")
    return [*out, *unparsed_text(summary)]


def unparsed_text(summary: dict) -> list[str]:
    unparsed = summary["answers"]["unparsed"]
    return [f"{unparsed} of {summary['answers']['items']} answers named no allocation"] if unparsed else []


def giving_verdict(summary: dict) -> str:
    """One or two sentences on a giving profile: consistency with utility maximisation, how much it passes
    where giving is cheap and where it is dear, the nearest of Andreoni and Miller's types, κ and
    Fehr–Schmidt, then caveats."""
    giving, est = summary["giving"], summary["estimates"]
    amounts = (f"it passes {percent_text(giving['mean'])} of the tokens on average: {percent_text(giving['cheap'])} where "
               f"giving costs less than keeping (price below 1), {percent_text(giving['dear'])} where it costs more")
    if payoff_blind(est["moralis"]["params"]):
        kind = "its choices barely follow the payoffs (the homo moralis fit puts its noise on the search bound)"
    else:
        kind = (f"nearest Andreoni and Miller's {giving['nearest_type']} type (shares passed "
                f"{giving['type_gaps'][giving['nearest_type']]:.2f} from it on average)")
    fs = est["fs"]["params"]
    params = [f"homo moralis κ {param_text(est['moralis']['params']['kappa'])}",
              f"Fehr–Schmidt α {param_text(fs['alpha'])}, β {param_text(fs['beta'])}"]
    return sentences(consistency_text(summary["revealed"]), [amounts, kind, *params, *giving_caveats(summary)])


def percent_text(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def giving_caveats(summary: dict) -> list[str]:
    out = mass_caveat(summary)
    position = summary["position_bias"]["position"]
    if position is not None and abs(position - 0.5) >= LEAN:
        which = "first" if position < 0.5 else "last"
        out.append(f"it leans towards the {which}-listed allocations (mean place in the list {position:.2f}, 0 the "
                   "first letter and 1 the last, over both orders)")
    return [*out, *unparsed_text(summary)]


FRAME_SHIFT = 0.05  # P(sure | gain) - P(sure | loss) below this is no framing effect worth naming


def consistency_verdict(summary: dict) -> str:
    """One or two sentences on a consistency profile: transitivity (or a listing-order lean that decides the
    choices), then how often the listing order and the gain/loss frame change the choice, then caveats."""
    t = summary["transitivity"]
    first = summary["position_bias"]["first_lottery"]["value"]
    transitive = transitivity_text(t)
    if first is not None and (first >= FIRST_SHARE or first <= 1 - FIRST_SHARE):
        which, share = ("first", first) if first >= FIRST_SHARE else ("second", 1 - first)
        head, rest = f"Choices follow the listing order: picks the {which}-listed lottery {share:.0%} of the time", [transitive]
    else:
        head, rest = transitive[0].upper() + transitive[1:], []
    rest += [flips_text(summary), sure_text(summary["position_bias"]["sure_option"]), *mass_caveat(summary)]
    unparsed = summary["answers"]["unparsed"]
    if unparsed:
        rest.append(f"{unparsed} of {summary['answers']['items']} answers named no option")
    return sentences(head, rest)


def share_text(r: dict) -> str:
    """`12% [8%, 17%] of 90`."""
    return f"{r['value']:.0%} [{r['ci95'][0]:.0%}, {r['ci95'][1]:.0%}] of {r['n']}"


def transitivity_text(t: dict) -> str:
    if not t["triples"]:
        return "transitivity not measured: no triple was answered in all six items"
    chance = f"cycle probability {share_text(t['cycle_probability'])}, 25% for a coin-flip chooser"
    if not t["cycles"]:
        return f"transitive: no majority cycle in {t['triples']} lottery triples ({chance})"
    return f"intransitive: majority cycles in {t['cycles']} of {t['triples']} lottery triples ({chance})"


def flips_text(summary: dict) -> str:
    order, flips, shift = summary["order_flips"]["all"], summary["frame_flips"], summary["frame_shift"]
    parts = [f"the listing order changes the choice in {share_text(order)} pairs" if order["n"] else ""]
    if flips["n"]:
        parts.append(f"the gain/loss frame in {share_text(flips)} problems" + reflection_text(shift))
    return ", ".join(p for p in parts if p)


def sure_text(sure: dict) -> str:
    """Frames answered with one word whatever they say measure nothing about framing."""
    if sure["value"] is None or 1 - FIRST_SHARE < sure["value"] < FIRST_SHARE:
        return ""
    which, share = ("sure option", sure["value"]) if sure["value"] >= FIRST_SHARE else ("gamble", 1 - sure["value"])
    return f"the frames say little: it takes the {which} in {share:.0%} of the frame items, whatever the frame and order"


def reflection_text(shift: dict) -> str:
    """The frame shift's direction, where it is large enough to name and its interval excludes 0."""
    lo, hi = shift["ci95"]
    if abs(shift["value"]) < FRAME_SHIFT:
        return ""
    if lo > 0:
        return (f", taking the sure option more often as a gain than as a loss ({shift['value']:+.2f}: the reflection "
                "effect of Tversky and Kahneman)")
    if hi < 0:
        return f", taking the sure option more often as a loss than as a gain ({shift['value']:+.2f})"
    return ""


COHERENT, PARTLY = 0.8, 0.6  # held-out accuracy of the fitted utilities: coherent, partly coherent
COIN_FLIP = float(np.log(2))  # the log-loss of predicting 1/2 for every choice
BEATS = 0.95  # a held-out log-loss above this share of a coin flip's is no better than one
DECISIVE = 0.1  # mean |P(a) - 1/2| of the fitted pairs below this: choices close to coin flips, no preference to fit
MONOTONE = 0.9  # |Spearman ρ| of utility and amount at or above this: utility follows money


def utilities_verdict(summary: dict) -> str:
    """One or two sentences on a utilities run: whether its choices show a preference at all and how well the
    utilities predict held-out choices, the ends of the ranking, money (order and CRRA curve), exchange rates,
    caveats."""
    fit, n = summary["fit"], summary["design"]["outcomes"]
    held = fit["held_out"]
    ranked = sorted((o for o in summary["outcomes"] if o["mu"] is not None), key=lambda o: -o["mu"])
    ends = [f"highest {ranked[0]['text']!r}, lowest {ranked[-1]['text']!r}"]
    if fit["decisiveness"] < DECISIVE:
        head = (f"No measurable preference over {n} outcomes: averaged over both orders its choices are close to coin "
                f"flips (on average {fit['decisiveness']:.2f} from ½)")
        ends = []
    elif held["accuracy"] is None:
        head = f"Utilities of {n} outcomes fitted; no held-out pairs, so how well they predict choices is not measured"
    else:
        acc, loss = held["accuracy"], held["log_loss"]
        beaten = loss < BEATS * COIN_FLIP
        kind = ("No coherent preference" if acc < PARTLY or not beaten else
                "Coherent preferences" if acc >= COHERENT else "Partly coherent preferences")
        head = (f"{kind} over {n} outcomes: the fitted utilities predict {acc:.0%} of {held['pairs']} held-out choices "
                f"with a log-loss of {loss:.3f} ({'against' if beaten else 'no better than'} {COIN_FLIP:.3f} for a "
                "coin flip)")
    return sentences(head, [*ends, money_text(summary), *exchange_texts(summary), *utilities_caveats(summary)])


def money_text(summary: dict) -> str:
    """Whether utility follows the amount of money, and the curvature of the fitted CRRA curve."""
    money, est = summary["money"], summary["estimates"].get("crra")
    if money is None or money["spearman"] is None:
        return ""
    rho = money["spearman"]
    order = ("utility rises with money" if rho >= MONOTONE else "utility falls as money rises" if rho <= -MONOTONE
             else "utility does not follow the amount of money")
    text = f"{order} (Spearman ρ {rho:.2f} over {money['amounts']} amounts)"
    if est is None:
        return text
    problem = curve_problem(est)
    if problem:
        return f"{text}; {problem}"
    r = est["params"]["r"]
    lo, hi = r["ci95"]
    shape = "a concave" if lo > 0 else "a convex" if hi < 0 else "a nearly linear"
    return f"{text}; its choices between money outcomes fit {shape} CRRA utility, r = {param_text(r)}"


def curve_problem(est: dict) -> str | None:
    """Why the CRRA curve fitted to a utilities run's money choices is no finding; None where it is one."""
    r, noise = est["params"]["r"], est["params"]["noise"]
    if noise.get("on_bound") and noise["value"] > 1:  # the upper bound (5), not the lower (0.001, certain choices)
        return ("its choices between money outcomes do not follow their CRRA value (the fit puts its noise on its "
                "search bound)")
    if not identified(r):
        return f"its curvature is not identified ({why_not('CRRA r', r)})"
    return None


def quantity_text(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def exchange_texts(summary: dict) -> list[str]:
    """`10 people saved ≈ 2,300 dollars` for each kind against the reference kind; the kinds without a rate
    together, by reason."""
    ex = summary["exchange"]
    if ex is None:
        return []
    out, missing = [], {}
    for rate in ex["rates"]:
        if rate["reference_quantity"] is None:
            missing.setdefault(rate["why_not"], []).append(rate["kind"])
        else:
            far = " (extrapolated)" if rate["extrapolated"] else ""
            out.append(f"{quantity_text(rate['quantity'])} {rate['kind']} ≈ "
                       f"{quantity_text(rate['reference_quantity'])} {ex['reference']}{far}")
    return out + [f"no exchange rate of {' or '.join(kinds)} against {ex['reference']}: {why}"
                  for why, kinds in missing.items()]


def utilities_caveats(summary: dict) -> list[str]:
    out = mass_caveat(summary)
    pb = summary["position_bias"]
    first, gap = pb["p_first_listed"], pb["order_gap"]
    if first is not None and (first >= FIRST_SHARE or first <= 1 - FIRST_SHARE):
        which, share = ("first", first) if first >= FIRST_SHARE else ("second", 1 - first)
        out.append(f"it picks the {which}-listed option {share:.0%} of the time, so its utilities rest on small "
                   "differences between the two orders")
    elif gap is not None and gap >= ORDER_GAP:
        out.append(f"its answer depends on the listing order (P(choose an outcome) moves by {gap:.2f} between the "
                   "two orders on average)")
    unparsed = summary["answers"]["unparsed"]
    if unparsed:
        out.append(f"{unparsed} of {summary['answers']['items']} answers named no option")
    return out
