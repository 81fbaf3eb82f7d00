"""Programmatic reasoning traces from the exact solver, for every task family.

A trace states the preference, computes what decides the task (each option's value, or the
optimal stake of a bet), compares, and ends with the solver's optimal answer. `trace` checks
the result before returning it: a malformed trace, a tool output that is not the calculator's,
or a final answer other than the optimum is a bug and is never returned.
"""

from __future__ import annotations

from collections import Counter

from econalign import EconalignError
from econalign.agent.format import parse_trace
from econalign.data.expressions import (
    describe,
    describe_lottery,
    supported,
    value_expression,
    value_name,
    weight_step,
)
from econalign.data.writer import Writer, distinct_digits, num
from econalign.preferences.base import Lottery, RiskPreference
from econalign.preferences.crra import CRRA, ExpectedValue
from econalign.preferences.prospect import ProspectTheory, tk_weight
from econalign.preferences.social import (
    FehrSchmidt,
    HomoMoralis,
    SocialOption,
    SocialPreference,
)
from econalign.tasks import FAMILIES, Task, bet, social
from econalign.tasks.base import money, percent
from econalign.tools.calculator import evaluate


def trace(task: Task, pref: RiskPreference | SocialPreference, mode: str) -> str:
    """The assistant's completion for a task already solved under `pref`."""
    if task.preference != pref.spec() or task.optimal is None:
        raise ValueError(f"solve {task.id} under {pref.spec()} before tracing it")
    if isinstance(pref, SocialPreference):
        text = social_trace(task, pref, mode)
    else:
        supported(pref)
        text = bet_trace(task, pref, mode) if task.family == bet.FAMILY else choice_trace(task, pref, mode)
    check(task, text)
    return text


def check(task: Task, text: str) -> None:
    parsed = parse_trace(text)
    if parsed.errors:
        raise AssertionError(f"trace for {task.id} is malformed: {parsed.errors}")
    if any(evaluate(call).text != out for call, out in zip(parsed.tool_calls, parsed.tool_outputs)):
        raise AssertionError(f"trace for {task.id} shows a tool output the calculator does not give")
    parse = FAMILIES[task.family].parse
    if parse(parsed.answer) is None or parse(parsed.answer) != parse(task.optimal):
        raise AssertionError(f"trace for {task.id} answers {parsed.answer!r}, the optimum is {task.optimal!r}")


def verdict(shown: dict[str, str], best: str, what: str = "{} is better") -> str:
    """The comparison sentence for values as shown; the optimum must come out on top."""
    value = {label: float(s) for label, s in shown.items()}
    if value[best] < max(value.values()):
        raise AssertionError(f"shown values {shown} do not favour the optimum {best}")
    others = [label for label in shown if label != best]
    tied = [label for label in others if value[label] == value[best]]
    if tied:
        return f"{' and '.join([best, *tied])} both give {shown[best]}: I am indifferent and take {best}."
    rest = [shown[o] for o in others]
    rest = rest[0] if len(rest) == 1 else f"{', '.join(rest[:-1])} and {rest[-1]}"
    return f"{shown[best]} > {rest}, so {what.format(best)}."


def decide(w: Writer, shown: dict[str, str], best: str, what: str = "{} is better") -> None:
    """Two options: the calculator takes their difference and its sign decides (a 135M model misreads
    `63.43 > 103.89`, not a minus sign). More options: the comparison sentence."""
    if len(shown) != 2:
        w.say(verdict(shown, best, what))
        return
    verdict(shown, best, what)  # the shown values must favour the optimum
    first, second = shown
    subtrahend = shown[second] if not shown[second].startswith("-") else f"({shown[second]})"
    diff = float(w.calc(f"{first} minus {second}", f"{shown[first]} - {subtrahend}",
                        float(shown[first]) - float(shown[second])))
    if diff == 0:
        w.say(f"The difference is 0: I am indifferent and take {best}.")
        return
    if (diff > 0) != (best == first):
        raise AssertionError(f"the difference {diff} of {shown} does not lead to the optimum {best}")
    w.say(f"The difference is {'positive' if diff > 0 else 'negative'}, so {what.format(best)}.")


def choice_trace(task: Task, pref: RiskPreference, mode: str) -> str:
    """Each option's expected utility (or prospect value), then the best option."""
    w = Writer(mode, distinct_digits(task.utilities.values()))
    w.say(describe(pref, task.wealth))
    name, shown = value_name(pref), {}
    for label, lot in task.lotteries().items():
        expression, tol = value_expression(pref, lot, task.wealth, w)
        shown[label] = w.calc(f"{label} ({describe_lottery(lot)}): {name}", expression, task.utilities[label], tol)
    decide(w, shown, task.optimal)
    return w.text(task.optimal)


