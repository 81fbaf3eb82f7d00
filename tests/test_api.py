"""The OpenAI-compatible server and the API backend, on the tiny model itself (no mocks of the model).

Scores through the API equal HFBackend's only when the server returns every token's log-probability,
so these tests ask for the whole vocabulary (the server's limit raised to it; OpenAI stops at 20).
Small stub servers stand in for misbehaving endpoints: rate limits, server errors, no log-probabilities.
"""

import contextlib
import html
import json
import math
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import openai
import pandas as pd
import pytest
import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from econalign import EconalignError
from econalign.backends import load_backend
from econalign.backends.base import Usage
from econalign.backends.openai_api import OpenAIBackend
from econalign.measure.risk import risk_battery
from econalign.measure.profile import profile
from econalign.measure.report import tokens_line
from econalign.measure.social import social_battery
from econalign.serve import create_app
from servers import running, start_serve
from commands import econalign

NAME = "tiny"


@contextlib.contextmanager
def api_server(app):
    with running(app) as url:
        yield f"{url}/v1"
FAST = {"backoff": 0.001}  # retries without waiting


@pytest.fixture(scope="module")
def served(tiny_backend):
    """The tiny model behind the real server; `requests` lists every path asked for."""
    app = create_app(tiny_backend, name=NAME, max_top_logprobs=len(tiny_backend.tokenizer))
    requests = []

    @app.middleware("http")
    async def count(request, call_next):
        requests.append(request.url.path)
        return await call_next(request)

    with api_server(app) as url:
        yield url, requests


@pytest.fixture
def api(served, tiny_backend, tmp_path):
    return OpenAIBackend(NAME, base_url=served[0], cache_dir=tmp_path / "api-cache",
                         top_logprobs=len(tiny_backend.tokenizer), **FAST)


@pytest.fixture(scope="module")
def tasks():
    return risk_battery(quick=True)[:8]


