"""`econalign utilities`: the outcomes file, the pair family, the Thurstonian fit, the choice of pairs, and runs from
simulated agents, a tiny model and the command line."""

import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import ndtr
from scipy.stats import spearmanr

from econalign import EconalignError
from econalign.backends import load_backend
from econalign.data.generate import generate_splits
from econalign.measure.utilities import (
    Answerer,
    Thurstonian,
    all_pairs,
    check_answerable,
    exchange_rates,
    fit_thurstonian,
    initial_pairs,
    next_pairs,
    objective,
    pair_rows,
    plan,
    utilities,
)
from econalign.measure.verdict import utilities_verdict
from econalign.tasks import forced_choice
from econalign.tasks.outcomes import Outcome, describe, outcome, read_outcomes

from commands import econalign

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "outcomes"


# ---------------------------------------------------------------- outcomes


@pytest.mark.parametrize("text, lottery", [
    ("$250", [[250, 1]]),
    ("You receive $1,000.50.", [[1000.5, 1]]),
    ("you GET  $5!", [[5, 1]]),
    ("You pay $50", [[-50, 1]]),
    ("-$50", [[-50, 1]]),
    ("$1,000,000", [[1e6, 1]]),
    ("50% $1,000, 50% $0", [[1000, 0.5], [0, 0.5]]),
    ("a 10% chance of $500 and a 90% chance of $20", [[500, 0.1], [20, 0.9]]),
    ("25% $4,000; 75% -$20", [[4000, 0.25], [-20, 0.75]]),
    ("33.3% $3, 33.3% $2 or 33.4% $1", [[3, 0.333], [2, 0.333], [1, 0.334]]),
    ("You get a new car", None),
    ("$100 and a car", None),  # money and more: free text
    ("You get a 5% raise and $100", None),
    ("50% chance of rain", None),
    ("I would pay $5 for that", None),
    ("50% $1,000,50% $0", None),  # no space after the comma: read as one amount, so free text
])
def test_an_outcome_is_money_a_lottery_or_free_text(text, lottery):
    got = outcome(1, text).lottery
    if lottery is None:
        assert got is None
    else:
        assert got.outcomes == pytest.approx([x for x, _ in lottery]) and got.probs == pytest.approx([p for _, p in lottery])


@pytest.mark.parametrize("text, message", [
    ("$1,00", "starts like an amount"), ("$1.234", "starts like an amount"), ("You receive $1,0000", "starts like an amount"),
    ("$", "starts like an amount"), ("50% $1,000, 40% $0", "add up to 90%, not 100%"), ("60% $5 and 60% $1", "120%"),
])
def test_a_malformed_amount_or_lottery_is_refused(text, message):
    with pytest.raises(EconalignError, match=message.replace("$", r"\$")):
        outcome(1, text)


def test_money_is_shown_in_one_wording_and_free_text_as_written():
    assert describe(outcome(1, "$250")) == "You receive $250."
    assert describe(outcome(1, "You pay $1.5")) == "You pay $1.50."
    assert describe(outcome(1, "50% $1,000, 50% -$20")) == "A 50% chance of $1,000 and a 50% chance of losing $20."
    assert describe(outcome(1, "  You get   a new car ")) == "You get a new car"


def test_sure_amounts_are_on_the_dollar_scale_and_other_kinds_need_a_quantity():
    assert (outcome(1, "$250").kind, outcome(1, "$250").quantity) == ("dollars", 250.0)
    assert outcome(1, "You pay $5").kind is None and outcome(1, "50% $2, 50% $1").kind is None
    saved = outcome(1, "You save 10 people", "people saved", "10")
    assert (saved.kind, saved.quantity) == ("people saved", 10.0)


