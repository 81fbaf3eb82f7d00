"""The giving family and battery (Andreoni & Miller 2002): exact demand under homo moralis and Fehr–Schmidt,
the answer parser, and GARP / CCEI / κ / (α, β) from simulated agents, a tiny model and the CLI."""

import json

import numpy as np
import pandas as pd
import pytest

from econalign import EconalignError
from econalign.backends import load_backend
from econalign.data.generate import generate_dataset
from econalign.measure.giving import GivingBattery, giving_battery
from econalign.measure.profile import profile
from econalign.preferences import FehrSchmidt, HomoMoralis, parse_preference
from econalign.tasks import games, giving, solve

from commands import econalign

PRICES = [(1, 4), (1, 3), (1, 2), (1, 1), (2, 1), (3, 1), (4, 1)]  # Andreoni and Miller's 1/3 ... 3, and wider


def demand(spec, values):
    return giving.demand(giving.make(values), parse_preference(spec))


@pytest.mark.parametrize("values", PRICES)
def test_andreoni_miller_types(values):
    a, b = values
    # selfish: keeps everything
    assert demand("homo-economicus", values) == demand("fs:alpha=0,beta=0", values) == 0.0
    # Leontief: equal payoffs a·(10 - t) = b·t at every price, t/10 = a / (a + b)
    share = demand("fs:alpha=0.9,beta=0.9", values)
    assert share == pytest.approx(a / (a + b)) and giving.payoffs(10 * share, values)[0] == pytest.approx(
        giving.payoffs(10 * share, values)[1])
    # perfect substitutes (the sum of payoffs): everything to whoever's token is worth more
    if a != b:
        assert demand("homo-kantiensis", values) == (1.0 if a < b else 0.0)


@pytest.mark.parametrize("beta, share", [(0.45, 0.0), (0.55, 0.5), (0.9, 0.5)])
def test_fehr_schmidt_equalises_at_price_one_iff_beta_above_half(beta, share):
    assert demand(f"fs:alpha=1,beta={beta}", (2, 2)) == share


@pytest.mark.parametrize("values", PRICES)
def test_homo_moralis_passes_everything_iff_kappa_above_2p_over_1_plus_p(values):
    p = values[0] / values[1]
    threshold = 2 * p / (1 + p)  # (1 - κ/2)·a = (κ/2)·b
    if threshold < 1:
        assert demand(f"moralis:kappa={threshold + 0.01}", values) == 1.0
    assert demand(f"moralis:kappa={min(threshold - 0.01, 1)}", values) == 0.0


@pytest.mark.parametrize("pref", [HomoMoralis(0.55), FehrSchmidt(0.3, 0.25), FehrSchmidt(2.0, 0.7), HomoMoralis(0.9)])
@pytest.mark.parametrize("values", [(1, 2), (3, 7), (2, 1), (5, 3)])
def test_exact_demand_is_the_best_point_of_the_line(pref, values):
    shares = np.linspace(0, 1, 10_001)
    utilities = [pref.value(giving.option(10 * s, values)) for s in shares]
    assert giving.demand(giving.make(values), pref) == pytest.approx(shares[int(np.argmax(utilities))], abs=1e-4)


def test_options_are_the_dictator_games_with_a_multiplier():
    # one token worth $1 kept and $m passed is the dictator game giving $1 that the recipient gets m times over
    task, dictator = giving.make((1, 3)), games.dictator(10, 3)
    for share in (0.0, 0.1, 0.5, 1.0):
        mine = next(o for o in task.options if task.params["levels"][o] == share)
        theirs = next(o for o in dictator.options if dictator.params["levels"][o] == share)
        assert task.params["options"][mine] == dictator.params["options"][theirs]


