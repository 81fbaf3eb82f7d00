"""Any OpenAI-compatible endpoint (OpenAI, vLLM, `econalign serve`) as a backend: `openai:NAME`.

choice_scores reads the top log-probabilities of the reply's first token and scores options as
HFBackend does; where a server gives no log-probabilities, or none of the returned tokens begins an
option, `samples` sampled replies are parsed and counted instead. Requests run `concurrency` at a
time; 429, 5xx and connection failures are retried with exponential backoff. Every response is
cached on disk under a hash of the request (base URL, endpoint, model, messages or prompt and all
sampling parameters), so a re-run costs nothing and an interrupted run resumes where it stopped.
The tokens of every request sent are summed from the server's `usage` (see `tally`); requests
answered from the cache are counted apart, at no cost.

Agent rollouts and pricing continue raw text (render, complete) through the completions endpoint.
An API does not expose its chat template, so `render` writes the task as a plain role-labelled
transcript; that suits base models and servers of local models, not chat-only APIs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import openai

from econalign import EconalignError
from econalign.backends.base import Backend, ChoiceScores, Usage
from econalign.io import read_json, write_text
from econalign.tasks.base import Task

DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "none"  # local servers want no key, but the client insists on one
SAMPLE_TOKENS = 32  # a short reply, as profile's generate method allows
RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)


def default_cache_dir() -> Path:
    from econalign.backends.default_model import cache_dir

    return cache_dir() / "api-cache"


class OpenAIBackend(Backend):
    def __init__(
        self, model: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
        cache_dir: Path | None = None, concurrency: int = 8, retries: int = 5, backoff: float = 1.0,
        samples: int = 20, top_logprobs: int = 20, timeout: float = 120.0, prices: tuple[float, float] | None = None,
    ):
        if not model:
            raise EconalignError("openai: needs a model name, e.g. openai:gpt-4o-mini")
        if prices and not all(math.isfinite(p) and p >= 0 for p in prices):
            raise EconalignError(f"token prices must be finite and at least 0 (USD per million tokens), got "
                                 f"{prices[0]:g} in, {prices[1]:g} out")
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.name = f"openai:{model}@{urlparse(self.base_url).netloc or self.base_url}"
        key = os.environ.get(api_key_env)
        if not key and self.base_url == DEFAULT_BASE_URL:
            raise EconalignError(f"{self.name} needs an API key: set {api_key_env}, or pass a local server's base URL")
        # The client's own retries are off: ours are bounded, testable and end in one clear error.
        self.client = openai.OpenAI(base_url=self.base_url, api_key=key or NO_KEY, max_retries=0, timeout=timeout)
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.concurrency, self.retries, self.backoff = concurrency, retries, backoff
        self.samples, self.top_logprobs = samples, top_logprobs
        self.prices, self.usage, self.usage_lock = prices, Usage(), threading.Lock()  # requests run in threads

    def request(self, endpoint: str, body: dict) -> dict:
        """The JSON response of `endpoint` ("chat" or "completions") to `body`, from the cache if asked before."""
        body = {"model": self.model, **body}
        key = hashlib.sha256(json.dumps([self.base_url, endpoint, body], sort_keys=True).encode()).hexdigest()
        path = self.cache_dir / key[:2] / f"{key}.json"
        if path.exists():
            self.count(None)
            return read_json(path)
        text = self.send(endpoint, body)
        try:
            response = json.loads(text)
        except json.JSONDecodeError:
            raise EconalignError(f"{self.name} answered with something other than JSON") from None
        self.count(response)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, text)  # as received: no second encoding of vocabulary-sized log-probability lists
        return response

    def count(self, response: dict | None) -> None:
        with self.usage_lock:
            self.usage.add(response)

    def tally(self) -> dict:
        with self.usage_lock:
            usage, self.usage = self.usage, Usage()
        return usage.entry(self.prices)

    def send(self, endpoint: str, body: dict) -> str:
        """The response text to one request, retried after 429, 5xx and connection failures, waiting
        backoff·2^k seconds."""
        resource = self.client.chat.completions if endpoint == "chat" else self.client.completions
        for attempt in itertools.count():
            try:
                return resource.with_raw_response.create(**body).text
            except RETRYABLE as exc:
                if attempt >= self.retries:
                    raise EconalignError(f"{self.name} failed {attempt + 1} times, last: {describe(exc)}") from None
                time.sleep(self.backoff * 2**attempt)
            except openai.APIStatusError as exc:
                raise EconalignError(f"{self.name} refused the request: {describe(exc)}") from None

    def each(self, work, items: list, progress=None) -> list:
        """work(item) for every item, `concurrency` at a time, in item order."""
        pool = ThreadPoolExecutor(self.concurrency)
        results = []
        try:
            for result in pool.map(work, items):
                results.append(result)
                if progress:
                    progress(1)
        finally:
            pool.shutdown(cancel_futures=True)
        return results

    def choice_scores(self, tasks, progress=None):
        probs = np.zeros((len(tasks), max((len(t.options) for t in tasks), default=2)))
        mass = np.zeros(len(tasks))
        for i, (p, m) in enumerate(self.each(self.option_scores, tasks, progress)):
            probs[i, : len(p)], mass[i] = p, m
        return ChoiceScores(probs=probs, mass=mass)

    def option_scores(self, task: Task) -> tuple[np.ndarray, float]:
        """(P(each option), the options' mass): from first-token log-probabilities where possible."""
        response = self.request("chat", {
            "messages": task.messages(), "max_tokens": 1, "temperature": 0, "logprobs": True,
            "top_logprobs": self.top_logprobs,
        })
        logprobs = (response["choices"][0].get("logprobs") or {}).get("content")
        option_logp = first_token_scores(task.options, logprobs[0]["top_logprobs"]) if logprobs else None
        if option_logp is None:
            return self.sampled_scores(task)
        return np.exp(option_logp - np.logaddexp.reduce(option_logp)), float(np.exp(option_logp).sum())

    def sampled_scores(self, task: Task) -> tuple[np.ndarray, float]:
        """Shares of the parsed answers among `samples` replies at temperature 1 (NaN if none parses);
        mass is the share of replies that parse."""
        from econalign.tasks import FAMILIES

        response = self.request("chat", {
            "messages": task.messages(), "max_tokens": SAMPLE_TOKENS, "temperature": 1.0, "n": self.samples, "seed": 0,
        })
        parse = FAMILIES[task.family].parse
        answers = [parse(c["message"]["content"] or "") for c in response["choices"]]
        counts = np.array([answers.count(o) for o in task.options], dtype=float)
        probs = counts / counts.sum() if counts.sum() else np.full(len(counts), np.nan)
        return probs, counts.sum() / max(len(answers), 1)

    def generate(self, tasks, max_new_tokens=64, seed=0, progress=None, temperature=0.0):
        def reply(task: Task) -> str:
            body = {"messages": task.messages(), "max_tokens": max_new_tokens, "temperature": temperature, "seed": seed}
            return (self.request("chat", body)["choices"][0]["message"]["content"] or "").strip()

        return self.each(reply, tasks, progress)

    def render(self, task: Task) -> str:
        turns = [f"{m['role'].capitalize()}: {m['content']}" for m in task.messages()]
        return "\n\n".join([*turns, "Assistant:"])

    def complete(self, texts, max_new_tokens=256, stop=None, temperature=0.0, seed=0, progress=None):
        """Continuations from the completions endpoint. Like HFBackend's they keep the stop string that
        ended them, which a server reports in `stop_reason` (vLLM and `econalign serve` do)."""
        def continuation(text: str) -> str:
            body = {"prompt": text, "max_tokens": max_new_tokens, "temperature": temperature, "seed": seed}
            choice = self.request("completions", {**body, **({"stop": stop} if stop else {})})["choices"][0]
            ended = choice.get("stop_reason")
            return choice["text"] + (ended if isinstance(ended, str) and ended in (stop or []) else "")

        return self.each(continuation, texts, progress)


def first_token_scores(options: list[str], top: list[dict]) -> np.ndarray | None:
    """Log-probability of each option's first token, as HFBackend computes it from a tokenizer: each
    variant of an option (as given, capitalised, after a space) counts through the token it begins
    with, which for BPE tokenizers is the longest token that begins it; here the longest returned one.
    None if no option is among the returned tokens."""
    logp = {}
    for entry in top:
        logp.setdefault(entry["token"], entry["logprob"])  # duplicate strings: keep the likelier
    groups = [{longest_prefix(v, logp) for v in (o, o.capitalize(), " " + o, " " + o.capitalize())} - {None}
              for o in options]
    flat = [t for group in groups for t in group]
    if len(set(flat)) != len(flat):
        raise EconalignError(f"options {options} share a first token; they cannot be scored from one position")
    if not flat:
        return None
    return np.array([np.logaddexp.reduce([logp[t] for t in g]) if g else -math.inf for g in groups])


def longest_prefix(text: str, tokens: dict) -> str | None:
    return next((text[:k] for k in range(len(text), 0, -1) if text[:k] in tokens), None)


def describe(exc: openai.APIError) -> str:
    status = getattr(exc, "status_code", None)
    message = str(exc.message or type(exc).__name__).splitlines()[0][:200]
    return f"HTTP {status} {message}" if status else message