def test_the_three_file_formats(tmp_path):
    (tmp_path / "o.txt").write_text("\ufeff# money\n$1\n\n  # indented comment\nYou receive $10\nA new car\n", encoding="utf-8")
    (tmp_path / "o.yaml").write_text("outcomes:\n- $1\n- {text: You save 10 people, kind: people saved, quantity: 10}\n"
                                     "- text: A new car\n")
    (tmp_path / "o.csv").write_text("text,kind,quantity\n$1,,\n\"You save 1,000 people\",people saved,1000\nA new car,,\n")
    txt, yaml, csv = (read_outcomes(tmp_path / f"o.{ext}") for ext in ("txt", "yaml", "csv"))
    assert [o.text for o in txt] == ["$1", "You receive $10", "A new car"] and [o.id for o in txt] == ["o1", "o2", "o3"]
    assert [(o.kind, o.quantity) for o in yaml] == [("dollars", 1.0), ("people saved", 10.0), (None, None)]
    assert csv[1] == Outcome("o2", "You save 1,000 people", None, "people saved", 1000.0)


@pytest.mark.parametrize("name, content, message", [
    ("o.txt", "", "holds 0 outcomes; at least 3"),
    ("o.txt", "# nothing\n\n", "holds 0 outcomes"),
    ("o.txt", "$1\n$2\n", "holds 2 outcomes"),
    ("o.txt", "$1\nYou receive $1\n$3\n", "line 2: 'You receive $1' is the same outcome as line 1"),
    ("o.txt", "$1\n$2\n50% $1, 40% $2\n", "line 3: the chances"),
    ("o.txt", "$1\n$1,00\n$3\n", "line 2: '$1,00' starts like an amount"),
    ("o.yaml", "- {text: A, kind: k}\n- B\n- C\n", "item 1: 'A': give kind and quantity together"),
    ("o.yaml", "- {text: A, kind: k, quantity: -1}\n- B\n- C\n", "quantity must be a positive number"),
    ("o.yaml", "- {text: A, kind: k, quantity: abc}\n- B\n- C\n", "quantity must be a positive number"),
    ("o.yaml", "- {text: A, kind: k, quantity: true}\n- B\n- C\n", "quantity must be a positive number"),
    ("o.yaml", "- {text: A, kind: k, quantity: .inf}\n- B\n- C\n", "quantity must be a positive number"),
    ("o.yaml", "- {txt: A}\n- B\n- C\n", "item 1: unknown field 'txt'"),
    ("o.yaml", "- {text: }\n- B\n- C\n", "item 1: an outcome needs a non-empty text"),
    ("o.yaml", "- [A, B]\n- B\n- C\n", "item 1: an outcome needs a non-empty text"),
    ("o.yaml", "a: [1\n", "not valid YAML"),
    ("o.yaml", "just a sentence\n", "must be a list of outcomes"),
    ("o.csv", "name\nA\nB\nC\n", "no `text` column"),
    ("o.csv", "text\nA,extra\nB\nC\n", "row 2 has more fields than the header"),
])
def test_a_bad_outcomes_file_is_one_error_naming_the_file_and_the_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(EconalignError) as exc:
        read_outcomes(path)
    assert str(exc.value).startswith(str(path)) and message in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize("setup", ["missing", "folder", "latin-1"])
def test_an_unreadable_outcomes_file_is_one_error(tmp_path, setup):
    path = tmp_path / "o.txt"
    if setup == "folder":
        path.mkdir()
    elif setup == "latin-1":
        path.write_bytes("caf\xe9\n$1\n$2\n".encode("latin-1"))
    with pytest.raises(EconalignError, match=f"cannot read outcomes file {path}"):
        read_outcomes(path)


def test_the_shipped_examples():
    money, mixed = read_outcomes(EXAMPLES / "money.txt"), read_outcomes(EXAMPLES / "outcomes.yaml")
    amounts = [o.amount for o in money if o.amount is not None]
    assert len(amounts) == 30 and amounts[0] == 1 and amounts[-1] == 10_000
    assert np.ptp(np.diff(np.log(amounts))) < 0.2  # log-spaced, to two significant figures
    assert all(min(o.lottery.outcomes) > 0 for o in money)  # every CRRA r can value them
    assert {o.kind for o in mixed} >= {"dollars", "people saved", "hours of free time"}
    assert sum(o.lottery is None for o in mixed) == 10


