"""Direct-decision SFT data: the batteries' own questions, answered with the option a target preference picks.

The model in training sees exactly what `econalign profile` scores from next-token logits: the
chat template, the battery's wording (a gamble against a sure amount with either option listed
first, Holt–Laury rows, lettered game menus in both orders) and, as the whole answer, one option
word or letter. The items are new: stakes, probabilities, prizes, wealth and payoffs are drawn
around the battery's, and any draw that is the same decision as a battery item (whatever the
order of its options) is thrown away and counted, so no battery item reaches training.

Labels are sampled from the target's contextual-utility logit (preferences/choice.py) at `noise`
(default 0.05, in units of the menu's utility range). Near the target's indifference point the
answers are then mixed in the proportions the target's own choice probabilities have, so a
trained model learns the slope of the target's choice curve, not just the side of a step; far
from it the label is the target's choice. The estimators fit the same model, so the noise the
data carries is the noise they should find.
"""

from __future__ import annotations

import inspect
import json
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np

from econalign import EconalignError
from econalign.preferences import Lottery, RiskPreference, parse_preference
from econalign.preferences.social import SocialPreference
from econalign.tasks import dilemma, gamble, games, holt_laury
from econalign.tasks.base import Task
from econalign.tasks.social import reversed_menu

RISK_SHAPES = ("gains", "losses", "mixed", "holt_laury")
# Asked for by name (a curriculum's first stages), never by default: the battery's 50% x $1,000 gamble (wealth $1,000)
# and its 50% x -$1,000 gamble (wealth $2,000), each against new sure amounts.
ANCHORS = {"anchor": (1000.0, 1000.0), "anchor_losses": (-1000.0, 2000.0)}
SOCIAL_SHAPES = (*games.GAMES, "dilemma")
# Asked for by name too: the battery's ultimatum responder (its $100 pie) against new offers, in both option orders or
# in the battery's first order only (accept = A), where the answer letter keeps one meaning.
SOCIAL_ANCHORS = ("anchor_responder", "anchor_responder_ordered")
# How items are drawn: "varied" around the battery's stakes, probabilities and wealth (games: payoffs from wider grids);
# "curves" on the battery's own lotteries and wealth with new sure amounts (mixed: its losses, new gains), and the
# battery's own games at other stakes (the AV dilemma: its pedestrians and risk, a new risk to the passenger).
DRAWS = ("varied", "curves")
DEFAULT_NOISE = 0.05
# Stakes around the battery's $1,000 (drawn BATTERY_STAKE_SHARE of the time): CRRA with wealth tied to the stake and
# prospect theory with alpha = beta are scale-free, so every stake teaches the same rule.
STAKES = (100, 200, 250, 300, 400, 500, 600, 750, 800, 1200, 1500, 2000, 2500, 3000, 4000, 5000)
BATTERY_PROBS = (0.1, 0.25, 0.5, 0.75, 0.9)
HL_SCALES = (0.5, 2, 3, 4, 5, 10, 15, 25, 30, 40, 50, 100)  # the battery asks 1x and 20x
GAME_SCALES = (2, 3, 4, 5, 10, 20, 50)  # multiples of the social battery's amounts (up only: cents stay exact)
# Each game's amounts (its other parameters, multipliers, shares and beliefs, are not scaled)
GAME_AMOUNTS = {"dictator": ("endowment",), "ultimatum_proposer": ("pie", "threshold"),
                "ultimatum_responder": ("pie", "offer"), "trust_investor": ("endowment",),
                "trust_trustee": ("endowment", "sent"), "prisoners_dilemma": ("T", "R", "P", "S"),
                "public_goods": ("endowment", "others")}
SWERVE_RISKS = (0.05, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9)  # the battery asks 0.1, 0.5 and 1
MAX_DRAWS = 50  # per item wanted, before giving up
NEAR_SHARE = 0.5
BATTERY_STAKE_SHARE = 0.75