def bet_trace(task: Task, pref: RiskPreference, mode: str) -> str:
    wealth, p, odds = bet.terms(task)
    w = Writer(mode)
    w.say(describe(pref, wealth))
    w.say(f"Staking x wins {num(odds)}*x with probability {percent(p)} and loses x otherwise; "
          f"x runs from $0 to {money(wealth)}.")
    if isinstance(pref, CRRA) and pref.r > 0:
        crra_stake(pref, wealth, p, odds, w, task.optimal)
    elif isinstance(pref, CRRA):
        corner_stake(pref, wealth, p, odds, w, task.optimal)
    elif pref.alpha == pref.beta and pref.reference == 0:
        homogeneous_stake(pref, p, odds, w, task.optimal)
    else:
        compared_stakes(pref, wealth, p, odds, w, task.optimal)
    w.say(f"So I stake {'nothing' if task.optimal == '$0' else task.optimal}.")
    return w.text(task.optimal)


def crra_stake(pref: CRRA, wealth: float, p: float, odds: float, w: Writer, optimal: str) -> None:
    """Concave utility: the first-order condition's closed form (Kelly at r = 1)."""
    q = 1.0 - p
    pays = w.calc("On average a dollar staked wins p*b", f"{num(p)}*{num(odds)}", p * odds)
    if float(pays) <= float(num(q)):
        if optimal != "$0":
            raise AssertionError(f"no edge shown, but the optimum is {optimal}")
        w.say(f"That is no more than the q = {num(q)} it loses on average, so every stake lowers my expected utility.")
        return
    best = wealth * pref.optimal_bet_fraction(p, odds)
    w.say(f"That is more than the q = {num(q)} it loses on average. The best stake sets p*b*u'(W+b*x) = q*u'(W-x), "
          "which for CRRA gives the wealth share f = (k-1)/(b+k) with k = (p*b/q)**(1/r).")
    if pref.r == 1:
        w.say("With log utility this is Kelly's share f = p - q/b.")
        shown = w.calc("Stake W*(p - q/b)", f"{num(wealth)}*({num(p)} - {num(q)}/{num(odds)})", best, 1e-8 * wealth)
    else:
        k_exact = (p * odds / q) ** (1 / pref.r)
        k = w.calc("k", f"({num(p)}*{num(odds)}/{num(q)})**(1/{num(pref.r)})", k_exact, chained=True)
        shown = w.calc("Stake W*(k-1)/(b+k)", f"{num(wealth)}*({k}-1)/({num(odds)}+{k})", best, 1e-8 * wealth)
    if abs(float(shown) - best) > 0.01:
        raise AssertionError(f"shown stake {shown} is not the optimum {best}")


def corner_stake(pref: CRRA, wealth: float, p: float, odds: float, w: Writer, optimal: str) -> None:
    """Linear or convex utility: expected utility is convex in the stake, so all or nothing."""
    kind = "linear" if isinstance(pref, ExpectedValue) or pref.r == 0 else "convex"
    w.say(f"My utility is {kind}, so expected utility is {kind} in the stake: the best stake is all or nothing.")
    stakes = {"$0": Lottery.sure(0.0), money(wealth): Lottery.binary(p, odds * wealth, -wealth)}
    shown = {}
    for label, lot in stakes.items():
        expression, _ = value_expression(pref, lot, wealth, w)
        shown[label] = w.calc(f"Staking {label}: EU", expression, pref.value(lot, wealth))
    decide(w, shown, optimal, "staking {} is better")


def homogeneous_stake(pref: ProspectTheory, p: float, odds: float, w: Writer, optimal: str) -> None:
    """Equal curvature of gains and losses: V(x) = x**a * bracket, so the bracket's sign decides."""
    a, lam, q = num(pref.alpha), num(pref.lam), 1.0 - p
    w.say(f"Gains and losses share the exponent {a}, so V(x) = x**{a}*(w+({num(p)})*{num(odds)}**{a} - "
          f"{lam}*w-({num(q)})): the sign of the bracket decides between staking everything and nothing.")
    win = num(p) if pref.gamma == 1 else weight_step(p, pref.gamma, "+", w)
    lose = num(q) if pref.delta == 1 else weight_step(q, pref.delta, "-", w)
    exact = float(tk_weight(p, pref.gamma)) * odds**pref.alpha - pref.lam * float(tk_weight(q, pref.delta))
    tol = 1e-8 * (odds**pref.alpha + pref.lam)  # the weights carry 10 significant digits
    bracket = float(w.calc("Bracket", f"{win}*{num(odds)}**{a} - {lam}*{lose}", exact, tol))
    if (bracket > 0) != (optimal != "$0"):
        raise AssertionError(f"bracket {bracket} does not lead to the optimum {optimal}")
    w.say("It is positive, so more stake is always better." if bracket > 0
          else "It is not positive, so any stake lowers my value.")