# ---------------------------------------------------------------- the pair family


def test_a_pair_is_a_forced_choice_with_lotteries_only_between_money():
    money, car = outcome(1, "$250"), outcome(2, "You get a new car")
    task = forced_choice.make(money, outcome(3, "50% $1,000, 50% $0"))
    assert task.prompt == ("Which would you prefer?\nOption A: You receive $250.\n"
                           "Option B: A 50% chance of $1,000 and a 50% chance of $0.")
    assert task.options == ["A", "B"] and task.params["options"]["B"] == [[1000.0, 0.5], [0.0, 0.5]]
    assert "options" not in forced_choice.make(money, car).params
    assert [forced_choice.parse(t) for t in ("B", "Option A.", "I prefer option B", "A or B")] == ["B", "A", "B", None]


def test_generated_pairs_become_training_traces():
    train, held = generate_splits("crra:r=2", ["forced_choice"], 6, "agentic", 0, 2)
    assert len(train) == 6 and len(held) == 2
    assert train[0]["messages"][-1]["content"].rstrip().endswith(("Final answer: A", "Final answer: B"))


def test_both_orders_cancel_a_lean_towards_the_first_option():
    items = [outcome(1, "$1"), outcome(2, "$2")]
    leaning = [{"y": 0.9, "mass": 1.0}, {"y": 0.9, "mass": 0.5}]  # option A, whichever it is
    row = pair_rows(items, [(0, 1)], leaning, "fit", 0)[0]
    assert (row["p_a_listed_first"], row["p_a_listed_second"], row["p_a"]) == pytest.approx((0.9, 0.1, 0.5))
    assert row["mass"] == pytest.approx(0.75)
    half = pair_rows(items, [(0, 1)], [{"y": None, "mass": None}, {"y": 0.2, "mass": None}], "fit", 0)[0]
    assert (half["p_a_listed_first"], half["p_a"]) == (None, pytest.approx(0.8))


# ---------------------------------------------------------------- the model


