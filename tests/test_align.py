"""The closed loop: direct-decision data, the target comparison and verdict, retention, `econalign align` end to end."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from pydantic import ValidationError

from econalign import EconalignError
from econalign.backends.sim import SimBackend
from econalign.data import decisions
from econalign.data.decisions import battery_keys, decision_key, decision_records
from econalign.measure.risk import risk_battery
from econalign.measure.profile import profile
from econalign.measure.retention import heldout_text, perplexity
from econalign.measure.social import social_battery
from econalign.measure.analysis import measured_threshold
from econalign.measure.target import (
    risk_agreement,
    risk_comparison,
    social_comparison,
    target_parameters,
    verdict,
)
from econalign.preferences import parse_preference
from econalign.tasks import Task, games, solve
from econalign.tasks.gamble import acceptable_gain
from econalign.tasks.social import reversed_menu
from econalign.training.config import AlignRunConfig, LoraSettings, load_config
from econalign.training.sft import lora_config

from commands import econalign

TARGETS = ("crra:r=2", "crra:r=-1", "pt:alpha=0.88,lambda=2.25", "moralis:kappa=0.5", "homo-kantiensis",
           "fs:alpha=0.85,beta=0.315")


# --- data -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", TARGETS)
def test_no_battery_item_in_training_data(spec):
    records, summary = decision_records(spec, 3000, seed=1)
    if spec.startswith(("crra", "pt")):  # and the curriculum's item sets, on the battery's own gambles
        for shapes, draws in ((["anchor", "anchor_losses"], "varied"), (None, "curves")):
            more, s = decision_records(spec, 1500, seed=2, shapes=shapes, draws=draws)
            records, summary["battery_items_in_data"] = records + more, summary["battery_items_in_data"] + s["battery_items_in_data"]
            assert s["battery_items_drawn_and_dropped"] > 0  # these sets do meet battery items, and drop them
    else:  # the battery's own games at other stakes
        more, s = decision_records(spec, 1500, seed=2, draws="curves")
        records, summary["battery_items_in_data"] = records + more, summary["battery_items_in_data"] + s["battery_items_in_data"]
    keys = battery_keys()
    assert summary["battery_items_in_data"] == 0
    assert not [r for r in records if decision_key(Task(**r["task"])) in keys]
    battery_texts = {json.dumps(t.messages()) for t in [*risk_battery(False), *risk_battery(True), *social_battery()]}
    assert not [r for r in records if json.dumps(r["messages"][:-1]) in battery_texts]


def test_battery_keys_catch_battery_items_in_either_order():
    keys = battery_keys()
    for task in risk_battery(False):
        flipped = Task(**{**task.to_dict(), "params": {**task.params, "options": dict(reversed(task.params["options"].items()))}})
        assert decision_key(task) in keys and decision_key(flipped) in keys
    for task in social_battery():
        assert decision_key(reversed_menu(task)) in keys
    # another wealth, stake or game parameter is another decision
    assert decision_key(games.dictator(100, 2.5)) not in keys
    assert decision_key(games.dictator(100, 2)) in keys


def test_a_drawn_battery_item_is_dropped_and_counted(monkeypatch):
    plain, before = decision_records("moralis:kappa=0.5", 16, seed=0, shapes=["dictator"])
    battery_item = social_battery()[0]
    draws = iter([battery_item, reversed_menu(battery_item)])  # drawn first, without using the random stream
    real = decisions.draw_item
    monkeypatch.setattr(decisions, "draw_item",
                        lambda shape, pref, rng, how: next(draws, None) or real(shape, pref, rng, how))
    records, summary = decision_records("moralis:kappa=0.5", 16, seed=0, shapes=["dictator"])
    assert summary["battery_items_drawn_and_dropped"] == before["battery_items_drawn_and_dropped"] + 2
    assert summary["battery_items_in_data"] == 0 and [r["task"] for r in records] == [r["task"] for r in plain]


def test_shapes_cover_the_batteries_in_both_orders():
    records, summary = decision_records("crra:r=1", 800, seed=0)
    tasks = [Task(**r["task"]) for r in records]
    assert summary["shapes"] == {"gains": 200, "losses": 200, "mixed": 200, "holt_laury": 200}
    gambles = [t for t in tasks if t.family == "gamble"]
    assert {t.params["sure_first"] for t in gambles} == {True, False}
    assert {t.params["scale"] for t in tasks if t.family == "holt_laury"}.isdisjoint({1.0, 20.0})
    assert all(t.params["sure"] == 0 for t in gambles if t.params["kind"] == "mixed")
    social, s = decision_records("moralis:kappa=0.5", 800, seed=0)
    assert set(s["shapes"]) == {*games.GAMES, "dilemma"}
    assert {bool(Task(**r["task"]).params.get("reversed")) for r in social} == {True, False}


def gamble_of(task: Task):
    return max(task.lotteries().values(), key=lambda lot: len(lot.outcomes))


def test_curve_draws_are_the_batterys_own_gambles_with_new_amounts():
    battery = [t for t in risk_battery(False) if t.family == "gamble" and not t.params.get("persona")]
    curves = {(t.params["kind"], gamble_of(t), t.wealth) for t in battery if t.params["kind"] != "mixed"}
    records, summary = decision_records("crra:r=1", 600, seed=0, draws="curves")
    gambles = [Task(**r["task"]) for r in records if r["shape"] in ("gains", "losses", "mixed")]
    assert summary["draws"] == "curves" and len(gambles) == 600 - summary["shapes"]["holt_laury"]
    single = [t for t in gambles if t.params["kind"] != "mixed"]
    assert all((t.params["kind"], gamble_of(t), t.wealth) in curves for t in single)
    assert len({t.params["sure"] for t in single}) > 250  # new amounts, not the battery's few
    mixed = {(min(gamble_of(t).outcomes), t.wealth) for t in gambles if t.params["kind"] == "mixed"}
    assert mixed == {(-100.0, 1100.0), (-500.0, 1500.0)}  # the battery's two losses at its wealth; gains are new


def test_curve_draws_give_every_battery_curve_the_same_share():
    _, summary = decision_records("crra:r=1", 1000, seed=0, draws="curves")
    # the battery: 10 gains curves, 3 losses curves, 2 mixed series, 2 Holt-Laury lists -> about 59 items each
    assert summary["shapes"] == {"gains": 588, "losses": 176, "mixed": 118, "holt_laury": 118}
    assert decision_records("crra:r=1", 1000, seed=0)[1]["shapes"] == dict.fromkeys(decisions.RISK_SHAPES, 250)
    assert decisions.apportion(7, [1, 1, 1]) == [3, 2, 2] and decisions.apportion(10, [2, 1]) == [7, 3]
    assert decisions.apportion(5, [10, 3, 2, 2]) == [3, 1, 1, 0]


@pytest.mark.parametrize("spec", ["moralis:kappa=0.5", "fs:alpha=0.85,beta=0.315"])
def test_social_curve_draws_are_the_batterys_games_at_other_stakes_with_its_choices(spec):
    """Every curves item is a battery decision with its amounts times one of GAME_SCALES (the AV dilemma: a new
    risk to the passenger), and the target's choice probabilities over the options' levels are the battery's."""
    sim = SimBackend(parse_preference(spec), decisions.DEFAULT_NOISE)

    def by_level(task):
        return dict(zip((task.params["levels"][k] for k in task.options), sim.option_probs([task])[0]))

    battery = {}
    for task in social_battery():
        battery.setdefault(decisions.shape_of(task), []).append(task)
    records, summary = decision_records(spec, 400, seed=0, draws="curves")
    assert summary["battery_items_in_data"] == 0 and len(set(summary["shapes"])) == 8
    scaled = set()
    for task, shape in ((Task(**r["task"]), r["shape"]) for r in records):
        if shape == "dilemma":
            assert task.params["pedestrians"] in (1, 5) and task.params["q"] == 0.9
            assert task.params["p"] in decisions.SWERVE_RISKS
            continue
        amounts = decisions.GAME_AMOUNTS[shape]
        twins = [b for b in battery[shape] for f in decisions.GAME_SCALES
                 if all(np.isclose(task.params[k], b.params[k] * f) for k in amounts)
                 and all(task.params[k] == b.params[k] for k in b.params if k in ("multiplier", "returned", "q"))]
        assert twins, task.params
        twin = next(b for b in twins if set(by_level(b)) == set(by_level(task)))
        assert by_level(task) == pytest.approx(by_level(twin), abs=1e-9)
        scaled.add(task.params[amounts[0]] / twin.params[amounts[0]])
    assert scaled == set(decisions.GAME_SCALES)


