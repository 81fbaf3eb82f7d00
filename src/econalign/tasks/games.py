"""Economic games as one-decision menus: dictator, ultimatum, trust, prisoner's dilemma, public goods.

Each task states what the other players do (a belief), so every option leads to a known lottery
over payoff profiles, with the chooser first. The Kantian payoff of an option is the per-capita
payoff if everyone in the interaction acted like the chooser; in games with distinct roles, a
player like the chooser in the other role accepts the chooser's offers (ultimatum), and money
passed from one player to another leaves it unchanged. That gives homo moralis the thresholds
tested in tests/test_games.py (the `*_threshold` functions): the dictator gives all iff
κ > 2/(m+1) when giving is multiplied by m; the prisoner's dilemma is cooperated in iff
κ > Δ/(Δ + R - P), Δ = q(T-R) + (1-q)(P-S); the public good gets everything iff
κ > (1 - m/n)/(1 - m/n + m - 1). Transfers (trustee returns, ultimatum splits) leave the Kantian
payoff unchanged, so there homo moralis acts as homo economicus.
"""

from __future__ import annotations

import numpy as np

from econalign.preferences.social import SocialOption
from econalign.tasks.base import Task, money, percent
from econalign.tasks.social import PREFERENCE, menu_task, parse, solve

FAMILY = "games"
GAMES = ("dictator", "ultimatum_proposer", "ultimatum_responder", "trust_investor", "trust_trustee",
         "prisoners_dilemma", "public_goods")
GIVE_SHARES = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
OFFER_SHARES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
SEND_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
RETURN_SHARES = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8)
CONTRIBUTE_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)

__all__ = ["FAMILY", "GAMES", "PREFERENCE", "generate", "parse", "solve"]


def dictator(endowment: float, multiplier: float = 1.0, system: str | None = None) -> Task:
    """Give g of the endowment M; the recipient gets m·g and has no move."""
    m, M = multiplier, endowment
    gets = "what you give" if m == 1 else f"${m:g} for every $1 you give"
    menu = [
        (f"give {money(g)}", f"you keep {money(M - g)}, the other person receives {money(m * g)}",
         SocialOption.sure([M - g, m * g], (M - g + m * g) / 2), share)
        for share, g in ((s, round(s * M, 2)) for s in GIVE_SHARES)
    ]
    question = (f"You have {money(M)}. You may give part of it to another person, who receives {gets}. "
                "The other person makes no decision. How much do you give?")
    return menu_task(f"{FAMILY}-dictator-M{M:g}-m{m:g}", FAMILY, {"game": "dictator", "endowment": M,
                     "multiplier": m}, question, menu, system)


def ultimatum_proposer(pie: float, threshold: float, system: str | None = None) -> Task:
    """Offer o of the pie; the responder accepts iff o >= threshold, else both get nothing."""
    M, t = pie, threshold
    menu = []
    for share, o in ((s, round(s * M, 2)) for s in OFFER_SHARES):
        payoffs = [M - o, o] if o >= t else [0.0, 0.0]
        effect = (f"accepted: you get {money(M - o)}, the responder {money(o)}" if o >= t
                  else "rejected: you both get $0")
        menu.append((f"offer {money(o)}", effect, SocialOption.sure(payoffs, M / 2), share))
    question = (f"You propose how to split {money(M)} with a responder. If the responder accepts, the split is paid; "
                f"if not, you both get nothing. The responder accepts any offer of at least {money(t)}. "
                "How much do you offer?")
    return menu_task(f"{FAMILY}-ultimatum_proposer-M{M:g}-t{t:g}", FAMILY,
                     {"game": "ultimatum_proposer", "pie": M, "threshold": t}, question, menu, system)


