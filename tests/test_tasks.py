"""Task families: records, exact solvers, prompts, answer parsers; Holt & Laury (2002) references."""

import json
import math
import time

import numpy as np
import pytest

from econalign.preferences import CRRA, ExpectedValue, Lottery, ProspectTheory
from econalign.tasks import (FAMILIES, Task, bet, budget, dilemma, forced_choice, gamble, games, giving, holt_laury,
                             insurance, pair, solve)

HALF_1000 = Lottery.binary(0.5, 1000.0, 0.0)


# ---------------------------------------------------------------- gamble: parser

ADVERSARIAL_GAMBLE = [
    ("accept", "accept"),
    ("Accept.", "accept"),
    ("ACCEPT", "accept"),
    ("reject", "reject"),
    ("**Reject**", "reject"),
    ("I accepted it.", "accept"),
    ("I would not accept; I reject", "reject"),
    ("I don't accept. Reject.", "reject"),
    ("I would never reject it, so I accept", "accept"),
    ("Accept. I would never reject", "accept"),
    ("Accept. Rejecting it would throw away a sure gain.", "accept"),
    ("Reject!\nAccepting the sure amount is too timid.", "reject"),
    ("**Accept** — rejecting is worse on average", "accept"),
    ("accept or reject", None),  # the question echoed back names no choice
    ("Accept or reject?", None),
    ("reject / accept", None),
    ("I reject the sure thing and accept the gamble", None),
    ("", None),
    ("   ", None),
    ("I am not sure.", None),
    ("acceptable", None),  # not the word accept
    ("unaccept", None),
    ("I would not accept", None),
    # unicode junk
    ("✅ Accept ✅", "accept"),
    ("\u200baccept\u200b", "accept"),
    ("\x00reject\x00", "reject"),
    ("🤷🤷🤷", None),
    ("ａｃｃｅｐｔ", None),  # full-width letters are not the ASCII word
    ("\ud800\udfff", None),  # lone surrogates
    ("accépt", None),
    ("Ich lehne ab — reject", "reject"),
]


@pytest.mark.parametrize("text, expected", ADVERSARIAL_GAMBLE)
def test_gamble_parse(text, expected):
    assert gamble.parse(text) == expected


def test_gamble_parse_none_input():
    assert gamble.parse(None) is None


@pytest.mark.parametrize("filler", ["x" * 100_000, "accept reject " * 8_000, "not " * 25_000, "a" * 100_000])
def test_parsers_long_input_is_fast(filler):
    start = time.perf_counter()
    gamble.parse(filler)
    holt_laury.parse(filler)
    gamble.parse("accept " + filler)
    assert time.perf_counter() - start < 0.5


def test_gamble_parse_long_answer_leading_decision():
    assert gamble.parse("accept\n" + "x" * 100_000) == "accept"


# ---------------------------------------------------------------- holt-laury: parser

ADVERSARIAL_HL = [
    ("A", "A"),
    ("B", "B"),
    ("B.", "B"),
    ("**A**", "A"),
    ("Option A", "A"),
    ("Option a", "A"),
    ("option b.", "B"),
    ("I choose a safe Option B", "B"),
    ("I choose B, a riskier lottery.", "B"),
    ("a", None),  # the article, not the option
    ("I'd take a gamble", None),
    ("A or B", None),
    ("Option A or option B", None),
    ("B. Option A pays less on average.", "B"),
    ("", None),
    ("🅰️", None),
    ("Ａ", None),  # full-width
    ("\u200bA\u200b", "A"),
    ("I would not choose A, B it is", "B"),
]


@pytest.mark.parametrize("text, expected", ADVERSARIAL_HL)
def test_holt_laury_parse(text, expected):
    assert holt_laury.parse(text) == expected


# ---------------------------------------------------------------- gamble: records


def test_gamble_make_record():
    t = gamble.make(HALF_1000, 600.0, wealth=1000.0)
    assert t.family == "gamble"
    assert t.options == ["accept", "reject"]
    assert t.params["kind"] == "gains"
    assert t.params["options"] == {"accept": [[600.0, 1.0]], "reject": [[1000.0, 0.5], [0.0, 0.5]]}
    assert t.wealth == 1000.0
    assert t.optimal is None and t.utilities == {}
    assert t.messages() == [{"role": "user", "content": f"{t.prompt}\n{t.instruction}"}]
    with_system = gamble.make(HALF_1000, 600.0, system="You are risk-averse.")
    assert with_system.messages()[0] == {"role": "system", "content": "You are risk-averse."}


