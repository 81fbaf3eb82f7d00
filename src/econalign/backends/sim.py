"""Simulated agents: answer from a preference model with logit noise.

`sim:crra:r=2,noise=0.1` chooses by contextual-utility logit (see preferences/choice.py).
They validate the measurement pipeline: profiling one must recover its parameters.
"""

from __future__ import annotations

import numpy as np

from econalign import EconalignError
from econalign.backends.base import Backend, ChoiceScores
from econalign.preferences.base import RiskPreference
from econalign.preferences.choice import Pairs, choice_probabilities
from econalign.preferences.spec import parse_preference, split_params
from econalign.tasks.base import Task

AGENT_KEYS = {"noise": 0.1}


class SimBackend(Backend):
    def __init__(self, preference, noise: float = 0.1):
        if noise < 0:
            raise EconalignError(f"noise must be >= 0, got {noise}")
        if not isinstance(preference, RiskPreference):
            raise EconalignError(f"simulated agents choose between lotteries; {preference.spec()} is not a risk preference")
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

    def first_option_probs(self, tasks: list[Task]) -> np.ndarray:
        pairs = []
        for t in tasks:
            lots = t.lotteries()
            if len(lots) != 2:
                raise EconalignError(f"simulated agents answer two-option tasks; {t.id} has {len(lots)}")
            pairs.append(tuple(lots[o] for o in t.options))
        return choice_probabilities(self.preference, Pairs.of(pairs, [t.wealth for t in tasks]), self.noise)

    def choice_scores(self, tasks, progress=None):
        p = self.first_option_probs(tasks)
        if progress:
            progress(len(tasks))
        return ChoiceScores(probs=np.column_stack([p, 1.0 - p]), mass=np.ones(len(tasks)))

    def generate(self, tasks, max_new_tokens=64, seed=0, progress=None):
        draws = np.random.default_rng(seed).random(len(tasks))
        answers = [t.options[int(u >= p)] for t, u, p in zip(tasks, draws, self.first_option_probs(tasks))]
        if progress:
            progress(len(tasks))
        return answers
