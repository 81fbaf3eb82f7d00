"""Maximum-likelihood estimation and psychometric curves on data with a known truth."""

import math

import numpy as np
import pytest
from scipy.special import expit

from econalign.backends.sim import SimBackend
from econalign.measure.risk import risk_battery
from econalign.measure.estimate import MODELS, Z95, fit, fit_social, hessian, standard_errors, wald_interval
from econalign.measure.psychometric import correlation, fit_curve
from econalign.measure.report import estimate_rows
from econalign.measure.social import social_battery
from econalign.preferences import Lottery
from econalign.preferences.choice import Menus, Pairs, menu_probabilities
from econalign.preferences.social import fs_weights
from econalign.tasks import gamble
from econalign.tasks.social import options

# What `profile` estimates from: the full battery's gambles, both orders, no persona items.
GAMBLES = [t for t in risk_battery(quick=False) if t.family == "gamble" and t.params["persona"] is None]
PAIRS = Pairs.of([(t.lotteries()[t.options[0]], t.lotteries()[t.options[1]]) for t in GAMBLES], [t.wealth for t in GAMBLES])

# Soft labels from the true model are fitted to ~1e-6; 1e-4 leaves room for platform differences only.
EXACT = 1e-4


def agent(spec: str, noise: float = 0.05) -> SimBackend:
    return SimBackend.from_spec(f"sim:{spec},noise={noise:g}")


def sampled_choices(backend: SimBackend, seed: int) -> np.ndarray:
    """0/1: the agent's sampled answers (1 = first option: accept the sure amount)."""
    return np.array([a == t.options[0] for a, t in zip(backend.generate(GAMBLES, seed=seed), GAMBLES)], dtype=float)


def test_estimation_battery_has_both_orders_of_every_gamble():
    assert len(GAMBLES) == 258
    sure_first = [t.params["sure_first"] for t in GAMBLES]
    assert sure_first.count(True) == sure_first.count(False)
    assert all(t.options == ["accept", "reject"] for t in GAMBLES)


# ---------------------------------------------------------------- exact recovery from soft labels


@pytest.mark.parametrize("r", [-0.5, 0.5, 2.0])
@pytest.mark.parametrize("noise", [0.05, 0.2])
def test_crra_exact_recovery(r, noise):
    y = agent(f"crra:r={r:g}", noise).choice_scores(GAMBLES).probs[:, 0]
    f = fit("crra", PAIRS, y)
    assert f.converged
    assert f.params["r"] == pytest.approx(r, abs=EXACT)
    assert f.params["noise"] == pytest.approx(noise, abs=EXACT)
    lo, hi = f.interval("r")  # identified: a finite interval around the truth
    assert lo < r < hi


# tk92's weighting with delta = gamma: the estimated model ties the loss curvature to the gain one.
@pytest.mark.parametrize("alpha, lam, gamma", [(0.88, 2.25, 1.0), (0.88, 2.25, 0.61)])
def test_pt_exact_recovery(alpha, lam, gamma):
    y = agent(f"pt:alpha={alpha},lambda={lam},gamma={gamma}").choice_scores(GAMBLES).probs[:, 0]
    f = fit("pt", PAIRS, y)
    assert f.converged
    assert f.params["alpha"] == pytest.approx(alpha, abs=EXACT)
    assert f.params["lambda"] == pytest.approx(lam, abs=EXACT)
    assert f.params["gamma"] == pytest.approx(gamma, abs=EXACT)
    assert f.params["noise"] == pytest.approx(0.05, abs=EXACT)
    assert all(f.interval(k) is not None for k in ("alpha", "lambda", "gamma"))


# ---------------------------------------------------------------- sampled 0/1 answers


def test_crra_sampled_recovery_inside_ci():
    r = 0.5
    f = fit("crra", PAIRS, sampled_choices(agent(f"crra:r={r}"), seed=0))
    lo, hi = f.interval("r")
    assert lo <= r <= hi, (lo, hi)
    assert hi - lo < 1.5  # informative, not a catch-all


def test_pt_sampled_recovery_inside_ci():
    f = fit("pt", PAIRS, sampled_choices(agent("pt:alpha=0.88,lambda=2.25"), seed=0))
    alpha, lam = f.interval("alpha"), f.interval("lambda")
    assert alpha[0] <= 0.88 <= alpha[1], alpha
    assert lam[0] <= 2.25 <= lam[1], lam
    assert alpha[1] - alpha[0] < 0.5 and lam[1] - lam[0] < 2.0