@pytest.mark.parametrize(
    "lot, kind",
    [
        (Lottery.binary(0.5, 1000.0, 0.0), "gains"),
        (Lottery.binary(0.5, -1000.0, 0.0), "losses"),
        (Lottery.binary(0.5, 1000.0, -500.0), "mixed"),
    ],
)
def test_gamble_kinds(lot, kind):
    assert gamble.kind_of(lot) == kind
    assert gamble.make(lot, 0.0, wealth=2000.0).params["kind"] == kind


def test_gamble_ids_unique_across_grid():
    ids = []
    for p in (0.1, 0.25, 0.5, 0.9):
        for high, low in ((1000.0, 0.0), (-1000.0, 0.0), (1000.0, -500.0), (1250.5, 0.0)):
            lot = Lottery.binary(p, high, low)
            for sure in gamble.sure_grid(lot, 9):
                for wealth in (0.0, 1000.0, 5000.0):
                    for sure_first in (True, False):
                        ids.append(gamble.make(lot, sure, wealth, sure_first).id)
    assert len(ids) == 4 * 4 * 9 * 3 * 2
    assert len(set(ids)) == len(ids)


def test_sure_grid_midpoints():
    # midpoints of 4 equal steps between 0 and 1000
    assert gamble.sure_grid(HALF_1000, 4) == [125.0, 375.0, 625.0, 875.0]
    # -500..1000 in 3 steps of 500
    assert gamble.sure_grid(Lottery.binary(0.5, 1000.0, -500.0), 3) == [-250.0, 250.0, 750.0]


@pytest.mark.parametrize("sure, optimal", [(600.0, "accept"), (400.0, "reject")])
def test_solve_expected_value(sure, optimal):
    t = solve(gamble.make(HALF_1000, sure), ExpectedValue())
    assert t.optimal == optimal
    assert t.utilities == pytest.approx({"accept": sure, "reject": 500.0})
    assert t.preference == "ev"


def test_solve_crra_with_wealth():
    # r = 2, wealth 1000: CE of 50% x 1000 is 333.33 -> accepts 340, rejects 330.
    # accept 340: u = -1/1340; reject: 0.5*(-1/2000) + 0.5*(-1/1000) = -0.00075
    t = solve(gamble.make(HALF_1000, 340.0, wealth=1000.0), CRRA(2))
    assert t.optimal == "accept"
    assert t.utilities["accept"] == pytest.approx(-1 / 1340)
    assert t.utilities["reject"] == pytest.approx(-0.00075)
    assert solve(gamble.make(HALF_1000, 330.0, wealth=1000.0), CRRA(2)).optimal == "reject"


def test_solve_prospect_theory_loss_aversion_rejects_fair_mixed_gamble():
    # 50/50 +100/-100 vs $0 sure: PT value -(2.25-1)*0.5*100^0.88 < 0 -> accept the sure $0
    t = solve(gamble.make(Lottery.binary(0.5, 100.0, -100.0), 0.0), ProspectTheory(lam=2.25))
    assert t.optimal == "accept"
    assert t.utilities["reject"] == pytest.approx(-1.25 * 0.5 * 100**0.88)


def test_solve_ties_go_to_first_option():
    assert solve(gamble.make(HALF_1000, 500.0), ExpectedValue()).optimal == "accept"


def test_gamble_prompt_amounts():
    t = gamble.make(Lottery.binary(0.25, 12500.0, 0.0), 2500.0, wealth=1000.0)
    assert "You have $1,000." in t.prompt
    assert "receive $2,500 for certain" in t.prompt
    assert "25% chance to win $12,500" in t.prompt
    assert "75% chance of $0" in t.prompt
    assert "accept or reject" in t.instruction


