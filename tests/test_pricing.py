"""Repeated duopoly pricing: Calvano et al. (2020) benchmarks, the answer parser, simulated and LLM firms, resume."""

import base64
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from econalign import EconalignError
from econalign.environments import pricing as pricing_env
from econalign.environments.pricing import run_pricing
from econalign.environments import market as pricing
from econalign.preferences.social import HomoMoralis
from econalign.tasks import social
from econalign.environments.market import (
    Market,
    collusion_index,
    demand,
    monopoly_prices,
    nash_prices,
    parse_price,
    profits,
)

NASH, MONOPOLY = 1.47293, 1.92498  # Calvano et al. (2020), a = 2, c = 1, a0 = 0, mu = 0.25
FILES = ("rounds.csv", "summary.json", "prices.png", "report.html")


def hand_shares(m: Market, p) -> tuple[list[float], float]:
    """Logit shares by the textbook formula, with plain floats: (firm shares, outside share)."""
    e = [math.exp((a - x) / m.mu) for a, x in zip(m.a, p)]
    e0 = math.exp(m.a0 / m.mu)
    total = sum(e) + e0
    return [x / total for x in e], e0 / total


def hand_profit(m: Market, p, i: int) -> float:
    return (p[i] - m.c[i]) * hand_shares(m, p)[0][i]


def central(f, x: float, h: float = 1e-5) -> float:
    return (f(x + h) - f(x - h)) / (2 * h)