def test_small_sure_amounts_are_drawn_where_the_target_would_never_take_them():
    records, _ = decision_records("crra:r=1", 4000, seed=0, shapes=["gains", "losses"], draws="curves")
    for kind in ("gains", "losses"):  # gambles paying $0 at most half the time: certainty equivalents far above $100
        sure = np.abs([t.params["sure"] for t in (Task(**r["task"]) for r in records if r["shape"] == kind)
                       if dict(zip(gamble_of(t).outcomes, gamble_of(t).probs)).get(0.0, 1.0) <= 0.5])
        small = np.mean(sure < 100)  # the battery's stake is $1,000: amounts of two digits or fewer
        assert 0.08 < small < 0.3, (kind, small)  # uniform draws gave 0.039-0.064 (seeds 0, 1)
        assert 0.3 < np.mean(sure != np.round(sure)) < 0.7  # with cents as well as without


@pytest.mark.parametrize("shape, prize, wealth, ce", [("anchor", 1000.0, 1000.0, 1000 / 3),
                                                      ("anchor_losses", -1000.0, 2000.0, -2000 / 3)])
def test_anchor_items_vary_only_the_sure_amount(shape, prize, wealth, ce):
    """r = 2's certainty equivalents (independent of the code): u = -1/w, so 50% x $1,000 at wealth $1,000 is
    worth 2 / (1/1000 + 1/2000) - 1000 = $333.33 and 50% x -$1,000 at wealth $2,000 is 2 / (1/1000 + 1/2000) - 2000
    = -$666.67."""
    records, summary = decision_records("crra:r=2", 300, seed=0, shapes=[shape])
    tasks = [Task(**r["task"]) for r in records]
    assert summary["shapes"] == {shape: 300} and {r["shape"] for r in records} == {shape}
    assert {t.wealth for t in tasks} == {wealth} and {t.params["sure_first"] for t in tasks} == {True, False}
    assert {json.dumps(sorted(o for opt in t.params["options"].values() for o in opt if len(opt) == 2))
            for t in tasks} == {json.dumps(sorted([[0.0, 0.5], [prize, 0.5]]))}
    sure = np.array([t.params["sure"] for t in tasks])
    assert np.all((0 <= sure / prize) & (sure / prize <= 1))
    if shape == "anchor":  # whole dollars, uniform
        assert np.all(sure == np.round(sure)) and np.mean(np.abs(sure) < 100) < 0.15
    else:  # as the curves' sure amounts: with cents half the time, small amounts often (2 digits: a quarter)
        assert 0.3 < np.mean(sure != np.round(sure)) < 0.7 and 0.15 < np.mean(np.abs(sure) < 100) < 0.4
    far = [(t.params["sure"] > ce, r["messages"][-1]["content"] == "accept") for t, r in zip(tasks, records)
           if abs(t.params["sure"] - ce) > 150]  # a larger sure amount (a smaller sure loss) is taken
    assert np.mean([take for above, take in far if above]) > 0.85 > 0.15 > np.mean([take for above, take in far if not above])