def shapes_for(pref, shapes: Sequence[str] | None = None) -> list[str]:
    """The shapes asked for (default: all of the preference's kind), checked against its kind."""
    own = RISK_SHAPES if isinstance(pref, RiskPreference) else SOCIAL_SHAPES
    allowed = (*own, *ANCHORS) if own is RISK_SHAPES else (*own, *SOCIAL_ANCHORS)
    chosen = list(dict.fromkeys(shapes or own))
    wrong = [s for s in chosen if s not in allowed]
    if wrong or not chosen:
        raise EconalignError(f"unknown shape {', '.join(wrong) or '(none given)'} for {pref.spec()}; "
                             f"use some of {', '.join(allowed)}")
    return chosen


def stake(rng: np.random.Generator) -> float:
    return 1000.0 if rng.random() < BATTERY_STAKE_SHARE else float(rng.choice(STAKES))


def wealth_for(base: float, rng: np.random.Generator, lower: bool = True) -> float:
    """The battery's wealth rule most of the time, another multiple of it otherwise (wealth is stated;
    never lower where a loss could then exceed it)."""
    return base if rng.random() < 0.75 else base * float(rng.choice([0.5, 2.0, 4.0] if lower else [2.0, 4.0]))


def near(rng: np.random.Generator) -> bool:
    """Half the items are drawn close to the target's indifference point (see the module docstring)."""
    return rng.random() < NEAR_SHARE


def gamble_item(kind: str, pref, rng: np.random.Generator) -> Task:
    """A sure amount against a two-outcome gamble, in the battery's proportions: gains p x S else a smaller
    prize (wealth S), losses p x -S else a smaller loss (wealth 2S), mixed +G / -L against $0 (wealth S + L)."""
    s = stake(rng)
    sure_first = bool(rng.integers(2))
    if kind == "mixed":
        p = 0.5 if rng.random() < 0.8 else float(rng.integers(6, 15)) / 20
        loss = max(10.0, float(np.round(s * rng.uniform(0.05, 1.0), -1)))
        return mixed_item(p, loss, wealth_for(s + loss, rng, lower=False), pref, rng, sure_first)
    p = float(rng.choice(BATTERY_PROBS)) if rng.random() < 0.5 else float(rng.integers(1, 20)) / 20
    other = (0.3 * s if rng.random() < 0.5 else float(np.round(s * rng.uniform(0.05, 0.6), -1))) if rng.integers(2) else 0.0
    sign = 1.0 if kind == "gains" else -1.0
    g = Lottery.binary(p, sign * s, sign * other + 0.0)
    wealth = wealth_for(s if kind == "gains" else 2 * s, rng, lower=kind == "gains")
    return gamble.make(g, sure_amount(g, wealth, pref, rng), wealth, sure_first)


def mixed_item(p: float, loss: float, wealth: float, pref, rng: np.random.Generator, sure_first: bool) -> Task:
    """+G with probability p, else -loss, against $0: G near the target's acceptable gain half the time, else
    0.5 to 5 times the loss."""
    ratio = rng.uniform(0.5, 5.0)
    threshold = gamble.acceptable_gain(pref, loss, wealth, p) if near(rng) else None
    gain = threshold * np.exp(rng.normal(0.0, 0.3)) if threshold else loss * ratio
    return gamble.make(Lottery.binary(p, max(10.0, float(np.round(gain, -1))), -loss), 0.0, wealth, sure_first)


def sure_amount(g: Lottery, wealth: float, pref, rng: np.random.Generator) -> float:
    """A sure amount against gamble g: near the target's certainty equivalent, or between its outcomes, there
    uniform half the time and otherwise uniform in orders of magnitude of its distance from the outcome nearer $0
    (1% to 100% of the span). Small amounts are written with fewer digits: drawn uniformly alone they were 7% of
    the gains items, and trained models read the battery's $55.56 as more than its $166.67 (README, *Where the
    risk runs fall short*)."""
    lo, hi = min(g.outcomes), max(g.outcomes)
    if near(rng):
        x = pref.certainty_equivalent(g, wealth) + rng.normal(0.0, 0.1 * (hi - lo))
    else:
        x = spread_amount(lo, hi, rng)
    return cents_or_dollars(float(np.clip(x, lo, hi)), rng)