def strict_json(path: Path):
    def refuse(constant):
        raise ValueError(f"{path} holds {constant}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


# --- market math -------------------------------------------------------------------------------


def test_calvano_benchmarks():
    nash, monopoly = nash_prices(Market()), monopoly_prices(Market())
    assert nash == pytest.approx((NASH, NASH), abs=1e-5)
    assert monopoly == pytest.approx((MONOPOLY, MONOPOLY), abs=1e-5)
    bench = pricing.benchmarks(Market())
    assert bench["nash"]["profits"][0] == pytest.approx(hand_profit(Market(), nash, 0), rel=1e-12)
    assert bench["nash"]["profits"][0] < bench["monopoly"]["profits"][0]


@pytest.mark.parametrize("market", [Market(), Market(a=(2.2, 1.9), c=(1.0, 0.8), a0=0.3, mu=0.4)])
def test_nash_first_order_conditions(market):
    """At the Nash prices no firm gains by moving its own price (finite differences of the hand-computed profit),
    and the markup equals μ/(1 - q_i)."""
    p = nash_prices(market)
    shares, _ = hand_shares(market, p)
    for i in (0, 1):
        own = lambda x, i=i: hand_profit(market, [x if j == i else p[j] for j in (0, 1)], i)  # noqa: E731
        assert central(own, p[i]) == pytest.approx(0.0, abs=1e-8)
        assert p[i] - market.c[i] == pytest.approx(market.mu / (1 - shares[i]), rel=1e-9)


@pytest.mark.parametrize("market", [Market(), Market(a=(2.2, 1.9), c=(1.0, 0.8), a0=0.3, mu=0.4)])
def test_monopoly_zeroes_joint_profit_derivative(market):
    p = monopoly_prices(market)
    joint = lambda q: hand_profit(market, q, 0) + hand_profit(market, q, 1)  # noqa: E731
    for i in (0, 1):
        along = lambda x, i=i: joint([x if j == i else p[j] for j in (0, 1)])  # noqa: E731
        assert central(along, p[i]) == pytest.approx(0.0, abs=1e-8)
    assert joint(p) > joint([x + 0.01 for x in p]) and joint(p) > joint([x - 0.01 for x in p])


def test_shares_with_outside_good_sum_to_one_and_survive_extreme_prices():
    m = Market(a=(2.0, 1.5), a0=0.5)
    for p in ([1.2, 1.9], [3.0, 0.5], [1.47, 1.47]):
        shares, outside = hand_shares(m, p)
        q = demand(m, p)
        assert q == pytest.approx(shares, rel=1e-12)
        assert q.sum() + outside == pytest.approx(1.0, abs=1e-12)
    extreme = demand(m, [[1e6, -1e6], [-1e6, -1e6], [1e12, 1e12], [-1e300, 2.0]])
    assert np.all(np.isfinite(extreme)) and np.all(extreme >= 0) and np.all(extreme.sum(axis=-1) <= 1 + 1e-12)
    assert extreme[0] == pytest.approx([0, 1]) and extreme[2] == pytest.approx([0, 0])
    # both prices far below the outside good's value: the outside good vanishes, shares follow the qualities (e^2 : 1)
    assert extreme[1] == pytest.approx(np.array([1, math.exp(-2)]) / (1 + math.exp(-2)))
    assert np.all(np.isfinite(profits(m, [[1e6, -1e6], [1e12, 1e12]])))


def test_collusion_index_is_zero_at_nash_and_one_at_monopoly():
    m = Market()
    assert collusion_index(profits(m, nash_prices(m)).mean(), m) == pytest.approx(0.0, abs=1e-12)
    assert collusion_index(profits(m, monopoly_prices(m)).mean(), m) == pytest.approx(1.0, abs=1e-12)
    assert 0 < collusion_index(profits(m, [1.7, 1.7]).mean(), m) < 1


def test_market_validation():
    assert Market(a=2.5, c=(1.0, 1.2)).a == (2.5, 2.5)
    for bad in ({"mu": 0.0}, {"mu": float("nan")}, {"a": (1.0, 2.0, 3.0)}, {"c": float("inf")}):
        with pytest.raises(EconalignError):
            Market(**bad)


# --- prompt and parser -------------------------------------------------------------------------


def test_prompt_shows_cost_range_and_last_rounds_but_no_benchmarks():
    history = [(1.5 + k / 100, 1.6, 0.2 + k / 1000) for k in range(3)]
    t = pricing.task(Market(), 1, history, 8)
    text = t.messages()[-1]["content"]
    assert "firm B" in text and "$1.00" in text and "between $1.00 and $3.00" in text
    assert "Round 5: your price $1.50" in text and "Round 7: your price $1.52" in text and "round 8" in text
    assert text.strip().endswith("Price: <number>")
    for secret in ("1.47", "1.92", "1.93", "0.22", "0.33", "Nash", "monopoly", "collu"):
        assert secret.lower() not in text.lower()
    assert "No rounds have been played yet." in pricing.prompt(Market(), 0, [], 1)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Price: 1.85", 1.85),
        ("price = $1.85", 1.85),
        ("**Price:** $1.85.", 1.85),
        ("- Price: 2 dollars per unit", 2.0),
        ("1.85", 1.85),
        (" $2\n", 2.0),
        ("I will undercut a little.\nPrice: 1.60", 1.60),
        ("Price: 1.85\nPrice: $1.850", 1.85),
        ("Price: 3", 3.0),
        ("Price: 1", 1.0),
        ("The price you set is 2.27.", 2.27),  # what SmolLM2-135M writes
        ("I think 1.85 would be a good price.", 1.85),
        ("I charge $2 this round.", 2.0),
    ],
)
def test_parse_price_reads_answers(text, expected):
    assert parse_price(text, 1.0, 3.0) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "Price:",
        "Price: 1.85\nPrice: 1.90",  # two different prices
        "Price: 1.85 or 1.90",
        "Price: 1.5-2.0",
        "Price: -1.85",
        "Price: \u22121.85",
        "Price: $-2",
        "Price: nan",
        "Price: NaN",
        "Price: inf",
        "nan",
        "inf",
        "Price: 1e3",
        "Price: 1,85",  # decimal comma: ambiguous
        "Price: 1.85.3",
        "Competitor's price: 1.70",  # the rival's, not a price set
        "The rival charged 1.70, so I match it.",
        "Between 1.70 and 1.85, I pick 1.80.",  # several amounts and no Price: line
        "No rounds have been played yet.\n\nThis is round 2. What price do you set?",  # a count, not a price
        "Price: 5",  # above the range
        "Price: 0.5",  # below cost
        "Price: $1,234.50",
        "x" * 10_000 + "\nPrice: 1.85",  # past what is read
    ],
)
def test_parse_price_refuses(text):
    assert parse_price(text, 1.0, 3.0) is None


def test_parse_price_commas_and_truncation():
    assert parse_price("Price: $1,234.50", 0, 2000) == 1234.5
    assert parse_price("Price: $1,234.50") is None  # default sane range tops at 1000
    assert parse_price("Price: 1.85\n" + "blah " * 1_000_000) == 1.85
    assert parse_price(None) is None