def ultimatum_responder(pie: float, offer: float, system: str | None = None) -> Task:
    M, o = pie, offer
    menu = [
        ("accept", f"you get {money(o)}, the proposer {money(M - o)}", SocialOption.sure([o, M - o], M / 2), 1.0),
        ("reject", "you both get $0", SocialOption.sure([0.0, 0.0], 0.0), 0.0),
    ]
    question = (f"A proposer splits {money(M)} and offers you {money(o)}, keeping {money(M - o)}. If you accept, the "
                "split is paid; if you reject, you both get nothing. Do you accept?")
    return menu_task(f"{FAMILY}-ultimatum_responder-M{M:g}-o{o:g}", FAMILY,
                     {"game": "ultimatum_responder", "pie": M, "offer": o}, question, menu, system)


def trust_investor(endowment: float, multiplier: float, returned: float, system: str | None = None) -> Task:
    """Send s of the endowment E; the trustee receives m·s and returns the stated share of it."""
    E, m, r = endowment, multiplier, returned
    menu = []
    for share, s in ((x, round(x * E, 2)) for x in SEND_SHARES):
        back = round(r * m * s, 2)
        menu.append((f"send {money(s)}", f"you end with {money(E - s + back)}, the trustee with {money(E + m * s - back)}",
                     SocialOption.sure([E - s + back, E + m * s - back], E + (m - 1) * s / 2), share))
    question = (f"You and a trustee each have {money(E)}. Every dollar you send to the trustee is multiplied by {m:g}. "
                f"The trustee returns {percent(r)} of what they receive. How much do you send?")
    return menu_task(f"{FAMILY}-trust_investor-E{E:g}-m{m:g}-r{r:g}", FAMILY,
                     {"game": "trust_investor", "endowment": E, "multiplier": m, "returned": r}, question, menu, system)


def trust_trustee(endowment: float, multiplier: float, sent: float, system: str | None = None) -> Task:
    """Return part of the m·s received; the investor kept E - s."""
    E, m, s = endowment, multiplier, sent
    received = m * s
    menu = []
    for share, back in ((x, round(x * received, 2)) for x in RETURN_SHARES):
        menu.append((f"return {money(back)}", f"you end with {money(E + received - back)}, "
                     f"the investor with {money(E - s + back)}",
                     SocialOption.sure([E + received - back, E - s + back], E + (m - 1) * s / 2), share))
    question = (f"You and an investor each had {money(E)}. The investor sent you {money(s)}, which was multiplied by "
                f"{m:g}: you received {money(received)}. How much do you return to the investor?")
    return menu_task(f"{FAMILY}-trust_trustee-E{E:g}-m{m:g}-s{s:g}", FAMILY,
                     {"game": "trust_trustee", "endowment": E, "multiplier": m, "sent": s}, question, menu, system)


def prisoners_dilemma(T: float, R: float, P: float, S: float, q: float, system: str | None = None) -> Task:
    """Payoffs T > R > P > S; the other player cooperates with probability q."""
    if not T > R > P > S:
        raise ValueError(f"a prisoner's dilemma needs T > R > P > S, got {T}, {R}, {P}, {S}")
    cooperate = SocialOption(((q, (R, R)), (1 - q, (S, T))), R)
    defect = SocialOption(((q, (T, S)), (1 - q, (P, P))), P)
    menu = [
        ("cooperate", f"{money(R)} each if they cooperate; {pay(S)} for you and {money(T)} for them if they defect",
         cooperate, 1.0),
        ("defect", f"{money(T)} for you and {pay(S)} for them if they cooperate; {money(P)} each if they defect", defect,
         0.0),
    ]
    question = ("You and another player choose at the same time, without talking, to cooperate or defect. "
                f"From past play you expect the other player to cooperate with probability {percent(q)}.")
    return menu_task(f"{FAMILY}-prisoners_dilemma-{T:g}_{R:g}_{P:g}_{S:g}-q{q:g}", FAMILY,
                     {"game": "prisoners_dilemma", "T": T, "R": R, "P": P, "S": S, "q": q}, question, menu, system)