def test_responder_anchor_varies_only_the_offer_and_labels_the_fehr_schmidt_threshold():
    """Fehr-Schmidt alpha = 0.85 as responder (independent of the code): accepting o of $100 is worth
    o - 0.85 (100 - 2o), rejecting 0, so it accepts from o = 85 / 2.7 = $31.48; the battery's own offers ($5 to $50,
    whole dollars) never occur."""
    records, summary = decision_records("fs:alpha=0.85,beta=0.315", 400, seed=0, shapes=["anchor_responder"])
    tasks = [Task(**r["task"]) for r in records]
    assert summary["shapes"] == {"anchor_responder": 400} and summary["battery_items_in_data"] == 0
    assert summary["battery_items_drawn_and_dropped"] > 0  # whole-dollar $5 ... $50 were drawn and thrown away
    assert {t.params["game"] for t in tasks} == {"ultimatum_responder"} and {t.params["pie"] for t in tasks} == {100.0}
    offer = np.array([t.params["offer"] for t in tasks])
    assert offer.min() >= 0 and offer.max() <= 50 and 0.3 < np.mean(offer != np.round(offer)) < 0.7
    assert {t.options[0] for t in tasks} == {"A"} and len({t.params["labels"]["A"] for t in tasks}) == 2  # both orders
    accepted = np.array([t.params["labels"][r["messages"][-1]["content"]] == "accept" for t, r in zip(tasks, records)])
    assert accepted[offer < 25].mean() < 0.02 and accepted[offer > 38].mean() > 0.98
    assert 0.05 < accepted[(offer > 29) & (offer < 34)].mean() < 0.95  # the sampled labels' slope at the threshold