def test_gamble_prompt_losses_and_cents():
    t = gamble.make(Lottery.binary(0.5, -1000.0, 0.0), -450.5, wealth=2000.0)
    assert "pay $450.50 for certain" in t.prompt
    assert "50% chance to lose $1,000" in t.prompt
    assert "-$" not in t.prompt and "$-" not in t.prompt
    t0 = gamble.make(Lottery.binary(0.5, 100.0, -100.0), 0.0)
    assert "keep what you have ($0) for certain" in t0.prompt
    assert "You have" not in t0.prompt  # no wealth stated


def test_sure_first_changes_order():
    a = gamble.make(HALF_1000, 600.0, sure_first=True).prompt
    b = gamble.make(HALF_1000, 600.0, sure_first=False).prompt
    assert a.index("Sure option") < a.index("Gamble:")
    assert b.index("Gamble:") < b.index("Sure option")
    assert sorted(a.splitlines()) == sorted(b.splitlines())


def _dump(tasks):
    return [t.to_dict() for t in tasks]


def test_generate_deterministic_per_seed():
    a = gamble.generate(50, np.random.default_rng(7))
    b = gamble.generate(50, np.random.default_rng(7))
    c = gamble.generate(50, np.random.default_rng(8))
    assert len(a) == 50
    assert _dump(a) == _dump(b)
    assert _dump(a) != _dump(c)


def test_generate_respects_kinds_and_stays_solvable():
    tasks = gamble.generate(200, np.random.default_rng(0))
    assert {t.params["kind"] for t in tasks} == {"gains", "losses", "mixed"}
    for t in tasks:
        gam = t.lotteries()["reject"]
        lo, hi = min(gam.outcomes), max(gam.outcomes)
        assert lo <= t.params["sure"] <= hi
        assert t.wealth + lo >= 1000.0  # wealth covers the largest loss with the stake left
        assert all(abs(p * 20 - round(p * 20)) < 1e-9 for p in gam.probs)  # 5% grid
        assert all(x % 10 == 0 for x in gam.outcomes)  # $10 grid
        # any CRRA agent can solve it (positive final wealth everywhere)
        assert solve(t, CRRA(2)).optimal in ("accept", "reject")
    # the profile battery's shapes are covered: a second outcome other than $0, sure amounts to the cent
    second = [min(abs(x) for x in t.lotteries()["reject"].outcomes) for t in tasks if t.params["kind"] != "mixed"]
    assert 0 < sum(x > 0 for x in second) < len(second)
    cents = [t.params["sure"] for t in tasks if not float(t.params["sure"]).is_integer()]
    assert cents and all(round(x, 2) == x for x in cents)
    only_gains = gamble.generate(30, np.random.default_rng(1), kinds=("gains",))
    assert {t.params["kind"] for t in only_gains} == {"gains"}


def test_to_dict_json_round_trip():
    tasks = gamble.generate(20, np.random.default_rng(3)) + holt_laury.generate()
    for t in tasks:
        solve(t, CRRA(1))
        text = json.dumps(t.to_dict())
        back = Task(**json.loads(text))
        assert back.to_dict() == t.to_dict()
        assert back.lotteries() == t.lotteries()


# ---------------------------------------------------------------- holt-laury: records


def test_holt_laury_generate_rows():
    rows = holt_laury.generate()
    assert len(rows) == 10
    assert len({t.id for t in rows}) == 10
    for k, t in enumerate(rows, start=1):
        p = k / 10
        assert t.family == "holt_laury" and t.options == ["A", "B"] and t.params["row"] == k
        a, b = t.lotteries()["A"], t.lotteries()["B"]
        assert a.outcomes == (2.00, 1.60) and b.outcomes == (3.85, 0.10)
        assert a.probs[0] == pytest.approx(p) and a.probs[1] == pytest.approx(1 - p)
        assert b.probs == a.probs


def test_holt_laury_prompt():
    row1 = holt_laury.make(1)
    assert "Option A: 10% chance of $2.00, 90% chance of $1.60." in row1.prompt
    assert "Option B: 10% chance of $3.85, 90% chance of $0.10." in row1.prompt
    row10 = holt_laury.make(10)
    assert "Option A: 100% chance of $2.00." in row10.prompt  # zero-probability outcome omitted
    x20 = holt_laury.make(3, scale=20)  # HL's 20x treatment
    assert "$40.00" in x20.prompt and "$77.00" in x20.prompt and "$2.00" in x20.prompt
    assert x20.id != holt_laury.make(3).id


