"""Preference models against hand-computed reference values from the literature.

Every expected value is written out with plain arithmetic (math module) in the test itself,
never by calling the code under test a second way.
"""

import math

import numpy as np
import pytest

from econalign import EconalignError
from econalign.preferences import (
    CRRA,
    ExpectedValue,
    FehrSchmidt,
    HomoMoralis,
    Lottery,
    ProspectTheory,
    parse_preference,
)
from econalign.preferences.choice import Pairs, choice_probabilities, choice_probability
from econalign.preferences.prospect import tk_weight

HALF_1000 = Lottery.binary(0.5, 1000.0, 0.0)


def w_tk(p, g):
    """Tversky & Kahneman (1992) eq. (6), written out by hand."""
    return p**g / (p**g + (1 - p) ** g) ** (1 / g)


def expit(z):
    return 1.0 / (1.0 + math.exp(-z))


# ---------------------------------------------------------------- lotteries


def test_lottery_expected_value_and_round_trip():
    lot = Lottery((100.0, -50.0, 0.0), (0.2, 0.3, 0.5))
    assert lot.expected_value == pytest.approx(0.2 * 100 - 0.3 * 50)
    assert Lottery.from_list(lot.to_list()) == lot
    assert Lottery.sure(7).outcomes == (7.0,) and Lottery.sure(7).probs == (1.0,)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Lottery.binary(1.5, 100.0), r"\[0, 1\]"),
        (lambda: Lottery.binary(-0.1, 100.0), r"\[0, 1\]"),
        (lambda: Lottery.binary(float("nan"), 100.0), r"\[0, 1\]"),
        (lambda: Lottery((1.0, 2.0), (0.5, 0.6)), "sum to 1"),
        (lambda: Lottery((1.0, 2.0), (0.3, 0.3)), "sum to 1"),
        (lambda: Lottery((1.0, 2.0), (1.2, -0.2)), r"\[0, 1\]"),
        (lambda: Lottery((1.0,), (0.5, 0.5)), "as many probabilities"),
        (lambda: Lottery((), ()), "as many probabilities"),
        (lambda: Lottery((float("inf"),), (1.0,)), "finite"),
    ],
)
def test_lottery_validation(make, match):
    with pytest.raises(EconalignError, match=match):
        make()


# ---------------------------------------------------------------- CRRA


@pytest.mark.parametrize(
    "r, ce",
    [
        # Wealth 1000, 50% chance of +1000: final wealth 2000 or 1000 with equal odds, so the
        # certainty-equivalent wealth is a power mean of order 1-r of 2000 and 1000.
        (2.0, 2 / (1 / 2000 + 1 / 1000) - 1000),  # harmonic mean: 333.33
        (1.0, math.sqrt(2000 * 1000) - 1000),  # geometric mean: 414.21
        (0.0, 500.0),  # arithmetic mean
        (-1.0, math.sqrt((2000**2 + 1000**2) / 2) - 1000),  # quadratic mean: 581.14
    ],
)
def test_crra_certainty_equivalents(r, ce):
    assert CRRA(r).certainty_equivalent(HALF_1000, wealth=1000.0) == pytest.approx(ce, abs=1e-6)


def test_crra_certainty_equivalents_to_the_cent():
    # Printed values of the four named types (risk-averse, log, linear, risk-loving).
    got = [round(CRRA(r).certainty_equivalent(HALF_1000, 1000.0), 2) for r in (2, 1, 0, -1)]
    assert got == [333.33, 414.21, 500.00, 581.14]


def test_crra_utility_hand_values():
    assert CRRA(2).utility(4.0) == pytest.approx(-1 / 4)  # w^-1 / -1
    assert CRRA(1).utility(math.e) == pytest.approx(1.0)  # ln e
    assert CRRA(0.5).utility(9.0) == pytest.approx(2 * 3)  # 9^0.5 / 0.5
    assert CRRA(-1).utility(3.0) == pytest.approx(9 / 2)  # 3^2 / 2