def test_crra_ci_coverage_and_calibration():
    r, backend = 0.5, agent("crra:r=0.5")
    fits = [fit("crra", PAIRS, sampled_choices(backend, seed)) for seed in range(20)]
    covered = sum(f.interval("r")[0] <= r <= f.interval("r")[1] for f in fits)
    assert covered >= 16, covered  # nominal 19 of 20
    # the standard errors match the spread of the estimates across samples
    spread = np.std([f.params["r"] for f in fits])
    mean_se = np.mean([f.se["r"] for f in fits])
    assert 0.5 < spread / mean_se < 2.0, (spread, mean_se)


# ---------------------------------------------------------------- flat data: not identified


def uninformative(fit_, name: str) -> bool:
    """No interval, or one wider than the parameter's whole admissible range."""
    ci = fit_.interval(name)
    lo, hi = MODELS[fit_.model].bounds[MODELS[fit_.model].names.index(name)]
    return ci is None or ci[1] - ci[0] > hi - lo


@pytest.mark.parametrize("p_accept", [0.9, 0.5])
def test_flat_data_is_not_identified(p_accept):
    y = np.full(len(GAMBLES), p_accept)  # accepts the sure option whatever the amounts
    for name in ("crra", "pt"):
        f = fit(name, PAIRS, y)
        assert all(math.isfinite(v) for v in f.params.values())
        assert all(uninformative(f, k) for k in MODELS[name].names), f.to_dict()
        if p_accept == 0.9 and name == "crra":  # r runs to its search bound
            assert f.to_dict()["params"]["r"]["ci95"] is None and f.to_dict()["params"]["r"]["on_bound"]
            rows = estimate_rows({"estimates": {"crra": f.to_dict()}})
            assert rows.loc[rows.parameter == "r", "95% CI"].item() == "on its search bound"


# ---------------------------------------------------------------- Hessian and standard errors

A = np.array([[4.0, 1.0, -0.5], [1.0, 3.0, 0.25], [-0.5, 0.25, 2.0]])
CENTRE = np.array([0.3, -2.0, 150.0])  # mixed scales: the steps are relative to |x|


def quadratic(x):
    d = np.asarray(x) - CENTRE
    return 0.5 * d @ A @ d + 7.0


# Used at (or near) an optimum, where the function is small: central differences are exact there.
@pytest.mark.parametrize("offset", [[0.0, 0.0, 0.0], [1.0, -0.5, 2.0]])
def test_hessian_of_a_quadratic(offset):
    np.testing.assert_allclose(hessian(quadratic, CENTRE + offset), A, rtol=1e-5, atol=1e-5)


def test_standard_errors_from_the_inverse_hessian():
    centre = CENTRE
    wide = [(-1e3, 1e3)] * 3
    np.testing.assert_allclose(standard_errors(quadratic, centre, wide), np.sqrt(np.diag(np.linalg.inv(A))), rtol=1e-6)
    # an estimate on a bound has no standard error; the others come from the Hessian over the free ones
    on_bound = [(0.3, 1.0), *wide[1:]]
    se = standard_errors(quadratic, centre, on_bound)
    assert np.isnan(se[0])
    np.testing.assert_allclose(se[1:], np.sqrt(np.diag(np.linalg.inv(A[1:, 1:]))), rtol=1e-6)
    assert np.all(np.isnan(standard_errors(quadratic, centre, [(0.3, 1.0), (-2.0, 0.0), (0.0, 150.0)])))
    # a parameter the function ignores is not identified, and the others keep their standard errors
    ignores_first = lambda x: quadratic([CENTRE[0], *x[1:]])  # noqa: E731
    se = standard_errors(ignores_first, centre, wide)
    assert np.isnan(se[0])
    np.testing.assert_allclose(se[1:], np.sqrt(np.diag(np.linalg.inv(A[1:, 1:]))), rtol=1e-6)


def test_fit_interval_is_wald_95():
    f = fit("crra", PAIRS, agent("crra:r=1").choice_scores(GAMBLES).probs[:, 0])
    lo, hi = f.interval("r")
    assert (hi - lo) / 2 == pytest.approx(Z95 * f.se["r"])
    assert f.to_dict()["params"]["r"]["ci95"] == (lo, hi)


