"""`econalign pricing`: two firms set prices round after round in a logit-demand Bertrand market.

Firms are LLMs (any backend that continues text) or simulated homo moralis agents, `sim:moralis:kappa=0.5`:
each round such an agent plays the price, on a 1e-4 grid over the firm's price range, maximising
(1-κ)·π(p, p_rival) + κ·π(p, p) against the rival's last price, so κ = 0 best-responds (and converges to
Nash) and κ = 1 charges the joint-monopoly price. Both firms start from prices drawn with the seed,
uniformly over their price ranges and rounded to cents: simulated agents play them in round 1, and
a firm whose answer does not parse keeps its previous price (in round 1 the starting price).

With `menu=True` every firm, language model or simulated agent of any social preference (`sim:fs:...` too),
chooses each round from a lettered menu instead (market.menu_task: its last price and steps of $0.05 and $0.10,
with the profits each brings), scored as the batteries score: the option probabilities of the answer letter,
averaged over the menu listed in both orders (which cancels position bias), and the most probable price is played.
That is the channel `align` trains; a model trained on one-letter answers cannot be asked for a free-text price.

The game is saved after every round, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from rich.markup import escape  # noqa: E402

from econalign import EconalignError, __version__  # noqa: E402
from econalign.backends.base import Backend  # noqa: E402
from econalign.io import read_json, writable_dir, write_json, write_text  # noqa: E402
from econalign.measure.report import fmt, html_page, save_figures  # noqa: E402
from econalign.preferences.social import HomoMoralis  # noqa: E402
from econalign.preferences.spec import parse_preference  # noqa: E402
from econalign.resume import fingerprint, progress_bar  # noqa: E402
from econalign.tasks.social import reversed_menu  # noqa: E402
from econalign.environments import market as pricing  # noqa: E402
from econalign.environments.market import Market  # noqa: E402

HISTORY = 10  # rounds of outcomes shown to an LLM firm
MAX_NEW_TOKENS = 64
GRID_STEP = 1e-4
MENU_LINE = re.compile(r"\$([\d.]+) ([\d.]+)")  # "$1.45 0.213": a menu price and its probability
PRICE, PROFIT, ANSWER, PARSED = ("price_a", "price_b"), ("profit_a", "profit_b"), ("answer_a", "answer_b"), ("parsed_a", "parsed_b")


def own_history(rows: list[dict], firm: int, k: int) -> list[tuple[float, float, float]]:
    """(own price, rival price, own profit) of the last k rounds, oldest first."""
    return [(r[PRICE[firm]], r[PRICE[1 - firm]], r[PROFIT[firm]]) for r in rows[-k:]]


class LLMPricer:
    """A language model reading the market prompt; both firms' prompts go in one batch when it plays itself."""

    def __init__(self, backend: Backend, market: Market, history: int, max_new_tokens: int):
        self.backend, self.market, self.history, self.max_new_tokens = backend, market, history, max_new_tokens
        self.name = backend.name

    def answers(self, firms: list[int], rows: list[dict], seed: int) -> list[str]:
        tasks = [pricing.task(self.market, f, own_history(rows, f, self.history), len(rows) + 1) for f in firms]
        texts = [self.backend.render(t) for t in tasks]
        # an answer is a line or two: a blank line ends it (and the echoes of the prompt small models add)
        return self.backend.complete(texts, max_new_tokens=self.max_new_tokens, stop=["\n\n"], seed=seed)


class SimPricer:
    """A homo moralis firm (see the module docstring); it answers in the same `Price:` format as an LLM."""

    def __init__(self, preference: HomoMoralis, market: Market, start: tuple[float, float]):
        self.preference, self.market, self.start = preference, market, start
        self.name = f"sim:{preference.spec()}"
        ranges = [pricing.price_range(market, f) for f in (0, 1)]
        self.grids = [np.linspace(lo, hi, int(round((hi - lo) / GRID_STEP)) + 1) for lo, hi in ranges]

    @classmethod
    def from_spec(cls, spec: str, market: Market, start: tuple[float, float]) -> SimPricer:
        preference = parse_preference(spec.removeprefix("sim:"))
        if not isinstance(preference, HomoMoralis):
            raise EconalignError(
                f"simulated pricing firms need a homo moralis preference (e.g. sim:moralis:kappa=0.5 or "
                f"sim:homo-economicus), got {spec!r}"
            )
        return cls(preference, market, start)

    def price(self, firm: int, rows: list[dict]) -> float:
        if not rows:
            return self.start[firm]
        rival, grid = rows[-1][PRICE[1 - firm]], self.grids[firm]
        utility = self.preference.utility(lambda own, other: pricing.firm_profit(self.market, firm, own, other), grid, rival)
        return float(grid[np.argmax(utility)])

    def answers(self, firms: list[int], rows: list[dict], seed: int) -> list[str]:  # deterministic: seed unused
        return [f"Price: {self.price(f, rows):.6f}" for f in firms]