def test_ordered_responder_anchor_keeps_the_battery_order_so_a_letter_means_one_answer():
    records, summary = decision_records("fs:alpha=0.85,beta=0.315", 200, seed=0, shapes=["anchor_responder_ordered"])
    tasks = [Task(**r["task"]) for r in records]
    assert summary["battery_items_in_data"] == 0 and {t.params["labels"]["A"] for t in tasks} == {"accept"}
    answer = np.array([r["messages"][-1]["content"] for r in records])
    offer = np.array([t.params["offer"] for t in tasks])
    assert set(answer[offer < 25]) == {"B"} and set(answer[offer > 38]) == {"A"}  # reject below $31.48, accept above


def test_both_anchors_in_one_stage_are_split_evenly_without_battery_items():
    _, summary = decision_records("crra:r=-1", 100, seed=0, shapes=["anchor", "anchor_losses"])
    assert summary["shapes"] == {"anchor": 50, "anchor_losses": 50} and summary["battery_items_in_data"] == 0


def test_bad_requests_are_refused():
    with pytest.raises(EconalignError, match="unknown shape anchor"):
        decision_records("moralis:kappa=0.5", 10, shapes=["anchor"])
    with pytest.raises(EconalignError, match="unknown shape anchor_losses"):
        decision_records("fs:alpha=0.85,beta=0.315", 10, shapes=["anchor_losses"])
    with pytest.raises(EconalignError, match="unknown shape anchor_responder"):
        decision_records("crra:r=2", 10, shapes=["anchor_responder"])
    with pytest.raises(EconalignError, match="unknown draws"):
        decision_records("crra:r=2", 10, draws="battery")
    with pytest.raises(EconalignError, match="unknown shape dictator"):
        decision_records("crra:r=2", 10, shapes=["gains", "dictator"])
    with pytest.raises(EconalignError, match="positive"):
        decision_records("crra:r=2", 0)
    with pytest.raises(EconalignError, match="noise"):
        decision_records("crra:r=2", 10, noise=-1)


def test_same_seed_same_records():
    a, _ = decision_records("pt:alpha=0.88,lambda=2.25", 200, seed=3)
    b, _ = decision_records("pt:alpha=0.88,lambda=2.25", 200, seed=3)
    c, _ = decision_records("pt:alpha=0.88,lambda=2.25", 200, seed=4)
    assert a == b and a != c


@pytest.mark.parametrize("spec", ["crra:r=2", "fs:alpha=0.85,beta=0.315"])
def test_noiseless_labels_are_the_targets_choices(spec):
    pref = parse_preference(spec)
    records, _ = decision_records(spec, 400, seed=0, noise=0.0)
    for r in records:
        task = solve(Task(**r["task"]), pref)
        best = max(task.utilities.values())
        chosen = r["messages"][-1]["content"]
        assert task.utilities[chosen] >= best - 1e-9 * (1 + abs(best)), (task.prompt, chosen)


def test_noisy_labels_follow_the_targets_choice_probabilities():
    """With noise, labels are samples: their agreement with the target's optimum matches the logit model's."""
    spec, noise = "crra:r=2", 0.1
    records, _ = decision_records(spec, 3000, seed=0, noise=noise, shapes=["gains"])
    tasks = [Task(**r["task"]) for r in records]
    probs = SimBackend(parse_preference(spec), noise).option_probs(tasks)
    chose_first = np.array([r["messages"][-1]["content"] == t.options[0] for r, t in zip(records, tasks)])
    assert 0.2 < np.mean(np.abs(probs[:, 0] - 0.5) < 0.4) < 0.9  # many items are not certain at this noise
    assert abs(chose_first.mean() - probs[:, 0].mean()) < 0.02
    assert np.allclose([r["p_target"] for r in records], np.where(chose_first, probs[:, 0], probs[:, 1]))


