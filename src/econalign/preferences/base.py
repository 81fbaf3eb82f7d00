"""Lotteries and the interface every risk preference implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from econalign import EconalignError


@dataclass(frozen=True)
class Lottery:
    """Money outcomes (changes to wealth) with their probabilities."""

    outcomes: tuple[float, ...]
    probs: tuple[float, ...]

    def __post_init__(self):
        if len(self.outcomes) != len(self.probs) or not self.outcomes:
            raise EconalignError("a lottery needs as many probabilities as outcomes (at least one)")
        p = np.asarray(self.probs, dtype=float)
        if np.any(~np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
            raise EconalignError(f"lottery probabilities must lie in [0, 1], got {list(self.probs)}")
        if abs(p.sum() - 1.0) > 1e-9:
            raise EconalignError(f"lottery probabilities must sum to 1, got {p.sum():.6g}")
        if not np.all(np.isfinite(self.outcomes)):
            raise EconalignError("lottery outcomes must be finite numbers")

    @classmethod
    def sure(cls, amount: float) -> Lottery:
        return cls((float(amount),), (1.0,))

    @classmethod
    def binary(cls, p: float, high: float, low: float = 0.0) -> Lottery:
        """`high` with probability p, otherwise `low`."""
        if not 0.0 <= p <= 1.0:
            raise EconalignError(f"probability must lie in [0, 1], got {p}")
        return cls((float(high), float(low)), (float(p), 1.0 - float(p)))

    def to_list(self) -> list[list[float]]:
        return [[x, p] for x, p in zip(self.outcomes, self.probs)]

    @classmethod
    def from_list(cls, pairs) -> Lottery:
        return cls(tuple(float(x) for x, _ in pairs), tuple(float(p) for _, p in pairs))

    @property
    def expected_value(self) -> float:
        return float(np.dot(self.outcomes, self.probs))


def spec_number(v: float) -> str:
    """Shortest text that parses back to exactly v: `2`, `0.88`, but `0.3333333333333333`, not `0.333333`."""
    short = f"{v:g}"
    return short if float(short) == v else repr(float(v))


def stack(lotteries) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes and probabilities as (n, k) arrays; shorter lotteries repeat their last outcome with p = 0."""
    k = max(len(lot.outcomes) for lot in lotteries)
    pad = [(lot.outcomes + lot.outcomes[-1:] * (k - len(lot.outcomes)), lot.probs + (0.0,) * (k - len(lot.probs)))
           for lot in lotteries]
    return np.array([o for o, _ in pad], dtype=float), np.array([p for _, p in pad], dtype=float)


class RiskPreference(ABC):
    """A preference over lotteries of money.

    `values` is the preference's index of many lotteries at once (expected utility, or the
    prospect-theory value), vectorised for estimation; `certainty_equivalent` is the sure change
    of wealth with the same index.
    """

    name: str = "preference"

    @abstractmethod
    def values(self, outcomes: np.ndarray, probs: np.ndarray, wealth=0.0) -> np.ndarray:
        """Index of each row of (n, k) outcomes/probs; wealth is a scalar or (n,) array."""

    @abstractmethod
    def value_inverse(self, v, wealth=0.0):
        """The sure amount whose value is v (vectorised)."""

    def value(self, lottery: Lottery, wealth: float = 0.0) -> float:
        x, p = stack([lottery])
        return float(self.values(x, p, wealth)[0])

    @abstractmethod
    def params(self) -> dict[str, float]: ...

    def certainty_equivalent(self, lottery: Lottery, wealth: float = 0.0) -> float:
        return float(self.value_inverse(self.value(lottery, wealth), wealth))

    def spec(self) -> str:
        """Round-trips through `parse_preference`."""
        ps = ",".join(f"{k}={spec_number(v)}" for k, v in self.params().items())
        return f"{self.name}:{ps}" if ps else self.name

    def __repr__(self) -> str:
        return self.spec()
