"""The budget family and battery: exact CRRA demand, the answer parser, and GARP / CCEI / r from simulated agents."""

import json

import numpy as np
import pytest

from econalign.backends import load_backend
from econalign.measure.profile import profile
from econalign.preferences import CRRA, ProspectTheory
from econalign.tasks import budget, solve

from commands import econalign


@pytest.mark.parametrize("r", [0.3, 1.0, 2.5])
@pytest.mark.parametrize("pi1, prices", [(0.5, (1.4, 0.85)), (0.3, (0.6, 1.9)), (0.7, (1.2, 0.45))])
def test_closed_form_crra_demand_is_the_best_point_of_the_line(r, pi1, prices):
    task = budget.make(pi1, prices)
    shares = np.linspace(0, 1, 100_001)
    x1, x2 = budget.bundle(shares, prices)
    values = CRRA(r).values(np.column_stack([x1, x2]), np.tile([pi1, 1 - pi1], (len(shares), 1)), budget.SAVINGS)
    assert budget.demand(task, CRRA(r)) == pytest.approx(shares[int(np.argmax(values))], abs=2e-5)


def test_log_utility_without_savings_spends_the_state_probability():
    assert budget.crra_share(1.0, np.array([0.5, 0.3]), [[1.4, 0.85], [0.6, 1.9]], wealth=0.0) == pytest.approx([0.5, 0.3])


def test_any_risk_preference_has_an_exact_demand():
    task = solve(budget.make(0.5, (1.0, 1.0)), ProspectTheory(alpha=0.88, lam=2.25, gamma=0.61))
    assert task.params["demand"] == pytest.approx(0.5, abs=1e-6)  # symmetric budget: equal payoffs
    assert task.optimal == "F"  # $50 on X


def test_listing_order_swaps_the_securities():
    plain, swapped = budget.make(0.3, (0.6, 1.9)), budget.make(0.3, (0.6, 1.9), swapped=True)
    assert budget.state1_share(plain, "D") == pytest.approx(0.3)
    assert budget.state1_share(swapped, "D") == pytest.approx(0.7)
    assert "costs $1.90 per unit and pays $1 per unit if state 2" in swapped.prompt.splitlines()[1]


@pytest.mark.parametrize("text, spend, letter", [
    ("C", 20.0, "C"), ("I choose C.", 20.0, "C"), ("$30", 30.0, "D"), ("30%", 30.0, "D"),
    ("I spend $42.50 on asset X.", 42.5, "E"), ("100 dollars", 100.0, "L"),
    ("A or B", None, None), ("$30 on X and $70 on Y", None, None), ("$250", None, None), ("no idea", None, None),
])
def test_an_answer_is_a_letter_or_one_amount(text, spend, letter):
    assert budget.spend(text) == spend
    assert budget.parse(text) == letter


@pytest.mark.parametrize("method", ["logits", "generate"])
def test_a_noiseless_crra_agent_is_consistent_and_its_r_recovered(tmp_path, method):
    s = profile(load_backend("sim:crra:r=1,noise=0"), tmp_path, method=method, battery="budget")
    assert s["revealed"]["garp_violations"] == 0 and s["revealed"]["ccei"] == 1.0 and s["revealed"]["houtman_maks"] == 1.0
    r = s["estimates"]["crra"]["params"]["r"]
    assert r["ci95"][0] <= 1.0 + 1e-9 and 1.0 - 1e-9 <= r["ci95"][1]
    assert s["verdict"].startswith("Consistent with utility maximisation: no GARP violation in 50 choices.")


@pytest.mark.parametrize("method", ["logits", "generate"])
def test_r_and_noise_are_recovered_from_noisy_choices(tmp_path, method):
    # least squares on the expected share read noise as risk aversion (r 1.36 at noise 0.1); the MLE over the
    # lettered allocations does not
    s = profile(load_backend("sim:crra:r=1,noise=0.1"), tmp_path, method=method, battery="budget")
    p = s["estimates"]["crra"]["params"]
    assert p["r"]["ci95"][0] < 1.0 < p["r"]["ci95"][1] and abs(p["r"]["value"] - 1.0) < 0.1, p
    assert p["noise"]["ci95"][0] < 0.1 < p["noise"]["ci95"][1], p


def test_ccei_falls_as_sampled_answers_get_noisier(tmp_path):
    ccei = [profile(load_backend(f"sim:crra:r=1,noise={noise}"), tmp_path / str(noise), method="generate",
                    battery="budget")["revealed"]["ccei"] for noise in (0.05, 0.3)]
    assert 1.0 > ccei[0] > ccei[1]


def test_cli_budget_battery(tmp_path):
    out = tmp_path / "budget"
    run = econalign("profile", "--model", "sim:crra:r=2,noise=0.1", "--battery", "budget", "--out", out)
    assert run.returncode == 0, run.stderr
    assert {"summary.json", "results.csv", "report.html", "demand.png"} <= {p.name for p in out.iterdir()}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["battery"] == "budget" and summary["answers"]["items"] == 50
    assert "GARP" in run.stdout and "Houtman–Maks" in (out / "report.html").read_text()