def test_records_render_exactly_as_the_battery_is_scored(tokenizer):
    """The training prompt is the text the logit scorer continues; the answer is one option word or letter."""
    from econalign.backends.hf import HFBackend
    from econalign.training.dataset import to_prompt_completion, tokenize_record

    scorer = HFBackend(None, tokenizer, "t")
    for spec in ("crra:r=2", "moralis:kappa=0.5"):
        records, _ = decision_records(spec, 40, seed=0)
        for r in records:
            task = Task(**r["task"])
            pc = to_prompt_completion(r, "record")
            prompt = tokenizer.apply_chat_template(pc["prompt"], add_generation_prompt=True, tokenize=False)
            assert prompt == scorer.render(task)
            assert r["messages"][-1]["content"] in task.options
            tokens = tokenize_record(pc, tokenizer)
            answer = [t for t, m in zip(tokens["input_ids"], tokens["completion_mask"]) if m]
            assert tokenizer.decode(answer).startswith(r["messages"][-1]["content"])


# --- target comparison and verdict -------------------------------------------------------------------------------


def test_target_parameters():
    assert target_parameters(parse_preference("ev")) == {"crra": {"r": 0.0}}
    assert target_parameters(parse_preference("risk-averse")) == {"crra": {"r": 2.0}}
    assert target_parameters(parse_preference("pt:alpha=0.88,lambda=2.25")) == {
        "pt": {"alpha": 0.88, "lambda": 2.25, "gamma": 1.0}}
    assert target_parameters(parse_preference("homo-economicus")) == {"moralis": {"kappa": 0.0}}
    assert target_parameters(parse_preference("fs:alpha=0.85,beta=0.315")) == {"fs": {"alpha": 0.85, "beta": 0.315}}


def estimate(value, ci=None):
    return {"value": value, "se": None, "ci95": ci}


def summary_with(model, **params):
    return {"estimates": {model: {"params": {k: estimate(*v) for k, v in params.items()}}}}


def rows_for(spec, before, after):
    from econalign.measure.target import parameter_rows

    return parameter_rows(target_parameters(parse_preference(spec)), before, after)


def test_verdict_recovered_moved_not_moved():
    before = summary_with("crra", r=(5.0,))  # on the search bound
    inside = summary_with("crra", r=(2.2, [1.9, 2.5]))
    covered = summary_with("crra", r=(2.5, [1.9, 3.1]))  # the interval holds 2, but the estimate is 0.5 off
    vague = summary_with("crra", r=(2.1, [0.5, 3.7]))  # near 2, but the interval would hold r = 1 as well
    off = summary_with("crra", r=(3.0, [2.8, 3.2]))
    unidentified = summary_with("crra", r=(2.1,))
    bound = summary_with("crra", r=(-3.0,))
    assert verdict(rows_for("crra:r=2", before, inside), 0.5, 0.9)["status"] == "recovered"
    assert verdict(rows_for("crra:r=2", before, covered), 0.5, 0.9)["status"] == "moved"
    assert verdict(rows_for("crra:r=2", before, vague), 0.5, 0.9)["status"] == "moved"
    assert verdict(rows_for("crra:r=2", before, off), 0.5, 0.9)["status"] == "moved"
    assert verdict(rows_for("crra:r=2", before, off), 0.5, 0.52)["status"] == "not moved"
    assert verdict(rows_for("crra:r=2", before, unidentified), 0.5, 0.9)["status"] == "moved"
    assert verdict(rows_for("crra:r=2", before, bound), 0.5, 0.6)["status"] == "moved"
    line = verdict(rows_for("crra:r=2", before, off), 0.5, 0.9)["line"]
    assert line.startswith("Moved but not recovered: CRRA r 3.00 [2.80, 3.20] (target 2, missed)")
    assert "0.50 → 0.90" in line


def test_verdict_every_parameter_must_come_back():
    before = summary_with("pt", alpha=(0.4,), **{"lambda": (10.0,)}, gamma=(1.5,))
    good = summary_with("pt", alpha=(0.85, [0.7, 1.0]), **{"lambda": (2.4, [1.8, 3.0])}, gamma=(1.05, [0.8, 1.3]))
    bad_lambda = summary_with("pt", alpha=(0.85, [0.7, 1.0]), **{"lambda": (4.0, [3.5, 4.5])}, gamma=(1.0, [0.8, 1.2]))
    spec = "pt:alpha=0.88,lambda=2.25"
    assert verdict(rows_for(spec, before, good), 0.6, 0.9)["status"] == "recovered"
    assert verdict(rows_for(spec, before, bad_lambda), 0.6, 0.9)["status"] == "moved"


