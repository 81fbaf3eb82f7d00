"""Revealed preference tests on price/quantity data: GARP, Afriat's CCEI and the Houtman–Maks index.

Data are n observations of k goods: prices p (n, k) and chosen bundles x (n, k). Observation i is
directly revealed preferred to j at efficiency e when e·p_i·x_i >= p_i·x_j (j was affordable at a
fraction e of i's spending), strictly when >. GARP fails for a pair (i, j) when i is revealed
preferred to j through a chain of direct relations (the transitive closure, by Warshall's
algorithm) while j is strictly directly revealed preferred to i.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from econalign import EconalignError

TOL = 1e-9  # relative: a bundle on the budget line (up to rounding) is affordable, not strictly cheaper


@dataclass(frozen=True)
class Data:
    prices: np.ndarray
    bundles: np.ndarray

    @classmethod
    def of(cls, prices, bundles) -> Data:
        p, x = np.asarray(prices, dtype=float), np.asarray(bundles, dtype=float)
        if p.ndim != 2 or p.shape != x.shape or not len(p):
            raise EconalignError(f"prices and bundles must be (n, k) arrays of one shape, got {p.shape} and {x.shape}")
        if not (np.all(np.isfinite(p)) and np.all(np.isfinite(x))) or np.any(p <= 0) or np.any(x < 0):
            raise EconalignError("prices must be positive and bundles non-negative (finite numbers)")
        return cls(p, x)

    def cost_ratios(self) -> np.ndarray:
        """[i, j] = p_i·x_j / p_i·x_i: what j's bundle cost at i's prices, as a share of i's spending."""
        cost = self.prices @ self.bundles.T
        return cost / np.diag(cost)[:, None]

    def subset(self, keep: np.ndarray) -> Data:
        return Data(self.prices[keep], self.bundles[keep])


def closure(direct: np.ndarray) -> np.ndarray:
    """Transitive closure of a boolean relation (Warshall)."""
    reach = direct.copy()
    for k in range(len(reach)):
        reach |= reach[:, k : k + 1] & reach[k : k + 1, :]
    return reach


def relations(data: Data, e: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(revealed preferred, directly strictly revealed preferred) at efficiency e."""
    ratio = data.cost_ratios()
    weak = ratio <= e * (1 + TOL)
    strict = ratio < e * (1 - TOL)
    return closure(weak), strict


def violations(data: Data, e: float = 1.0) -> np.ndarray:
    """Boolean (n, n): [i, j] where i is revealed preferred to j and j strictly directly to i."""
    revealed, strict = relations(data, e)
    return revealed & strict.T


def garp_violations(data: Data, e: float = 1.0) -> int:
    """Number of ordered pairs (i, j) that violate GARP at efficiency e (each violating pair counted once per order)."""
    return int(violations(data, e).sum())


def satisfies_garp(data: Data, e: float = 1.0) -> bool:
    return not violations(data, e).any()


def ccei(data: Data) -> float:
    """Afriat's critical cost efficiency index: the supremum of e in [0, 1] at which GARP holds.

    Exact: the relations only change where e crosses a cost ratio p_i·x_j / p_i·x_i, so GARP is tested
    between consecutive ratios (bisection over the sorted ratios) and the index is the ratio at which it
    first fails.
    """
    if satisfies_garp(data):
        return 1.0
    ratio = data.cost_ratios()
    cuts = np.unique(ratio[(ratio < 1) & ~np.eye(len(ratio), dtype=bool)])
    cuts = np.concatenate([[0.0], cuts, [1.0]])
    lo, hi = 0, len(cuts) - 1  # GARP holds just above cuts[lo] and fails just above cuts[hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if satisfies_garp(data, (cuts[mid] + cuts[mid + 1]) / 2):
            lo = mid
        else:
            hi = mid
    return float(cuts[hi])


def indices(data: Data) -> dict:
    """The figures of all three tests on one data set: observations, ordered pairs, GARP violations, CCEI and
    the Houtman–Maks index."""
    n = len(data.prices)
    return {"observations": n, "pairs": n * (n - 1), "garp_violations": garp_violations(data), "ccei": ccei(data),
            "houtman_maks": houtman_maks(data)[0]}


def houtman_maks(data: Data) -> tuple[float, np.ndarray]:
    """The share of observations in the largest GARP-consistent subset, and that subset (a boolean mask).

    Exact: an integer program (scipy's HiGHS) keeps the most observations subject to dropping at least one
    of each GARP cycle found so far; cycles of the kept set are added until it satisfies GARP.
    """
    n = len(data.prices)
    keep = np.ones(n, dtype=bool)
    cycles: list[np.ndarray] = []
    while True:
        found = [np.flatnonzero(keep)[c] for c in violating_cycles(data.subset(keep))]
        if not found:
            return float(keep.sum() / n), keep
        cycles += found
        rows = np.zeros((len(cycles), n))
        for row, cycle in zip(rows, cycles):
            row[cycle] = 1
        # a cycle on m observations keeps at most m - 1 of them
        res = milp(-np.ones(n), integrality=np.ones(n), bounds=Bounds(0, 1),
                   constraints=LinearConstraint(rows, -np.inf, rows.sum(axis=1) - 1))
        keep = np.round(res.x).astype(bool)


def violating_cycles(data: Data) -> list[np.ndarray]:
    """One cycle of observations per violating pair (i, j): the shortest chain of direct relations from i
    to j, closed by j's strict relation to i."""
    ratio = data.cost_ratios()
    weak = (ratio <= 1 + TOL) & ~np.eye(len(ratio), dtype=bool)
    out = {}
    for i, j in zip(*np.nonzero(violations(data))):
        cycle = tuple(sorted(shortest_path(weak, i, j)))
        out[cycle] = np.array(cycle)
    return list(out.values())


def shortest_path(edges: np.ndarray, start: int, end: int) -> list[int]:
    """Nodes of a shortest path start -> end along boolean edges (breadth first); end must be reachable."""
    parent = {start: start}
    frontier = [start]
    while end not in parent:
        nxt = []
        for u in frontier:
            for v in np.flatnonzero(edges[u]):
                if v not in parent:
                    parent[v] = u
                    nxt.append(v)
        frontier = nxt
    path = [end]
    while path[-1] != start:
        path.append(parent[path[-1]])
    return path