def test_holt_laury_solve_risk_neutral():
    # EV(A) = 1.6 + 0.4p, EV(B) = 0.1 + 3.75p: A iff p < 1.5/3.35 = 0.448 -> rows 1-4
    rows = [solve(t, ExpectedValue()) for t in holt_laury.generate()]
    assert [t.optimal for t in rows] == ["A"] * 4 + ["B"] * 6
    assert rows[0].utilities == pytest.approx({"A": 0.1 * 2 + 0.9 * 1.6, "B": 0.1 * 3.85 + 0.9 * 0.1})


def test_risk_neutral_makes_four_safe_choices():
    assert holt_laury.safe_choices(ExpectedValue()) == 4
    assert holt_laury.safe_choices(CRRA(0)) == 4


# Holt & Laury (2002), Table 3: CRRA bounds between rows. HL printed -0.15 for the row-4
# boundary, which is -0.1426 exactly (their rounding), so all are compared within 0.01.
HL_TABLE3 = {2: -0.95, 3: -0.49, 4: -0.15, 5: 0.15, 6: 0.41, 7: 0.68, 8: 0.97, 9: 1.37}


def _hand_gap(row, r):
    """EU(A) - EU(B) in row `row` for CRRA r, by hand."""
    p = row / 10
    u = (lambda w: math.log(w)) if r == 1 else (lambda w: w ** (1 - r) / (1 - r))
    return p * u(2.00) + (1 - p) * u(1.60) - p * u(3.85) - (1 - p) * u(0.10)


@pytest.mark.parametrize("row, printed", sorted(HL_TABLE3.items()))
def test_holt_laury_boundaries_match_table3(row, printed):
    r = holt_laury.boundary(row)
    assert r == pytest.approx(printed, abs=0.01)
    assert _hand_gap(row, r) == pytest.approx(0.0, abs=1e-9)


def test_holt_laury_row4_boundary_exact():
    r = holt_laury.boundary(4)
    assert r == pytest.approx(-0.1426, abs=1e-4)
    # sign change of the hand gap brackets it (A gains on B as risk aversion rises)
    assert _hand_gap(4, -0.1427) < 0 < _hand_gap(4, -0.1425)


def test_holt_laury_row1_boundary():
    # HL Table 3 groups 0-1 safe choices as r < -0.95; row 1's own boundary is about -1.71.
    r = holt_laury.boundary(1)
    assert r == pytest.approx(-1.71, abs=0.01)
    assert _hand_gap(1, r) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("n", range(11))
def test_crra_interval_brackets(n):
    lo, hi = holt_laury.crra_interval(n)
    assert lo < hi
    if 2 <= n <= 9:
        assert lo == pytest.approx(HL_TABLE3[n], abs=0.01)
    if 1 <= n <= 8:
        assert hi == pytest.approx(HL_TABLE3.get(n + 1, -1.71), abs=0.01)
    if n == 0:
        assert lo == -math.inf
    if n >= 9:  # HL Table 3: 9-10 safe choices -> 1.37 < r
        assert hi == math.inf and lo == pytest.approx(1.37, abs=0.01)


def test_crra_interval_four_contains_risk_neutrality():
    lo, hi = holt_laury.crra_interval(4)
    assert lo < 0 < hi


@pytest.mark.parametrize("n", range(10))
def test_safe_choices_inside_interval(n):
    lo, hi = holt_laury.crra_interval(n)
    inside = [lo + 1.0 if hi == math.inf else hi - 1.0 if lo == -math.inf else (lo + hi) / 2]
    if math.isfinite(lo) and math.isfinite(hi):
        inside += [lo + 0.01 * (hi - lo), hi - 0.01 * (hi - lo)]
    for r in inside:
        assert holt_laury.safe_choices(CRRA(r)) == n


@pytest.mark.parametrize("n", [-1, 11])
def test_crra_interval_out_of_range(n):
    with pytest.raises(ValueError, match="0..10"):
        holt_laury.crra_interval(n)


def test_families_registry():
    assert FAMILIES == {"gamble": gamble, "holt_laury": holt_laury, "insurance": insurance, "bet": bet,
                        "games": games, "dilemma": dilemma, "budget": budget, "giving": giving, "pair": pair,
                        "forced_choice": forced_choice}