def test_a_target_on_the_bound_is_recovered_on_it():
    before = summary_with("moralis", kappa=(0.57, [-2.0, 3.0]))
    at_zero = summary_with("moralis", kappa=(0.0,))  # homo economicus: the estimate sits on κ = 0
    hit = verdict(rows_for("homo-economicus", before, at_zero), 0.4, 0.9)
    assert hit["status"] == "recovered"
    assert hit["line"].startswith("Recovered: homo moralis kappa 0.00 (on its bound, where the target is) (target 0);")
    missed = verdict(rows_for("moralis:kappa=0.5", before, at_zero), 0.4, 0.9)
    assert missed["status"] == "moved"
    assert "kappa 0.00 (on its search bound: not identified) (target 0.5, missed)" in missed["line"]
    assert verdict(rows_for("homo-kantiensis", before, at_zero), 0.4, 0.42)["status"] == "not moved"


def test_a_social_target_needs_its_behaviour_game_by_game():
    from econalign.measure.target import behaviour_missed

    before = summary_with("moralis", kappa=(0.57, [0.0, 1.0]))
    kappa = summary_with("moralis", kappa=(0.45, [0.3, 0.6]))
    near = [{"game": "dictator", "before": 0.5, "after": 0.40, "target": 0.36},
            {"game": "trust_trustee", "before": 0.4, "after": 0.10, "target": 0.0}]
    far = [near[0], {"game": "trust_trustee", "before": 0.4, "after": 0.40, "target": 0.0}]
    assert behaviour_missed(near) == []
    assert verdict(rows_for("moralis:kappa=0.5", before, kappa), 0.4, 0.9, behaviour_missed(near))["status"] == "recovered"
    missed = verdict(rows_for("moralis:kappa=0.5", before, kappa), 0.4, 0.9, behaviour_missed(far))
    assert missed["status"] == "moved"
    assert "1 of 2 games more than 0.15 from the target's level (trust_trustee 0.40 vs 0.00)" in missed["line"]


def test_mixed_threshold_matches_prospect_theory_in_closed_form():
    # 0.5 G^a = 0.5 * lambda * L^a  =>  G = lambda^(1/a) L
    pref = parse_preference("pt:alpha=0.88,lambda=2.25")
    assert acceptable_gain(pref, 500, 1500) == pytest.approx(2.25 ** (1 / 0.88) * 500, rel=1e-6)
    assert acceptable_gain(parse_preference("ev"), 100, 1100) == pytest.approx(100, rel=1e-6)
    # CRRA r = 2 with wealth 1500, loss 500: 1/(1500 + G) = 2/1500 - 1/1000  =>  G = 1500
    assert acceptable_gain(parse_preference("crra:r=2"), 500, 1500) == pytest.approx(1500, rel=1e-6)


def test_measured_threshold_interpolates_the_crossing():
    rows = pd.DataFrame({"gain": [100, 200, 300, 100, 200, 300], "y": [0.9, 0.7, 0.1, 0.9, 0.5, 0.1]})
    # P(take) = 1 - y averaged: 0.1, 0.4, 0.9 -> crosses 0.5 a fifth of the way from 200 to 300
    assert measured_threshold(rows) == pytest.approx(220)
    assert measured_threshold(rows.assign(y=0.9)) is None


def sim_profile(spec, folder, battery="risk"):
    backend = SimBackend.from_spec(spec)
    return profile(backend, folder, True, 0, "logits", battery=battery), pd.read_csv(folder / "results.csv")


def test_a_perfect_student_is_recovered_and_a_different_one_is_not(tmp_path):
    """The comparison on real profiles: a simulated agent with the target's preference is recovered; one
    with another preference is not, and the agreement says which is closer."""
    from econalign.measure.align_report import read_results

    target = "crra:r=2"
    before, _ = sim_profile("sim:crra:r=-1,noise=0.05", tmp_path / "b")
    good, _ = sim_profile(f"sim:{target},noise=0.05", tmp_path / "g")
    other, _ = sim_profile("sim:crra:r=0.5,noise=0.05", tmp_path / "o")
    tables = {k: read_results(tmp_path / k / "results.csv") for k in ("b", "g", "o")}
    hit = risk_comparison(target, before, good, tables["b"], tables["g"])
    miss = risk_comparison(target, before, other, tables["b"], tables["o"])
    assert hit["verdict"]["status"] == "recovered"
    assert miss["verdict"]["status"] == "moved" and not miss["parameters"][0]["recovered"]
    assert hit["verdict"]["agreement_after"] > 0.9 > hit["verdict"]["agreement_before"]
    assert risk_agreement(tables["g"], parse_preference(target)) > risk_agreement(tables["o"], parse_preference(target))
    assert hit["holt_laury"][0]["after"] == hit["holt_laury"][0]["target"] == 9
    fifty = next(c for c in hit["curves"] if c["curve"] == "50% +1,000 / 50% +0")
    assert fifty["target"] == pytest.approx(1000 / 3, rel=1e-6)  # harmonic mean of 1,000 and 2,000, less 1,000
    assert fifty["after"] == pytest.approx(fifty["target"], rel=0.05)


