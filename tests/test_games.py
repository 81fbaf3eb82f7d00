"""Economic games and AV dilemmas against theory: dominance, κ thresholds, Fehr–Schmidt predictions."""

import numpy as np
import pytest

from econalign import EconalignError
from econalign.preferences import CRRA, FehrSchmidt, HomoMoralis
from econalign.preferences.base import Lottery
from econalign.preferences.social import SocialOption
from econalign.tasks import FAMILIES, dilemma, games, solve
from econalign.tasks.gamble import make as make_gamble

ECONOMICUS = HomoMoralis(0.0)


def choice(task, pref) -> str:
    task = solve(task, pref)
    return task.params["labels"][task.optimal]


def test_every_option_is_one_letter_with_its_action_in_the_prompt():
    task = games.dictator(100, 2)
    assert task.options == list("ABCDEF")
    assert "A: give $0 (you keep $100, the other person receives $0)" in task.prompt
    assert "F: give $100 (you keep $0, the other person receives $200)" in task.prompt
    assert task.instruction == "Answer with one letter: A, B, C, D, E or F."


# ---------------------------------------------------------------- prisoner's dilemma


@pytest.mark.parametrize("seed", range(20))
def test_homo_economicus_defects_in_every_prisoners_dilemma(seed):
    rng = np.random.default_rng(seed)
    S = rng.uniform(-5, 5)
    P, R, T = S + np.cumsum(rng.uniform(0.1, 5, 3))
    task = games.prisoners_dilemma(T, R, P, S, rng.uniform())
    assert choice(task, ECONOMICUS) == "defect"  # dominant whatever the other does
    assert choice(task, HomoMoralis(1.0)) == "cooperate"  # R > P


@pytest.mark.parametrize("q", [0.0, 0.3, 1.0])
def test_donation_game_threshold_is_cost_over_benefit(q):
    # Giving b = 3 at cost c = 1: T = b, R = b - c, P = 0, S = -c; Alger & Weibull's κ* = c/b whatever q.
    assert games.pd_threshold(3, 2, 0, -1, q) == pytest.approx(1 / 3)
    task = games.prisoners_dilemma(3, 2, 0, -1, q)
    assert choice(task, HomoMoralis(0.32)) == "defect"
    assert choice(task, HomoMoralis(0.34)) == "cooperate"


@pytest.mark.parametrize("q, kappa", [(0.0, 1 / 3), (1.0, 1 / 2), (0.5, 1.5 / 3.5)])
def test_axelrod_payoffs_threshold_depends_on_the_belief(q, kappa):
    # T=5, R=3, P=1, S=0. Against a defector: 3κ = 1; against a cooperator: 3 = 5 - 4κ.
    assert games.pd_threshold(5, 3, 1, 0, q) == pytest.approx(kappa)
    task = games.prisoners_dilemma(5, 3, 1, 0, q)
    assert choice(task, HomoMoralis(kappa - 0.01)) == "defect"
    assert choice(task, HomoMoralis(kappa + 0.01)) == "cooperate"


def test_fehr_schmidt_cooperates_with_a_cooperator_iff_guilt_outweighs_temptation():
    # Against a sure cooperator: R vs T - β(T - S); with T=5, R=3, S=0: cooperate iff β > 2/5.
    task = games.prisoners_dilemma(5, 3, 1, 0, 1.0)
    assert choice(task, FehrSchmidt(1.0, 0.35)) == "defect"
    assert choice(task, FehrSchmidt(1.0, 0.45)) == "cooperate"
    # against a sure defector, cooperating means S - α(T - S) < P: never
    assert choice(games.prisoners_dilemma(5, 3, 1, 0, 0.0), FehrSchmidt(4.0, 0.9)) == "defect"


# ---------------------------------------------------------------- public goods


def test_public_goods_threshold():
    # n = 4, m = 2: (1-κ)/2 = κ -> κ* = 1/3.
    assert games.pg_threshold(4, 2.0) == pytest.approx(1 / 3)
    task = games.public_goods(4, 20, 2.0, 10)
    assert choice(task, ECONOMICUS) == "contribute $0"
    assert choice(task, HomoMoralis(0.32)) == "contribute $0"
    assert choice(task, HomoMoralis(0.34)) == "contribute $20"


@pytest.mark.parametrize("beta, expected", [(0.45, "contribute $0"), (0.55, "contribute $10")])
def test_fehr_schmidt_matches_the_others_iff_beta_exceeds_one_minus_mpcr(beta, expected):
    # Fehr & Schmidt (1999) Prop. 4: with MPCR m/n = 1/2, a player with β > 1/2 matches the others' contribution.
    assert choice(games.public_goods(4, 20, 2.0, 10), FehrSchmidt(1.0, beta)) == expected


# ---------------------------------------------------------------- dictator, ultimatum, trust


def test_dictator():
    assert choice(games.dictator(100), ECONOMICUS) == "give $0"
    assert choice(games.dictator(100), HomoMoralis(0.99)) == "give $0"  # a 1:1 transfer leaves the Kantian payoff
    assert choice(games.dictator(100), FehrSchmidt(0.6, 0.4)) == "give $0"
    assert choice(games.dictator(100), FehrSchmidt(0.6, 0.6)) == "give $50"  # β > 1/2 equalises (Fehr & Schmidt)
    # giving multiplied by m = 3: κ* = 2/(m+1) = 1/2
    assert games.dictator_threshold(3) == pytest.approx(0.5)
    assert choice(games.dictator(100, 3), HomoMoralis(0.49)) == "give $0"
    assert choice(games.dictator(100, 3), HomoMoralis(0.51)) == "give $100"


def test_ultimatum_responder():
    # Fehr & Schmidt (1999): reject offers below αM/(1+2α); α = 1, M = 100 -> $33.33.
    assert choice(games.ultimatum_responder(100, 30), FehrSchmidt(1.0, 0.2)) == "reject"
    assert choice(games.ultimatum_responder(100, 34), FehrSchmidt(1.0, 0.2)) == "accept"
    assert choice(games.ultimatum_responder(100, 5), ECONOMICUS) == "accept"
    assert choice(games.ultimatum_responder(100, 5), HomoMoralis(0.7)) == "accept"


def test_ultimatum_proposer_subgame_perfect_offer():
    # Facing a selfish responder who accepts any positive offer, the SPE offer is the smallest one on the menu.
    assert choice(games.ultimatum_proposer(100, 10), ECONOMICUS) == "offer $10"
    assert choice(games.ultimatum_proposer(100, 30), ECONOMICUS) == "offer $30"  # the least the responder accepts
    assert choice(games.ultimatum_proposer(100, 10), FehrSchmidt(0.8, 0.6)) == "offer $50"  # β > 1/2
    assert choice(games.ultimatum_proposer(100, 10), FehrSchmidt(0.8, 0.4)) == "offer $10"


def test_trust_game():
    # The investor sends everything iff r·m > 1 (linear payoff), nothing otherwise; the selfish trustee returns nothing.
    assert choice(games.trust_investor(10, 3, 0.5), ECONOMICUS) == "send $10"
    assert choice(games.trust_investor(10, 3, 0.2), ECONOMICUS) == "send $0"
    # homo moralis: (1-κ)(rm - 1) + κ(m - 1)/2 > 0; r = 0, m = 3: κ > 1/2
    assert choice(games.trust_investor(10, 3, 0.0), HomoMoralis(0.49)) == "send $0"
    assert choice(games.trust_investor(10, 3, 0.0), HomoMoralis(0.51)) == "send $10"
    assert choice(games.trust_trustee(10, 3, 10), ECONOMICUS) == "return $0"
    # β > 1/2: as close to equal as the menu allows (equal at $20 of $30: 40 - 20 = 0 + 20)
    assert choice(games.trust_trustee(10, 3, 10), FehrSchmidt(0.9, 0.6)) == "return $18"


# ---------------------------------------------------------------- dilemmas


def test_av_dilemma():
    task = dilemma.make(pedestrians=5, q=0.9, p=0.5)
    assert choice(task, ECONOMICUS) == "stay on course"
    k = dilemma.threshold(5, 0.9, 0.5)  # (1-κ)·0.5 = κ·(4.5 - 0.5)/6
    assert k == pytest.approx(0.5 / (0.5 + 4 / 6))
    assert choice(task, HomoMoralis(k - 0.01)) == "stay on course"
    assert choice(task, HomoMoralis(k + 0.01)) == "swerve"
    # Fehr–Schmidt swerves iff p(1 + α) < qβ
    assert choice(dilemma.make(5, 0.9, 0.1), FehrSchmidt(0.5, 0.2)) == "swerve"  # 0.15 < 0.18
    assert choice(dilemma.make(5, 0.9, 0.1), FehrSchmidt(0.9, 0.2)) == "stay on course"  # 0.19 > 0.18
    assert dilemma.threshold(1, 0.5, 1.0) == 1.0  # swerving never saves more than it costs


def test_option_order_does_not_change_the_choice():
    for pref in (HomoMoralis(0.9), FehrSchmidt(0.5, 0.2), ECONOMICUS):
        assert choice(dilemma.make(5, 0.9, 0.1), pref) == choice(dilemma.make(5, 0.9, 0.1, swerve_first=True), pref)


# ---------------------------------------------------------------- preference math on social options


def test_fehr_schmidt_value_of_an_option_matches_its_expected_utility():
    fs = FehrSchmidt(0.8, 0.3)
    option = SocialOption(((0.25, (10, 4, 16)), (0.75, (5, 5, 5))), kantian=7.0)
    direct = fs.expected_utility([[10, 4, 16], [5, 5, 5]], [0.25, 0.75])
    assert fs.value(option) == pytest.approx(direct) == pytest.approx(0.25 * 6.7 + 0.75 * 5)
    assert HomoMoralis(0.25).value(option) == pytest.approx(0.75 * (0.25 * 10 + 0.75 * 5) + 0.25 * 7)


@pytest.mark.parametrize("profiles", [((0.5, (1, 2)),), ((1.2, (1, 2)), (-0.2, (0, 0))), ((1.0, (1,)),)])
def test_social_option_validation(profiles):
    with pytest.raises(EconalignError):
        SocialOption(profiles, 0.0)


def test_families_refuse_the_wrong_kind_of_preference():
    with pytest.raises(EconalignError, match="social preference"):
        solve(games.dictator(100), CRRA(1))
    with pytest.raises(EconalignError, match="risk preference"):
        solve(make_gamble(Lottery.binary(0.5, 100, 0), 40), HomoMoralis(0.5))


def test_generated_games_cover_every_game_and_round_trip(tmp_path):
    tasks = games.generate(21, np.random.default_rng(0))
    assert {t.params["game"] for t in tasks} == set(games.GAMES)
    for t in tasks:
        solved = solve(t, HomoMoralis(0.4))
        assert solved.optimal in t.options and FAMILIES["games"].parse(solved.optimal) == solved.optimal


@pytest.mark.parametrize(
    "text, expected",
    [
        ("C", "C"), ("Option D.", "D"), ("I choose option e", "E"), ("**F**", "F"),
        ("A or B", None), ("a", None), ("", None), ("G", None), ("I would not pick A. B.", "B"),
        ("B. Option A would be selfish.", "B"),
    ],
)
def test_letter_parser(text, expected):
    assert games.parse(text) == expected
