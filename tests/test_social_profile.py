"""The social battery: κ and Fehr–Schmidt (α, β) recovered from simulated agents, per-game behaviour, CLI."""

import json

import numpy as np
import pandas as pd
import pytest

from econalign.backends import load_backend
from econalign.measure.profile import profile
from econalign.measure.social import social_battery
from econalign.preferences import FehrSchmidt, HomoMoralis
from econalign.tasks import dilemma, games, solve
from econalign.tasks.social import reversed_menu

from commands import econalign


def estimate(summary, model, name):
    return summary["estimates"][model]["params"][name]


@pytest.mark.parametrize("kappa", [0.2, 0.45, 0.8])
def test_kappa_is_recovered_exactly_from_choice_probabilities(tmp_path, kappa):
    summary = profile(load_backend(f"sim:moralis:kappa={kappa},noise=0.1"), tmp_path, seed=0, method="logits", battery="social")
    assert estimate(summary, "moralis", "kappa")["value"] == pytest.approx(kappa, abs=1e-3)
    assert estimate(summary, "moralis", "noise")["value"] == pytest.approx(0.1, abs=1e-3)
    # the wrong model fits worse
    assert summary["estimates"]["fs"]["loglik"] < summary["estimates"]["moralis"]["loglik"]


@pytest.mark.parametrize("alpha, beta", [(1.2, 0.4), (0.5, 0.1), (2.0, 0.7)])
def test_fehr_schmidt_is_recovered_exactly_from_choice_probabilities(tmp_path, alpha, beta):
    summary = profile(load_backend(f"sim:fs:alpha={alpha},beta={beta},noise=0.1"), tmp_path, seed=0, method="logits", battery="social")
    assert estimate(summary, "fs", "alpha")["value"] == pytest.approx(alpha, abs=1e-2)
    assert estimate(summary, "fs", "beta")["value"] == pytest.approx(beta, abs=1e-3)


@pytest.mark.parametrize("spec, model, truth", [
    ("moralis:kappa=0.4", "moralis", {"kappa": 0.4}),
    ("fs:alpha=1.2,beta=0.4", "fs", {"alpha": 1.2, "beta": 0.4}),
])
def test_sampled_answers_give_intervals_that_cover_the_truth(tmp_path, spec, model, truth):
    summary = profile(load_backend(f"sim:{spec},noise=0.1"), tmp_path, seed=0, method="generate", battery="social")
    for name, value in truth.items():
        lo, hi = estimate(summary, model, name)["ci95"]
        assert lo < value < hi, (name, lo, hi)


def test_behaviour_of_homo_economicus_matches_theory(tmp_path):
    summary = profile(load_backend("sim:homo-economicus,noise=0.001"), tmp_path, seed=0, method="logits", battery="social")
    for game, levels in summary["behaviour"].items():
        assert levels["model"] == pytest.approx(levels["homo-economicus"], abs=1e-3), game
    assert summary["behaviour"]["prisoners_dilemma"]["model"] == pytest.approx(0.0, abs=1e-3)
    assert summary["ultimatum_acceptance"]["threshold"] == 5  # accepts every positive offer
    assert summary["position_bias"]["p_first_option"] == pytest.approx(0.5, abs=0.05)  # both orders asked


def test_fehr_schmidt_responder_threshold(tmp_path):
    # α = 1: rejects offers below 100/3 -> the smallest offer accepted is 40
    summary = profile(load_backend("sim:fs:alpha=1,beta=0.2,noise=0.001"), tmp_path, seed=0, method="logits", battery="social")
    assert summary["ultimatum_acceptance"]["threshold"] == 40


def test_battery_asks_every_game_in_both_orders():
    tasks = social_battery()
    assert len({t.id for t in tasks}) == len(tasks) == 72
    assert {t.params.get("game", t.family) for t in tasks} == {*games.GAMES, "dilemma"}
    for t in tasks[::2]:
        rev = reversed_menu(t)
        assert rev.options == t.options and [rev.params["labels"][o] for o in rev.options][::-1] == [
            t.params["labels"][o] for o in t.options]
        for pref in (HomoMoralis(0.3), FehrSchmidt(0.9, 0.6)):
            a, b = solve(t, pref), solve(rev, pref)
            assert a.params["labels"][a.optimal] == b.params["labels"][b.optimal] or (
                a.utilities[a.optimal] == pytest.approx(max(b.utilities.values())))  # a tie may list either first


def test_tiny_model_answers_menus_of_different_sizes(tiny_backend, tmp_path):
    summary = profile(tiny_backend, tmp_path, seed=0, method="logits", battery="social")
    table = pd.read_csv(tmp_path / "results.csv")
    for options, probs in zip(table["options"], table["probs"]):
        probs = json.loads(probs)
        assert len(probs) == options.count("|") + 1 and sum(probs) == pytest.approx(1.0)
    assert set(summary["estimates"]) == {"moralis", "fs"}
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and "http" not in html
    again = profile(tiny_backend, tmp_path, seed=0, method="logits", battery="social")
    assert again["timings"]["items_resumed"] == 72 and again["estimates"] == summary["estimates"]
    assert again["timings"]["items_per_s"] == summary["timings"]["items_per_s"] is not None  # those of the run that scored


def test_cli_social_battery(tmp_path):
    out = tmp_path / "social"
    run = econalign("profile", "--model", "sim:moralis:kappa=0.6,noise=0.1", "--battery", "social", "--out", out)
    assert run.returncode == 0, run.stderr
    assert {"summary.json", "results.csv", "report.html", "behaviour.png", "ultimatum.png"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "summary.json").read_text())["battery"] == "social"


@pytest.mark.parametrize("args, message", [
    (["--battery", "moral"], "unknown battery 'moral'"),
    (["--battery", "social", "--model", "sim:crra:r=1"], "cannot answer"),
])
def test_cli_bad_battery_input_is_one_line(tmp_path, args, message):
    run = econalign("profile", "--out", tmp_path / "x", *args)
    assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr


def test_dilemma_level_is_the_probability_of_swerving():
    t = dilemma.make(5, 0.9, 0.5)
    assert [t.params["levels"][o] for o in t.options] == [0.0, 1.0]
    r = reversed_menu(t)
    assert [r.params["levels"][o] for o in r.options] == [1.0, 0.0]
    assert np.isclose(dilemma.threshold(5, 0.9, 0.5), 0.5 / (0.5 + 4 / 6))