def test_the_openai_client_parses_the_server(served, tiny_backend, tasks):
    client = openai.OpenAI(base_url=served[0], api_key="none", max_retries=0)
    assert [m.id for m in client.models.list()] == [NAME]
    response = client.chat.completions.create(
        model=NAME, messages=tasks[0].messages(), max_tokens=3, temperature=0, logprobs=True, top_logprobs=5,
    )
    choice = response.choices[0]
    assert isinstance(choice.message.content, str) and choice.finish_reason in ("stop", "length")
    first = choice.logprobs.content[0]
    assert len(choice.logprobs.content) == response.usage.completion_tokens == 3  # no end token in 3
    assert first.top_logprobs[0].token == first.token  # greedy: the likeliest token
    prompt = tiny_backend.tokenizer(tiny_backend.render(tasks[0]), add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        [(_, logits)] = list(tiny_backend.last_logits([prompt]))
    best = torch.log_softmax(logits[0], dim=-1).topk(5)
    assert [t.logprob for t in first.top_logprobs] == pytest.approx(best.values.tolist(), abs=1e-4)
    assert response.usage.prompt_tokens == len(prompt)


def test_the_server_refuses_unknown_models_and_streaming(served):
    client = openai.OpenAI(base_url=served[0], api_key="none", max_retries=0)
    with pytest.raises(openai.NotFoundError, match="serves 'tiny'"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="streaming"):
        client.completions.create(model=NAME, prompt="hi", stream=True)


def test_choice_scores_equal_the_hf_backend(api, tiny_backend, tasks):
    direct, remote = tiny_backend.choice_scores(tasks), api.choice_scores(tasks)
    assert np.abs(remote.probs - direct.probs).max() < 1e-4
    assert np.abs(remote.mass - direct.mass).max() < 1e-4
    np.testing.assert_allclose(remote.mass, direct.mass, rtol=1e-3)  # the masses are ~1e-4 themselves


def test_generate_and_complete_equal_the_hf_backend(api, tiny_backend, tasks):
    answers = api.generate(tasks[:3], max_new_tokens=6)
    assert all(isinstance(a, str) for a in answers)
    assert answers == tiny_backend.generate(tasks[:3], max_new_tokens=6)
    texts = [api.render(t) for t in tasks[:3]]
    stop = ["a"]  # random text reaches it soon; the continuation keeps it, as HFBackend's does
    continued = api.complete(texts, max_new_tokens=8, stop=stop)
    assert continued == tiny_backend.complete(texts, max_new_tokens=8, stop=stop)
    assert any(c.endswith("a") for c in continued)


def test_math_eval_through_the_api_equals_the_direct_eval(api, tiny_backend, tmp_path):
    """How a vLLM server (`vllm serve`, OpenAI-compatible) runs `econalign math eval`: r1_zero raw text
    through the completions endpoint, stopped at </answer>."""
    from econalign.math.data import load_problems
    from econalign.math.evaluate import evaluate_math

    problems = load_problems(str(Path(__file__).parent / "fixtures" / "gsm8k_train.jsonl"), "train", 3)
    remote = evaluate_math(api, problems, "r1_zero", tmp_path / "api", max_new_tokens=10)
    direct = evaluate_math(tiny_backend, problems, "r1_zero", tmp_path / "hf", max_new_tokens=10)
    read = [[json.loads(line) for line in (tmp_path / d / "generations.jsonl").read_text().splitlines()]
            for d in ("api", "hf")]
    assert [r["response"] for r in read[0]] == [r["response"] for r in read[1]] and len(read[0]) == 3
    assert remote["categories"] == direct["categories"]


def test_cached_requests_reach_no_server(api, served, tiny_backend, tasks):
    first = api.choice_scores(tasks[:3])
    before = len(served[1])
    again = api.choice_scores(tasks[:3])
    rerun = OpenAIBackend(NAME, base_url=served[0], cache_dir=api.cache_dir, top_logprobs=api.top_logprobs)
    resumed = rerun.choice_scores(tasks[:3])
    assert len(served[1]) == before  # zero HTTP requests
    for scores in (again, resumed):
        assert np.array_equal(scores.probs, first.probs) and np.array_equal(scores.mass, first.mass)
    api.choice_scores(tasks[3:4])  # a new question is asked
    assert len(served[1]) == before + 1


def prompt_tokens(backend, tasks) -> int:
    """The tokens of the tasks' prompts, as the model's own tokenizer counts them."""
    return sum(len(backend.tokenizer(backend.render(t), add_special_tokens=False)["input_ids"]) for t in tasks)


def reported(cache_dir: Path) -> tuple[int, int]:
    """Prompt and completion tokens summed over the responses as received (the cache keeps them verbatim)."""
    usages = [json.loads(path.read_text())["usage"] for path in cache_dir.rglob("*.json")]
    return sum(u["prompt_tokens"] for u in usages), sum(u["completion_tokens"] for u in usages)


def test_the_ledger_sums_the_servers_token_counts(api, tiny_backend, tasks):
    api.choice_scores(tasks[:3])  # one token asked for per task
    assert api.tally() == {"in": prompt_tokens(tiny_backend, tasks[:3]), "out": 3, "requests": 3, "cached": 0,
                           "unreported": 0, "usd_per_million": None, "cost_usd": None}
    api.choice_scores(tasks[:4])  # three answered from the cache: only the fourth is sent, and counted
    assert api.tally() == {"in": prompt_tokens(tiny_backend, tasks[3:4]), "out": 1, "requests": 1, "cached": 3,
                           "unreported": 0, "usd_per_million": None, "cost_usd": None}


def test_the_cost_is_priced_per_million_tokens(served, tasks, tmp_path):
    backend = OpenAIBackend(NAME, base_url=served[0], cache_dir=tmp_path, prices=(2.5, 10.0), **FAST)
    backend.generate(tasks[:2], max_new_tokens=5)
    tally = backend.tally()
    assert (tally["in"], tally["out"]) == reported(tmp_path) and tally["out"] > 2
    assert tally["usd_per_million"] == {"in": 2.5, "out": 10.0}
    assert tally["cost_usd"] == pytest.approx((tally["in"] * 2.5 + tally["out"] * 10.0) / 1e6)
    assert Usage(tokens_in=1_500_000, tokens_out=200_000, requests=9).entry((2.5, 10.0))["cost_usd"] == 5.75
    assert Usage(tokens_in=10**6, tokens_out=10**6).entry((0.0, 0.0))["cost_usd"] == 0.0


def test_tokens_a_server_does_not_report_are_unknown_not_zero(tasks, tmp_path):
    with api_server(stub()) as url:  # its responses carry no `usage`
        backend = OpenAIBackend(NAME, base_url=url, cache_dir=tmp_path, prices=(1.0, 1.0), **FAST)
        backend.generate(tasks[:2])
    tally = backend.tally()
    assert (tally["in"], tally["out"], tally["cost_usd"]) == (None, None, None)
    assert (tally["requests"], tally["unreported"]) == (2, 2)
    assert tokens_line(tally) == ("unknown: the server gave no token counts for 2 of 2 requests; estimated cost "
                                  "unknown at $1.00 / $1.00 per million tokens in / out")


@pytest.mark.parametrize("prices", [(-1.0, 2.0), (1.0, math.inf), (math.nan, 1.0)])
def test_prices_must_be_finite_and_not_negative(prices):
    with pytest.raises(EconalignError, match="token prices must be finite and at least 0"):
        OpenAIBackend(NAME, base_url="http://127.0.0.1:9/v1", prices=prices)


def stub(failures: int = 0, status: int = 429, replies=("accept",)):
    """A chat endpoint failing `failures` times with `status`, then answering every request with
    `n` choices cycling through `replies`, without log-probabilities; it counts attempts."""
    app = FastAPI()
    app.state.attempts = 0

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        app.state.attempts += 1
        if app.state.attempts <= failures:
            return JSONResponse({"error": {"message": f"failing on purpose ({status})"}}, status_code=status)
        n = (await request.json()).get("n", 1)
        choices = [
            {"index": i, "message": {"role": "assistant", "content": replies[i % len(replies)]}, "logprobs": None,
             "finish_reason": "stop"}
            for i in range(n)
        ]
        return JSONResponse({"id": "x", "object": "chat.completion", "created": 0, "model": NAME, "choices": choices})

    return app


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_failures_are_retried(status, tasks, tmp_path):
    app = stub(failures=2, status=status)
    with api_server(app) as url:
        backend = OpenAIBackend(NAME, base_url=url, cache_dir=tmp_path, retries=3, **FAST)
        assert backend.generate(tasks[:1]) == ["accept"]
    assert app.state.attempts == 3


def test_retries_are_bounded_and_end_in_one_clear_line(tasks, tmp_path):
    app = stub(failures=10**9, status=500)
    with api_server(app) as url:
        backend = OpenAIBackend(NAME, base_url=url, cache_dir=tmp_path, retries=3, **FAST)
        with pytest.raises(EconalignError, match="failed 4 times, last: HTTP 500") as caught:
            backend.generate(tasks[:1])
    assert app.state.attempts == 4 and "\n" not in str(caught.value)
    assert not list(tmp_path.rglob("*.json"))  # failures are not cached


def test_client_errors_are_not_retried(tasks, tmp_path):
    app = stub(failures=10**9, status=400)
    with api_server(app) as url, pytest.raises(EconalignError, match="refused the request: HTTP 400"):
        OpenAIBackend(NAME, base_url=url, cache_dir=tmp_path, **FAST).generate(tasks[:1])
    assert app.state.attempts == 1


def test_an_unreachable_server_is_retried_then_reported(tasks, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"  # nothing listens
    backend = OpenAIBackend(NAME, base_url=url, cache_dir=tmp_path, retries=2, **FAST)
    with pytest.raises(EconalignError, match="failed 3 times, last: Connection error"):
        backend.choice_scores(tasks[:1])


def test_without_logprobs_sampled_answers_are_counted(tasks, tmp_path):
    replies = ("Accept.", "reject", "I accept", "hmm")  # 20 samples: 10 accept, 5 reject, 5 unparsed
    app = stub(replies=replies)
    with api_server(app) as url:
        scores = OpenAIBackend(NAME, base_url=url, cache_dir=tmp_path, samples=20, **FAST).choice_scores(tasks[:2])
    assert app.state.attempts == 4  # per task: the log-probability request, then the samples
    np.testing.assert_allclose(scores.probs, [[2 / 3, 1 / 3]] * 2)
    np.testing.assert_allclose(scores.mass, [0.75, 0.75])


def test_nothing_parsed_means_unknown_probabilities(tasks, tmp_path):
    with api_server(stub(replies=("hmm",))) as url:
        scores = OpenAIBackend(NAME, base_url=url, cache_dir=tmp_path, samples=4, **FAST).choice_scores(tasks[:1])
    assert np.isnan(scores.probs).all() and scores.mass.tolist() == [0.0]


def numbers(tree, path=""):
    """Every number in a JSON tree, by its path."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in numbers(sub, f"{path}/{key}").items()}
    if isinstance(tree, list):
        return {k: v for i, sub in enumerate(tree) for k, v in numbers(sub, f"{path}/{i}").items()}
    return {path: tree} if isinstance(tree, int | float) and not isinstance(tree, bool) else {}


def test_profile_through_the_api_equals_the_direct_profile(api, tiny_backend, tmp_path):
    # plumbing: the smallest battery (72 items) is enough, each response carrying the full vocabulary's logprobs
    direct = profile(tiny_backend, tmp_path / "direct", seed=0, method="logits", battery="social")
    remote = profile(api, tmp_path / "remote", seed=0, method="logits", battery="social")
    assert remote["model"] == api.name == f"openai:{NAME}@{api.base_url.split('/')[2]}"
    a, b = numbers(direct["estimates"]), numbers(remote["estimates"])
    assert a.keys() == b.keys() and a
    for key in a:
        assert math.isclose(a[key], b[key], abs_tol=1e-3) or (math.isnan(a[key]) and math.isnan(b[key])), key
    y = [pd.read_csv(tmp_path / run / "results.csv").p_first for run in ("direct", "remote")]
    assert np.abs(y[0] - y[1]).max() < 1e-4
    shutil.rmtree(api.cache_dir)  # ~3 MB per item at full vocabulary; pytest keeps old tmp folders


def test_load_backend_builds_api_backends(served, monkeypatch):
    backend = load_backend(f"openai:{NAME}", base_url=served[0])
    assert isinstance(backend, OpenAIBackend) and backend.name == f"openai:{NAME}@{served[0].split('/')[2]}"
    monkeypatch.setenv("OPENAI_BASE_URL", served[0])
    assert load_backend(f"openai:{NAME}").base_url == served[0]
    with pytest.raises(EconalignError, match="base URL is for openai:NAME"):
        load_backend("sim:crra:r=1", base_url=served[0])
    with pytest.raises(EconalignError, match="needs a model name"):
        load_backend("openai:")
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(EconalignError, match="set OPENAI_API_KEY"):
        load_backend("openai:gpt-4o-mini")


def test_cache_files_hold_the_responses(api, tasks):
    api.generate(tasks[:1], max_new_tokens=2)
    (path,) = api.cache_dir.rglob("*.json")
    assert json.loads(path.read_text())["object"] == "chat.completion"


@pytest.fixture(scope="module")
def served_cli(tiny_dir):
    """`econalign serve` itself, as a user starts it, on a free 127.0.0.1 port."""
    proc, url = start_serve(tiny_dir)
    yield f"{url}/v1", f"openai:{tiny_dir}"
    proc.terminate()
    proc.wait(10)


def cli(*args, timeout=300, env=None):
    return econalign(*args, timeout=timeout, env=env and {**os.environ, **env})


def test_teacher_data_and_judging_through_econalign_serve(served_cli, tmp_path):
    url, model = served_cli
    questions = Path(__file__).parent / "fixtures" / "questions_finance.jsonl"
    run = cli("teacher", "--teacher", model, "--base-url", url, "--preference", "crra:r=2", "--questions", questions,
              "--max-new-tokens", "8", "--out", tmp_path / "teacher")
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in (tmp_path / "teacher" / "train.jsonl").read_text().splitlines()]
    assert records and all([m["role"] for m in r["messages"]] == ["user", "assistant"] for r in records)
    assert "CRRA" in json.loads((tmp_path / "teacher" / "meta.json").read_text())["system_prompt"]

    run = cli("judge", "--model", model, "--judge", model, "--base-url", url, "--questions", questions, "--runs", "2",
              "--max-new-tokens", "8", "--out", tmp_path / "judge")
    assert run.returncode == 0, run.stderr
    summary = json.loads((tmp_path / "judge" / "summary.json").read_text())
    for m in summary["metrics"].values():  # the random tiny model never writes a bare integer
        assert m["n_scored"] + m["n_unparsed"] == 6


def test_profile_cli_through_econalign_serve(served_cli, tiny_backend, tmp_path):
    url, model = served_cli
    home = {"ECONALIGN_HOME": str(tmp_path / "home")}  # an empty response cache: every request is sent
    # generated answers: the tiny model's option tokens are far outside the top 20 log-probabilities
    args = ("profile", "--model", model, "--base-url", url, "--battery", "social", "--method", "generate",
            "--price-in", "0.5", "--price-out", "2", "--out", tmp_path / "p")
    run = cli(*args, env=home)
    assert run.returncode == 0, run.stderr
    summary = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert summary["answers"]["items"] == 72
    tokens = summary["tokens"]
    assert (tokens["requests"], tokens["cached"], tokens["unreported"]) == (72, 0, 0)
    assert (tokens["in"], tokens["out"]) == reported(tmp_path / "home" / "api-cache")
    assert tokens["in"] == prompt_tokens(tiny_backend, social_battery())
    assert tokens["cost_usd"] == pytest.approx((tokens["in"] * 0.5 + tokens["out"] * 2) / 1e6) and tokens["out"] > 72
    line = tokens_line(tokens)
    assert f"API tokens (this run): {line}" in run.stdout.splitlines()
    assert f"<dd>{html.escape(line)}</dd>" in (tmp_path / "p" / "report.html").read_text()

    again = cli(*args, env=home)  # every chunk resumed: nothing is sent
    assert again.returncode == 0, again.stderr
    tokens = json.loads((tmp_path / "p" / "summary.json").read_text())["tokens"]
    assert (tokens["in"], tokens["out"], tokens["requests"], tokens["cost_usd"]) == (0, 0, 0, 0.0)


@pytest.mark.parametrize("args, message", [
    (["--price-in", "-1", "--price-out", "2"], "token prices must be finite and at least 0"),
    (["--price-in", "inf", "--price-out", "2"], "token prices must be finite and at least 0"),
    (["--price-in", "1"], "give both --price-in and --price-out"),
    (["--model", "sim:crra:r=1", "--price-in", "1", "--price-out", "1"], "token prices are for openai:NAME models"),
], ids=["negative", "infinite", "one-price", "local-model"])
def test_bad_prices_are_one_error_line(args, message, tmp_path):
    model = [] if "--model" in args else ["--model", "openai:x", "--base-url", "http://127.0.0.1:9/v1"]
    run = cli("profile", *model, *args, "--out", tmp_path / "out")
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and message in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "out").exists()
