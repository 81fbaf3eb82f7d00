"""Simulated agents: answer from a preference model with logit noise.

`sim:crra:r=2,noise=0.1` chooses between lotteries (and among the allocations of a budget),
`sim:moralis:kappa=0.5,noise=0.1` among the options of games, all by contextual-utility logit (see
preferences/choice.py).
They validate the measurement pipeline: profiling one must recover its parameters.
"""

from __future__ import annotations

import numpy as np

from econalign import EconalignError
from econalign.backends.base import Backend, ChoiceScores
from econalign.preferences.base import RiskPreference
from econalign.preferences.choice import (
    Menus,
    Pairs,
    choice_probabilities,
    lottery_menu_probabilities,
    menu_probabilities,
)
from econalign.preferences.social import SocialPreference
from econalign.preferences.spec import parse_preference, split_params
from econalign.tasks.base import Task

AGENT_KEYS = {"noise": 0.1}


class SimBackend(Backend):
    def __init__(self, preference, noise: float = 0.1):
        if noise < 0:
            raise EconalignError(f"noise must be >= 0, got {noise}")
        if not isinstance(preference, RiskPreference | SocialPreference):
            raise EconalignError(f"simulated agents need a risk or social preference, got {preference.spec()}")
        self.preference, self.noise = preference, float(noise)
        self.name = f"sim:{preference.spec()},noise={self.noise:g}"

    @classmethod
    def from_spec(cls, spec: str) -> SimBackend:
        """Agent keys (noise=...) may follow the preference spec, comma-separated."""
        pieces = [p.strip() for p in spec.removeprefix("sim:").split(",")]
        agent = [p for p in pieces if p.partition("=")[0].strip().lower() in AGENT_KEYS]
        pref = ",".join(p for p in pieces if p not in agent)
        if not pref:
            raise EconalignError(f"{spec!r} names no preference; e.g. sim:crra:r=2,noise=0.1")
        return cls(parse_preference(pref), **{**AGENT_KEYS, **split_params(",".join(agent))})

    def check_tasks(self, tasks: list[Task]) -> None:
        from econalign.tasks import FAMILIES

        wanted = {getattr(FAMILIES[t.family], "PREFERENCE", RiskPreference) for t in tasks}
        if any(not isinstance(self.preference, kind) for kind in wanted):
            raise EconalignError(f"{self.name} cannot answer {', '.join(sorted({t.family for t in tasks}))} tasks")

    def option_probs(self, tasks: list[Task]) -> np.ndarray:
        """(n, most options) choice probabilities, 0 past each task's last option."""
        from econalign.tasks import social

        self.check_tasks(tasks)
        if isinstance(self.preference, SocialPreference):
            menus = Menus.of([list(social.options(t).values()) for t in tasks])
            return menu_probabilities(self.preference.weights(), menus, self.noise)
        sizes = {len(t.options) for t in tasks}
        if sizes != {2}:  # menus of lotteries (budget allocations): one softmax over each menu
            if len(sizes) > 1:
                raise EconalignError(f"{self.name} scores menus of one size at a time, got sizes {sorted(sizes)}")
            menus = [[t.lotteries()[o] for o in t.options] for t in tasks]
            return lottery_menu_probabilities(self.preference, menus, [t.wealth for t in tasks], self.noise)
        pairs = [tuple(t.lotteries()[o] for o in t.options) for t in tasks]
        p = choice_probabilities(self.preference, Pairs.of(pairs, [t.wealth for t in tasks]), self.noise)
        return np.column_stack([p, 1.0 - p])

    def choice_scores(self, tasks, progress=None):
        probs = self.option_probs(tasks)
        if progress:
            progress(len(tasks))
        return ChoiceScores(probs=probs, mass=np.ones(len(tasks)))

    def generate(self, tasks, max_new_tokens=64, seed=0, progress=None, temperature=0.0):  # always samples
        from econalign.tasks import budget

        rng = np.random.default_rng(seed)
        if all(t.family == budget.FAMILY for t in tasks):  # budgets are answered with an amount, off the lettered grid
            self.check_tasks(tasks)
            answers = [budget.answer(t, self.preference, self.noise, rng) for t in tasks]
        else:
            answers = [t.options[rng.choice(len(t.options), p=p[: len(t.options)])]
                       for t, p in zip(tasks, self.option_probs(tasks))]
        if progress:
            progress(len(tasks))
        return answers
