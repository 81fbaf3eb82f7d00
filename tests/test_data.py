"""Insurance and bet-sizing families, synthetic reasoning traces, dataset generation and the `data` CLI."""

import json
import math
import time

import numpy as np
import pytest

from econalign import EconalignError
from econalign.agent.format import agent_task, parse_trace
from econalign.data.generate import generate_dataset, generate_splits, save
from econalign.data.traces import trace
from econalign.preferences import (
    CRRA,
    ExpectedValue,
    Lottery,
    ProspectTheory,
    parse_preference,
)
from econalign.tasks import FAMILIES, Task, bet, gamble, holt_laury, insurance, solve
from econalign.tools.calculator import evaluate

from commands import econalign

ALL = ["gamble", "holt_laury", "insurance", "bet"]
# The preferences the brief names, plus expected value and a prospect theory with unequal
# curvature, a reference point and weighting (the bet's no-closed-form path).
TRACE_PREFS = ["crra:r=-1", "crra:r=0", "crra:r=1", "crra:r=2", "pt:alpha=0.88,lambda=2.25", "tk92", "ev",
               "pt:alpha=0.8,beta=0.85,lambda=1.2,gamma=0.7,reference=20"]


# ---------------------------------------------------------------- insurance


def test_insurance_crra_by_hand():
    # W = 10,000, 10% chance to lose 5,000, r = 2 (u = -1/w).
    # decline: 0.1*(-1/5000) + 0.9*(-1/10000) = -0.00011; buy at 900: -1/9100.
    # Indifference: 1/(W - premium) = 0.00011 -> premium = 10000 - 9090.91 = 909.09.
    t = solve(insurance.make(10_000, 5_000, 0.1, 900), CRRA(2))
    assert t.utilities == pytest.approx({"buy": -1 / 9100, "decline": -0.00011})
    assert t.optimal == "buy"  # pays 400 above the expected loss of 500
    assert solve(insurance.make(10_000, 5_000, 0.1, 910), CRRA(2)).optimal == "decline"


def test_insurance_risk_neutral_buys_up_to_the_expected_loss():
    assert solve(insurance.make(10_000, 5_000, 0.1, 500), ExpectedValue()).optimal == "buy"  # a tie: first option
    assert solve(insurance.make(10_000, 5_000, 0.1, 501), ExpectedValue()).optimal == "decline"


def test_insurance_record_and_prompt():
    t = insurance.make(4_300, 2_800, 0.1, 312)
    assert t.family == "insurance" and t.options == ["buy", "decline"] and t.wealth == 4_300
    assert t.lotteries() == {"buy": Lottery.sure(-312), "decline": Lottery.binary(0.1, -2_800, 0)}
    assert "You have $4,300." in t.prompt and "10% chance that you lose $2,800" in t.prompt and "costs $312" in t.prompt
    assert "buy or decline" in t.instruction
    assert Task(**json.loads(json.dumps(t.to_dict()))).to_dict() == t.to_dict()


def test_insurance_generate():
    tasks = insurance.generate(300, np.random.default_rng(0))
    assert [t.to_dict() for t in tasks] == [t.to_dict() for t in insurance.generate(300, np.random.default_rng(0))]
    loadings = [t.params["premium"] / (t.params["prob"] * t.params["loss"]) for t in tasks]
    assert min(loadings) < 0.8 and max(loadings) > 1.5  # subsidised and loaded premiums
    for t in tasks:
        assert t.wealth > t.params["loss"] > 0 and t.params["premium"] >= 1
        assert solve(t, CRRA(2)).optimal in ("buy", "decline")


@pytest.mark.parametrize("text, expected", [
    ("buy", "buy"), ("Buy.", "buy"), ("I would buy it.", "buy"), ("decline", "decline"), ("**Declined**", "decline"),
    ("I would not buy", None), ("Don't buy. Decline.", "decline"), ("buy or decline", None), ("", None),
    ("buyer", None), ("Buy. Declining would leave me exposed.", "buy"),
])
def test_insurance_parse(text, expected):
    assert insurance.parse(text) == expected


# ---------------------------------------------------------------- bet sizing: solver


def test_kelly_two_percent_on_a_51_49_flip():
    t = solve(bet.make(1_000, 0.51, 1.0), CRRA(1))
    assert t.optimal == "$20"  # f = p - q/b = 0.51 - 0.49
    assert bet.optimal_stake(CRRA(1), 1_000, 0.51, 1.0) == pytest.approx(20.0)
    assert t.utilities["$20"] == pytest.approx(0.51 * math.log(1_020) + 0.49 * math.log(980))
    assert t.utilities["$0"] == pytest.approx(math.log(1_000))