def test_expected_value_ignores_wealth_and_handles_losses():
    lot = Lottery((300.0, -100.0), (0.25, 0.75))
    assert ExpectedValue().value(lot) == pytest.approx(0.25 * 300 - 0.75 * 100)
    assert ExpectedValue().certainty_equivalent(lot, wealth=50.0) == pytest.approx(0.0)


@pytest.mark.parametrize(
    "r, wealth",
    [(2.0, 1000.0), (1.0, 1000.0), (1.0, 500.0), (0.5, 500.0), (-1.0, 500.0)],
)
def test_crra_refuses_non_positive_final_wealth(r, wealth):
    # 50% chance of losing 1000: final wealth 0 (or negative) in the bad state.
    lot = Lottery.binary(0.5, 1000.0, -1000.0)
    with pytest.raises(EconalignError, match="wealth"):
        CRRA(r).value(lot, wealth=wealth)


def test_crra_allows_zero_wealth_below_r_one():
    # u(0) = 0 for r < 1: EU = 0.5 * 2000^0.5 / 0.5 = 2000^0.5
    lot = Lottery.binary(0.5, 1000.0, -1000.0)
    assert CRRA(0.5).value(lot, wealth=1000.0) == pytest.approx(math.sqrt(2000))


@pytest.mark.parametrize("r", [float("nan"), float("inf")])
def test_crra_rejects_non_finite_r(r):
    with pytest.raises(EconalignError, match="finite"):
        CRRA(r)


def test_kelly_log_utility_bets_two_percent():
    # Kelly (1956): f* = p - q/b = 0.51 - 0.49 = 0.02 on an even-money 51/49 flip.
    assert CRRA(1).optimal_bet_fraction(0.51) == pytest.approx(0.02, abs=1e-12)
    # odds 2:1, p = 0.4: f* = 0.4 - 0.6/2 = 0.1
    assert CRRA(1).optimal_bet_fraction(0.4, odds=2.0) == pytest.approx(0.1, abs=1e-12)


def test_crra_two_bet_fraction_solves_first_order_condition():
    # r = 2, p = 0.6, even money. FOC: 0.6 (1+f)^-2 = 0.4 (1-f)^-2
    # => (1+f)/(1-f) = sqrt(1.5) = 1.2247449 => f = 0.2247449/2.2247449 = 0.1010205
    f = CRRA(2).optimal_bet_fraction(0.6)
    assert f == pytest.approx(0.1010205, abs=1e-7)
    assert 0.6 * (1 + f) ** -2 - 0.4 * (1 - f) ** -2 == pytest.approx(0.0, abs=1e-12)

    def eu(x):  # u(w) = -1/w on final wealth 1 + x or 1 - x
        return 0.6 * -1 / (1 + x) + 0.4 * -1 / (1 - x)

    assert eu(f) > eu(f - 1e-3) and eu(f) > eu(f + 1e-3)


@pytest.mark.parametrize("r", [-1.0, -0.5])
def test_risk_loving_stakes_everything(r):
    assert CRRA(r).optimal_bet_fraction(0.51) == 1.0
    # Convex utility even takes an unfavourable flip: r=-1, p=0.3: 0.3 * 2^2/2 = 0.6 > 1/2 = u(1)
    assert CRRA(-1).optimal_bet_fraction(0.3) == 1.0


def test_risk_neutral_bets_all_on_favourable_nothing_on_fair():
    assert ExpectedValue().optimal_bet_fraction(0.51) == 1.0
    assert CRRA(0).optimal_bet_fraction(0.51) == 1.0
    assert CRRA(0).optimal_bet_fraction(0.5) == 0.0  # indifferent: no bet
    assert ExpectedValue().optimal_bet_fraction(0.4) == 0.0