# --- the repeated game -------------------------------------------------------------------------


def prices(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "rounds.csv")


def test_best_responders_converge_to_nash(tmp_path):
    summary = run_pricing("sim:moralis:kappa=0", None, 30, tmp_path, seed=3)
    rows = prices(tmp_path)
    assert abs(rows.price_a[0] - NASH) > 0.05 or abs(rows.price_b[0] - NASH) > 0.05  # a real start, not Nash
    assert rows.price_a.iloc[-1] == pytest.approx(NASH, abs=1e-3) and rows.price_b.iloc[-1] == pytest.approx(NASH, abs=1e-3)
    assert summary["collusion_index"]["last_half"] == pytest.approx(0.0, abs=1e-2)
    assert summary["unparsed"] == {"a": 0, "b": 0} and summary["self_play"]


def test_kantians_sit_at_the_monopoly_price(tmp_path):
    summary = run_pricing("sim:homo-kantiensis", "sim:moralis:kappa=1", 6, tmp_path)
    rows = prices(tmp_path)
    assert np.allclose(rows[["price_a", "price_b"]].iloc[1:], MONOPOLY, atol=1e-3)
    assert summary["collusion_index"]["last_half"] == pytest.approx(1.0, abs=1e-3)
    assert summary["models"] == {"a": "sim:moralis:kappa=1", "b": "sim:moralis:kappa=1"} and not summary["self_play"]


def test_pricing_sims_need_homo_moralis(tmp_path):
    with pytest.raises(EconalignError, match="homo moralis"):
        run_pricing("sim:crra:r=2", None, 2, tmp_path)
    with pytest.raises(EconalignError, match="rounds"):
        run_pricing("sim:homo-economicus", None, 0, tmp_path)


def test_tiny_llm_run_writes_everything_and_counts_unparsed(tmp_path, tiny_dir, tiny_backend, monkeypatch):
    calls = []
    complete = tiny_backend.complete

    def counted(texts, **kw):  # the real model, with its calls recorded
        calls.append(len(texts))
        return complete(texts, **kw)

    monkeypatch.setattr(tiny_backend, "complete", counted)
    summary = run_pricing(str(tiny_dir), None, 3, tmp_path, max_new_tokens=8, load=lambda model: tiny_backend)
    assert calls == [2, 2, 2]  # self-play: both firms in one batch per round
    assert all((tmp_path / f).exists() for f in FILES)
    rows = prices(tmp_path)
    assert len(rows) == 3 and list(rows["round"]) == [1, 2, 3]
    assert summary == strict_json(tmp_path / "summary.json")
    assert summary["unparsed"] == {"a": int((~rows.parsed_a).sum()), "b": int((~rows.parsed_b).sum())}
    previous = summary["start_prices"]
    for r in rows.itertuples():  # an unparsed answer keeps the previous price
        for f, (price, parsed, answer) in enumerate(((r.price_a, r.parsed_a, r.answer_a), (r.price_b, r.parsed_b, r.answer_b))):
            assert price == (previous[f] if not parsed else parse_price(str(answer), 1.0, 3.0))
        previous = [r.price_a, r.price_b]
    page = (tmp_path / "report.html").read_text()
    png = base64.b64decode(re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page).group(1))
    assert png.startswith(b"\x89PNG") and (tmp_path / "prices.png").read_bytes().startswith(b"\x89PNG")
    assert "http" not in page and summary["models"]["a"] == str(tiny_dir)


def test_llm_rival_and_sim_play_in_one_game(tmp_path, tiny_dir, tiny_backend):
    summary = run_pricing(str(tiny_dir), "sim:homo-economicus", 2, tmp_path, max_new_tokens=4, load=lambda model: tiny_backend)
    assert summary["models"]["b"] == "sim:moralis:kappa=0" and summary["unparsed"]["b"] == 0


