"""`econalign utilities`: Thurstonian utilities over any list of outcomes, from forced choices between pairs.

The design follows Mazeika et al. (2025), "Utility Engineering: Analyzing and Controlling Emergent Value Systems
in AIs", and its code (github.com/centerforaisafety/emergent-values, `compute_utilities`: the Thurstonian model
and its active-learning variant):

- Model: outcome i has a utility drawn from N(mu_i, sigma_i^2), so P(i chosen over j) =
  Phi((mu_i - mu_j) / sqrt(sigma_i^2 + sigma_j^2)). It is fitted to the soft choice probabilities (each pair asked
  in both orders, the two averaged so that a lean towards a position cancels) by maximum likelihood, and
  identified as in the reference: the means have mean 0 and sd 1 over the outcomes, the sigmas on that scale.
  One change: weak normal priors, sd 30 on the means in units of the typical sigma (their geometric mean) and sd 3
  on the log sigmas around it. Without them a noiseless chooser, whose choices are all certain, leaves the fit
  without an optimum (the sigmas go to 0 and the means wherever the optimiser stops; the reference stops after a
  fixed number of Adam steps), and a chooser close to indifferent everywhere puts all the spread of the means on
  one outcome with a huge sigma. Per-outcome sigmas are weakly identified by soft choices, so the priors move
  them (and the means a little) where the choice probabilities barely change (tests/test_utilities.py).
- Pairs: a random cycle through the outcomes (each in two pairs, all connected), then a held-out set of random
  pairs from the rest, never used in the fit or in choosing pairs, then rounds that each add the pairs the current
  fit is least sure about: the intersection of the 10% closest (|mu_i - mu_j| / sqrt(sigma_i^2 + sigma_j^2)) and the
  20% least compared (comparisons of i plus of j), both shares widened by 1.5 until enough pairs qualify,
  sampled at random within it. 2·n·log2(n) pairs in all by default (the reference's edge multiplier 2).
- Money: CRRA r and the logit noise fitted by maximum likelihood to the same answered pairs between money
  outcomes (sure amounts, and lotteries whose every amount is positive), with the contextual-utility logit of the
  other batteries (measure/estimate.py): Wald intervals, an r on its search bound not identified. Under that
  model a choice between two sure amounts says only which is larger, so r comes from the pairs with a lottery.
  The curve is drawn on the Thurstonian scale through the least-squares line from the CRRA utility to the fitted
  means of the sure amounts (utilities are defined up to a positive affine map): where the points bend away from
  it, the utilities of sure amounts and the attitude to risk disagree.
- Exchange rates: for each kind of outcome with three or more quantities, the line mu = a + b·ln(quantity); the
  rate between two kinds is the quantity of one whose line reaches the utility of the middle (geometric mean)
  quantity of the other.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.markup import escape
from scipy.optimize import minimize
from scipy.special import log_ndtr, ndtr
from scipy.stats import spearmanr

from econalign import EconalignError, __version__
from econalign.backends.base import Backend
from econalign.io import write_json, write_text
from econalign.measure import estimate
from econalign.measure.estimate import nan_to_none
from econalign.measure.profile import CHUNK, answers, resume_key, score_chunk
from econalign.preferences.base import stack
from econalign.preferences.choice import Pairs
from econalign.preferences.crra import CRRA
from econalign.resume import left_to_do, run_chunks, status
from econalign.tasks import forced_choice
from econalign.tasks.outcomes import Outcome

METHODS = ("logits", "generate")
PRIORS = (30.0, 3.0)  # sds of the weak priors on the means (in units of the typical sigma) and on the log sigmas
EDGE_MULTIPLIER = 2.0  # pairs in all: 2·n·log2(n), as emergent-values
CLOSE, FEW, WIDEN = 10.0, 20.0, 1.5  # percent of closest and least-compared candidates, and how they widen
ROUNDS = 4
FOLLOWS = 0.5  # R² of utility on ln(quantity) below this: no exchange rate through that kind
EPS = 1e-5  # probabilities are clipped here for the log-loss, as in the reference


# ---------------------------------------------------------------- the Thurstonian model


@dataclass
class Thurstonian:
    """mu: means (mean 0, sd 1 over the compared outcomes); sigma: their sds on that scale; both NaN for an
    outcome in no answered pair. loglik: of the soft choices, without the prior."""

    mu: np.ndarray
    sigma: np.ndarray
    loglik: float

    def prob(self, pairs: np.ndarray) -> np.ndarray:
        """P(first outcome of each pair chosen over the second)."""
        i, j = np.asarray(pairs).T
        return ndtr((self.mu[i] - self.mu[j]) / np.sqrt(self.sigma[i] ** 2 + self.sigma[j] ** 2))


def objective(theta: np.ndarray, i: np.ndarray, j: np.ndarray, y: np.ndarray,
              priors: tuple[float, float] = PRIORS) -> tuple[float, np.ndarray]:
    """Negative log-likelihood of the soft choices y = P(i over j) plus the priors, and its gradient.

    theta = (means, log sigmas), each taken relative to its own average: the likelihood does not change under a
    shift of the means or a common rescaling of means and sigmas, so the means average 0 and the sigmas 1
    (geometric mean). `priors`: the sds of the normal priors on the means (in those units) and on the log sigmas;
    a term on the raw averages, which change nothing else, keeps the optimum unique."""
    n = len(theta) // 2
    m, log_s = theta[:n] - theta[:n].mean(), theta[n:] - theta[n:].mean()
    v = np.exp(2 * log_s)
    s = np.sqrt(v[i] + v[j])
    z = (m[i] - m[j]) / s
    lp, lq = log_ndtr(z), log_ndtr(-z)
    log_phi = -0.5 * z**2 - 0.5 * np.log(2 * np.pi)
    g = -(y * np.exp(log_phi - lp) - (1 - y) * np.exp(log_phi - lq))  # d nll / dz
    grad_m = np.bincount(i, g / s, n) - np.bincount(j, g / s, n) + m / priors[0] ** 2
    grad_s = np.bincount(i, -g * z * v[i] / s**2, n) + np.bincount(j, -g * z * v[j] / s**2, n) + log_s / priors[1] ** 2
    value = (-float(np.sum(y * lp + (1 - y) * lq)) + 0.5 * float(m @ m) / priors[0] ** 2
             + 0.5 * float(log_s @ log_s) / priors[1] ** 2 + theta[:n].mean() ** 2 + theta[n:].mean() ** 2)
    grad = [grad_m - grad_m.mean() + 2 * theta[:n].mean() / n, grad_s - grad_s.mean() + 2 * theta[n:].mean() / n]
    return value, np.concatenate(grad)


def fit_thurstonian(n: int, pairs: np.ndarray, y: np.ndarray, priors: tuple[float, float] = PRIORS) -> Thurstonian:
    """The fit over n outcomes from answered pairs (k, 2) with y = P(first over second), rescaled so that the means
    have mean 0 and sd 1; priors = (inf, inf) is the plain maximum-likelihood fit, which certain choices leave
    without an optimum."""
    pairs, y = np.asarray(pairs, dtype=int).reshape(-1, 2), np.asarray(y, dtype=float)
    seen = np.unique(pairs)
    if len(seen) < 2:
        raise EconalignError("the fit needs answered pairs over at least two outcomes")
    index = np.full(n, -1)
    index[seen] = np.arange(len(seen))
    i, j = index[pairs[:, 0]], index[pairs[:, 1]]
    wins = np.bincount(i, y, len(seen)) + np.bincount(j, 1 - y, len(seen))
    start = wins / np.bincount(pairs.ravel(), minlength=n)[seen] - 0.5  # share of its pairs each outcome won
    res = minimize(objective, np.concatenate([start, np.zeros(len(seen))]), args=(i, j, y, priors), jac=True,
                   method="L-BFGS-B", options={"maxiter": 10_000})
    m, log_s = res.x[: len(seen)] - res.x[: len(seen)].mean(), res.x[len(seen) :] - res.x[len(seen) :].mean()
    sd = m.std(ddof=1)
    mu, sigma = np.full(n, np.nan), np.full(n, np.nan)
    mu[seen], sigma[seen] = m / sd, np.exp(log_s) / sd
    fit = Thurstonian(mu, sigma, 0.0)
    p = fit.prob(pairs)
    fit.loglik = float(np.sum(y * np.log(np.clip(p, 1e-300, 1)) + (1 - y) * np.log(np.clip(1 - p, 1e-300, 1))))
    return fit


def scores(fit: Thurstonian, pairs: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy (the fit and the answers on the same side of 1/2) and log-loss of the fit on answered pairs (those
    with an outcome in no fitted pair left out)."""
    p = fit.prob(pairs) if len(y) else np.zeros(0)
    p, y = np.clip(p[np.isfinite(p)], EPS, 1 - EPS), y[np.isfinite(p)]
    if not len(y):
        return {"pairs": 0, "accuracy": None, "log_loss": None}
    log_loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    return {"pairs": len(y), "accuracy": float(np.mean((p >= 0.5) == (y >= 0.5))), "log_loss": float(log_loss)}