@pytest.mark.parametrize("r", [0.5, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("p, odds", [(0.49, 1.0), (0.5, 1.0), (0.3, 2.0)])
def test_no_bet_on_unfavourable_flip(r, p, odds):
    assert CRRA(r).optimal_bet_fraction(p, odds) == 0.0


@pytest.mark.parametrize("p, odds", [(0.0, 1.0), (1.0, 1.0), (0.5, 0.0), (0.5, -1.0), (1.2, 1.0)])
def test_bet_fraction_validation(p, odds):
    with pytest.raises(EconalignError, match="0 < p < 1"):
        CRRA(1).optimal_bet_fraction(p, odds)


# ---------------------------------------------------------------- prospect theory

NO_WEIGHT = dict(alpha=0.88, lam=2.25, gamma=1.0, delta=1.0)
TK92 = dict(alpha=0.88, beta=0.88, lam=2.25, gamma=0.61, delta=0.69)


def test_pt_certainty_equivalent_454_90():
    # TK (1992) value function alone: CE = (0.5 * 1000^0.88)^(1/0.88) = 1000 * 0.5^(1/0.88) = 454.90
    ce = ProspectTheory(**NO_WEIGHT).certainty_equivalent(HALF_1000)
    assert round(ce, 2) == 454.90
    assert ce == pytest.approx(1000 * 0.5 ** (1 / 0.88), abs=1e-9)


@pytest.mark.parametrize(
    "p, printed",
    [(0.5, 0.421), (0.1, 0.186), (0.01, 0.055), (0.9, 0.712)],  # gamma = 0.61
)
def test_tk_weighting_function(p, printed):
    got = float(tk_weight(p, 0.61))
    assert got == pytest.approx(w_tk(p, 0.61), abs=1e-12)
    assert round(got, 3) == printed


def test_tk_weighting_endpoints_and_identity():
    assert float(tk_weight(0.0, 0.61)) == 0.0
    assert float(tk_weight(1.0, 0.61)) == 1.0
    assert float(tk_weight(0.37, 1.0)) == 0.37


def test_pt_rank_dependent_weights_of_mixed_gamble():
    # Outcomes deliberately unsorted. Gains ranked from the best (TK 1992 eq. 5),
    # losses from the worst, with gamma = 0.61 for gains, delta = 0.69 for losses.
    x = np.array([[-50.0, 200.0, -150.0, 100.0]])
    p = np.array([[0.4, 0.1, 0.2, 0.3]])
    pt = ProspectTheory(**TK92)
    expected = [
        w_tk(0.6, 0.69) - w_tk(0.2, 0.69),  # -50: P(<= -50) = 0.6, P(< -50) = 0.2
        w_tk(0.1, 0.61),  # 200: best outcome
        w_tk(0.2, 0.69),  # -150: worst outcome
        w_tk(0.4, 0.61) - w_tk(0.1, 0.61),  # 100: P(>= 100) = 0.4, P(> 100) = 0.1
    ]
    assert pt.decision_weights(x, p)[0] == pytest.approx(expected, abs=1e-12)

    value = (
        expected[1] * 200**0.88
        + expected[3] * 100**0.88
        - 2.25 * expected[0] * 50**0.88
        - 2.25 * expected[2] * 150**0.88
    )
    lot = Lottery((-50.0, 200.0, -150.0, 100.0), (0.4, 0.1, 0.2, 0.3))
    assert pt.value(lot) == pytest.approx(value, abs=1e-9)


def test_pt_weighted_certainty_equivalent():
    # tk92: CE = (w(0.5) * 1000^0.88)^(1/0.88) with w(0.5) = 0.4206 -> about $373.8
    ce = ProspectTheory(**TK92).certainty_equivalent(HALF_1000)
    assert ce == pytest.approx((w_tk(0.5, 0.61) * 1000**0.88) ** (1 / 0.88), abs=1e-9)
    assert 373 < ce < 375


@pytest.mark.parametrize("lam", [1.0, 2.25, 3.0])
def test_pt_loss_aversion(lam):
    # 50/50 +100/-100, no weighting: 0.5*100^0.88 - 0.5*lam*100^0.88 = -(lam-1)*0.5*100^0.88
    pt = ProspectTheory(alpha=0.88, lam=lam, gamma=1.0, delta=1.0)
    v = pt.value(Lottery.binary(0.5, 100.0, -100.0))
    assert v == pytest.approx(-(lam - 1) * 0.5 * 100**0.88, abs=1e-9)
    # CE of a negative value: -(|v|/lam)^(1/beta)
    if lam > 1:
        ce = pt.certainty_equivalent(Lottery.binary(0.5, 100.0, -100.0))
        assert ce == pytest.approx(-(((lam - 1) * 0.5 * 100**0.88 / lam) ** (1 / 0.88)), abs=1e-9)


def test_pt_beta_differs_from_alpha():
    # v(-100) = -2 * 100^0.5 = -20
    pt = ProspectTheory(alpha=0.88, beta=0.5, lam=2.0)
    assert pt.value(Lottery.sure(-100.0)) == pytest.approx(-20.0)
    assert pt.value(Lottery.sure(100.0)) == pytest.approx(100**0.88)


@pytest.mark.parametrize(
    "whole, split",
    [
        (Lottery((1000.0, 0.0), (0.5, 0.5)), Lottery((1000.0, 1000.0, 0.0), (0.25, 0.25, 0.5))),
        (Lottery((1000.0, 0.0), (0.5, 0.5)), Lottery((1000.0, 0.0, 1000.0), (0.25, 0.5, 0.25))),
        (Lottery((-100.0, 50.0), (0.4, 0.6)), Lottery((-100.0, 50.0, -100.0), (0.2, 0.6, 0.2))),
        (Lottery((-100.0, 50.0), (0.4, 0.6)), Lottery((50.0, -100.0, 50.0), (0.3, 0.4, 0.3))),
    ],
)
def test_pt_tied_outcomes_do_not_change_value(whole, split):
    pt = ProspectTheory(**TK92)
    assert pt.value(split) == pytest.approx(pt.value(whole), abs=1e-9)


def test_pt_tied_outcome_hand_value():
    # Splitting 1000@0.5 into two halves: value stays w+(0.5) * 1000^0.88
    pt = ProspectTheory(**TK92)
    split = Lottery((1000.0, 1000.0, 0.0), (0.25, 0.25, 0.5))
    assert pt.value(split) == pytest.approx(w_tk(0.5, 0.61) * 1000**0.88, abs=1e-9)


def test_pt_mixed_gamble_with_weighting_hand_value():
    # 50/50 +100/-100 under tk92: w+(0.5)*100^0.88 - 2.25*w-(0.5)*100^0.88
    v = ProspectTheory(**TK92).value(Lottery.binary(0.5, 100.0, -100.0))
    assert v == pytest.approx((w_tk(0.5, 0.61) - 2.25 * w_tk(0.5, 0.69)) * 100**0.88, abs=1e-9)


def test_pt_reference_point_shift():
    pt = ProspectTheory(alpha=0.88, lam=2.25, reference=100.0)
    # a sure $50 is a loss of 50 against a reference of 100; a sure $150 a gain of 50
    assert pt.value(Lottery.sure(50.0)) == pytest.approx(-2.25 * 50**0.88)
    assert pt.value(Lottery.sure(150.0)) == pytest.approx(50**0.88)
    assert pt.value(Lottery.sure(100.0)) == 0.0
    # shifting the gamble by the reference reproduces the reference-0 CE, shifted
    shifted = Lottery.binary(0.5, 1100.0, 100.0)
    assert pt.certainty_equivalent(shifted) == pytest.approx(100 + 1000 * 0.5 ** (1 / 0.88), abs=1e-9)
    assert pt.params()["reference"] == 100.0


def test_pt_values_vectorised_with_padding():
    # A sure amount stacked with a three-outcome lottery is padded with p = 0 copies.
    pt = ProspectTheory(**TK92)
    x = np.array([[500.0, 500.0, 500.0], [1000.0, 0.0, -200.0]])
    p = np.array([[1.0, 0.0, 0.0], [0.3, 0.5, 0.2]])
    got = pt.values(x, p)
    assert got[0] == pytest.approx(500**0.88)
    assert got[1] == pytest.approx(w_tk(0.3, 0.61) * 1000**0.88 - 2.25 * w_tk(0.2, 0.69) * 200**0.88)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lam=0.0), "lambda > 0"),
        (dict(lam=-1.0), "lambda > 0"),
        (dict(alpha=0.0), "alpha > 0"),
        (dict(beta=-0.5), "beta > 0"),
        (dict(lam=float("nan")), "lambda > 0"),
        (dict(gamma=0.2), "gamma in"),
        (dict(gamma=0.27), "gamma in"),
        (dict(gamma=0.61, delta=0.1), "delta in"),
        (dict(gamma=2.5), "gamma in"),
    ],
)
def test_pt_validation(kwargs, match):
    with pytest.raises(EconalignError, match=match):
        ProspectTheory(**kwargs)