def synthetic(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=n)
    mu = (mu - mu.mean()) / mu.std(ddof=1)
    sigma = rng.uniform(0.3, 0.8, n)
    every = np.array(all_pairs(n))
    i, j = every.T
    return mu, sigma, every, ndtr((mu[i] - mu[j]) / np.sqrt(sigma[i] ** 2 + sigma[j] ** 2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_fit_recovers_known_means_and_sigmas(seed):
    mu, sigma, every, y = synthetic(12, seed)
    plain = fit_thurstonian(12, every, y, priors=(np.inf, np.inf))
    assert plain.mu == pytest.approx(mu, abs=0.005) and plain.sigma == pytest.approx(sigma, rel=0.01)
    assert plain.mu.mean() == pytest.approx(0, abs=1e-12) and plain.mu.std(ddof=1) == pytest.approx(1)
    # the weak priors move the sigmas, and the means a little, where the choice probabilities barely change
    fit = fit_thurstonian(12, every, y)
    assert fit.mu == pytest.approx(mu, abs=0.1) and fit.prob(every) == pytest.approx(y, abs=0.03)
    assert fit.sigma == pytest.approx(sigma, rel=0.3) and spearmanr(fit.mu, mu).statistic == 1


def test_a_chooser_indifferent_everywhere_gets_no_outlier():
    every = np.array(all_pairs(20))
    y = 0.5 + 0.01 * np.random.default_rng(0).standard_normal(len(every))  # coin flips, a little noise
    fit = fit_thurstonian(20, every, y)
    assert np.abs(fit.mu).max() < 3 and fit.sigma.min() > 10  # spread over every outcome, all within the noise
    assert fit.prob(every) == pytest.approx(0.5, abs=0.03)


def test_the_gradient_is_the_objectives():
    _, _, every, y = synthetic(8, seed=1)
    theta = np.random.default_rng(2).normal(size=16)
    numeric = approx_fprime(theta, lambda t: objective(t, *every.T, y)[0], 1e-7)
    assert objective(theta, *every.T, y)[1] == pytest.approx(numeric, abs=1e-5)
    numeric = approx_fprime(theta, lambda t: objective(t, *every.T, y, (np.inf, np.inf))[0], 1e-7)
    assert objective(theta, *every.T, y, (np.inf, np.inf))[1] == pytest.approx(numeric, abs=1e-5)


def test_an_outcome_in_no_answered_pair_has_no_utility():
    fit = fit_thurstonian(4, np.array([[0, 1], [1, 2], [0, 2]]), np.array([0.8, 0.7, 0.9]))
    assert np.isnan(fit.mu[3]) and np.isnan(fit.sigma[3]) and np.isfinite(fit.mu[:3]).all()
    assert fit.mu[0] > fit.mu[1] > fit.mu[2]


def test_the_first_round_is_one_cycle_through_every_outcome():
    chosen = initial_pairs(20, np.random.default_rng(0))
    assert len(set(chosen)) == 20 and all(i < j for i, j in chosen)
    assert (np.bincount(np.array(chosen).ravel(), minlength=20) == 2).all()
    graph = csr_matrix((np.ones(20), np.array(chosen).T), shape=(20, 20))
    assert connected_components(graph, directed=False)[0] == 1  # every utility is relative to every other
    assert sorted(initial_pairs(3, np.random.default_rng(0))) == [(0, 1), (0, 2), (1, 2)]


def test_active_selection_asks_the_closest_pairs_among_the_least_compared():
    mu = np.arange(10.0)
    mu[1], mu[5] = 0.5, 4.5  # (0, 1) and (4, 5) are the closest pairs
    fit = Thurstonian(mu, np.full(10, 0.5), 0.0)
    candidates = [(0, 1), (4, 5), (2, 7), (3, 9), (0, 8), (1, 6), (2, 9), (3, 8), (6, 9), (0, 9)]
    fresh = np.zeros(10, dtype=int)
    assert next_pairs(fit, candidates, fresh, 2, np.random.default_rng(0)) == [(0, 1), (4, 5)]
    compared = fresh.copy()
    compared[[0, 1]] = 5  # (0, 1) has been compared a lot already
    assert next_pairs(fit, candidates, compared, 1, np.random.default_rng(0)) == [(4, 5)]
    # more than qualify: the shares widen until enough do, to every candidate
    assert next_pairs(fit, candidates, compared, 10, np.random.default_rng(0)) == candidates
    unseen = Thurstonian(np.r_[mu[:9], np.nan], np.r_[np.full(9, 0.5), np.nan], 0.0)
    far = [(0, 9), (2, 7), (3, 8)]  # the never-compared outcome 9 is the least sure
    assert next_pairs(unseen, far, fresh, 1, np.random.default_rng(0)) == [(0, 9)]


def test_the_design_defaults_and_limits():
    assert plan(35) == plan(35, pairs=math.ceil(2 * 35 * math.log2(35)), holdout=35)
    assert plan(3).holdout == 0 and plan(3).pairs == 3
    assert plan(5).holdout == 1 and plan(5, holdout=2).pairs == 8  # 10 pairs: 5 in the cycle, at most 2 held out
    for bad in ({"pairs": 2}, {"pairs": 500}, {"holdout": 18}, {"rounds": 0}):
        with pytest.raises(EconalignError, match=f"--{next(iter(bad))}"):
            plan(30 if "holdout" not in bad else 10, **bad)


def test_exchange_rates_read_off_the_fitted_lines():
    items = [outcome(k, f"${q}") for k, q in enumerate((1, 10, 100))]
    items += [outcome(3 + k, f"You save {q} people", "people saved", q) for k, q in enumerate((1, 10, 100))]
    mu = np.r_[np.log([1, 10, 100]), 2 + 0.5 * np.log([1, 10, 100])]
    ex = exchange_rates(items, mu)
    assert ex["reference"] == "dollars" and ex["lines"]["people saved"]["slope"] == pytest.approx(0.5)
    (rate,) = ex["rates"]
    assert rate["quantity"] == pytest.approx(10)  # the middle of 1, 10, 100
    assert rate["reference_quantity"] == pytest.approx(math.exp(2) * math.sqrt(10))  # ln $ = 2 + 0.5 ln 10
    assert rate["per_unit"] == pytest.approx(math.exp(2) / math.sqrt(10)) and not rate["extrapolated"]
    assert exchange_rates(items[:3], mu[:3]) is None  # one kind: nothing to exchange
    flat = exchange_rates(items, np.r_[0.0, 0.3, -0.2, mu[3:]])["rates"][0]  # utility does not follow dollars
    assert flat["reference_quantity"] is None and flat["why_not"].startswith("utility does not follow the quantity of dollars")


# ---------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def log_agent(tmp_path_factory):
    out = tmp_path_factory.mktemp("utilities") / "log"
    items = read_outcomes(EXAMPLES / "money.txt")
    summary = utilities(Answerer(load_backend("sim:crra:r=1,noise=0.05")), items, plan(len(items)), out)
    return out, summary


def test_a_log_utility_agents_utilities_follow_ln_x(log_agent):
    _, s = log_agent
    sure = [o for o in s["outcomes"] if o["type"] == "money"]
    mu, true = [o["mu"] for o in sure], np.log([o["amount"] for o in sure])  # u(x) = ln x at zero wealth
    assert len(sure) == 30
    assert np.corrcoef(mu, true)[0, 1] >= 0.99 and spearmanr(mu, true).statistic >= 0.99
    r = s["estimates"]["crra"]["params"]["r"]
    assert r["ci95"][0] <= 1 <= r["ci95"][1] and not r["on_bound"]
    assert s["fit"]["held_out"]["accuracy"] >= 0.95 and s["fit"]["held_out"]["pairs"] == 35
    assert s["verdict"].startswith("Coherent preferences over 35 outcomes")
    assert s["position_bias"]["p_first_listed"] == pytest.approx(0.5) and s["answers"]["unparsed"] == 0


def test_crra_r_is_recovered_from_the_same_choices(tmp_path):
    items = read_outcomes(EXAMPLES / "money.txt")
    s = utilities(Answerer(load_backend("sim:crra:r=2,noise=0.05")), items, plan(len(items)), tmp_path)
    r = s["estimates"]["crra"]["params"]["r"]
    assert r["ci95"][0] <= 2 <= r["ci95"][1]
    # between two sure amounts the agent's contextual-utility logit is as sure at any gap: only their order shows
    sure = [o for o in s["outcomes"] if o["type"] == "money"]
    assert spearmanr([o["mu"] for o in sure], [o["amount"] for o in sure]).statistic >= 0.99


def test_held_out_pairs_are_never_fitted(log_agent):
    out, s = log_agent
    table, rows = pd.read_csv(out / "pairs.csv"), pd.read_csv(out / "utilities.csv")
    key = table[["a", "b"]].apply(frozenset, axis=1)
    assert not set(key[table.split == "fit"]) & set(key[table.split == "held-out"])
    assert len(table) == s["design"]["fitted_pairs"] + 35 and key.is_unique
    index = {o: k for k, o in enumerate(rows.id)}
    fitted = table[table.split == "fit"]
    refit = fit_thurstonian(len(rows), np.array([[index[a], index[b]] for a, b in zip(fitted.a, fitted.b)]),
                            fitted.p_a.to_numpy())
    assert refit.mu == pytest.approx(rows.mu.to_numpy(), abs=1e-6)  # the fitted rows alone give the utilities


def test_a_run_writes_its_files_and_a_rerun_loads_no_model(log_agent):
    out, s = log_agent
    assert {"summary.json", "utilities.csv", "pairs.csv", "report.html", "utilities.png", "money.png"} <= {
        p.name for p in out.iterdir()}
    assert "exchange.png" not in {p.name for p in out.iterdir()}  # one kind (dollars)
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(s, default=float))
    assert html.escape(s["verdict"]) in (out / "report.html").read_text()
    loads = []
    items = read_outcomes(EXAMPLES / "money.txt")
    again = utilities(Answerer(load_backend("sim:crra:r=1,noise=0.05"), lambda: loads.append(1)), items,
                      plan(len(items)), out)
    assert not loads and again["timings"]["load_s"] is None and again["timings"]["items_scored"] == 0
    assert [o["mu"] for o in again["outcomes"]] == [o["mu"] for o in s["outcomes"]]


@pytest.mark.parametrize("model, text, message", [
    ("sim:crra:r=1", "You get a new car", "answers money and lotteries only, not free text such as 'You get a new car'"),
    ("sim:crra:r=1", "50% $100, 50% $0", "cannot value '50% $100, 50% $0'"),
    ("sim:moralis:kappa=0.5", "$3", "cannot answer forced_choice tasks"),
])
def test_what_a_simulated_agent_cannot_answer_is_refused(model, text, message):
    items = [outcome(1, "$1"), outcome(2, "$2"), outcome(3, text)]
    with pytest.raises(EconalignError, match=message.replace("$", r"\$")):
        check_answerable(load_backend(model), items)


def test_a_tiny_model_ranks_free_text_from_its_logits(tiny_backend, tmp_path):
    path = tmp_path / "o.yaml"
    path.write_text("- $10\n- $1,000\n- 50% $1,000, 50% $10\n- You get a new car\n- You lose your phone\n")
    items = read_outcomes(path)
    s = utilities(Answerer(tiny_backend), items, plan(5, pairs=6, rounds=1, holdout=2), tmp_path / "out")
    fitted = s["design"]["fitted_pairs"]
    assert fitted >= 6 and s["answers"]["items"] == 2 * (fitted + 2) and s["answers"]["unparsed"] == 0
    assert 0 < s["answers"]["mean_option_mass"] <= 1 and all(np.isfinite(o["mu"]) for o in s["outcomes"])
    table = pd.read_csv(tmp_path / "out" / "pairs.csv")
    assert table.p_a.between(0, 1).all() and (table.p_a_listed_first != 1 - table.p_a_listed_second).any()


# ---------------------------------------------------------------- the command line


@pytest.mark.parametrize("content, args, message", [
    (None, [], "cannot read outcomes file"),
    ("", [], "holds 0 outcomes"),
    ("$1\n$2\nYou get a new car\n", [], "not free text"),
    ("$1\n$2\n50% $5, 50% $0\n", [], "cannot value"),
    ("$1\n$2\n$3\n", ["--pairs", "9"], "--pairs must be between 3"),
    ("$1\n$2\n$3\n", ["--method", "agent"], "unknown method"),
], ids=["missing-file", "empty-file", "free-text-with-a-sim-agent", "zero-with-log-utility", "too-many-pairs",
        "unknown-method"])
def test_bad_input_is_one_error_line_and_writes_nothing(tmp_path, content, args, message):
    path = tmp_path / "outcomes.txt"
    if content is not None:
        path.write_text(content)
    run = econalign("utilities", "--model", "sim:crra:r=1", "--outcomes", path, "--out", tmp_path / "out", *args)
    lines = run.stderr.strip().splitlines()
    assert run.returncode != 0 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], run.stderr
    assert "Traceback" not in run.stdout + run.stderr and not (tmp_path / "out").exists()