@pytest.mark.parametrize(
    "value, se, domain, expected",
    [
        (0.5, 0.1, (-np.inf, np.inf), (0.5 - Z95 * 0.1, 0.5 + Z95 * 0.1)),
        # log scale: se(log x) = se / x = 0.25
        (2.0, 0.5, (0.0, np.inf), (2.0 * math.exp(-Z95 * 0.25), 2.0 * math.exp(Z95 * 0.25))),
        (1.0, 0.5, (0.5, np.inf), (0.5 + 0.5 * math.exp(-Z95), 0.5 + 0.5 * math.exp(Z95))),
        # logit scale: se(logit u) = se / (width u (1 - u)): 0.25 and 0.5; logit(0.2) = log(1/4), logit(0.4) = log(2/3)
        (0.2, 0.04, (0.0, 1.0), tuple(1 / (1 + 4 * math.exp(-s * Z95 * 0.25)) for s in (-1, 1))),
        (0.7, 0.12, (0.3, 1.3), tuple(0.3 + 1 / (1 + 1.5 * math.exp(-s * Z95 * 0.5)) for s in (-1, 1))),
    ],
    ids=["unbounded", "positive", "shifted", "unit", "shifted-interval"],
)
def test_wald_interval_on_the_domain_scale(value, se, domain, expected):
    assert wald_interval(value, se, domain) == pytest.approx(expected, rel=1e-12)


def test_intervals_stay_inside_the_domain():
    # PT lambda's plain Wald interval reaches below 0 on these noisy answers (estimate 1.31, se 0.70)
    f = fit("pt", PAIRS, sampled_choices(agent("pt:alpha=0.88,lambda=2.25", noise=0.3), seed=0))
    value, se = f.params["lambda"], f.se["lambda"]
    assert value - Z95 * se < 0
    lo, hi = f.interval("lambda")
    assert 0 < lo < value < hi
    for name in ("alpha", "gamma", "noise"):
        lo, hi = f.interval(name)
        assert f.domains[name][0] < lo < f.params[name] < hi < f.domains[name][1]


# ---------------------------------------------------------------- a parameter on its bound

SOCIAL_MENUS = [list(options(t).values()) for t in social_battery()]


def sampled_menu_choices(weights, noise: float, copies: int, seed: int) -> tuple[Menus, np.ndarray]:
    """One-hot answers of an agent with these utility weights to `copies` runs of the social battery
    (Fehr–Schmidt with alpha < beta, which the preference class refuses, is simulated from its weights)."""
    menus = Menus.of(SOCIAL_MENUS * copies)
    p = menu_probabilities(weights, menus, noise)
    rng = np.random.default_rng(seed)
    y = np.zeros_like(p)
    y[np.arange(len(p)), [rng.choice(p.shape[1], p=row / row.sum()) for row in p]] = 1.0
    return menus, y


def test_fehr_schmidt_alpha_on_its_bound_keeps_the_other_intervals():
    # the case: FS fitted to a homo moralis agent's choice probabilities puts alpha on 0
    y = SimBackend.from_spec("sim:moralis:kappa=0.25,noise=0.1").choice_scores(social_battery()).probs
    f = fit_social("fs", Menus.of(SOCIAL_MENUS), y)
    assert f.on_bound == ("alpha",) and f.params["alpha"] == 0.0
    assert f.interval("alpha") is None and f.to_dict()["params"]["alpha"]["on_bound"]
    assert f.se["beta"] == pytest.approx(0.113, abs=0.005) and f.se["noise"] == pytest.approx(0.046, abs=0.005)
    rows = estimate_rows({"estimates": {"fs": f.to_dict()}}).set_index("parameter")["95% CI"]
    assert rows["alpha"] == "on its search bound" and rows["beta"].startswith("[")


def test_coverage_with_alpha_on_its_bound():
    # true alpha = 0: about half the samples put the estimate on the bound; beta and noise still get
    # intervals, and they cover the truth at about the nominal rate
    fits = [fit_social("fs", *sampled_menu_choices(fs_weights(0.0, 0.3), 0.1, copies=1, seed=s)) for s in range(12)]
    assert sum("alpha" in f.on_bound for f in fits) >= 3
    for name, truth in (("beta", 0.3), ("noise", 0.1)):
        covered = sum(f.interval(name) is not None and f.interval(name)[0] <= truth <= f.interval(name)[1] for f in fits)
        assert covered >= 10, (name, covered)  # nominal 11.4 of 12