def test_crra_r2_closed_form_by_hand_and_numerically():
    # p = 0.6, even odds, r = 2: k = sqrt(0.6/0.4) = 1.2247449, f = (k-1)/(1+k) = 0.1010205
    assert bet.optimal_stake(CRRA(2), 1_000, 0.6, 1.0) == pytest.approx(101.0205, abs=1e-3)
    for p, odds in [(0.6, 1.0), (0.3, 4.0), (0.55, 1.5), (0.2, 9.0)]:
        closed = bet.optimal_stake(CRRA(2), 1_000, p, odds)
        assert bet.numeric_stake(CRRA(2), 1_000, p, odds) == pytest.approx(closed, abs=1e-3)


def test_pt_numeric_optimum_matches_brute_force_and_calculus():
    # No weighting, lambda = 1: V(x) = A*x**0.8 - B*x**0.85 with A = p*b**0.8, B = q, so the
    # interior optimum solves 0.8*A*x**-0.2 = 0.85*B*x**-0.15: x = (0.8*A/(0.85*B))**20.
    pref = ProspectTheory(alpha=0.8, beta=0.85, lam=1.0)
    p, odds = 0.3, 4.0
    calculus = (0.8 * p * odds**0.8 / (0.85 * (1 - p))) ** 20
    grid = np.linspace(0.0, 1_000, 200_001)
    brute = grid[np.argmax(bet.stake_values(pref, 1_000, p, odds, grid))]
    found = bet.numeric_stake(pref, 1_000, p, odds)
    assert 50 < found < 60
    assert found == pytest.approx(calculus, abs=1e-3)
    assert found == pytest.approx(brute, abs=0.01)


@pytest.mark.parametrize("p, odds", [(0.8, 2.0), (0.6, 1.0), (0.3, 4.0), (0.9, 0.5)])
def test_pt_equal_curvature_is_a_corner_found_by_brute_force(p, odds):
    pref = parse_preference("tk92")
    grid = np.linspace(0.0, 1_000, 10_001)
    brute = grid[np.argmax(bet.stake_values(pref, 1_000, p, odds, grid))]
    assert bet.optimal_stake(pref, 1_000, p, odds) == brute
    assert brute in (0.0, 1_000)


def test_corner_solutions():
    ev, lover = ExpectedValue(), CRRA(-1)
    assert bet.optimal_stake(ev, 1_000, 0.51, 1.0) == 1_000  # any edge: all in
    assert bet.optimal_stake(ev, 1_000, 0.49, 1.0) == 0
    assert bet.optimal_stake(ev, 1_000, 0.5, 1.0) == 0  # fair: indifferent, the smaller stake
    # u = w**2/2: all in on 45% at even odds: 0.45*2000**2/2 = 900,000 > 1000**2/2 = 500,000
    assert bet.optimal_stake(lover, 1_000, 0.45, 1.0) == 1_000
    assert bet.optimal_stake(lover, 1_000, 0.2, 1.0) == 0  # 0.2*2000**2/2 = 400,000 < 500,000
    assert bet.optimal_stake(CRRA(2), 1_000, 0.45, 1.0) == 0  # no edge, risk-averse


def test_score_tolerance_and_graded_regret():
    kelly = bet.make(1_000, 0.51, 1.0)
    log = CRRA(1)
    assert bet.score(kelly, log, 20.0) == {"correct": True, "score": 1.0}
    assert bet.score(kelly, log, 29.0)["correct"]  # within 1% of wealth ($10)
    assert not bet.score(kelly, log, 31.0)["correct"]
    assert bet.score(kelly, log, 0.0)["score"] == pytest.approx(0.0)  # keeps none of the gain
    assert bet.score(kelly, log, 40.0)["score"] == pytest.approx(0.0, abs=1e-3)  # twice Kelly: no growth
    assert 0.7 < bet.score(kelly, log, 10.0)["score"] < 0.8
    for bad in (None, -1.0, 1_000.01):
        assert bet.score(kelly, log, bad) == {"correct": False, "score": 0.0}
    assert bet.score(kelly, log, 1_000.0)["score"] == 0.0  # ruin
    big = bet.make(100_000, 0.6, 1.0)  # optimum 20,000 at r = 1: 5% of it ($1,000) is the wider tolerance
    assert bet.score(big, log, 20_900.0)["correct"] and not bet.score(big, log, 21_100.0)["correct"]
    no_edge = bet.make(1_000, 0.45, 1.0)
    assert bet.score(no_edge, CRRA(2), 0.0)["score"] == 1.0
    assert 0.0 < bet.score(no_edge, CRRA(2), 500.0)["score"] < 1.0