def test_cli_utilities(tmp_path):
    run = econalign("utilities", "--model", "sim:crra:r=1,noise=0.1", "--outcomes", EXAMPLES / "money.txt", "--pairs", 60,
                    "--rounds", 2, "--seed", 3, "--out", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["seed"] == 3 and summary["design"]["pairs"] == 60 and summary["design"]["rounds"] == 2
    assert summary["verdict"] in " ".join(run.stdout.split()) and "CRRA fitted to the choices" in run.stdout
    assert utilities_verdict(summary) == summary["verdict"]


def summary_with(accuracy, log_loss, p_first=0.5, money=None, estimates=None, decisiveness=0.3) -> dict:
    """A hand-made utilities summary, for the verdict's wording."""
    return {"design": {"outcomes": 3}, "fit": {"held_out": {"pairs": 10, "accuracy": accuracy, "log_loss": log_loss},
                                               "decisiveness": decisiveness},
            "outcomes": [{"text": "a car", "mu": 1.0}, {"text": "$5", "mu": 0.0}, {"text": "a cold", "mu": -1.0}],
            "money": money, "estimates": estimates or {}, "exchange": None,
            "position_bias": {"p_first_listed": p_first, "order_gap": 0.0},
            "answers": {"items": 40, "unparsed": 0, "mean_option_mass": 0.9}}


@pytest.mark.parametrize("accuracy, log_loss, head", [
    (0.9, 0.3, "Coherent preferences over 3 outcomes: the fitted utilities predict 90% of 10 held-out choices with a "
               "log-loss of 0.300 (against 0.693 for a coin flip)"),
    (0.7, 0.6, "Partly coherent preferences"),
    (0.55, 0.6, "No coherent preference"),
    (0.9, 1.05, "No coherent preference over 3 outcomes: the fitted utilities predict 90% of 10 held-out choices with "
                "a log-loss of 1.050 (no better than 0.693 for a coin flip)"),
    (0.9, 0.67, "No coherent preference"),  # within 5% of a coin flip's log-loss
    (None, None, "Utilities of 3 outcomes fitted; no held-out pairs"),
])
def test_the_verdict_weighs_accuracy_and_log_loss(accuracy, log_loss, head):
    verdict = utilities_verdict(summary_with(accuracy, log_loss))
    assert verdict.startswith(head) and "Highest 'a car', lowest 'a cold'" in verdict


def test_choices_close_to_coin_flips_are_no_preference_whatever_the_accuracy():
    verdict = utilities_verdict(summary_with(0.9, 0.69, decisiveness=0.02))
    assert verdict.startswith("No measurable preference over 3 outcomes: averaged over both orders its choices are "
                              "close to coin flips (on average 0.02 from ½).")
    assert "highest" not in verdict.lower()  # no ranking is read from coin flips


def test_the_verdict_names_the_money_curve_and_a_lean_to_a_position():
    r = {"value": 0.8, "se": 0.1, "ci95": [0.6, 1.0], "on_bound": False}
    noise = {"value": 0.001, "se": None, "ci95": None, "on_bound": True}  # certain choices: the lower bound

    def verdict(**kw):
        return utilities_verdict(summary_with(0.9, 0.3, estimates={"crra": {"params": {"r": r, "noise": noise}}}, **kw))

    text = verdict(p_first=0.9, money={"amounts": 30, "spearman": 0.95})
    assert ("utility rises with money (Spearman ρ 0.95 over 30 amounts); its choices between money outcomes fit a "
            "concave CRRA utility, r = 0.80 [0.60, 1.00]") in text
    assert "picks the first-listed option 90% of the time" in text
    noise.update(value=5.0)  # the upper bound: the choices do not follow the values
    assert "utility does not follow the amount of money (Spearman ρ 0.20 over 30 amounts); its choices between money " \
           "outcomes do not follow their CRRA value" in verdict(money={"amounts": 30, "spearman": 0.2})
    noise.update(value=0.1, on_bound=False)
    r.update(value=5.0, ci95=None, on_bound=True)
    assert "its curvature is not identified (CRRA r = 5.00 is on its search bound)" in verdict(
        money={"amounts": 30, "spearman": -0.95})
