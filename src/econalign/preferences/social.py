"""Social preferences over payoff profiles: homo moralis and Fehr–Schmidt inequity aversion."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from econalign import EconalignError
from econalign.preferences.base import spec_number


class HomoMoralis:
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

    def utility(self, payoff: Callable[[object, object], float], own, other) -> float:
        return (1.0 - self.kappa) * payoff(own, other) + self.kappa * payoff(own, own)

    def expected_utility(self, payoff, own, others: Sequence, probs: Sequence[float]) -> float:
        """Expected utility of `own` against a mixed strategy of the other player."""
        return float(sum(p * self.utility(payoff, own, y) for y, p in zip(others, probs)))

    def spec(self) -> str:
        return f"moralis:kappa={spec_number(self.kappa)}"


class FehrSchmidt:
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

    def spec(self) -> str:
        return f"fs:alpha={spec_number(self.alpha)},beta={spec_number(self.beta)}"