def test_bet_record_and_generate():
    t = bet.make(4_700, 0.41, 1.5)
    assert "You have $4,700." in t.prompt and "probability 41%" in t.prompt and "$1.50 for every $1" in t.prompt
    assert "from $0 to $4,700" in t.prompt
    tasks = bet.generate(300, np.random.default_rng(1))
    assert [x.to_dict() for x in tasks] == [x.to_dict() for x in bet.generate(300, np.random.default_rng(1))]
    stakes = [bet.parse(solve(x, CRRA(1)).optimal) for x in tasks]
    assert sum(s == 0 for s in stakes) > 10 and sum(s > 0 for s in stakes) > 150  # mostly favourable bets
    for x, s in zip(tasks, stakes):
        assert 0 < x.params["p"] < 1 and x.params["odds"] > 0 and 0 <= s <= x.wealth
        assert Task(**json.loads(json.dumps(x.to_dict()))).to_dict() == x.to_dict()


# ---------------------------------------------------------------- bet sizing: parser


@pytest.mark.parametrize("text, expected", [
    ("$20", 20.0),
    ("20", 20.0),
    ("$1,020.50", 1020.5),
    ("bet $1,020.50", 1020.5),
    ("bet 20 dollars", 20.0),
    ("I stake $20. That is $20 in total.", 20.0),  # the same amount twice
    ("$0", 0.0),
    ("**$35.75**", 35.75),
    ("$5000", 5000.0),
    ("$5,000 (all of it)", 5000.0),
    ("between $10 and $20", None),
    ("$20 of my $1,000", None),
    ("", None),
    ("nothing", None),
    ("-$20", None),
    ("$-20", None),
    ("\u2212$20", None),
    ("20%", None),  # a share of wealth is not a dollar amount
    ("20.5% of wealth", None),
    ("20k", None),
    ("1.020,50", None),
    ("1,02", None),
    ("x20", None),
    ("\uff12\uff10", None),  # full-width digits
    ("9" * 500, None),  # not a finite number
])
def test_bet_parse(text, expected):
    assert bet.parse(text) == expected


def test_bet_parse_above_wealth_is_parsed_and_scored_infeasible():
    amount = bet.parse("I stake $5,000")
    assert amount == 5000.0
    assert bet.score(bet.make(1_000, 0.6, 1.0), CRRA(1), amount) == {"correct": False, "score": 0.0}


@pytest.mark.parametrize("filler", ["1," * 50_000, "9" * 100_000, "$" * 100_000, "-$1 " * 25_000, "a1 " * 30_000])
def test_bet_parse_huge_strings_fast(filler):
    start = time.perf_counter()
    bet.parse(filler)
    bet.parse("$20 " + filler)
    assert time.perf_counter() - start < 0.5
    assert bet.parse(None) is None


def test_solve_dispatches_to_a_family_solver():
    t = solve(bet.make(1_000, 0.51, 1.0), CRRA(1))
    assert t.preference == "crra:r=1" and t.optimal == "$20"
    assert set(t.utilities) == {"$0", "$20", "$100", "$250", "$500"}
    assert solve(gamble.make(Lottery.binary(0.5, 1000.0, 0.0), 340.0, 1000.0), CRRA(2)).optimal == "accept"


# ---------------------------------------------------------------- traces


def sample_tasks(n_per_family: int, seed: int) -> list[Task]:
    rng = np.random.default_rng(seed)
    rows = [holt_laury.make(int(rng.integers(1, 11)), float(rng.integers(1, 101))) for _ in range(n_per_family)]
    return (gamble.generate(n_per_family, rng) + rows + insurance.generate(n_per_family, rng)
            + bet.generate(n_per_family, rng))


def optimum(task: Task, spec: str):
    """The optimum recomputed from scratch, independent of the trace generator."""
    fresh = Task(**{**task.to_dict(), "optimal": None, "utilities": {}, "preference": None})
    return FAMILIES[task.family].parse(solve(fresh, parse_preference(spec)).optimal)