def test_social_comparison_on_simulated_agents(tmp_path):
    from econalign.measure.align_report import read_results

    before, _ = sim_profile("sim:homo-economicus,noise=0.05", tmp_path / "b", "social")
    after, _ = sim_profile("sim:moralis:kappa=0.5,noise=0.05", tmp_path / "a", "social")  # the align data's label noise
    noisier, _ = sim_profile("sim:moralis:kappa=0.5,noise=0.1", tmp_path / "n", "social")
    tables = {k: read_results(tmp_path / k / "results.csv") for k in ("b", "a", "n")}
    result = social_comparison("moralis:kappa=0.5", before, after, tables["b"], tables["a"])
    assert result["verdict"]["status"] == "recovered"
    # twice the noise: κ still comes back, but noise pulls the trust games' levels more than 0.15 off the exact ones
    blurred = social_comparison("moralis:kappa=0.5", before, noisier, tables["b"], tables["n"])["verdict"]
    assert blurred["status"] == "moved" and "trust_trustee" in blurred["line"]
    pd_row = next(b for b in result["behaviour"] if b["game"] == "prisoners_dilemma")
    assert pd_row["target"] == pytest.approx(0.79, abs=0.01)  # the README's κ = 0.5 row


# --- retention, LoRA layers -------------------------------------------------------------------------------------


def test_perplexity_is_the_exponentiated_mean_token_loss(tiny_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tok = AutoModelForCausalLM.from_pretrained(tiny_dir), AutoTokenizer.from_pretrained(tiny_dir)
    text = "The river town woke slowly on market days."
    ids = torch.tensor([[tok.bos_token_id, *tok(text, add_special_tokens=False)["input_ids"]]])
    with torch.no_grad():
        loss = model(input_ids=ids, labels=ids).loss.item()
    result = perplexity(model, tok, text)
    assert result["tokens"] == ids.shape[1] - 1
    assert result["perplexity"] == pytest.approx(np.exp(loss), rel=1e-4)
    assert len(heldout_text().split()) > 500


def test_top_layers_puts_lora_on_the_last_layers_only(tiny_dir):
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_dir)  # 2 layers
    cfg = lora_config(LoraSettings(r=4, alpha=8, top_layers=1), model)
    assert cfg.layers_to_transform == [1]
    assert set(cfg.target_modules) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    adapted = {n.split(".layers.")[1].split(".")[0] for n, _ in get_peft_model(model, cfg).named_parameters()
               if "lora_" in n}
    assert adapted == {"1"}
    with pytest.raises(EconalignError, match="has 2 layers"):
        lora_config(LoraSettings(top_layers=3), model)


# --- econalign align end to end ---------------------------------------------------------------------------------


def align_config(tmp_path, tiny_dir, **changes) -> Path:
    cfg = {
        "preference": "crra:r=2", "model": str(tiny_dir), "output_dir": str(tmp_path / "run"), "quick": True,
        "data": {"n": 24}, "training": {"max_steps": 2, "batch_size": 8, "logging_steps": 1, "save_steps": 1},
        "lora": {"r": 4, "alpha": 8, "top_layers": 1}, **changes,
    }
    path = tmp_path / "align.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def cli(*args):
    return econalign("align", *args)