class MenuPricer:
    """Any backend choosing from a round's price menu (see the module docstring)."""

    def __init__(self, backend: Backend, market: Market, history: int, start: tuple[float, float]):
        self.backend, self.market, self.history, self.start = backend, market, history, start
        self.name = backend.name
        backend.check_tasks([self.menu(0, [])])  # a simulated risk preference is refused before any output

    def menu(self, firm: int, rows: list[dict]):
        own, rival = (rows[-1][PRICE[firm]], rows[-1][PRICE[1 - firm]]) if rows else (self.start[firm], self.start[1 - firm])
        return pricing.menu_task(self.market, firm, own_history(rows, firm, self.history), len(rows) + 1, own, rival)

    def answers(self, firms: list[int], rows: list[dict], seed: int) -> list[str]:  # deterministic: seed unused
        tasks = [self.menu(f, rows) for f in firms]
        probs = self.backend.choice_scores([*tasks, *map(reversed_menu, tasks)]).probs
        answers = []
        for k, task in enumerate(tasks):
            n = len(task.options)
            both = (probs[k, :n] + probs[len(tasks) + k, :n][::-1]) / 2  # the reversed menu lists the prices backwards
            prices = task.params["prices"]
            # the parser reads the first line; the second keeps the menu's probabilities in rounds.csv
            menu = ", ".join(f"${p:.2f} {q:.3f}" for p, q in zip(prices, both))
            answers.append(f"Price: {prices[int(np.argmax(both))]:.4f}\nmenu: {menu}")
        return answers