def spread_amount(lo: float, hi: float, rng: np.random.Generator) -> float:
    """An amount between lo and hi: uniform half the time, otherwise uniform in orders of magnitude of its distance
    from the end nearer $0 (1% to 100% of the span)."""
    small, large = (lo, hi) if abs(lo) <= abs(hi) else (hi, lo)
    share = rng.uniform() if rng.integers(2) else 10 ** rng.uniform(-2.0, 0.0)
    return small + (large - small) * share


@cache
def battery_curves() -> dict[str, tuple]:
    """The risk battery's own gambles: (lottery, wealth) per gains / losses curve, (p, loss, wealth) per
    mixed-gamble series, and the Holt-Laury lists' stakes, in the battery's order."""
    from econalign.measure.risk import risk_battery

    curves: dict[str, dict] = {"gains": {}, "losses": {}, "mixed": {}, "holt_laury": {}}
    for task in risk_battery(False):
        if task.family == "holt_laury":
            curves["holt_laury"][task.params["scale"]] = None
        if task.family != "gamble" or task.params.get("persona"):
            continue
        kind, g = task.params["kind"], max(task.lotteries().values(), key=lambda lot: len(lot.outcomes))
        key = (g, task.wealth) if kind != "mixed" else (g.probs[0], -min(g.outcomes), task.wealth)
        curves[kind][key] = None
    return {kind: tuple(keys) for kind, keys in curves.items()}


def shape_weights(shapes: Sequence[str], draws: str) -> list[int]:
    """How n items are shared out: evenly, except that "curves" draws give every battery curve the same share (the
    battery's 10 gains curves, 3 losses, 2 mixed series and 2 Holt-Laury lists), as the estimators weigh every
    battery item alike; split evenly, a gains curve had 3/10 of a losses curve's items."""
    if draws != "curves":
        return [1] * len(shapes)
    curves = battery_curves()
    return [len(curves[shape]) if shape in curves else 1 for shape in shapes]


def apportion(n: int, weights: Sequence[int]) -> list[int]:
    """n split in proportion to weights, largest remainders first (ties to the earlier shape)."""
    exact = n * np.asarray(weights, float) / sum(weights)
    counts = np.floor(exact).astype(int)
    extra = np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]
    counts[extra] += 1
    return counts.tolist()


def curve_item(kind: str, pref, rng: np.random.Generator) -> Task:
    """A gains or losses gamble of the battery, at its wealth, against a new sure amount; or one of the battery's
    mixed-gamble losses with a new gain (near the target's acceptable gain half the time)."""
    options = battery_curves()[kind]
    pick = options[rng.integers(len(options))]
    sure_first = bool(rng.integers(2))
    if kind == "mixed":
        return mixed_item(*pick, pref, rng, sure_first)
    g, wealth = pick
    return gamble.make(g, sure_amount(g, wealth, pref, rng), wealth, sure_first)


def anchor_item(shape: str, rng: np.random.Generator) -> Task:
    """The battery's 50% x $1,000-or-$0 gamble (wealth $1,000) against a whole-dollar sure amount drawn uniformly.
    With one amount varying, a model learns to compare it with the target's certainty equivalent within a few
    hundred steps, and the wider shapes then build on that comparison; trained on them from the start, a small
    model stays at the base rate (experiments/closed_loop). Or the battery's 50% x -$1,000-or-$0 (wealth $2,000)
    against a sure loss drawn as the curves' sure amounts are (spread_amount, cents or not): the same comparison
    with the sign turned, for a model that has learnt the first (trained on gains alone, it read the amount's size,
    not its sign, and took a sure -$944 over 50% x -$1,000; README, Figures). Mixed with the gains anchor from the
    start, it kept the loss at chance (ln 2) for 300 steps; after it (toward r = -1), from 0.89 to 0.35 in 150."""
    prize, wealth = ANCHORS[shape]
    g = Lottery.binary(0.5, prize, 0.0)
    if shape == "anchor":
        sure = float(np.round(prize * rng.uniform()))
    else:
        sure = cents_or_dollars(spread_amount(prize, 0.0, rng), rng) + 0.0
    return gamble.make(g, sure, wealth, bool(rng.integers(2)))