def test_pt_gamma_at_monotonicity_limit_is_accepted():
    ProspectTheory(gamma=0.28)  # Ingersoll (2008): w is increasing down to gamma ~ 0.279


# ---------------------------------------------------------------- social preferences


def test_fehr_schmidt_two_players():
    fs = FehrSchmidt(alpha=0.8, beta=0.3)
    assert fs.utility([10, 0], 0) == pytest.approx(10 - 0.3 * 10)  # guilt: 7
    assert fs.utility([10, 0], 1) == pytest.approx(0 - 0.8 * 10)  # envy: -8
    assert fs.utility([5, 5], 0) == 5.0


def test_fehr_schmidt_three_players_average_by_n_minus_1():
    fs = FehrSchmidt(alpha=0.8, beta=0.3)
    # player 0 with 10 against 4 and 16: envy 6, guilt 6, each divided by n-1 = 2
    assert fs.utility([10, 4, 16], 0) == pytest.approx(10 - 0.8 * 6 / 2 - 0.3 * 6 / 2)  # 6.7
    # player 2 with 16: guilt 6 + 12 = 18, divided by 2
    assert fs.utility([10, 4, 16], 2) == pytest.approx(16 - 0.3 * 18 / 2)  # 13.3
    # expected utility over two profiles
    eu = fs.expected_utility([[10, 0], [0, 10]], [0.5, 0.5], 0)
    assert eu == pytest.approx(0.5 * 7 + 0.5 * -8)