def start_prices(market: Market, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    ranges = [pricing.price_range(market, f) for f in (0, 1)]
    return tuple(float(np.clip(round(rng.uniform(lo, hi), 2), lo, hi)) for lo, hi in ranges)


def play_round(agents, rows: list[dict], market: Market, start: tuple[float, float], seed: int) -> dict:
    """One round: both firms answer (in one batch when one agent plays both), prices are parsed, profits paid."""
    t = len(rows) + 1
    if agents[0] is agents[1]:
        answers = agents[0].answers([0, 1], rows, seed + t)
    else:
        answers = [*agents[0].answers([0], rows, seed + t), *agents[1].answers([1], rows, seed + t)]
    previous = [rows[-1][p] for p in PRICE] if rows else start
    parsed = [pricing.parse_price(a, *pricing.price_range(market, f)) for f, a in enumerate(answers)]
    prices = [old if new is None else new for new, old in zip(parsed, previous)]
    columns = {PRICE: [float(p) for p in prices], PROFIT: pricing.profits(market, prices).tolist(), ANSWER: answers,
               PARSED: [p is not None for p in parsed]}
    return {"round": t} | {name: value for names, values in columns.items() for name, value in zip(names, values)}


def make_agent(model: str, market: Market, start, history: int, max_new_tokens: int, load: Callable[[str], Backend],
               menu: bool = False):
    if menu:
        return MenuPricer(load(model), market, history, start)
    if model.startswith("sim:"):
        return SimPricer.from_spec(model, market, start)
    return LLMPricer(load(model), market, history, max_new_tokens)


def saved_rounds(path: Path, key: str) -> list[dict]:
    """Rounds an earlier run with the same arguments finished; none if the arguments differ."""
    if not path.exists():
        return []
    state = read_json(path)
    return state.get("rows", []) if state.get("fingerprint") == key else []


def check_args(rounds: int, history: int, max_new_tokens: int) -> None:
    for name, value in (("rounds", rounds), ("history", history), ("max_new_tokens", max_new_tokens)):
        if value < 1:
            raise EconalignError(f"{name} must be at least 1, got {value}")


def run_pricing(
    model_a: str, model_b: str | None, rounds: int, out: Path, seed: int = 0, market: Market = Market(),
    history: int = HISTORY, max_new_tokens: int = MAX_NEW_TOKENS, batch_size: int = 16,
    load: Callable[[str], Backend] | None = None, menu: bool = False,
) -> dict:
    """Play `rounds` rounds (model_b None: model A plays both firms), write rounds.csv, summary.json,
    prices.png and report.html to `out`, and return the summary. `load` turns a model string into a
    backend (default: load_backend with `batch_size`); `menu`: prices chosen from menus (module docstring)."""
    from econalign.backends import load_backend

    check_args(rounds, history, max_new_tokens)
    model_b = model_b or model_a
    key = fingerprint("pricing", model_a, model_b, seed, market.to_dict(), history, max_new_tokens,
                      *(["menu"] if menu else []))  # free-text runs keep the keys they had
    start = start_prices(market, seed)
    began = time.perf_counter()
    load = load or (lambda model: load_backend(model, batch_size=batch_size))
    agent_a = make_agent(model_a, market, start, history, max_new_tokens, load, menu)
    agent_b = agent_a if model_b == model_a else make_agent(model_b, market, start, history, max_new_tokens, load, menu)
    load_s = time.perf_counter() - began
    out = writable_dir(out)  # only now that the models are known to load
    state = writable_dir(out / ".cache") / "pricing.json"
    rows = saved_rounds(state, key)[:rounds]  # later rounds never change earlier ones, so a prefix is a shorter run
    resumed = len(rows)
    with progress_bar() as bar:
        job = bar.add_task(escape(f"pricing · {agent_a.name} vs {agent_b.name}"), total=rounds, completed=resumed,
                           unit="rounds")
        while len(rows) < rounds:
            rows.append(play_round((agent_a, agent_b), rows, market, start, seed))
            write_json(state, {"fingerprint": key, "rows": rows})
            bar.advance(job)
    summary = summarize(rows, market, (agent_a.name, agent_b.name), agent_a is agent_b, start, seed, history, max_new_tokens)
    summary["menu"] = list(pricing.MENU_STEPS) if menu else None
    summary["leanings"] = leanings(rows, start) if menu else None
    summary["rounds_resumed"] = resumed
    summary["seconds"] = {"load_s": load_s, "play_s": time.perf_counter() - began - load_s}
    summary["seconds"]["total_s"] = time.perf_counter() - began
    write_text(out / "rounds.csv", pd.DataFrame(rows).to_csv(index=False))
    write_report(summary, rows, out)
    write_json(out / "summary.json", summary)
    return summary


def leanings(rows: list[dict], start: tuple[float, float]) -> dict:
    """Menu runs: each firm's probability, averaged over the rounds, on a price below its last one, on keeping it,
    and on a price above it (read from the menu line of its answers)."""
    out = {}
    for f, name in enumerate(("a", "b")):
        previous, sums = start[f], np.zeros(3)
        for r in rows:
            for price, prob in MENU_LINE.findall(r[ANSWER[f]].splitlines()[1]):
                sums[int(np.sign(round(float(price) - previous, 4))) + 1] += float(prob)
            previous = r[PRICE[f]]
        out[name] = dict(zip(("lower", "keep", "raise"), (sums / len(rows)).tolist()))
    return out


def means(rows: list[dict], market: Market) -> dict:
    """Mean prices and profits over `rows`, and the collusion index of the mean per-firm profit."""
    frame = pd.DataFrame(rows)
    m = {col: float(frame[col].mean()) for col in (*PRICE, *PROFIT)}
    m["collusion_index"] = pricing.collusion_index((m["profit_a"] + m["profit_b"]) / 2, market)
    return m


def summarize(rows, market, names, self_play, start, seed, history, max_new_tokens) -> dict:
    last_half = rows[len(rows) // 2 :]
    overall, late = means(rows, market), means(last_half, market)
    return {
        "econalign_version": __version__,
        "models": {"a": names[0], "b": names[1]},
        "self_play": self_play,
        "rounds": len(rows),
        "seed": seed,
        "history": history,
        "max_new_tokens": max_new_tokens,
        "market": market.to_dict(),
        "price_range": {"a": list(pricing.price_range(market, 0)), "b": list(pricing.price_range(market, 1))},
        "start_prices": list(start),
        **pricing.benchmarks(market),
        "mean": {"overall": overall, "last_half": late, "last_half_rounds": len(last_half)},
        "collusion_index": {"overall": overall["collusion_index"], "last_half": late["collusion_index"]},
        "unparsed": {"a": sum(not r["parsed_a"] for r in rows), "b": sum(not r["parsed_b"] for r in rows)},
    }


def prices_figure(summary: dict, rows: list[dict]):
    fig, ax = plt.subplots(figsize=(7, 3.8))
    t = [r["round"] for r in rows]
    for f, (name, color) in enumerate(zip(("a", "b"), ("tab:blue", "tab:orange"))):
        ax.plot(t, [r[PRICE[f]] for r in rows], "o-", ms=3, color=color, label=f"firm {name.upper()}: {summary['models'][name]}")
    for bench, style in (("nash", "--"), ("monopoly", ":")):
        for f, p in enumerate(summary[bench]["prices"]):
            ax.axhline(p, color="gray", ls=style, lw=1, label=f"{bench} ({p:.3f})" if f == 0 else None)
    ax.set_xlabel("round")
    ax.set_ylabel("price")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))  # outside: the paths may run anywhere
    fig.tight_layout()
    return fig