def responder_anchor_item(rng: np.random.Generator, both_orders: bool = True) -> Task:
    """The battery's ultimatum responder (pie $100) offered a new amount, uniform from $0 to half the pie, in
    cents or whole dollars, options in either order: the social counterpart of the risk anchor (one amount
    varies). It is the one battery game where a target's choice turns on a threshold inside the offers
    (Fehr-Schmidt alpha = 0.85 accepts from $31.48: o - 0.85 (100 - 2o) >= 0), and trained on the battery's
    games at other stakes alone the model rejected every offer about 80% of the time. Tried once as a first stage,
    it stayed at the labels' base rate: unlike the risk anchor's accept / reject, the answer letter's meaning flips
    with the order of the options (README, Figures). `both_orders=False` keeps the battery's first order (accept = A):
    as a first stage that learnt the threshold (loss 0.81 -> 0.06), and both orders after it learnt the flip in 600
    steps (near chance after 102): recipes/align_fs_responder.yaml."""
    from econalign.measure.social import PIE

    task = games.ultimatum_responder(PIE, cents_or_dollars(PIE / 2 * rng.uniform(), rng))
    return reversed_menu(task) if both_orders and rng.integers(2) else task


def cents_or_dollars(x: float, rng: np.random.Generator) -> float:
    return float(np.round(x, 2)) if rng.integers(2) else float(np.round(x))


def holt_laury_item(pref, rng: np.random.Generator) -> Task:
    """A row of the list at another stake; near the target: its last safe row or its first risky one."""
    scale = float(rng.choice(HL_SCALES))
    safe = holt_laury.safe_choices(pref, scale)
    rows = range(1, holt_laury.ROWS + 1)
    row = int(rng.choice([k for k in (safe, safe + 1) if k in rows])) if near(rng) else int(rng.integers(1, 11))
    return holt_laury.make(row, scale)


def social_item(shape: str, rng: np.random.Generator, draws: str = "varied") -> Task:
    if draws == "curves":
        task = battery_game(shape, rng)
    else:
        task = dilemma.generate(1, rng)[0] if shape == "dilemma" else games.random_game(shape, rng)
    return reversed_menu(task) if rng.integers(2) else task


@cache
def battery_games() -> dict[str, list[dict]]:
    """The social battery's decisions as their constructors' arguments, per game (the AV dilemma's included);
    each decision once, whatever the order of its options."""
    from econalign.measure.social import social_battery

    found: dict[str, dict] = {}
    for task in social_battery():
        shape = shape_of(task)
        names = inspect.signature(dilemma.make if shape == "dilemma" else getattr(games, shape)).parameters
        args = {k: v for k, v in task.params.items() if k in names and k not in ("system", "swerve_first")}
        found.setdefault(shape, {})[json.dumps(args, sort_keys=True)] = args
    return {shape: list(args.values()) for shape, args in found.items()}


def battery_game(shape: str, rng: np.random.Generator) -> Task:
    """One of the battery's games with every amount times a factor of GAME_SCALES: the preferences and the label
    noise (in units of the menu's utility range) are scale-free, so the target chooses as on the battery item and
    the model meets that choice in new numbers. The AV dilemma has no amounts: a new risk to the passenger."""
    picks = battery_games()[shape]
    args = dict(picks[rng.integers(len(picks))])
    if shape == "dilemma":
        return dilemma.make(args["pedestrians"], args["q"], float(rng.choice(SWERVE_RISKS)))
    factor = float(rng.choice(GAME_SCALES))
    args.update({k: args[k] * factor for k in GAME_AMOUNTS[shape]})
    return getattr(games, shape)(**args)


def draw_item(shape: str, pref, rng: np.random.Generator, draws: str = "varied") -> Task:
    if shape in ANCHORS:
        return anchor_item(shape, rng)
    if shape in SOCIAL_ANCHORS:
        return responder_anchor_item(rng, both_orders=shape == "anchor_responder")
    if shape in ("gains", "losses", "mixed"):
        return curve_item(shape, pref, rng) if draws == "curves" else gamble_item(shape, pref, rng)
    if shape == "holt_laury":
        return holt_laury_item(pref, rng)
    return social_item(shape, rng, draws)