def test_fehr_schmidt_needs_two_players():
    with pytest.raises(EconalignError, match="two players"):
        FehrSchmidt(0.8, 0.3).utility([10])


@pytest.mark.parametrize(
    "alpha, beta, match",
    [
        (0.2, 0.3, "alpha >= beta"),
        (2.0, 1.0, "beta < 1"),
        (2.0, 1.5, "beta < 1"),
        (0.5, -0.1, "0 <= beta"),
        (float("nan"), 0.3, "alpha"),
    ],
)
def test_fehr_schmidt_validation(alpha, beta, match):
    with pytest.raises(EconalignError, match=match):
        FehrSchmidt(alpha, beta)


# Prisoner's dilemma, Axelrod's payoffs T=5, R=3, P=1, S=0.
PD = {("C", "C"): 3.0, ("C", "D"): 0.0, ("D", "C"): 5.0, ("D", "D"): 1.0}


def pd(own, other):
    return PD[own, other]


def best_reply(kappa, other):
    hm = HomoMoralis(kappa)
    uc, ud = hm.utility(pd, "C", other), hm.utility(pd, "D", other)
    return "C" if uc > ud else "D" if ud > uc else "tie"


@pytest.mark.parametrize("other", ["C", "D"])
def test_homo_economicus_defects_kantiensis_cooperates(other):
    assert best_reply(0.0, other) == "D"
    assert best_reply(1.0, other) == "C"


def test_homo_moralis_thresholds_in_prisoners_dilemma():
    # Against a defector: U(C) = (1-k)*S + k*R = 3k, U(D) = (1-k)*P + k*P = 1 -> k* = 1/3.
    # Against a cooperator: U(C) = R = 3, U(D) = (1-k)*T + k*P = 5 - 4k -> k* = 1/2.
    k = 1 / 3
    assert HomoMoralis(k).utility(pd, "C", "D") == pytest.approx(3 * k)
    assert HomoMoralis(k).utility(pd, "D", "D") == pytest.approx(1.0)
    assert HomoMoralis(k).utility(pd, "C", "D") == pytest.approx(HomoMoralis(k).utility(pd, "D", "D"))
    assert best_reply(0.30, "D") == "D" and best_reply(0.36, "D") == "C"

    assert HomoMoralis(0.5).utility(pd, "D", "C") == pytest.approx(5 - 4 * 0.5)
    assert HomoMoralis(0.5).utility(pd, "C", "C") == pytest.approx(3.0)
    assert best_reply(0.5, "C") == "tie"
    assert best_reply(0.45, "C") == "D" and best_reply(0.55, "C") == "C"