def test_align_end_to_end_and_resume(tmp_path, tiny_dir):
    config = align_config(tmp_path, tiny_dir, trainer="sft")  # TRL's SFTTrainer; the curriculum test runs `cached`
    run = cli("--config", config)
    assert run.returncode == 0, run.stderr[-2000:]
    out = tmp_path / "run"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["verdict"]["status"] in ("recovered", "moved", "not moved")
    assert summary["verdict"]["line"] in run.stdout
    assert summary["data"]["battery_items_in_data"] == 0 and summary["training"]["global_step"] == 2
    for side in ("before", "after"):
        assert summary["retention"][side]["perplexity"] > 1
        assert (out / side / "results.csv").exists()
    html = (out / "report.html").read_text()
    assert html.index(summary["verdict"]["line"][:40]) < html.index("<img")  # the verdict opens the report
    assert {"curves.png", "holt_laury.png", "mixed.png"} <= {p.name for p in out.iterdir()}
    stamp = (out / "sft" / "summary.json").stat().st_mtime
    again = cli("--config", config)  # finished: every step is reused
    assert again.returncode == 0 and (out / "sft" / "summary.json").stat().st_mtime == stamp
    other = cli("--config", config, "--preference", "crra:r=1")
    assert other.returncode == 2 and "another preference" in other.stderr and "Traceback" not in other.stderr


def test_default_items_are_the_curriculum_for_risk_targets_and_the_batterys_games_at_other_stakes_for_social_ones(tmp_path):
    risk = AlignRunConfig(preference="crra:r=2", output_dir=tmp_path)
    assert [(d.shapes, d.draws, d.n) for d in risk.data] == [
        (["anchor"], "varied", 480), (["anchor", "anchor_losses", "mixed"], "curves", 720), (None, "curves", 2000)]
    assert risk.trainer == "cached" and risk.lora.top_layers == 6
    written = load_config(Path(__file__).parents[1] / "recipes" / "align_crra_r2.yaml", AlignRunConfig)
    assert written.data == risk.data and written.training == risk.training  # the recipe is the defaults written out
    social = AlignRunConfig(preference="moralis:kappa=0.5", output_dir=tmp_path)
    assert [(d.shapes, d.draws, d.n) for d in social.data] == [(None, "curves", 1500)]
    with pytest.raises(ValidationError, match="unknown shape anchor for moralis"):  # before any profile runs
        AlignRunConfig(preference="moralis:kappa=0.5", output_dir=tmp_path, data={"shapes": ["anchor"]})
    with pytest.raises(ValidationError, match="set lora.top_layers"):
        AlignRunConfig(preference="crra:r=2", output_dir=tmp_path, lora={"top_layers": None})


def test_a_curriculum_trains_in_order_and_retrains_what_follows_a_change(tmp_path, tiny_dir):
    def run(first_n, *args):
        stages = [{"n": first_n, "shapes": ["anchor"]}, {"n": 24, "draws": "curves"}]
        config = align_config(tmp_path, tiny_dir, data=stages, training={"max_steps": 1, "batch_size": 8, "save_steps": 1})
        done = cli("--config", config, *args)
        assert done.returncode == 0, done.stderr[-2000:]
        return {k: (out / k / "summary.json").stat().st_mtime_ns for k in ("sft-1", "sft-2", "after")}

    out = tmp_path / "run"
    first = run(16)
    summary = json.loads((out / "summary.json").read_text())
    assert [st["data"]["shapes"] for st in summary["stages"]] == [
        {"anchor": 16}, {"gains": 14, "losses": 4, "mixed": 3, "holt_laury": 3}]  # per battery curve
    assert summary["data"]["n"] == 40 and summary["training"]["global_step"] == 2
    second = yaml.safe_load((out / "sft-2" / "config.yaml").read_text())
    assert second["model"] == str(out / "sft-1" / "model") and second["trainer"] == "cached"
    assert "Curriculum" in (out / "report.html").read_text() and not (out / "sft").exists()
    assert run(16) == first  # finished: reused
    last_changed = run(16, "--n", "16")  # --n is the last stage's: the first stage's model is kept
    assert last_changed["sft-1"] == first["sft-1"] and all(last_changed[k] > first[k] for k in ("sft-2", "after"))
    first_changed = run(8, "--n", "16")  # the first stage's items: everything after them is trained again
    assert all(first_changed[k] > last_changed[k] for k in first)


@pytest.mark.parametrize("args, message", [
    (["--preference", "crra:r=2", "--model", "sim:crra:r=2"], "fine-tunes the model's weights"),
    (["--preference", "crra:q=2"], "crra takes r"),
    (["--model", "default"], "give the target with --preference"),
    (["--preference", "crra:r=2", "--n", "0"], "'--n'"),
    (["--preference", "crra:r=2", "--model", "/nonexistent/model"], "unknown model"),
])
def test_align_refuses_bad_input_in_one_line(tmp_path, args, message):
    run = cli(*args, "--out", tmp_path / "o")
    assert run.returncode == 2 and message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