def decision_key(task: Task) -> str:
    """What makes two items the same decision: the family, wealth, stated question and the options' contents
    as a set (so the same choice with its options listed in the other order has the same key)."""
    p = task.params
    if "labels" in p:  # social menus: each option's action and its meaning
        options = sorted([p["labels"][k], p["effects"][k]] for k in task.options)
        return json.dumps([task.family, p["question"], options])
    return json.dumps([task.family, task.wealth, sorted(p["options"].values())])


@cache
def battery_keys() -> frozenset[str]:
    """Decision keys of every item of the risk batteries (full and quick) and the social battery."""
    from econalign.measure.risk import risk_battery
    from econalign.measure.social import social_battery

    return frozenset(decision_key(t) for t in [*risk_battery(False), *risk_battery(True), *social_battery()])


def shape_of(task: Task) -> str:
    return task.params.get("kind") or task.params.get("game") or task.family


def draw_items(shapes: Sequence[str], n: int, pref, rng: np.random.Generator, draws: str = "varied"
               ) -> tuple[list[Task], list[str], int]:
    """n items shared across the shapes (shape_weights), none of them a battery item; each item's shape; and how
    many battery items were drawn and thrown away."""
    keys, items, of_shape, rejected = battery_keys(), [], [], 0
    for shape, want in zip(shapes, apportion(n, shape_weights(shapes, draws))):
        got = 0
        for _ in range(MAX_DRAWS * want):
            if got == want:
                break
            task = draw_item(shape, pref, rng, draws)
            if decision_key(task) in keys:
                rejected += 1
                continue
            items.append(task)
            of_shape.append(shape)
            got += 1
        if got < want:
            raise EconalignError(f"could not draw {want} {shape} items that are not battery items")
    return items, of_shape, rejected


def label_probabilities(pref, tasks: list[Task], noise: float) -> np.ndarray:
    """The target's choice probabilities over each task's options (the simulated agent's, at `noise`)."""
    from econalign.backends.sim import SimBackend

    return SimBackend(pref, noise).option_probs(tasks)


def decision_records(preference: str, n: int, seed: int = 0, noise: float = DEFAULT_NOISE,
                     shapes: Sequence[str] | None = None, progress: Callable[[int], None] | None = None,
                     draws: str = "varied") -> tuple[list[dict], dict]:
    """n chat records `{"messages": [user, assistant], "task", "preference", "shape", "p_target"}` and a summary
    (counts per shape and per answer, battery items thrown away). The same arguments give the same records."""
    pref = parse_preference(preference)
    if not isinstance(pref, RiskPreference | SocialPreference):
        raise EconalignError(f"{preference} is neither a risk nor a social preference")
    if n <= 0:
        raise EconalignError(f"the number of items must be positive, got {n}")
    if noise < 0:
        raise EconalignError(f"label noise must be >= 0, got {noise}")
    if draws not in DRAWS:
        raise EconalignError(f"unknown draws {draws!r}; use one of {', '.join(DRAWS)}")
    chosen = shapes_for(pref, shapes)
    rng = np.random.default_rng(seed)
    tasks, shapes, rejected = draw_items(chosen, n, pref, rng, draws)
    probs = label_probabilities(pref, tasks, noise)
    records = []
    for task, shape, p in zip(tasks, shapes, probs):
        k = len(task.options)
        answer = task.options[rng.choice(k, p=p[:k] / p[:k].sum())]
        records.append({
            "messages": [*task.messages(), {"role": "assistant", "content": answer}],
            "task": task.to_dict(),
            "preference": pref.spec(),
            "shape": shape,
            "p_target": float(p[task.options.index(answer)]),
        })
        if progress:
            progress(1)
    order = rng.permutation(len(records))
    records = [records[i] for i in order]
    summary = {
        "preference": pref.spec(),
        "n": len(records),
        "seed": seed,
        "noise": noise,
        "draws": draws,
        "shapes": dict(Counter(r["shape"] for r in records)),
        "answers": dict(Counter(r["messages"][-1]["content"] for r in records)),
        "battery_items_drawn_and_dropped": rejected,
        "battery_items_in_data": overlap(records),
    }
    return records, summary


def overlap(records: list[dict]) -> int:
    """Records whose decision is a battery item: 0, checked on what was written, not on how it was drawn."""
    keys = battery_keys()
    return sum(decision_key(Task(**r["task"])) in keys for r in records)
