"""Social preferences over payoff profiles: homo moralis and Fehr–Schmidt inequity aversion.

A game action is a `SocialOption`: the lottery over payoff profiles it leads to (player 0 is
the chooser, the others' behaviour as stated in the task) and the chooser's Kantian payoff,
the per-capita payoff if everyone in the interaction acted like the chooser (Alger & Weibull's
π(x, x); in games with distinct roles, the expected payoff behind the veil of who plays which
role). Both preferences are linear in four features of an option, which makes estimation a
multinomial logit (preferences/choice.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from econalign import EconalignError
from econalign.preferences.base import spec_number

FEATURES = ("own", "kantian", "envy", "guilt")


@dataclass(frozen=True)
class SocialOption:
    profiles: tuple[tuple[float, tuple[float, ...]], ...]  # (probability, payoff of each player)
    kantian: float

    def __post_init__(self):
        probs = [p for p, _ in self.profiles]
        if not probs or min(probs) < 0 or abs(sum(probs) - 1.0) > 1e-9:
            raise EconalignError(f"profile probabilities must be >= 0 and sum to 1, got {probs}")
        if any(len(x) < 2 for _, x in self.profiles):
            raise EconalignError("a payoff profile needs at least two players")

    @classmethod
    def sure(cls, payoffs: Sequence[float], kantian: float) -> SocialOption:
        return cls(((1.0, tuple(map(float, payoffs))),), float(kantian))

    @classmethod
    def from_dict(cls, d: dict) -> SocialOption:
        return cls(tuple((float(p), tuple(map(float, x))) for p, x in d["profiles"]), float(d["kantian"]))

    def to_dict(self) -> dict:
        return {"profiles": [[p, list(x)] for p, x in self.profiles], "kantian": self.kantian}

    def features(self) -> np.ndarray:
        """Expected own payoff, Kantian payoff, and the expected envy and guilt terms (averaged over n-1)."""
        own = envy = guilt = 0.0
        for p, x in self.profiles:
            x = np.asarray(x, dtype=float)
            gap = x[1:] - x[0]
            own += p * x[0]
            envy += p * np.maximum(gap, 0.0).sum() / gap.size
            guilt += p * np.maximum(-gap, 0.0).sum() / gap.size
        return np.array([own, self.kantian, envy, guilt])

    def payoffs(self) -> list[float]:
        return [v for _, x in self.profiles for v in x]


def moralis_weights(kappa: float) -> np.ndarray:
    return np.array([1.0 - kappa, kappa, 0.0, 0.0])


def fs_weights(alpha: float, beta: float) -> np.ndarray:
    return np.array([1.0, 0.0, -alpha, -beta])


class SocialPreference(ABC):
    """Utility of a social option: `weights()` · the option's features."""

    name: str = "social"

    @abstractmethod
    def weights(self) -> np.ndarray: ...

    @abstractmethod
    def params(self) -> dict[str, float]: ...

    def value(self, option: SocialOption) -> float:
        return float(option.features() @ self.weights())

    def spec(self) -> str:
        ps = ",".join(f"{k}={spec_number(v)}" for k, v in self.params().items())
        return f"{self.name}:{ps}"


class HomoMoralis(SocialPreference):
    """Alger & Weibull (2013): U(x, y) = (1-κ)·π(x, y) + κ·π(x, x).

    π(x, y) is the material payoff of playing x against y; κ = 0 is homo economicus,
    κ = 1 homo kantiensis (acts as if everyone played like them).
    """

    name = "moralis"

    def __init__(self, kappa: float):
        if not 0.0 <= kappa <= 1.0:
            raise EconalignError(f"homo moralis needs kappa in [0, 1], got {kappa}")
        self.kappa = float(kappa)

    def params(self):
        return {"kappa": self.kappa}

    def weights(self) -> np.ndarray:
        return moralis_weights(self.kappa)

    def utility(self, payoff: Callable[[object, object], float], own, other) -> float:
        return (1.0 - self.kappa) * payoff(own, other) + self.kappa * payoff(own, own)

    def expected_utility(self, payoff, own, others: Sequence, probs: Sequence[float]) -> float:
        """Expected utility of `own` against a mixed strategy of the other player."""
        return float(sum(p * self.utility(payoff, own, y) for y, p in zip(others, probs)))



class FehrSchmidt(SocialPreference):
    """Fehr & Schmidt (1999): U_i = x_i - α/(n-1)·Σ max(x_j - x_i, 0) - β/(n-1)·Σ max(x_i - x_j, 0)."""

    name = "fs"

    def __init__(self, alpha: float, beta: float):
        if not 0.0 <= beta < 1.0:
            raise EconalignError(f"Fehr-Schmidt needs 0 <= beta < 1, got beta={beta}")
        if not alpha >= beta:  # also refuses alpha = nan
            raise EconalignError(f"Fehr-Schmidt needs alpha >= beta, got alpha={alpha}, beta={beta}")
        self.alpha, self.beta = float(alpha), float(beta)

    def params(self):
        return {"alpha": self.alpha, "beta": self.beta}

    def weights(self) -> np.ndarray:
        return fs_weights(self.alpha, self.beta)

    def utility(self, payoffs: Sequence[float], i: int = 0) -> float:
        x = np.asarray(payoffs, dtype=float)
        if x.size < 2:
            raise EconalignError("inequity aversion needs payoffs of at least two players")
        others = np.delete(x, i)
        envy = np.maximum(others - x[i], 0.0).sum()
        guilt = np.maximum(x[i] - others, 0.0).sum()
        return float(x[i] - (self.alpha * envy + self.beta * guilt) / (x.size - 1))

    def expected_utility(self, profiles: Sequence[Sequence[float]], probs: Sequence[float], i: int = 0) -> float:
        return float(sum(p * self.utility(x, i) for x, p in zip(profiles, probs)))