@pytest.mark.parametrize("spec", TRACE_PREFS)
@pytest.mark.parametrize("mode", ["agentic", "blind"])
def test_every_trace_is_well_formed_truthful_and_optimal(spec, mode):
    pref = parse_preference(spec)
    tasks, with_tools = sample_tasks(25, seed=len(spec)), 0
    for task in tasks:
        text = trace(solve(task, pref), pref, mode)
        parsed = parse_trace(text)
        assert parsed.errors == [], (task.id, text)
        assert [evaluate(c).text for c in parsed.tool_calls] == parsed.tool_outputs
        with_tools += bool(parsed.tool_calls)
        answer = FAMILIES[task.family].parse(parsed.answer)
        assert answer is not None and answer == optimum(task, spec), (task.id, text)
    # Blind traces never call the tool; agentic ones do unless nothing needs computing (two sure amounts).
    assert with_tools == 0 if mode == "blind" else with_tools > 0.9 * len(tasks)


def test_gamble_traces_exactly():
    t = solve(gamble.make(Lottery.binary(0.5, 1000.0, 0.0), 340.0, 1000.0), CRRA(2))
    head = ("<think>\nMy utility is CRRA with r = 2: u(w) = w**(-1)/(-1) on final wealth w. "
            "I have $1,000, so final wealth is $1,000 plus the outcome.\n")
    assert trace(t, CRRA(2), "agentic") == head + (
        "accept (+$340 for sure): EU = <tool>1340**(-1)/(-1)</tool>\n<tool_output>-0.0007462686567</tool_output>\n"
        "reject (50% +$1,000, 50% $0): EU = <tool>0.5*2000**(-1)/(-1) + 0.5*1000**(-1)/(-1)</tool>\n"
        "<tool_output>-0.00075</tool_output>\n"
        # two options: the calculator takes the difference and its sign decides
        "accept minus reject = <tool>-0.0007462686567 - (-0.00075)</tool>\n<tool_output>3.7313433e-06</tool_output>\n"
        "The difference is positive, so accept is better.\n</think>\nFinal answer: accept"
    )
    assert trace(t, CRRA(2), "blind") == head + (
        "accept (+$340 for sure): EU = 1340**(-1)/(-1) = -0.000746269\n"
        "reject (50% +$1,000, 50% $0): EU = 0.5*2000**(-1)/(-1) + 0.5*1000**(-1)/(-1) = -0.00075\n"
        "accept minus reject = -0.000746269 - (-0.00075) = 3.731e-06\n"
        "The difference is positive, so accept is better.\n</think>\nFinal answer: accept"
    )


def test_kelly_trace():
    t = solve(bet.make(1_000, 0.51, 1.0), CRRA(1))
    text = trace(t, CRRA(1), "agentic")
    assert "Kelly" in text and "<tool>1000*(0.51 - 0.49/1)</tool>\n<tool_output>20</tool_output>" in text
    assert text.endswith("So I stake $20.\n</think>\nFinal answer: $20")


def test_pt_traces_compute_weights_with_the_tool():
    pref = parse_preference("tk92")
    text = trace(solve(holt_laury.make(3), pref), pref, "agentic")
    assert "w+(0.3) = <tool>0.3**0.61/(0.3**0.61+0.7**0.61)**(1/0.61)</tool>" in text
    assert text.count("w+(0.3) =") == 1  # A and B share the weight: computed once


def test_ties_are_stated_as_indifference():
    # 50% of 1000 against a sure 500: equal expected values, the first option (accept) wins.
    t = solve(gamble.make(Lottery.binary(0.5, 1000.0, 0.0), 500.0, 1000.0), ExpectedValue())
    text = trace(t, ExpectedValue(), "blind")
    assert "The difference is 0: I am indifferent and take accept." in text and text.endswith("Final answer: accept")


def test_trace_refuses_tasks_not_solved_under_its_preference():
    t = gamble.make(Lottery.binary(0.5, 1000.0, 0.0), 340.0, 1000.0)
    with pytest.raises(ValueError, match="solve"):
        trace(t, CRRA(2), "agentic")
    solve(t, CRRA(2))
    with pytest.raises(ValueError, match="solve"):
        trace(t, CRRA(1), "agentic")  # solved under another preference
    with pytest.raises(ValueError, match="solve"):
        trace(t, parse_preference("moralis:kappa=0.5"), "agentic")


# ---------------------------------------------------------------- generation