def test_swapped_budget_asks_for_the_tokens_kept():
    plain, swapped = giving.make((3, 1)), giving.make((3, 1), swapped=True)
    assert "D: pass 3 tokens, keep 7 (you get $21, the other person gets $3)" in plain.prompt
    assert "D: keep 3 tokens, pass 7 (you get $9, the other person gets $7)" in swapped.prompt
    assert swapped.prompt.splitlines()[0].endswith("How many tokens do you keep? You pass the rest to the other person.")
    assert plain.options == swapped.options == list("ABCDEFGHJKL")
    fs = FehrSchmidt(0.9, 0.9)  # equal payoffs at 7.5 tokens passed: 7 (H) passed, or 3 (D) kept
    assert solve(plain, fs).optimal == "H" and solve(swapped, fs).optimal == "D"
    assert plain.params["demand"] == swapped.params["demand"] == 0.75


@pytest.mark.parametrize("text, tokens, letter", [
    ("C", 2.0, "C"), ("I choose C.", 2.0, "C"), ("I pass 3 tokens.", 3.0, "D"), ("pass 1 token", 1.0, "B"),
    ("30%", 3.0, "D"), ("25 percent", 2.5, "C"), ("7.5 tokens", 7.5, "H"), ("100%", 10.0, "L"),
    ("pass 3 tokens, keep 7", 3.0, "D"),
    ("A or B", None, None), ("I keep 7 tokens and pass 3 tokens", None, None), ("11 tokens", None, None),
    ("$30", None, None), ("no idea", None, None), ("", None, None),
])
def test_an_answer_is_a_letter_or_one_amount_of_tokens(text, tokens, letter):
    assert giving.tokens(text) == tokens
    assert giving.parse(text) == letter


def test_battery_asks_every_budget_in_both_orders():
    tasks = giving_battery()
    assert len({t.id for t in tasks}) == len(tasks) == 56
    prices = sorted({t.params["price"] for t in tasks})
    assert prices[0] == 0.25 and prices[-1] == 4.0 and len(prices) == 7
    for t in tasks:  # equal payoffs are one of the allocations, so the Leontief demand is on the menu
        assert 10 * giving.equal_share(giving.values(t)) == pytest.approx(round(10 * giving.equal_share(giving.values(t))))


@pytest.mark.parametrize("method", ["logits", "generate"])
@pytest.mark.parametrize("spec, model, truth", [
    ("fs:alpha=1.2,beta=0.45", "fs", "beta"), ("moralis:kappa=0.7", "moralis", "kappa"),
])
def test_a_noiseless_agent_is_consistent_and_demands_exactly(tmp_path, method, spec, model, truth):
    s = profile(load_backend(f"sim:{spec},noise=0"), tmp_path, method=method, battery="giving")
    assert s["revealed"]["garp_violations"] == 0 and s["revealed"]["ccei"] == 1.0 and s["revealed"]["houtman_maks"] == 1.0
    assert s["verdict"].startswith("Consistent with utility maximisation: no GARP violation in 56 choices.")
    table, pref = pd.read_csv(tmp_path / "results.csv"), parse_preference(spec)
    exact = [giving.demand(t, pref) for t in giving_battery()]
    assert table["given"].to_numpy() == pytest.approx(exact, abs=1e-12)
    value = float(spec.rpartition(f"{truth}=")[2])
    lo, hi = s["estimates"][model]["params"][truth]["ci95"]
    assert lo < value < hi
    if model == "fs":  # α never moves the exact demand: without noise nothing identifies it (flat or on a bound)
        assert s["estimates"]["fs"]["params"]["alpha"]["ci95"] is None


@pytest.mark.parametrize("spec, model, truth", [
    ("moralis:kappa=0.7,noise=0.1", "moralis", {"kappa": 0.7, "noise": 0.1}),
    ("fs:alpha=1.2,beta=0.45,noise=0.1", "fs", {"alpha": 1.2, "beta": 0.45, "noise": 0.1}),
])
def test_parameters_are_recovered_from_choice_probabilities(tmp_path, spec, model, truth):
    s = profile(load_backend(f"sim:{spec}"), tmp_path, method="logits", battery="giving")
    for name, value in truth.items():
        p = s["estimates"][model]["params"][name]
        assert p["value"] == pytest.approx(value, rel=1e-3) and p["ci95"][0] < value < p["ci95"][1], (name, p)
    other = "fs" if model == "moralis" else "moralis"
    assert s["estimates"][other]["loglik"] < s["estimates"][model]["loglik"]  # the wrong model fits worse