def write_report(summary: dict, rows: list[dict], out: Path) -> None:
    images = save_figures({"prices.png": prices_figure(summary, rows)}, out)
    m, u, s = summary["market"], summary["unparsed"], summary["seconds"]
    facts = [
        ("firm A", summary["models"]["a"]),
        ("firm B", summary["models"]["b"] + (" (self-play)" if summary["self_play"] else "")),
        ("market", f"a = {m['a']}, c = {m['c']}, a0 = {m['a0']}, μ = {m['mu']}"),
        ("rounds", f"{summary['rounds']} ({summary['rounds_resumed']} resumed), seed {summary['seed']}"),
        ("collusion index Δ", f"{fmt(summary['collusion_index']['overall'], 3)} overall, "
         f"{fmt(summary['collusion_index']['last_half'], 3)} over the last {summary['mean']['last_half_rounds']} rounds"),
        ("prices", "chosen from menus (the last price and steps of " + ", ".join(f"{d:+.2f}" for d in summary["menu"])
         + "), the most probable option over both listing orders" if summary["menu"] else "free-text answers"),
        *([("mean P(lower / keep / raise)", "; ".join(
            f"{k.upper()} " + " / ".join(fmt(x, 2) for x in v.values()) for k, v in summary["leanings"].items()))]
          if summary["menu"] else []),
        ("unparsed answers", f"A {u['a']}, B {u['b']} (the firm kept its previous price)"),
        ("timings", f"load {fmt(s['load_s'])} s, play {fmt(s['play_s'])} s, total {fmt(s['total_s'])} s"),
    ]
    table = [("Nash", summary["nash"]["prices"], summary["nash"]["profits"], 0.0),
             ("joint monopoly", summary["monopoly"]["prices"], summary["monopoly"]["profits"], 1.0)]
    for label, key in (("measured, all rounds", "overall"), ("measured, last half", "last_half")):
        x = summary["mean"][key]
        table.append((label, [x["price_a"], x["price_b"]], [x["profit_a"], x["profit_b"]], x["collusion_index"]))
    frame = pd.DataFrame([{"": name, "price A": fmt(p[0], 4), "price B": fmt(p[1], 4), "profit A": fmt(g[0], 4),
                           "profit B": fmt(g[1], 4), "Δ": fmt(d, 4)} for name, p, g, d in table])
    write_text(out / "report.html", html_page(
        f"Repeated duopoly pricing: {summary['models']['a']} vs {summary['models']['b']}", facts,
        {"Benchmarks and outcomes": frame}, {"Prices by round": images["prices.png"]},
        footer="Per-round prices, profits and raw answers: rounds.csv; all figures: summary.json.",
    ))
