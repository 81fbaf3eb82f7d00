"""The backend interface and the `--model` resolver."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from econalign import EconalignError
from econalign.tasks.base import Task

Progress = Callable[[int], None]  # called with the number of items just finished


@dataclass
class ChoiceScores:
    """probs[i, j]: probability of task i's option j, renormalised over the options (0 past the
    last option of a task with fewer options than others);
    mass[i]: the options' share of the full next-token distribution (1 for agents that
    can only answer with an option)."""

    probs: np.ndarray
    mass: np.ndarray


class Backend(ABC):
    name: str

    @abstractmethod
    def choice_scores(self, tasks: list[Task], progress: Progress | None = None) -> ChoiceScores:
        """Choice probabilities over each task's options."""

    @abstractmethod
    def generate(
        self, tasks: list[Task], max_new_tokens: int = 64, seed: int = 0, progress: Progress | None = None,
        temperature: float = 0.0,
    ) -> list[str]:
        """Free-text answers (greedy at temperature 0), to be parsed by the task family."""

    def settings(self) -> dict:
        """What, besides the name, changes this backend's answers (resume keys include it)."""
        return {}

    def render(self, task: Task) -> str:
        """The task as the raw text a language model continues."""
        raise EconalignError(f"{self.name} answers tasks directly; it does not continue text")

    def complete(
        self, texts: list[str], max_new_tokens: int = 256, stop: list[str] | None = None, temperature: float = 0.0,
        seed: int = 0, progress: Progress | None = None,
    ) -> list[str]:
        """Raw-text continuations, each ending right after the first stop string it reaches."""
        raise EconalignError(f"{self.name} answers tasks directly; it does not continue text")


def load_backend(model: str, batch_size: int = 16, base_url: str | None = None, weights: bool = True) -> Backend:
    """`sim:<preference spec>[,noise=...]`, `openai:NAME` (an OpenAI-compatible endpoint at `base_url`, else
    $OPENAI_BASE_URL, else OpenAI's), `default`, or any Hugging Face model id or local path.
    weights=False leaves a local model unloaded: it has its name and settings (what resume keys need),
    at once, and cannot answer."""
    if model.startswith("openai:"):
        from econalign.backends.openai_api import OpenAIBackend

        return OpenAIBackend(model.removeprefix("openai:"), base_url=base_url)
    if base_url:
        raise EconalignError(f"a base URL is for openai:NAME models, not {model!r}")
    if model.startswith("sim:"):
        from econalign.backends.sim import SimBackend

        return SimBackend.from_spec(model)
    from econalign.backends.hf import HFBackend

    if not weights:
        return HFBackend(None, None, name=model, batch_size=batch_size)
    return HFBackend.load(model, batch_size=batch_size)
