"""The consistency battery: lottery triples, listing orders and gain/loss frames, from simulated agents with known
answers, hand-made probabilities, a tiny model and the command line."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from econalign import EconalignError
from econalign.backends import load_backend
from econalign.data.generate import generate_splits
from econalign.measure.consistency import (
    SEED,
    TRIPLES,
    ConsistencyBattery,
    by_order,
    consistency_battery,
    frame_problems,
    results_table,
    summarize,
    transitivity,
    wilson,
)
from econalign.measure.profile import profile
from econalign.measure.verdict import consistency_verdict
from econalign.preferences import Lottery, parse_preference
from econalign.preferences.choice import choice_probability
from econalign.tasks import pair

from commands import econalign

ITEMS = 6 * TRIPLES + 4 * len(frame_problems())


def test_a_pair_is_the_holt_laury_wording_with_the_lotteries_in_either_order():
    a, b = Lottery.binary(0.3, 1510.0, 90.0), Lottery.binary(0.35, 1260.0, 90.0)
    task = pair.make(a, b)
    assert task.prompt == ("Choose between two lotteries.\nOption A: 30% chance of $1,510, 70% chance of $90.\n"
                           "Option B: 35% chance of $1,260, 65% chance of $90.\nWhich do you choose?")
    assert task.lotteries() == {"A": a, "B": b} and pair.make(b, a).id != task.id
    assert pair.parse("Option B.") == "B" and pair.parse("A or B") is None


@pytest.mark.parametrize("spec", ["crra:r=1", "tk92"])
def test_pair_tasks_make_checked_training_traces(spec):
    train, held_out = generate_splits(spec, ["pair"], 10, "agentic", seed=0, eval_n=5)
    assert len(train) == 10 and len(held_out) == 5
    assert not {r["task"]["id"] for r in train} & {r["task"]["id"] for r in held_out}


def test_triples_are_risk_ladders_with_close_expected_values():
    rng = np.random.default_rng(0)
    for _ in range(200):
        lots = pair.triple(rng)
        probs, highs = [lot.probs[0] for lot in lots], [lot.outcomes[0] for lot in lots]
        evs = [lot.expected_value for lot in lots]
        assert probs == sorted(probs) and len(set(probs)) == 3  # the riskiest first
        assert highs == sorted(highs, reverse=True) and len(set(highs)) == 3  # so no lottery dominates another
        assert len({lot.outcomes[1] for lot in lots}) == 1 and lots[0].outcomes[1] > 0
        assert len(set(evs)) == 3 and max(evs) / min(evs) <= 1.1


def test_the_battery_has_180_distinct_items_and_each_frame_is_one_decision_over_final_wealth():
    tasks = consistency_battery()
    assert len(tasks) == ITEMS == 180 and len({t.id for t in tasks}) == ITEMS
    frames = {}
    for t in tasks:
        if t.params["item"] == "frame":
            final = {o: sorted((t.wealth + x, p) for x, p in zip(lot.outcomes, lot.probs))
                     for o, lot in t.lotteries().items()}
            frames.setdefault(t.params["problem"], {})[(t.params["unit"], t.params["x_first"])] = final
    assert len(frames) == 15
    for cells in frames.values():
        assert len(cells) == 4 and all(c == cells["gain", True] for c in cells.values())
    gain = next(t for t in tasks if t.params["unit"] == "gain" and t.params["x_first"])
    loss = next(t for t in tasks if t.params["unit"] == "loss" and t.params["x_first"])
    assert gain.prompt.startswith("You have $1,000.") and "receive $200 for certain" in gain.prompt
    assert loss.prompt.startswith("You have $2,000.") and "pay $800 for certain" in loss.prompt
    assert "75% chance to lose $1,000 and 25% chance of $0" in loss.prompt


@pytest.mark.parametrize("method", ["logits", "generate"])
def test_a_noiseless_crra_agent_has_no_cycle_and_no_flip(tmp_path, method):
    s = profile(load_backend("sim:crra:r=1,noise=0"), tmp_path, method=method, battery="consistency")
    t = s["transitivity"]
    assert t["triples"] == TRIPLES and t["cycles"] == 0 and t["cycle_probability"]["value"] == 0.0
    assert s["order_flips"]["all"] == {"value": 0.0, "ci95": wilson(0.0, 90), "n": 90}
    assert s["frame_flips"]["value"] == 0.0 and s["frame_shift"]["value"] == 0.0
    assert s["verdict"].startswith(f"Transitive: no majority cycle in {TRIPLES} lottery triples")
    assert "the gain/loss frame in 0% [0%, 20%] of 15 problems." in s["verdict"]


def pt_flips(alpha: float) -> set[tuple[float, float]]:
    """Problems where PT without weighting takes the sure gain and the loss gamble: p^(1/α) < S/1000 < 1 - (1-p)^(1/α)."""
    return {(p, s) for p, s in frame_problems() if p ** (1 / alpha) < s / 1000 < 1 - (1 - p) ** (1 / alpha)}


def test_a_noiseless_prospect_theory_agent_flips_exactly_where_theory_says(tmp_path):
    # by hand at α = 0.88: p = 0.25 flips for S in (207.0, 279.3), 0.5 in (455.0, 545.0), 0.75 in (720.7, 793.0)
    assert pt_flips(0.88) == {(0.25, 225), (0.25, 250), (0.25, 275), (0.5, 500), (0.75, 750)}
    s = profile(load_backend("sim:pt:alpha=0.88,lambda=2.25,noise=0"), tmp_path, battery="consistency")
    assert s["frame_flips"]["value"] == pytest.approx(5 / 15) and s["frame_flips"]["n"] == 15
    assert s["frame_shift"]["value"] == pytest.approx(5 / 15)  # always the sure gain and the risky loss
    table = pd.read_csv(tmp_path / "results.csv", dtype={"unit": str})
    sure = table[table["item"] == "frame"].groupby(["problem", "unit"])["p_x"].mean().unstack()
    flipped = sure.index[(sure["gain"] == 1) & (sure["loss"] == 0)]
    assert {frame_problems()[k] for k in flipped} == pt_flips(0.88)
    assert s["order_flips"]["all"]["value"] == 0.0 and s["transitivity"]["cycles"] == 0
    assert "the reflection effect of Tversky and Kahneman" in s["verdict"]


def expected_rates(spec: str, noise: float) -> dict:
    """Cycle probability, order flips and frame flips of a logit agent, from its choice probabilities."""
    pref = parse_preference(spec)
    rng = np.random.default_rng(SEED)
    cycles, flips = [], []
    for _ in range(TRIPLES):
        a, b, c = pair.triple(rng)
        q12, q13, q23 = (choice_probability(pref, x, y, 0.0, noise) for x, y in ((a, b), (a, c), (b, c)))
        cycles.append(q12 * q23 * (1 - q13) + (1 - q12) * (1 - q23) * q13)
        flips += [2 * q * (1 - q) for q in (q12, q13, q23)]  # a logit agent ignores the listing order
    frames = []
    for p, s in frame_problems():
        qg = choice_probability(pref, Lottery.sure(s), Lottery.binary(p, 1000, 0), 1000.0, noise)
        ql = choice_probability(pref, Lottery.sure(s - 1000), Lottery.binary(1 - p, -1000, 0), 2000.0, noise)
        flips += [2 * qg * (1 - qg), 2 * ql * (1 - ql)]
        frames.append(qg * (1 - ql) + ql * (1 - qg))
    return {"cycle_probability": np.mean(cycles), "order_flips": np.mean(flips), "frame_flips": np.mean(frames)}


def rates(s: dict) -> dict:
    return {"cycle_probability": s["transitivity"]["cycle_probability"], "order_flips": s["order_flips"]["all"],
            "frame_flips": s["frame_flips"]}


@pytest.mark.parametrize("spec", ["crra:r=0.5", "pt:alpha=0.88,lambda=2.25"])
def test_a_noisy_agent_has_the_rates_its_choice_probabilities_imply(tmp_path, spec):
    expected = expected_rates(spec, 0.05)
    exact = rates(profile(load_backend(f"sim:{spec},noise=0.05"), tmp_path / "logits", battery="consistency"))
    sampled = rates(profile(load_backend(f"sim:{spec},noise=0.05"), tmp_path / "generate", method="generate",
                            battery="consistency"))
    for name, value in expected.items():
        assert 0 < value < 1 and exact[name]["value"] == pytest.approx(value, abs=1e-12), name
        lo, hi = sampled[name]["ci95"]
        assert lo < value < hi and 0 < sampled[name]["value"] < 1, (name, value, sampled[name])


def hand_table(q: dict[tuple[int, str], tuple[float, float]], item: str = "triple") -> pd.DataFrame:
    """Results rows from (problem, unit) -> (P(X) listed first, listed second)."""
    return pd.DataFrame([{"item": item, "problem": k, "unit": unit, "x_first": first, "p_x": p}
                         for (k, unit), qs in q.items() for first, p in zip((True, False), qs)])


def test_cycles_on_hand_made_probabilities():
    cyclic = {(0, "12"): (0.9, 0.9), (0, "23"): (0.8, 0.8), (0, "13"): (0.3, 0.3)}  # 1 > 2 > 3 > 1
    ordered = {(1, "12"): (0.9, 0.9), (1, "23"): (0.8, 0.8), (1, "13"): (0.6, 0.8)}  # 1 > 2 > 3, 1 > 3
    reverse = {(2, "12"): (0.2, 0.0), (2, "23"): (0.1, 0.3), (2, "13"): (0.7, 0.9)}  # 2 > 1, 3 > 2, 1 > 3
    tie = {(3, "12"): (1.0, 0.0), (3, "23"): (0.1, 0.1), (3, "13"): (0.9, 0.9)}  # 1 ~ 2 by order: decides nothing
    unanswered = {(4, "12"): (0.9, np.nan), (4, "23"): (0.9, 0.9), (4, "13"): (0.1, 0.1)}
    t = transitivity(by_order(hand_table({**cyclic, **ordered, **reverse, **tie, **unanswered})))
    assert t["triples"] == 4 and t["cycles"] == 2 and t["cycle_rate"]["value"] == 0.5
    by_hand = [0.9 * 0.8 * 0.7 + 0.1 * 0.2 * 0.3, 0.9 * 0.8 * 0.3 + 0.1 * 0.2 * 0.7,
               0.1 * 0.2 * 0.2 + 0.9 * 0.8 * 0.8, 0.5 * 0.1 * 0.1 + 0.5 * 0.9 * 0.9]
    assert t["cycle_probability"]["value"] == pytest.approx(np.mean(by_hand))


@pytest.mark.parametrize("k, n", [(0, 20), (3, 20), (20, 20), (1, 90), (45, 90)])
def test_wilson_interval_is_scipys(k, n):
    ci = binomtest(k, n).proportion_ci(method="wilson")
    assert wilson(k / n, n) == pytest.approx([ci.low, ci.high], abs=1e-12)


def test_a_first_position_chooser_flips_every_order_and_no_frame():
    tasks = consistency_battery()  # it takes option A, and the sure option only where it is listed first
    first = [[1.0, 0.0] if t.family == "pair" or t.params["sure_first"] else [0.0, 1.0] for t in tasks]
    s = summarize(results_table(tasks, [{"id": t.id, "probs": p, "mass": 0.9, "answer": None} for t, p in zip(tasks, first)]))
    assert s["order_flips"]["all"]["value"] == 1.0 and s["position_bias"]["first_lottery"]["value"] == 1.0
    assert s["frame_flips"]["value"] == 0.0  # in each listing order both frames get the same answer
    assert s["position_bias"]["sure_option"]["value"] == 0.5 and s["frame_shift"]["value"] == 0.0
    assert s["transitivity"]["cycles"] == 0  # every triple pair at ½: no majority
    s["answers"] = {"items": len(tasks), "unparsed": 0, "mean_option_mass": 0.9}
    assert consistency_verdict(s).startswith("Choices follow the listing order: picks the first-listed lottery 100% "
                                             "of the time. Transitive: no majority cycle in 20 lottery triples")


def test_nothing_answered_in_both_orders_is_one_clear_error(tmp_path):
    tasks = consistency_battery()
    table = results_table(tasks, [{"id": t.id, "probs": [1.0, 0.0] if t.params["x_first"] else None, "mass": None,
                                   "answer": "x"} for t in tasks])
    with pytest.raises(EconalignError, match="no pair was answered by m in both listing orders"):
        ConsistencyBattery().check(table, "m", tmp_path / "results.csv")


def test_a_tiny_model_is_scored_from_its_logits(tiny_backend, tmp_path):
    s = profile(tiny_backend, tmp_path, battery="consistency")
    assert {"summary.json", "results.csv", "report.html", "consistency.png"} <= {p.name for p in tmp_path.iterdir()}
    table = pd.read_csv(tmp_path / "results.csv")
    assert len(table) == ITEMS and table["p_x"].between(0, 1).all() and table["mass"].between(0, 1).all()
    assert s["transitivity"]["triples"] == TRIPLES and s["order_flips"]["all"]["n"] == 90
    for r in (s["transitivity"]["cycle_probability"], s["order_flips"]["all"], s["frame_flips"]):
        assert 0 < r["value"] < 1 and r["ci95"][0] < r["value"] < r["ci95"][1]
    page = (tmp_path / "report.html").read_text()
    assert "Consistency profile of" in page and "order flips, lottery pairs" in page and "Maximum-likelihood" not in page


def test_cli_consistency_battery_and_compare(tmp_path):
    runs = {"crra": "sim:crra:r=1,noise=0", "pt": "sim:pt:alpha=0.88,lambda=2.25,noise=0"}
    for name, model in runs.items():
        run = econalign("profile", "--model", model, "--battery", "consistency", "--out", tmp_path / name)
        assert run.returncode == 0, run.stderr
        assert "Transitive: no majority cycle" in run.stdout and "frame flips" in run.stdout
    summary = json.loads((tmp_path / "pt" / "summary.json").read_text())
    assert summary["battery"] == "consistency" and summary["answers"]["items"] == ITEMS
    res = econalign("compare", tmp_path / "crra", tmp_path / "pt", "--out", tmp_path / "cmp")
    assert res.returncode == 0, res.stderr
    row = next(line for line in res.stdout.splitlines() if line.startswith("│ frame flips"))
    assert [c.strip() for c in row.split("│")[2:-1]] == ["0.000", "0.333", "0.333"]
    board = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    assert board["frame flips"].tolist() == pytest.approx([0.0, 1 / 3])


def hand_summary(shift: float, ci: list[float], sure: float) -> dict:
    share = {"value": 0.1, "ci95": [0.05, 0.2], "n": 90}
    return {"transitivity": {"triples": 20, "cycles": 0, "cycle_probability": share},
            "position_bias": {"first_lottery": {"value": 0.5}, "sure_option": {"value": sure}},
            "order_flips": {"all": share}, "frame_flips": {**share, "n": 15},
            "frame_shift": {"value": shift, "ci95": ci, "n": 15},
            "answers": {"items": 180, "unparsed": 0, "mean_option_mass": 0.9}}


@pytest.mark.parametrize("shift, ci, sure, says", [
    (0.3, [0.1, 0.5], 0.5, "taking the sure option more often as a gain than as a loss (+0.30"),
    (-0.3, [-0.5, -0.1], 0.5, "taking the sure option more often as a loss than as a gain (-0.30)."),
    (-0.002, [-0.002, -0.001], 0.5, "of 15 problems."),  # excludes 0 but too small to name
    (0.3, [-0.1, 0.5], 0.5, "of 15 problems."),
    (0.0, [0.0, 0.0], 0.98, "problems; the frames say little: it takes the sure option in 98% of the frame items"),
    (0.0, [0.0, 0.0], 0.1, "problems; the frames say little: it takes the gamble in 90% of the frame items"),
])
def test_verdict_names_a_frame_effect_only_when_it_is_there(shift, ci, sure, says):
    verdict = consistency_verdict(hand_summary(shift, ci, sure))
    assert verdict.startswith("Transitive: no majority cycle in 20 lottery triples") and says in verdict, verdict