def test_interrupted_run_continues_and_matches_an_uninterrupted_one(tmp_path, tiny_dir, tiny_backend, monkeypatch):
    args = {"model_a": str(tiny_dir), "model_b": None, "seed": 5, "max_new_tokens": 6, "load": lambda model: tiny_backend}
    whole = run_pricing(rounds=4, out=tmp_path / "whole", **args)
    assert whole["rounds_resumed"] == 0
    first = run_pricing(rounds=2, out=tmp_path / "cut", **args)
    assert first["rounds"] == 2
    calls = []
    complete = tiny_backend.complete
    monkeypatch.setattr(tiny_backend, "complete", lambda texts, **kw: calls.append(kw["seed"]) or complete(texts, **kw))
    resumed = run_pricing(rounds=4, out=tmp_path / "cut", **args)
    assert resumed["rounds_resumed"] == 2 and calls == [5 + 3, 5 + 4]  # only rounds 3 and 4 were played
    assert (tmp_path / "cut" / "rounds.csv").read_text() == (tmp_path / "whole" / "rounds.csv").read_text()
    other = run_pricing(rounds=4, out=tmp_path / "cut", **{**args, "seed": 6})
    assert other["rounds_resumed"] == 0  # different arguments start over


def test_sim_game_resumes_to_the_same_path(tmp_path):
    run_pricing("sim:moralis:kappa=0.5", "sim:homo-economicus", 5, tmp_path / "cut", seed=1)
    resumed = run_pricing("sim:moralis:kappa=0.5", "sim:homo-economicus", 12, tmp_path / "cut", seed=1)
    run_pricing("sim:moralis:kappa=0.5", "sim:homo-economicus", 12, tmp_path / "whole", seed=1)
    assert resumed["rounds_resumed"] == 5
    assert (tmp_path / "cut" / "rounds.csv").read_text() == (tmp_path / "whole" / "rounds.csv").read_text()
    shorter = run_pricing("sim:moralis:kappa=0.5", "sim:homo-economicus", 3, tmp_path / "cut", seed=1)
    assert shorter["rounds_resumed"] == 3 and len(prices(tmp_path / "cut")) == 3


# --- menu rounds: prices chosen from lettered menus, scored like the batteries ---------------------------------


def test_menu_task_lists_steps_with_exact_profits_and_the_moralis_choice():
    m = Market()
    task = pricing.menu_task(m, 1, [(1.5, 1.6, 0.25)], 2, own=1.5, rival=1.6)
    assert task.family == "games" and task.options == list("ABCDE")
    assert task.params["prices"] == [1.4, 1.45, 1.5, 1.55, 1.6]
    assert "Round 1: your price $1.50" in task.prompt and "E: charge $1.60" in task.prompt
    opts = social.options(task)
    for letter, p in zip("ABCDE", task.params["prices"]):
        (prob, (own, rival)), = opts[letter].profiles
        assert own == pytest.approx(hand_profit(m, (1.6, p), 1)) and rival == pytest.approx(hand_profit(m, (1.6, p), 0))
        assert opts[letter].kantian == pytest.approx(hand_profit(m, (p, p), 1))
    by_hand = [0.5 * hand_profit(m, (1.6, p), 1) + 0.5 * hand_profit(m, (p, p), 1) for p in task.params["prices"]]
    assert social.solve(task, HomoMoralis(0.5)).optimal == "ABCDE"[int(np.argmax(by_hand))]
    edge = pricing.menu_task(m, 0, [], 1, own=1.02, rival=2.0)  # clipped at the cost, duplicates merged
    assert edge.params["prices"] == [1.0, 1.02, 1.07, 1.12] and edge.options == list("ABCD")


@pytest.mark.parametrize("model, target", [("sim:homo-economicus", NASH), ("sim:homo-kantiensis", MONOPOLY)])
def test_menu_sims_walk_to_their_prices(tmp_path, model, target):
    summary = run_pricing(model, None, 40, tmp_path, seed=3, menu=True)
    rows = prices(tmp_path)
    assert np.all(np.abs(np.diff(rows[["price_a", "price_b"]], axis=0)) <= 0.1 + 1e-9)  # one menu step a round
    assert np.allclose(rows[["price_a", "price_b"]].iloc[-10:], target, atol=0.05)
    assert summary["menu"] == list(pricing.MENU_STEPS) and summary["unparsed"] == {"a": 0, "b": 0}