def test_records_are_chat_format_with_metadata():
    records = generate_dataset("crra:r=2", ALL, 10, "agentic", seed=0)
    assert len(records) == 10
    counts = {f: sum(r["task"]["family"] == f for r in records) for f in ALL}
    assert counts == {"gamble": 3, "holt_laury": 3, "insurance": 2, "bet": 2}  # the first families get the remainder
    for r in records:
        assert set(r) == {"messages", "task", "preference", "mode"}
        assert r["preference"] == "crra:r=2" and r["mode"] == "agentic"
        user, assistant = r["messages"]
        task = Task(**r["task"])
        assert user == {"role": "user", "content": f"{task.prompt}\n{task.instruction}"}
        assert task.instruction == agent_task(task, "agentic").instruction and "<tool>" in task.instruction
        assert assistant["role"] == "assistant" and parse_trace(assistant["content"]).answer == task.optimal
        json.dumps(r, allow_nan=False)


def test_generation_is_deterministic_per_seed():
    a = generate_dataset("tk92", ALL, 40, "blind", seed=7)
    assert a == generate_dataset("tk92", ALL, 40, "blind", seed=7)
    assert a != generate_dataset("tk92", ALL, 40, "blind", seed=8)
    assert len({r["task"]["id"] for r in a}) == 40  # distinct items


def test_held_out_split_shares_no_item():
    train, held = generate_splits("crra:r=1", ALL, 400, "agentic", seed=0, eval_n=200)
    assert len(train) == 400 and len(held) == 200
    assert not {r["task"]["id"] for r in train} & {r["task"]["id"] for r in held}
    assert generate_splits("crra:r=1", ALL, 400, "agentic", seed=0, eval_n=200) == (train, held)


@pytest.mark.parametrize("kwargs, message", [
    ({"preference_spec": "moralis:kappa=0.5"}, "gamble tasks need a risk preference"),
    ({"preference_spec": "crra:r=two"}, "must be a number"),
    ({"tasks": ["gamble", "dictator"]}, "unknown task family dictator"),
    ({"tasks": []}, "unknown task family"),
    ({"n": 0}, "must be positive"),
    ({"mode": "tools"}, "mode must be one of"),
])
def test_generate_refuses_bad_requests(kwargs, message):
    args = {"preference_spec": "crra:r=2", "tasks": ALL, "n": 10, "mode": "agentic", "seed": 0, **kwargs}
    with pytest.raises(EconalignError, match=message):
        generate_dataset(**args)


def test_preference_beyond_the_calculator_is_refused():
    # u = w**41/41 on wealth above $1,000 exceeds the calculator's 1e100 limit
    with pytest.raises(EconalignError, match="too extreme for calculator traces"):
        generate_dataset("crra:r=-40", ["gamble"], 5, "agentic", seed=0)


def test_too_many_distinct_items_is_refused():
    with pytest.raises(EconalignError, match="distinct holt_laury items"):
        generate_dataset("ev", ["holt_laury"], 1_001, "blind", seed=0)


def test_save_replaces_earlier_output(tmp_path):
    from datasets import load_from_disk

    train, held = generate_splits("ev", ALL, 8, "blind", seed=0, eval_n=4)
    save(train, tmp_path, held)
    assert (tmp_path / "eval.jsonl").exists()
    again = generate_dataset("crra:r=2", ["bet"], 5, "agentic", seed=1)
    save(again, tmp_path)
    assert not (tmp_path / "eval.jsonl").exists()  # would not be held out from the new training set
    assert len(load_from_disk(str(tmp_path / "dataset"))) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset", "train.jsonl"]  # no temporary leftovers


# ---------------------------------------------------------------- CLI


