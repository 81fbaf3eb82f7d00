"""GARP, CCEI and Houtman–Maks on hand-made data, against the independent `revpref` package and brute force."""

import itertools

import numpy as np
import pytest
from revpref import RevealedPreference

from econalign import EconalignError
from econalign.measure.revealed import Data, ccei, garp_violations, houtman_maks, satisfies_garp

# Lines x + 2y = 6 and 2x + y = 6: each choice is strictly cheaper (half the spending) at the other's prices.
CROSSED = Data.of([[1, 2], [2, 1]], [[0, 3], [3, 0]])


def test_a_crossed_pair_violates_garp_both_ways_with_ccei_one_half():
    assert garp_violations(CROSSED) == 2  # (0, 1) and (1, 0)
    assert ccei(CROSSED) == pytest.approx(0.5)  # by hand: p0·x1 / p0·x0 = 3 / 6 = p1·x0 / p1·x1
    assert houtman_maks(CROSSED)[0] == 0.5


def test_ccei_of_an_uneven_pair_is_the_larger_cost_ratio():
    # p0·x1 = 2.5 + 2 = 4.5 of 6 (0.75), p1·x0 = 3 of 6 (0.5): the cycle needs both relations, so it breaks below 0.75.
    data = Data.of([[1, 2], [2, 1]], [[0, 3], [2.5, 1]])
    assert garp_violations(data) == 2
    assert ccei(data) == pytest.approx(0.75)
    assert satisfies_garp(data, 0.74) and not satisfies_garp(data, 0.76)


def test_cobb_douglas_demands_satisfy_garp():
    rng = np.random.default_rng(0)
    prices = rng.uniform(0.2, 2.0, (40, 3))
    data = Data.of(prices, 0.3 * np.array([0.2, 0.5, 0.3]) / prices)  # fixed budget shares: a utility maximiser
    assert garp_violations(data) == 0 and ccei(data) == 1.0 and houtman_maks(data)[0] == 1.0


def random_data(rng, n_max=16):
    n, k = rng.integers(2, n_max), rng.integers(2, 4)
    prices = rng.uniform(0.2, 2.0, (n, k))
    return prices, rng.dirichlet(np.full(k, 0.7), n) / prices  # random points on random budget planes


def test_garp_and_ccei_agree_with_revpref_on_random_data():
    rng = np.random.default_rng(19)
    violating = 0
    for _ in range(200):
        prices, bundles = random_data(rng)
        ours, theirs = Data.of(prices, bundles), RevealedPreference(prices, bundles)
        assert satisfies_garp(ours) == theirs.check_garp()
        assert ccei(ours) == pytest.approx(theirs.ccei(), abs=1e-6)
        violating += not satisfies_garp(ours)
    assert 50 < violating < 190  # both kinds of data set were tested


def test_houtman_maks_is_the_largest_consistent_subset_by_brute_force():
    # revpref's default (MILP "mtz") HMI overstates it on some of these data sets, so brute force is the reference.
    rng = np.random.default_rng(5)
    for _ in range(40):
        data = Data.of(*random_data(rng, n_max=10))
        n = len(data.prices)
        largest = next(m for m in range(n, 0, -1) for keep in itertools.combinations(range(n), m)
                       if satisfies_garp(data.subset(np.array(keep))))
        index, kept = houtman_maks(data)
        assert index == largest / n and kept.sum() == largest and satisfies_garp(data.subset(kept))


@pytest.mark.parametrize("prices, bundles", [([[1, 2]], [[1, 2, 3]]), ([[1, -2]], [[1, 2]]), ([], [])])
def test_bad_data_is_refused(prices, bundles):
    with pytest.raises(EconalignError):
        Data.of(prices, bundles)