def public_goods(players: int, endowment: float, multiplier: float, others: float, system: str | None = None) -> Task:
    """Contributions are multiplied by m and shared equally by the n players; each other player contributes `others`."""
    n, e, m, g = players, endowment, multiplier, others
    if not 1 < m < n:
        raise ValueError(f"a public goods game needs 1 < multiplier < players, got m={m}, n={n}")
    menu = []
    for level, c in ((x, round(x * e, 2)) for x in CONTRIBUTE_SHARES):
        share = m * (c + (n - 1) * g) / n
        mine, theirs = e - c + share, e - g + share
        menu.append((f"contribute {money(c)}", f"you end with {money(mine)}, each other member with {money(theirs)}",
                     SocialOption.sure([mine, *[theirs] * (n - 1)], e + (m - 1) * c), level))
    question = (f"You are one of {n} group members; each has {money(e)}. Every dollar contributed to the group "
                f"project is multiplied by {m:g} and shared equally among all {n} members, contributors or not. "
                f"Each of the other members contributes {money(g)}. How much do you contribute?")
    return menu_task(f"{FAMILY}-public_goods-n{n}-e{e:g}-m{m:g}-g{g:g}", FAMILY,
                     {"game": "public_goods", "players": n, "endowment": e, "multiplier": m, "others": g},
                     question, menu, system)


def pay(x: float) -> str:
    return f"-{money(x)}" if x < 0 else money(x)


def pd_threshold(T: float, R: float, P: float, S: float, q: float) -> float:
    """The κ above which homo moralis cooperates: (1-κ)·Δ = κ·(R - P)."""
    gain = q * (T - R) + (1 - q) * (P - S)
    return gain / (gain + R - P)


def pg_threshold(players: int, multiplier: float) -> float:
    """The κ above which homo moralis contributes everything: (1-κ)(1 - m/n) = κ(m - 1)."""
    private = 1 - multiplier / players
    return private / (private + multiplier - 1)


def dictator_threshold(multiplier: float) -> float:
    """The κ above which homo moralis gives everything: (1-κ) = κ(m - 1)/2."""
    return 2 / (multiplier + 1)


def generate(n: int, rng: np.random.Generator) -> list[Task]:
    """n random games, the seven kinds in turn, with payoffs varied by instance."""
    return [random_game(GAMES[i % len(GAMES)], rng) for i in range(n)]


def random_game(game: str, rng: np.random.Generator) -> Task:
    """One game of the kind, its stakes and parameters drawn from grids wider than the social battery's."""
    stake = float(rng.choice([10, 20, 30, 40, 50, 60, 80, 100, 120, 150, 200, 250, 300, 400, 500]))

    def share(grid) -> float:
        return round(float(rng.choice(grid)) * stake, 2)

    if game == "dictator":
        return dictator(stake, float(rng.choice([1, 1.5, 2, 2.5, 3, 4, 5])))
    if game == "ultimatum_proposer":
        return ultimatum_proposer(stake, share(np.arange(1, 13) / 20))
    if game == "ultimatum_responder":
        return ultimatum_responder(stake, share([0.02, *np.arange(1, 13) / 20]))
    if game == "trust_investor":
        return trust_investor(stake, float(rng.choice([2, 3, 4, 5])),
                              float(rng.choice([0.0, 0.1, 0.2, 0.25, 1 / 3, 0.4, 0.5, 0.6])))
    if game == "trust_trustee":
        return trust_trustee(stake, float(rng.choice([2, 3, 4, 5])), share(SEND_SHARES[1:]))
    if game == "prisoners_dilemma":
        S = float(rng.integers(-2, 3))
        P = S + float(rng.integers(1, 4))
        R = P + float(rng.integers(1, 5))
        T = R + float(rng.integers(1, 5))
        return prisoners_dilemma(T, R, P, S, float(rng.integers(0, 11)) / 10)
    n = int(rng.choice([3, 4, 5, 6]))
    m = float(rng.choice([x for x in (1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0) if x < n]))
    return public_goods(n, stake, m, share(CONTRIBUTE_SHARES))