def test_homo_moralis_expected_utility_against_mixed_strategy():
    # kappa = 0.5, other cooperates with prob 0.4: U(D) = 0.4*(0.5*5 + 0.5*1) + 0.6*1 = 1.8
    assert HomoMoralis(0.5).expected_utility(pd, "D", ["C", "D"], [0.4, 0.6]) == pytest.approx(1.8)
    # U(C) = 0.4*3 + 0.6*(0.5*0 + 0.5*3) = 2.1
    assert HomoMoralis(0.5).expected_utility(pd, "C", ["C", "D"], [0.4, 0.6]) == pytest.approx(2.1)


@pytest.mark.parametrize("kappa", [-0.1, 1.1, float("nan")])
def test_homo_moralis_validation(kappa):
    with pytest.raises(EconalignError, match="kappa in"):
        HomoMoralis(kappa)


# ---------------------------------------------------------------- choice probabilities


def test_exact_chooser_gives_one_half_zero():
    ev = ExpectedValue()
    assert choice_probability(ev, Lottery.sure(600.0), HALF_1000, noise=0) == 1.0
    assert choice_probability(ev, Lottery.sure(500.0), HALF_1000, noise=0) == 0.5
    assert choice_probability(ev, Lottery.sure(400.0), HALF_1000, noise=0) == 0.0


def test_contextual_utility_logit_crra_two():
    # Wilcox (2011) contextual utility with u(w) = -1/w, wealth 1000: sure 400 vs 50% x 1000.
    def u(w):
        return -1 / w

    d = (u(1400) - 0.5 * u(2000) - 0.5 * u(1000)) / (u(2000) - u(1000))
    expected = expit(d / 0.1)  # about 0.6713
    got = choice_probability(CRRA(2), Lottery.sure(400.0), HALF_1000, wealth=1000.0, noise=0.1)
    assert got == pytest.approx(expected, abs=1e-12)
    assert got == pytest.approx(0.6713, abs=1e-4)


def test_choice_probabilities_vectorised_with_padding():
    # EV chooser, context range = 1000 for both pairs, noise 0.2:
    # pair 1: 600 vs 500 -> d = 0.1; pair 2: three-outcome EV 0.2*1000 + 0.3*500 = 350 vs 500 -> d = -0.15
    pairs = Pairs.of(
        [
            (Lottery.sure(600.0), HALF_1000),
            (Lottery((1000.0, 500.0, 0.0), (0.2, 0.3, 0.5)), Lottery.sure(500.0)),
        ],
        wealth=0.0,
    )
    got = choice_probabilities(ExpectedValue(), pairs, noise=0.2)
    assert got == pytest.approx([expit(0.1 / 0.2), expit(-0.15 / 0.2)], abs=1e-12)


@pytest.mark.parametrize("pref", [CRRA(2), CRRA(-1), ProspectTheory(**TK92), ExpectedValue()])
@pytest.mark.parametrize("noise", [0.0, 0.05, 0.5])
def test_choice_symmetry(pref, noise):
    a, b = Lottery.sure(380.0), Lottery((1000.0, 200.0, 0.0), (0.3, 0.3, 0.4))
    pab = choice_probability(pref, a, b, wealth=1000.0, noise=noise)
    pba = choice_probability(pref, b, a, wealth=1000.0, noise=noise)
    assert pab == pytest.approx(1 - pba, abs=1e-12)


def test_choice_between_identical_degenerate_options_is_half():
    # zero context range: no information, 1/2
    assert choice_probability(CRRA(2), Lottery.sure(5.0), Lottery.sure(5.0), wealth=10.0, noise=0.1) == 0.5


# ---------------------------------------------------------------- spec strings


@pytest.mark.parametrize(
    "spec, cls, params",
    [
        ("crra:r=2", CRRA, {"r": 2.0}),
        ("CRRA: R = 0.5 ", CRRA, {"r": 0.5}),
        ("risk-averse", CRRA, {"r": 2.0}),
        ("log", CRRA, {"r": 1.0}),
        ("linear", CRRA, {"r": 0.0}),
        ("risk-loving", CRRA, {"r": -1.0}),
        ("ev", ExpectedValue, {}),
        ("risk-neutral", ExpectedValue, {}),
        ("pt:alpha=0.88,lambda=2.25", ProspectTheory,
         {"alpha": 0.88, "beta": 0.88, "lambda": 2.25, "gamma": 1.0, "delta": 1.0}),
        ("pt:alpha=0.88,lambda=2.25,gamma=0.61", ProspectTheory,
         {"alpha": 0.88, "beta": 0.88, "lambda": 2.25, "gamma": 0.61, "delta": 0.61}),
        ("tk92", ProspectTheory, {"alpha": 0.88, "beta": 0.88, "lambda": 2.25, "gamma": 0.61, "delta": 0.69}),
        ("moralis:kappa=0.5", HomoMoralis, {"kappa": 0.5}),
        ("homo-economicus", HomoMoralis, {"kappa": 0.0}),
        ("homo-kantiensis", HomoMoralis, {"kappa": 1.0}),
        ("fs:alpha=0.8,beta=0.3", FehrSchmidt, {"alpha": 0.8, "beta": 0.3}),
    ],
)
def test_parse_preference(spec, cls, params):
    pref = parse_preference(spec)
    assert type(pref) is cls
    assert pref.params() == params


@pytest.mark.parametrize(
    "pref",
    [
        CRRA(2),
        CRRA(-1),
        CRRA(1 / 3),  # not representable in 6 significant digits
        CRRA(0.7321456789),
        ExpectedValue(),
        ProspectTheory(**TK92),
        ProspectTheory(alpha=0.7, beta=0.9, lam=1.5, reference=250.0),
        ProspectTheory(alpha=0.123456789, lam=2.0 / 3.0),
        HomoMoralis(0.5),
        HomoMoralis(0.0),
        FehrSchmidt(0.8, 0.3),
        FehrSchmidt(2 / 3, 1 / 7),
    ],
)
def test_spec_round_trip(pref):
    back = parse_preference(pref.spec())
    assert type(back) is type(pref)
    assert back.params() == pref.params()


def test_spec_strings_are_short_for_round_numbers():
    assert CRRA(2).spec() == "crra:r=2"
    assert ExpectedValue().spec() == "ev"
    assert HomoMoralis(0.5).spec() == "moralis:kappa=0.5"
    assert FehrSchmidt(0.8, 0.3).spec() == "fs:alpha=0.8,beta=0.3"


@pytest.mark.parametrize(
    "spec, match",
    [
        ("crra", "needs r"),
        ("crra:r=abc", "must be a number"),
        ("crra:x=1", "unknown: x"),
        ("foo", "unknown preference"),
        ("", "unknown preference"),
        ("crra:r=1,r=2", "twice"),
        ("pt:alpha=nan", "finite"),
        ("crra:r=inf", "finite"),
        ("crra:r", "key=value"),
        ("crra:=2", "key=value"),
        ("ev:r=1", "no parameters"),
        ("pt:lambda=0", "lambda > 0"),
        ("pt:gamma=0.1", "gamma in"),
        ("fs:alpha=0.2,beta=0.3", "alpha >= beta"),
        ("fs:alpha=2,beta=1", "beta < 1"),
        ("moralis:kappa=1.5", "kappa in"),
        ("moralis:kappa=-0.5", "kappa in"),
    ],
)
def test_parse_preference_errors(spec, match):
    with pytest.raises(EconalignError, match=match):
        parse_preference(spec)
