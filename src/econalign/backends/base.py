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


@dataclass
class Usage:
    """The requests a backend made of an API and their tokens, as the server reported them in `usage`.
    requests: responses received; cached: requests answered from the disk cache, at no cost;
    unreported: responses without token counts, which make the totals unknown."""

    tokens_in: int = 0
    tokens_out: int = 0
    requests: int = 0
    cached: int = 0
    unreported: int = 0

    def add(self, response: dict | None) -> None:
        """Counts one request: a response received, or None for one read from the cache."""
        if response is None:
            self.cached += 1
            return
        self.requests += 1
        reported = response.get("usage") or {}
        tokens = reported.get("prompt_tokens"), reported.get("completion_tokens")
        if all(isinstance(n, int) and n >= 0 for n in tokens):
            self.tokens_in += tokens[0]
            self.tokens_out += tokens[1]
        else:
            self.unreported += 1

    def entry(self, prices: tuple[float, float] | None) -> dict:
        """The `tokens` entry of a summary, with the estimated cost at `prices` (USD per million tokens in
        and out); tokens and cost are None (unknown) when any response carried no counts."""
        known = not self.unreported
        tokens_in, tokens_out = (self.tokens_in, self.tokens_out) if known else (None, None)
        return {
            "in": tokens_in, "out": tokens_out, "requests": self.requests, "cached": self.cached,
            "unreported": self.unreported,
            "usd_per_million": {"in": prices[0], "out": prices[1]} if prices else None,
            "cost_usd": (tokens_in * prices[0] + tokens_out * prices[1]) / 1e6 if known and prices else None,
        }


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

    def check_tasks(self, tasks: list[Task]) -> None:
        """Refuse, in one clear error, tasks this backend cannot answer: cheap, so callers run it before any
        output is written. A language model answers any task."""

    def tally(self) -> dict | None:
        """The `tokens` entry of a summary: the API requests made since the last tally (or since the
        backend was made) and their cost; None for backends that call no API."""
        return None

    def render(self, task: Task) -> str:
        """The task as the raw text a language model continues."""
        raise EconalignError(f"{self.name} answers tasks directly; it does not continue text")

    def complete(
        self, texts: list[str], max_new_tokens: int = 256, stop: list[str] | None = None, temperature: float = 0.0,
        seed: int = 0, progress: Progress | None = None,
    ) -> list[str]:
        """Raw-text continuations, each ending right after the first stop string it reaches."""
        raise EconalignError(f"{self.name} answers tasks directly; it does not continue text")

    def converse(
        self, texts: list[str], respond: Callable[[int, str], str | None], max_new_tokens: int = 256,
        stop: list[str] | None = None, temperature: float = 0.0, seed: int = 0,
    ) -> None:
        """Multi-turn continuations: each time text i's continuation ends (a stop string, the token limit, the
        end of text), `respond(i, continuation)` answers with text to append before generation resumes, or None
        to end it. Here turn by turn, every unfinished text continued as one `complete` call."""
        texts, active, turn = list(texts), list(range(len(texts))), 0
        while active:
            outputs = self.complete([texts[i] for i in active], max_new_tokens, stop=stop, temperature=temperature,
                                    seed=seed + turn)
            answers = [(i, out, respond(i, out)) for i, out in zip(active, outputs)]
            active = [i for i, _, answer in answers if answer is not None]
            for i, out, answer in answers:
                if answer is not None:
                    texts[i] += out + answer
            turn += 1


def load_backend(model: str, batch_size: int = 16, base_url: str | None = None,
                 prices: tuple[float, float] | None = None, weights: bool = True) -> Backend:
    """`sim:<preference spec>[,noise=...]`, `openai:NAME` (an OpenAI-compatible endpoint at `base_url`, else
    $OPENAI_BASE_URL, else OpenAI's; `prices` in USD per million tokens in and out, for the cost in
    summaries), `default`, or any Hugging Face model id or local path. weights=False leaves a local
    model unloaded: it has its name and settings (what resume keys need), at once, and cannot answer."""
    if model.startswith("openai:"):
        from econalign.backends.openai_api import OpenAIBackend

        return OpenAIBackend(model.removeprefix("openai:"), base_url=base_url, prices=prices)
    if base_url:
        raise EconalignError(f"a base URL is for openai:NAME models, not {model!r}")
    if prices:
        raise EconalignError(f"token prices are for openai:NAME models, not {model!r}")
    if model.startswith("sim:"):
        from econalign.backends.sim import SimBackend

        return SimBackend.from_spec(model)
    from econalign.backends.hf import HFBackend

    if not weights:
        return HFBackend(None, None, name=model, batch_size=batch_size)
    return HFBackend.load(model, batch_size=batch_size)