@pytest.mark.parametrize("spec, model, truth", [
    ("moralis:kappa=0.7,noise=0.05", "moralis", {"kappa": 0.7, "noise": 0.05}),
    ("fs:alpha=1.2,beta=0.45,noise=0.1", "fs", {"beta": 0.45}),  # α, seen only in rare over-giving, is too loose
])
def test_sampled_answers_give_intervals_that_cover_the_truth(tmp_path, spec, model, truth):
    # seed 1: seed 0's moralis sample happens to satisfy GARP (CCEI 1.0); seeds 1-5 break it, as noise mostly does
    s = profile(load_backend(f"sim:{spec}"), tmp_path, seed=1, method="generate", battery="giving")
    for name, value in truth.items():
        lo, hi = s["estimates"][model]["params"][name]["ci95"]
        assert lo < value < hi, (name, lo, hi)
    assert s["revealed"]["ccei"] < 1.0  # one sampled allocation per budget: noise breaks GARP


def test_a_model_with_no_readable_answer_is_refused():
    table = pd.DataFrame({"given": [np.nan, 0.3, np.nan]})
    with pytest.raises(EconalignError, match="fewer than two giving answers of m could be read"):
        GivingBattery().check(table, "m", "x.csv")


def test_synthetic_traces_choose_the_exact_demand():
    for record in generate_dataset("fs:alpha=1,beta=0.65", ["giving"], 4, "agentic", seed=0):
        task = giving.make((record["task"]["params"]["keep_value"], record["task"]["params"]["pass_value"]),
                           record["task"]["params"]["swapped"])
        solved = solve(task, FehrSchmidt(1, 0.65))  # β / (1 - β) is no price: no ties
        assert record["messages"][1]["content"].endswith(f"Final answer: {solved.optimal}")
        # the best allocation is a neighbour of the exact demand: utility is concave along the line
        assert abs(solved.params["levels"][solved.optimal] - solved.params["demand"]) <= 0.1 + 1e-12


def test_tiny_model_logits_end_to_end(tiny_backend, tmp_path):
    summary = profile(tiny_backend, tmp_path, seed=0, method="logits", battery="giving")
    table = pd.read_csv(tmp_path / "results.csv")
    assert all(len(json.loads(p)) == 11 and sum(json.loads(p)) == pytest.approx(1.0) for p in table["probs"])
    assert table["given"].between(0, 1).all() and summary["answers"]["items"] == 56
    assert set(summary["estimates"]) == {"moralis", "fs"} and 0 <= summary["revealed"]["ccei"] <= 1
    assert (table["own"] + table["price"] * table["other"]).to_numpy() == pytest.approx(10 * table["keep_value"])
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 1 and "Houtman–Maks" in html and "Leontief" in html
    again = profile(tiny_backend, tmp_path, seed=0, method="logits", battery="giving")
    assert again["timings"]["items_resumed"] == 56 and again["estimates"] == summary["estimates"]


def test_cli_giving_battery_and_compare(tmp_path):
    runs = [tmp_path / "fs", tmp_path / "moralis"]
    run = econalign("profile", "--model", "sim:fs:alpha=1,beta=0.55,noise=0.1", "--battery", "giving", "--out", runs[0])
    assert run.returncode == 0, run.stderr
    assert {"summary.json", "results.csv", "report.html", "giving.png"} <= {p.name for p in runs[0].iterdir()}
    assert "GARP" in run.stdout and "share passed by price of giving" in run.stdout
    assert json.loads((runs[0] / "summary.json").read_text())["battery"] == "giving"
    profile(load_backend("sim:moralis:kappa=0.7,noise=0.1"), runs[1], battery="giving")
    res = econalign("compare", *runs, "--out", tmp_path / "cmp")
    assert res.returncode == 0, res.stderr
    board = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    assert list(board["battery"]) == ["giving", "giving"] and board["CCEI"].tolist() == [1.0, 1.0]
    assert board["share passed (price < 1)"].iloc[1] > board["share passed (price > 1)"].iloc[1]  # κ = 0.7 gives when cheap
    assert board["moralis kappa"].iloc[1] == pytest.approx(0.7, abs=1e-3)