def compared_stakes(pref: RiskPreference, wealth: float, p: float, odds: float, w: Writer, optimal: str) -> None:
    """No closed form: the value of a few stakes, the optimum among them (found by numerical search)."""
    w.say("There is no closed form here, so I compare the value of a few stakes, including the best one a "
          "numerical search over all stakes finds.")
    best = bet.parse(optimal)
    stakes = sorted({0.0, best, round(wealth / 4, 2), round(wealth / 2, 2), wealth})
    shown = {}
    for x in stakes:
        lot = Lottery.binary(p, odds * x, -x)
        expression, tol = value_expression(pref, lot, wealth, w)
        shown[money(x)] = w.calc(f"Staking {money(x)}: V", expression, pref.value(lot, wealth), tol)
    w.say(verdict(shown, optimal, "staking {} is best"))


def social_trace(task: Task, pref: SocialPreference, mode: str) -> str:
    """Each option's utility under homo moralis or Fehr–Schmidt, then the best option."""
    w = Writer(mode, distinct_digits(task.utilities.values()))
    w.say(describe_social(pref))
    amount = money_signed
    if task.family == "dilemma":
        w.say("A person's payoff is 1 alive and 0 dead.")
        amount = num
    shown = {}
    for label, option in social.options(task).items():
        about = describe_option(option, amount, kantian=isinstance(pref, HomoMoralis))
        w.say(f"{label} ({task.params['labels'][label]}): {about}.")
        shown[label] = w.calc(f"U({label})", social_expression(pref, option), task.utilities[label])
    decide(w, shown, task.optimal)
    return w.text(task.optimal)


def describe_social(pref: SocialPreference) -> str:
    if isinstance(pref, HomoMoralis):
        return (f"I am homo moralis with kappa = {num(pref.kappa)}: U = {num(1 - pref.kappa)}*(my expected payoff) + "
                f"{num(pref.kappa)}*(what each of us would get if everyone acted as I do).")
    if isinstance(pref, FehrSchmidt):
        return (f"I am inequity averse (Fehr-Schmidt, alpha = {num(pref.alpha)}, beta = {num(pref.beta)}): U = my payoff "
                f"- {num(pref.alpha)}*(how much others get above me) - {num(pref.beta)}*(how much I get above others), "
                "both averaged over the others.")
    raise EconalignError(f"synthetic traces support moralis and fs social preferences, not {pref.spec()}")


def describe_option(option: SocialOption, amount, kantian: bool) -> str:
    """Payoffs of each outcome, equal others grouped ("others 1 (x10)"), and the Kantian payoff if it matters."""
    outcomes = []
    for p, x in option.profiles:
        if p > 0:
            others = ", ".join(amount(v) + (f" (x{c})" if c > 1 else "") for v, c in Counter(x[1:]).items())
            outcomes.append(f"{percent(p) + ' ' if p < 1 else ''}me {amount(x[0])}, others {others}")
    text = "; ".join(outcomes)
    return text + (f"; if everyone acted as I do, each would get {amount(option.kantian)}" if kantian else "")


def money_signed(x: float) -> str:
    return ("-" if x < 0 else "") + money(x)


def social_expression(pref: SocialPreference, option: SocialOption) -> str:
    """The utility as the solver computes it, term by term."""
    live = [(p, x) for p, x in option.profiles if p > 0]
    if isinstance(pref, HomoMoralis):
        own = " + ".join(f"{num(p)}*{num(x[0])}" for p, x in live) if len(live) > 1 else num(live[0][1][0])
        return f"{num(1 - pref.kappa)}*({own}) + {num(pref.kappa)}*{num(option.kantian)}"
    terms = [fs_terms(pref, x) for _, x in live]
    return " + ".join(f"{num(p)}*({t})" for (p, _), t in zip(live, terms)) if len(live) > 1 else terms[0]


def fs_terms(pref: FehrSchmidt, x: tuple[float, ...]) -> str:
    """x_me - alpha*(gaps above me)/(n-1) - beta*(gaps below me)/(n-1), equal others grouped, zero gaps left out."""
    me, others = x[0], Counter(x[1:])
    per = "" if len(x) == 2 else f"/{len(x) - 1}"
    text = num(me)
    for weight, gaps in ((pref.alpha, [(o - me, c) for o, c in others.items() if o > me]),
                         (pref.beta, [(me - o, c) for o, c in others.items() if o < me])):
        if gaps:
            total = " + ".join(f"{c}*{num(g)}" if c > 1 else num(g) for g, c in gaps)
            text += f" - {num(weight)}*({total}){per}"
    return text