def test_kappa_near_zero_coverage_inside_its_domain():
    # kappa = 0.05: plain Wald intervals reach below 0 (seed 0: 0.004 ± 0.143); logit-scale ones stay in [0, 1]
    backend, tasks, menus = agent("moralis:kappa=0.05", noise=0.1), social_battery(), Menus.of(SOCIAL_MENUS)
    fits = []
    for seed in range(12):
        picked = [t.options.index(a) for a, t in zip(backend.generate(tasks, seed=seed), tasks)]
        fits.append(fit_social("moralis", menus, np.eye(menus.present.shape[1])[picked]))
    intervals = [f.interval("kappa") for f in fits if "kappa" not in f.on_bound]
    assert len(intervals) >= 10 and all(0 <= lo < hi <= 1 for lo, hi in intervals), intervals
    covered = sum(lo <= 0.05 <= hi for lo, hi in intervals)
    assert covered >= 0.75 * len(intervals), (covered, len(intervals))  # 9 of 11 here


# ---------------------------------------------------------------- psychometric curves


@pytest.mark.parametrize(
    "low, high, midpoint, slope",
    [(0.0, 1000.0, 454.9, 12.0), (0.0, 1000.0, 700.0, 30.0), (-1000.0, 0.0, -600.0, 8.0), (300.0, 1000.0, 620.0, 20.0),
     (0.0, 1000.0, 400.0, 1.0)],  # shallow, but P(accept) still moves by 25 points
)
def test_fit_curve_recovers_exact_logistic(low, high, midpoint, slope):
    sure = np.repeat(gamble.sure_grid(Lottery.binary(0.5, high, low), 9), 2)  # both orders, as in the battery
    y = expit(slope * (sure - midpoint) / (high - low))
    curve = fit_curve(sure, y, low, high)
    assert curve.midpoint == pytest.approx(midpoint, abs=1e-5 * (high - low))
    assert curve.slope == pytest.approx(slope, rel=1e-3)
    assert curve.indifference == curve.midpoint
    np.testing.assert_allclose(curve.predict(sure), y, atol=1e-5)


SURE = np.linspace(55.5, 944.5, 9)


@pytest.mark.parametrize(
    "y",
    [
        np.full(9, 0.9),  # always accepts
        np.full(9, 0.1),  # always gambles
        np.full(9, 0.5),  # a coin flip whatever the amount
        1 - expit(10 * (SURE - 500) / 1000),  # accepts less as the sure amount grows
        expit(10 * (SURE - 1500) / 1000),  # would cross 1/2 beyond the best outcome
        expit(0.05 * (SURE - 500) / 1000),  # moves by about one point over the whole range
    ],
    ids=["flat-0.9", "flat-0.1", "flat-0.5", "decreasing", "beyond-range", "almost-flat"],
)
def test_fit_curve_without_indifference_point(y):
    assert fit_curve(SURE, y, 0.0, 1000.0).indifference is None


def test_correlation():
    assert correlation([1, 2, 3, 4], [2, 4, 6, 9])["pearson"] == pytest.approx(0.99437671, abs=1e-8)
    assert correlation([1, 2, 3, 4], [2, 4, 6, 9])["spearman"] == pytest.approx(1.0)
    assert correlation([1, 2, 3], [3, 2, 1]) == {"pearson": pytest.approx(-1.0), "spearman": pytest.approx(-1.0), "n": 3}
    # non-finite pairs are dropped before correlating
    assert correlation([1, 2, np.nan, 3, 4], [2, 4, 5, 6, np.inf])["n"] == 3


@pytest.mark.parametrize(
    "x, y",
    [([1, 2, 3, 4], [5, 5, 5, 5]), ([7, 7, 7], [1, 2, 3]), ([1, 2], [3, 4]), ([1, np.nan, 2], [1, 2, 3])],
    ids=["constant-y", "constant-x", "two-points", "two-finite-points"],
)
def test_correlation_none_when_undefined(x, y):
    out = correlation(x, y)
    assert out["pearson"] is None and out["spearman"] is None