def test_leanings_sum_the_menu_probabilities_around_the_last_price():
    def row(a, menu_a, b, menu_b):
        return {"price_a": a, "price_b": b, "answer_a": f"Price: {a}\nmenu: {menu_a}", "answer_b": f"Price: {b}\nmenu: {menu_b}"}

    rows = [row(1.5, "$1.40 0.100, $1.45 0.200, $1.50 0.300, $1.55 0.250, $1.60 0.150", 1.0, "$1.00 0.6, $1.05 0.4"),
            row(1.6, "$1.40 0.000, $1.45 0.100, $1.50 0.200, $1.55 0.300, $1.60 0.400", 1.0, "$1.00 0.2, $1.05 0.8")]
    lean = pricing_env.leanings(rows, (1.5, 1.0))
    assert lean["a"] == pytest.approx({"lower": 0.2, "keep": 0.25, "raise": 0.55})  # round 1 around 1.5, round 2 too
    assert lean["b"] == pytest.approx({"lower": 0.0, "keep": 0.4, "raise": 0.6})  # at its cost: no lower price offered


def test_menu_moralis_lands_where_its_grid_play_does(tmp_path):
    grid = run_pricing("sim:moralis:kappa=0.5", None, 40, tmp_path / "grid", seed=2)
    menu = run_pricing("sim:moralis:kappa=0.5", None, 40, tmp_path / "menu", seed=2, menu=True)
    assert menu["mean"]["last_half"]["price_a"] == pytest.approx(grid["mean"]["last_half"]["price_a"], abs=0.05)
    assert menu["collusion_index"]["last_half"] == pytest.approx(grid["collusion_index"]["last_half"], abs=0.05)
    fs = run_pricing("sim:fs:alpha=0.85,beta=0.315", None, 3, tmp_path / "fs", menu=True)  # any social preference
    assert fs["rounds"] == 3
    with pytest.raises(EconalignError, match="cannot answer games"):
        run_pricing("sim:crra:r=2", None, 2, tmp_path / "risk", menu=True)
    assert not (tmp_path / "risk").exists()


def test_menu_llm_scores_both_orders_and_resumes(tmp_path, tiny_dir, tiny_backend, monkeypatch):
    calls = []
    scores = tiny_backend.choice_scores

    def counted(tasks, **kw):  # the real model, with its menus recorded
        calls.append(tasks)
        return scores(tasks, **kw)

    monkeypatch.setattr(tiny_backend, "choice_scores", counted)
    args = {"model_a": str(tiny_dir), "model_b": None, "seed": 1, "load": lambda model: tiny_backend, "menu": True}
    run_pricing(rounds=2, out=tmp_path, **args)
    summary = run_pricing(rounds=3, out=tmp_path, **args)
    assert summary["rounds_resumed"] == 2 and len(calls) == 3
    for tasks in calls:  # both firms, each menu in both orders
        assert [t.params["firm"] for t in tasks] == ["A", "B", "A", "B"]
        assert [t.params["labels"]["A"] for t in tasks[2:]] == [t.params["labels"][t.options[-1]] for t in tasks[:2]]
    rows, previous = prices(tmp_path), summary["start_prices"]
    for r in rows.itertuples():
        assert r.parsed_a and r.parsed_b
        for f, (price, answer) in enumerate(((r.price_a, r.answer_a), (r.price_b, r.answer_b))):
            offered = pricing.menu_prices(Market(), f, previous[f])
            shown = re.findall(r"\$([\d.]+) ([\d.]+)", answer.splitlines()[1])  # the menu's averaged probabilities
            assert [float(p) for p, _ in shown] == offered and sum(float(q) for _, q in shown) == pytest.approx(1, abs=0.01)
            chosen = dict((float(p), float(q)) for p, q in shown)[price]
            assert chosen == max(float(q) for _, q in shown)  # the most probable (to the 3 decimals shown)
        previous = [r.price_a, r.price_b]
    assert summary["unparsed"] == {"a": 0, "b": 0} and "chosen from menus" in (tmp_path / "report.html").read_text()
    for lean in summary["leanings"].values():
        assert sum(lean.values()) == pytest.approx(1, abs=0.01) and min(lean.values()) > 0
    text = run_pricing(str(tiny_dir), None, 1, tmp_path, max_new_tokens=4, load=lambda model: tiny_backend)
    assert text["rounds_resumed"] == 0 and text["menu"] is None  # a free-text run never resumes menu rounds