# ---------------------------------------------------------------- which pairs to ask


@dataclass(frozen=True)
class Design:
    """outcomes; pairs fitted in all; active rounds after the initial pairs; held-out pairs."""

    outcomes: int
    pairs: int
    rounds: int
    holdout: int


def plan(n: int, pairs: int | None = None, rounds: int = ROUNDS, holdout: int | None = None) -> Design:
    """The design for n outcomes, defaults filled in, or one clear error."""
    every = n * (n - 1) // 2
    spare = (every - n) // 2  # half of the pairs outside the initial cycle
    holdout = min(n, spare // 2) if holdout is None else holdout
    if not 0 <= holdout <= spare:
        raise EconalignError(f"--holdout must be between 0 and {spare} (half of the {every - n} pairs of {n} outcomes "
                             "outside the first round)")
    left = every - holdout
    pairs = min(math.ceil(EDGE_MULTIPLIER * n * math.log2(n)), left) if pairs is None else pairs
    if not n <= pairs <= left:
        raise EconalignError(f"--pairs must be between {n} (the first round: every outcome in two pairs) and {left} "
                             f"(the {every} pairs of {n} outcomes less {holdout} held out), got {pairs}")
    if rounds < 1:
        raise EconalignError(f"--rounds must be at least 1, got {rounds}")
    return Design(n, pairs, rounds, holdout)


def all_pairs(n: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def initial_pairs(n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """A random cycle through every outcome: n pairs, each outcome in two, all connected. (A random 2-regular graph,
    the reference's start, can fall into separate cycles; outcomes in different ones have no utility relative to
    each other, and the active rounds, which look for close pairs, need not join them.)"""
    order = rng.permutation(n)
    return [tuple(sorted((int(order[k]), int(order[(k + 1) % n])))) for k in range(n)]


def next_pairs(fit: Thurstonian, candidates: list[tuple[int, int]], degree: np.ndarray, m: int,
               rng: np.random.Generator) -> list[tuple[int, int]]:
    """m candidates the fit is least sure about, as emergent-values picks them: at random among those both in the
    closest CLOSE% (|mu_i - mu_j| / sqrt(sigma_i^2 + sigma_j^2); an outcome never compared counts as closest) and in
    the FEW% least compared, both shares widened WIDEN times until m qualify."""
    i, j = np.array(candidates).T
    closeness = np.nan_to_num(np.abs(fit.mu[i] - fit.mu[j]) / np.sqrt(fit.sigma[i] ** 2 + fit.sigma[j] ** 2), nan=0.0)
    load = degree[i] + degree[j]
    close, few = CLOSE, FEW
    while True:
        keep = (closeness <= np.percentile(closeness, close)) & (load <= np.percentile(load, few))
        if keep.sum() >= m or (close, few) == (100.0, 100.0):
            break
        close, few = min(close * WIDEN, 100.0), min(few * WIDEN, 100.0)
    picked = rng.choice(np.flatnonzero(keep), size=min(m, int(keep.sum())), replace=False)
    return [candidates[k] for k in sorted(picked)]


def split_evenly(total: int, parts: int) -> list[int]:
    edges = np.round(np.linspace(0, total, parts + 1)).astype(int)
    return np.diff(edges).tolist()


# ---------------------------------------------------------------- asking


def check_answerable(backend: Backend, outcomes: list[Outcome]) -> None:
    """A simulated agent answers money and lotteries only, and only those its preference can value; one clear
    error before any work otherwise."""
    from econalign.backends.sim import SimBackend

    if not isinstance(backend, SimBackend):
        return
    text = [o.text for o in outcomes if o.lottery is None]
    if text:
        more = f" and {len(text) - 1} more" if len(text) > 1 else ""
        raise EconalignError(f"{backend.name} answers money and lotteries only, not free text such as {text[0]!r}{more}; "
                             "use a language model")
    task = forced_choice.make(outcomes[0], outcomes[1])
    backend.check_tasks([task])
    for o in outcomes:
        try:
            backend.preference.value(o.lottery)
        except EconalignError:  # CRRA has no utility of a final wealth of $0 or less, and the wealth is $0
            raise EconalignError(f"{backend.name} cannot value {o.text!r}: its utility has no value at an amount of "
                                 "$0 or less; leave that outcome out or use a language model") from None


class Answerer:
    """Asks the pairs, keeping answers in chunks under a cache folder (a rerun reuses them). `named` (its name and
    settings key the saved answers) answers unless `load` is given: then the model is loaded the first time some
    answers are missing, so a run whose answers are all saved loads none."""

    def __init__(self, named: Backend, load=None, seed: int = 0, method: str = "logits"):
        if method not in METHODS:
            raise EconalignError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
        self.named, self.load, self.seed, self.method = named, load, seed, method
        self.backend = None if load else named
        self.load_s = None if load else 0.0

    def ask(self, outcomes: list[Outcome], pairs: list[tuple[int, int]], part: int, cache: Path,
            label: str) -> tuple[list, dict]:
        """Records of each pair in both orders (i listed first, then j), and the scoring figures. `part` numbers
        the batches of a run: each chunk of each batch samples with a seed of its own."""
        tasks = [forced_choice.make(outcomes[a], outcomes[b]) for i, j in pairs for a, b in ((i, j), (j, i))]
        key = resume_key(self.named, self.method, self.seed, tasks, CHUNK)
        if self.backend is None and left_to_do(len(tasks), cache, key, CHUNK):
            start = time.perf_counter()
            with status(f"loading {escape(self.named.name)}"):
                self.backend = self.load()
            self.load_s = time.perf_counter() - start
        def work(chunk: list, i: int, advance) -> list[dict]:
            seed = int(np.random.SeedSequence([self.seed, part, i]).generate_state(1)[0])
            return score_chunk(self.backend, chunk, self.method, seed, advance)

        return run_chunks(tasks, work, cache, key, f"{label} · {self.named.name}", CHUNK)


def pair_rows(outcomes: list[Outcome], pairs: list[tuple[int, int]], records: list[dict], split: str,
              round_: int | None) -> list[dict]:
    """One row per pair: P(a chosen) when listed first and when listed second, and their mean where both read."""
    rows = []
    for k, (i, j) in enumerate(pairs):
        first, second = records[2 * k], records[2 * k + 1]
        p_first = chosen(first)
        p_second = None if chosen(second) is None else 1.0 - chosen(second)
        known = [p for p in (p_first, p_second) if p is not None]
        masses = [r["mass"] for r in (first, second) if r["mass"] is not None]
        rows.append({"a": outcomes[i].id, "b": outcomes[j].id, "i": i, "j": j, "text_a": outcomes[i].text,
                     "text_b": outcomes[j].text, "split": split, "round": round_, "p_a_listed_first": p_first,
                     "p_a_listed_second": p_second, "p_a": float(np.mean(known)) if known else None,
                     "mass": float(np.mean(masses)) if masses else None})
    return rows


def chosen(record: dict) -> float | None:
    """P(option A) of an answer, None where unread (an unparsed answer, or no option sampled)."""
    y = record["y"]
    return None if y is None or not math.isfinite(y) else float(y)


def answered(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    rows = rows[rows["p_a"].notna()]
    return rows[["i", "j"]].to_numpy(dtype=int).reshape(-1, 2), rows["p_a"].to_numpy(dtype=float)


# ---------------------------------------------------------------- money and exchange rates


def crra_values(r: float, lotteries: list, lo: float, hi: float) -> np.ndarray:
    """Expected CRRA utility of each lottery at zero wealth, rescaled so that $lo is 0 and $hi is 1."""
    u = CRRA(r)
    x, p = stack(lotteries)
    ends = u.values(np.array([[lo], [hi]]), np.ones((2, 1)))
    return (u.values(x, p) - ends[0]) / (ends[1] - ends[0])


def crra_curve(outcomes: list[Outcome], pairs: np.ndarray, y: np.ndarray, mu: np.ndarray) -> dict | None:
    """CRRA r and noise fitted to the answered pairs between money outcomes whose every amount is positive (CRRA
    utility at r >= 1 has no value at $0), and the line that maps the fitted curve onto the Thurstonian means of
    the sure amounts; None without three such sure amounts or without a pair among them."""
    money = [k for k, o in enumerate(outcomes) if o.lottery is not None and min(o.lottery.outcomes) > 0]
    sure = [k for k in money if outcomes[k].amount is not None and np.isfinite(mu[k])]
    rows = np.isin(pairs, money).all(axis=1) if len(pairs) else np.zeros(0, dtype=bool)
    if len(sure) < 3 or not rows.any():
        return None
    lotteries = [(outcomes[i].lottery, outcomes[j].lottery) for i, j in pairs[rows]]
    est = estimate.fit("crra", Pairs.of(lotteries, 0.0), y[rows]).to_dict()
    amounts = [x for k in money for x in outcomes[k].lottery.outcomes]
    lo, hi = min(amounts), max(amounts)
    v = crra_values(est["params"]["r"]["value"], [outcomes[k].lottery for k in sure], lo, hi)
    slope, intercept = np.polyfit(v, mu[sure], 1)
    left_out = [o.text for o in outcomes if o.lottery is not None and min(o.lottery.outcomes) <= 0]
    return {"fit": est, "range": [lo, hi], "pairs": int(rows.sum()),
            "lottery_pairs": int(sum(len(a.outcomes) > 1 or len(b.outcomes) > 1 for a, b in lotteries)),
            "to_utility": {"slope": float(slope), "intercept": float(intercept)}, "left_out": left_out}


def money_order(outcomes: list[Outcome], mu: np.ndarray) -> dict | None:
    """Spearman correlation of the fitted utility with the amount, over the sure amounts (None under three)."""
    sure = [k for k, o in enumerate(outcomes) if o.amount is not None and np.isfinite(mu[k])]
    if len(sure) < 3:
        return None
    rho = spearmanr([outcomes[k].amount for k in sure], mu[sure]).statistic
    return {"amounts": len(sure), "spearman": nan_to_none(float(rho))}


def exchange_rates(outcomes: list[Outcome], mu: np.ndarray) -> dict | None:
    """The line mu = a + b·ln(quantity) of each kind with three or more quantities, and, for two or more such kinds,
    the rate of each against the reference kind (dollars where there are dollars, else the first kind listed): none
    where a line explains under FOLLOWS of its utilities' variance, or where the reference's does not rise."""
    kinds = {}
    for k, o in enumerate(outcomes):
        if o.kind is not None and np.isfinite(mu[k]):
            kinds.setdefault(o.kind, []).append(k)
    lines = {}
    for kind, members in kinds.items():
        q = np.array([outcomes[k].quantity for k in members])
        if len(set(q)) >= 3:
            b, a = np.polyfit(np.log(q), mu[members], 1)
            r2 = np.corrcoef(np.log(q), mu[members])[0, 1] ** 2
            lines[kind] = {"intercept": float(a), "slope": float(b), "r2": nan_to_none(float(r2)), "outcomes": len(q),
                           "quantities": [float(q.min()), float(q.max())], "middle": float(np.exp(np.log(q).mean()))}
    if len(lines) < 2:
        return None
    reference = "dollars" if "dollars" in lines else next(iter(lines))
    return {"reference": reference, "lines": lines,
            "rates": [rate(kind, line, reference, lines[reference]) for kind, line in lines.items() if kind != reference]}


def rate(kind: str, line: dict, reference: str, ref: dict) -> dict:
    """The quantity of the reference kind whose line reaches the utility of `kind` at its middle quantity."""
    utility = line["intercept"] + line["slope"] * math.log(line["middle"])
    entry = {"kind": kind, "quantity": line["middle"], "utility": utility, "reference_quantity": None,
             "per_unit": None, "extrapolated": None, "why_not": None}
    weak = [name for name, ln in ((reference, ref), (kind, line)) if (ln["r2"] or 0.0) < FOLLOWS]
    if weak:
        entry["why_not"] = f"utility does not follow the quantity of {weak[0]} (R² {lines_r2(ref if weak[0] == reference else line)})"
    elif ref["slope"] <= 0:
        entry["why_not"] = f"utility falls as {reference} rise"
    else:
        worth = math.exp((utility - ref["intercept"]) / ref["slope"])
        entry.update(reference_quantity=worth, per_unit=worth / line["middle"],
                     extrapolated=not ref["quantities"][0] <= worth <= ref["quantities"][1])
    return entry


def lines_r2(line: dict) -> str:
    return "—" if line["r2"] is None else f"{line['r2']:.2f}"


# ---------------------------------------------------------------- the run


def utilities(answerer: Answerer, outcomes: list[Outcome], design: Design, out: Path, source: str | None = None) -> dict:
    """Ask the pairs (initial, active rounds, held out; drawn with the answerer's seed), fit, and write summary.json,
    utilities.csv, pairs.csv, report.html and the plots into `out`; the summary."""
    from econalign.measure.utilities_report import write_report
    from econalign.measure.verdict import utilities_verdict

    start = time.perf_counter()
    rng = np.random.default_rng(answerer.seed)
    n = len(outcomes)
    batch = initial_pairs(n, rng)
    rest = sorted(set(all_pairs(n)) - set(batch))
    held = [rest[k] for k in sorted(rng.choice(len(rest), size=design.holdout, replace=False))]
    left = set(rest) - set(held)
    frames, records, scoring, fit_s, fit = [], [], [], 0.0, None
    degree = np.zeros(n, dtype=int)
    sizes = split_evenly(max(design.pairs - len(batch), 0), design.rounds)
    for round_ in range(design.rounds + 1):
        if round_:
            if not sizes[round_ - 1]:
                continue
            batch = next_pairs(fit, sorted(left), degree, sizes[round_ - 1], rng)
            left -= set(batch)
        got, figures = answerer.ask(outcomes, batch, round_, out / ".cache" / f"round-{round_}", f"utilities round {round_}")
        records += got
        scoring.append(figures)
        frames.append(pd.DataFrame(pair_rows(outcomes, batch, got, "fit", round_)))
        np.add.at(degree, np.array(batch).ravel(), 1)
        table = pd.concat(frames, ignore_index=True)
        check_answers(table, answerer.named.name, out)
        began = time.perf_counter()
        fit = fit_thurstonian(n, *answered(table))
        fit_s += time.perf_counter() - began
    got, figures = answerer.ask(outcomes, held, design.rounds + 1, out / ".cache" / "held-out", "utilities held out")
    records += got
    scoring.append(figures)
    table = pd.concat([table, pd.DataFrame(pair_rows(outcomes, held, got, "held-out", None))], ignore_index=True)
    train, test = answered(table[table.split == "fit"]), answered(table[table.split == "held-out"])
    table["predicted_p_a"] = fit.prob(table[["i", "j"]].to_numpy(dtype=int).reshape(-1, 2))
    began = time.perf_counter()
    curve = crra_curve(outcomes, *train, fit.mu)
    fit_s += time.perf_counter() - began
    summary = {
        "econalign_version": __version__,
        "command": "utilities",
        "model": answerer.named.name,
        "method": answerer.method,
        "seed": answerer.seed,
        "outcomes_file": source,
        "design": {"outcomes": n, "pairs": design.pairs, "rounds": design.rounds, "holdout": design.holdout,
                   "initial_pairs": int((table["round"] == 0).sum()), "fitted_pairs": int((table.split == "fit").sum()),
                   "prior_sds": {"means": PRIORS[0], "log_sigmas": PRIORS[1]}},
        "outcomes": outcome_entries(outcomes, fit, table),
        "fit": {"loglik": fit.loglik, "train": scores(fit, *train), "held_out": scores(fit, *test),
                "decisiveness": float(np.mean(np.abs(train[1] - 0.5)))},
        "money": money_order(outcomes, fit.mu),
        "estimates": {"crra": curve["fit"]} if curve else {},
        "crra_curve": curve and {k: v for k, v in curve.items() if k != "fit"},
        "exchange": exchange_rates(outcomes, fit.mu),
        "position_bias": position_bias(table, records),
        "answers": answers(records),
        "timings": timings(answerer.load_s, scoring, fit_s, start),
        "tokens": (answerer.backend or answerer.named).tally(),
    }
    summary["verdict"] = utilities_verdict(summary)
    write_text(out / "pairs.csv", table.drop(columns=["i", "j"]).to_csv(index=False))
    write_text(out / "utilities.csv", pd.DataFrame(summary["outcomes"]).to_csv(index=False))
    write_report(summary, out)
    write_json(out / "summary.json", summary)
    return summary


def check_answers(table: pd.DataFrame, model: str, out: Path) -> None:
    """Refuse to fit without two answered pairs; pairs.csv is written first, to see why."""
    if table["p_a"].notna().sum() >= 2:
        return
    write_text(out / "pairs.csv", table.drop(columns=["i", "j"]).to_csv(index=False))
    raise EconalignError(f"fewer than two pairs answered by {model} could be read ({int(table.p_a.isna().sum())} of "
                         f"{len(table)} unread; answers in {out / 'pairs.csv'}): nothing to fit")


def outcome_entries(outcomes: list[Outcome], fit: Thurstonian, table: pd.DataFrame) -> list[dict]:
    """One entry per outcome, in the file's order: what it is, its utility and sigma, and its answered pairs."""
    fitted = table[(table.split == "fit") & table.p_a.notna()]
    counts = np.bincount(fitted[["i", "j"]].to_numpy(dtype=int).ravel(), minlength=len(outcomes))
    return [{"id": o.id, "text": o.text, "type": kind_of(o), "kind": o.kind, "quantity": o.quantity,
             "amount": o.amount, "expected_value": o.lottery.expected_value if o.lottery else None,
             "mu": nan_to_none(fit.mu[k]), "sigma": nan_to_none(fit.sigma[k]), "pairs": int(counts[k])}
            for k, o in enumerate(outcomes)]


def kind_of(o: Outcome) -> str:
    return "free text" if o.lottery is None else "money" if o.amount is not None else "lottery"


def position_bias(table: pd.DataFrame, records: list[dict]) -> dict:
    """P(the first-listed option) over every answer (1/2 without a lean), and the mean gap between P(a) with a
    listed first and with a listed second over the pairs read in both orders."""
    first = [chosen(r) for r in records if chosen(r) is not None]
    both = table.dropna(subset=["p_a_listed_first", "p_a_listed_second"])
    gap = (both.p_a_listed_first - both.p_a_listed_second).abs().mean() if len(both) else None
    return {"p_first_listed": float(np.mean(first)) if first else None, "order_gap": nan_to_none(gap)}


def timings(load_s: float | None, scoring: list[dict], fit_s: float, start: float) -> dict:
    """The keys of a profile's timings (load_s None: no model loaded, every answer saved), and fit_s."""
    score_s = sum(s["score_s"] for s in scoring)
    items = sum(s["items_scored"] + s["items_resumed"] for s in scoring)
    return {"load_s": load_s, "score_s": score_s, "items_scored": sum(s["items_scored"] for s in scoring),
            "items_resumed": sum(s["items_resumed"] for s in scoring), "items_per_s": items / score_s if score_s else None,
            "fit_s": fit_s, "total_s": (load_s or 0.0) + time.perf_counter() - start}