def test_cli_writes_jsonl_and_a_loadable_dataset(tmp_path):
    from datasets import load_from_disk

    out = tmp_path / "out"
    done = econalign("data", "--preference", "crra:r=2", "--tasks", "gamble,holt_laury,bet,insurance", "--n", 40,
                     "--mode", "agentic", "--seed", 3, "--out", out, "--eval-n", 20)
    assert done.returncode == 0, done.stderr
    assert "wrote 40 training items" in done.stdout and "20 held-out" in done.stdout
    lines = (out / "train.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 40 and len((out / "eval.jsonl").read_text(encoding="utf-8").splitlines()) == 20
    assert records == generate_dataset("crra:r=2", ["gamble", "holt_laury", "bet", "insurance"], 40, "agentic", seed=3)
    dataset = load_from_disk(str(out / "dataset"))
    assert len(dataset) == 40 and set(dataset.column_names) == {"messages", "task", "preference", "mode"}
    assert dataset[0]["messages"] == records[0]["messages"]
    assert json.loads(dataset[0]["task"]) == records[0]["task"]


@pytest.mark.parametrize("args, message", [
    (["--preference", "moralis:kappa=0.5"], "need a risk preference"),
    (["--preference", "crra:r="], "must be a number"),
    (["--preference", "nonsense"], "unknown preference"),
    (["--preference", "crra:r=2", "--tasks", "gamble,roulette"], "unknown task family roulette"),
    (["--preference", "crra:r=2", "--n", "0"], "'--n'"),
    (["--preference", "crra:r=2", "--n", "-5"], "'--n'"),
    (["--preference", "crra:r=2", "--mode", "tools"], "mode must be one of"),
    (["--preference", "crra:r=2", "--eval-n", "-1"], "'--eval-n'"),
])
def test_cli_bad_input_is_one_line(tmp_path, args, message):
    done = econalign("data", *args, "--out", tmp_path / "out")
    assert done.returncode == 2
    assert done.stdout == "" and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and message in done.stderr
    assert not (tmp_path / "out").exists()  # refused before any output


def test_cli_unwritable_out_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = econalign("data", "--preference", "ev", "--n", "4", "--out", blocker / "out")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "cannot write to output folder" in done.stderr


# ---------------------------------------------------------------- social targets (games, dilemmas)

SOCIAL_PREFS = ["moralis:kappa=0.5", "homo-economicus", "homo-kantiensis", "fs:alpha=0.85,beta=0.315", "fs:alpha=2,beta=0.7"]


@pytest.mark.parametrize("mode", ["agentic", "blind"])
@pytest.mark.parametrize("spec", SOCIAL_PREFS)
def test_social_traces_reach_the_optimum_with_the_calculators_numbers(spec, mode):
    # `trace` checks format, tool outputs and the final answer itself; here: it does so for every game.
    records = generate_dataset(spec, ["games", "dilemma"], 70, mode, seed=3)
    games_seen = {r["task"]["params"].get("game", r["task"]["family"]) for r in records}
    assert len(games_seen) == 8
    calls = []
    for r in records:
        parsed = parse_trace(r["messages"][-1]["content"])
        assert parsed.answer == r["task"]["optimal"]
        calls.append(len(parsed.tool_calls))
    if mode == "blind":
        assert sum(calls) == 0
    else:  # only a menu whose utilities are all bare payoffs needs no calculator
        assert np.mean([c > 0 for c in calls]) > 0.8


def test_fehr_schmidt_trace_by_hand():
    from econalign.preferences import FehrSchmidt
    from econalign.tasks import games

    task = solve(games.dictator(100), FehrSchmidt(0.85, 0.315))
    text = trace(task, FehrSchmidt(0.85, 0.315), "agentic")
    # give $10: 90 - 0.315*(90 - 10) = 64.8; give $50: 50, no inequity; give $100: 0 - 0.85*100 = -85
    assert "U(B) = <tool>90 - 0.315*(80)</tool>\n<tool_output>64.8</tool_output>" in text
    assert "U(D) = 50\n" in text and "<tool>0 - 0.85*(100)</tool>\n<tool_output>-85</tool_output>" in text
    assert text.endswith("Final answer: A")  # keeping everything: 100 - 0.315*100 = 68.5 is best


def test_homo_moralis_trace_by_hand():
    from econalign.tasks import games

    task = solve(games.prisoners_dilemma(5, 3, 1, 0, 0.5), parse_preference("moralis:kappa=0.5"))
    text = trace(task, parse_preference("moralis:kappa=0.5"), "blind")
    # cooperate: 0.5*(0.5*3 + 0.5*0) + 0.5*3 = 2.25; defect: 0.5*(0.5*5 + 0.5*1) + 0.5*1 = 2
    assert "U(A) = 0.5*(0.5*3 + 0.5*0) + 0.5*3 = 2.25" in text and "U(B) = 0.5*(0.5*5 + 0.5*1) + 0.5*1 = 2" in text
    assert text.endswith("Final answer: A")


@pytest.mark.parametrize("spec, tasks, message", [
    ("moralis:kappa=0.5", "games,gamble", "gamble tasks need a risk preference"),
    ("crra:r=1", "dilemma", "dilemma tasks need a social preference"),
])
def test_data_refuses_a_preference_of_the_wrong_kind(tmp_path, spec, tasks, message):
    run = econalign("data", "--preference", spec, "--tasks", tasks, "--n", "4", "--out", tmp_path / "d")
    assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr
