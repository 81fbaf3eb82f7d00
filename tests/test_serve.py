"""`econalign serve` against bad and costly requests, on real servers on 127.0.0.1: refusals in OpenAI's
shape (never a 500, never the input echoed), the context limit, a client that leaves, SIGTERM.

A tiny model without an end token ("endless") generates until max_tokens, so a long request is
really long here (seconds per hundred tokens on a shared CPU): a test that passes does not pass
because generation happened to end early.
"""

import json
import signal
import threading
import time

import httpx
import openai
import pytest

from econalign.backends import load_backend
from econalign.serve import MAX_TOP_LOGPROBS, create_app
from servers import running, start_serve

NAME = "tiny"
SHORT_BYTES = 500  # a refusal says what is wrong, it does not repeat the request
PROMPTLY_S = 5.0  # a short request after a long one left; the long one alone takes minutes
LONG = 3000  # tokens: minutes on the endless model


@pytest.fixture(scope="module")
def served(tiny_backend):
    with running(create_app(tiny_backend, name=NAME)) as url:
        yield url


@pytest.fixture(scope="module")
def endless_dir(make_tiny_llama):
    return make_tiny_llama(initializer_range=0.5, eos_token_id=None, max_position_embeddings=4096)


@pytest.fixture(scope="module")
def endless(endless_dir):
    with running(create_app(load_backend(str(endless_dir)), name=NAME)) as url:
        yield url


def chat(content="hi", **fields):
    return {"model": NAME, "messages": [{"role": "user", "content": content}], **fields}


def post(url, path, body, timeout=60):
    """POST raw JSON text (NaN and lone surrogates included, as clients can send them)."""
    return httpx.post(f"{url}/v1/{path}", content=body.encode(), headers={"content-type": "application/json"},
                      timeout=timeout)


LONG_PROMPT = "hello " * 20_000  # 20,000 tokens against a 512-token context

REFUSALS = [
    ("chat/completions", json.dumps(chat(seed=2**64, max_tokens=2)), "seed", None),
    ("chat/completions", json.dumps(chat(seed=-(2**63) - 1, max_tokens=2)), "seed", None),
    ("chat/completions", json.dumps(chat(temperature=float("nan"), max_tokens=2)), "temperature", None),
    ("chat/completions", json.dumps(chat(top_p=float("nan"), max_tokens=2)), "top_p", None),
    ("chat/completions", json.dumps(chat("\ud800", max_tokens=2)), "messages.0.content", None),
    ("completions", json.dumps({"model": NAME, "prompt": "\udfff", "max_tokens": 2}), "prompt", None),
    ("completions", json.dumps({"model": NAME, "prompt": "hi", "stop": ["\ud800"]}), "stop", None),
    ("chat/completions", json.dumps(chat(logprobs=True, top_logprobs=10**6, max_tokens=2)), "top_logprobs",
     "integer_above_max_value"),
    ("chat/completions", json.dumps(chat(LONG_PROMPT, max_tokens=2)), "messages", "context_length_exceeded"),
    ("chat/completions", json.dumps(chat(max_tokens=10**30)), "messages", "context_length_exceeded"),
    ("completions", json.dumps({"model": NAME, "prompt": ["hi", LONG_PROMPT]}), "prompt", "context_length_exceeded"),
    ("chat/completions", json.dumps(chat(LONG_PROMPT, n=10**6)), "n", None),
    ("chat/completions", '{"model": "tiny", "messages": [', None, None),
]


@pytest.mark.parametrize("path, body, param, code", REFUSALS, ids=[
    "seed 2**64", "seed below -2**63", "temperature NaN", "top_p NaN", "lone surrogate in content",
    "lone surrogate in prompt", "lone surrogate in stop", "top_logprobs 10**6", "prompt over the context",
    "max_tokens over the context", "second prompt over the context", "n 10**6 with a long prompt",
    "invalid JSON"])
def test_refusals_are_short_openai_errors(served, path, body, param, code):
    start = time.monotonic()
    response = post(served, path, body)
    assert time.monotonic() - start < PROMPTLY_S
    assert response.status_code == 400 and len(response.content) < SHORT_BYTES, response.text[:SHORT_BYTES]
    error = response.json()["error"]
    assert error.keys() == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == (param, code) and error["message"]


def test_the_context_error_says_what_fits(served):
    error = post(served, "chat/completions", json.dumps(chat(max_tokens=600))).json()["error"]
    assert error["message"].startswith("This model's maximum context length is 512 tokens. However, you requested")
    assert "600 in the completion" in error["message"]


def test_without_max_tokens_the_completion_fits_the_context(served, tiny_backend):
    prompt = "hello " * 480
    prompt_tokens = len(tiny_backend.tokenizer(prompt, add_special_tokens=False)["input_ids"])
    response = post(served, "completions", json.dumps({"model": NAME, "prompt": prompt, "temperature": 0}))
    assert response.status_code == 200
    assert response.json()["usage"]["total_tokens"] <= 512 < prompt_tokens + 256


def test_usage_counts_the_tokens_each_choice_generated(served, tiny_backend):
    """n sampled choices that end at different lengths: a choice cut by a stop string is padded to the
    longest, and the padding is not counted; an end token the model generated is."""
    client = openai.OpenAI(base_url=f"{served}/v1", api_key="none", max_retries=0)
    response = client.chat.completions.create(model=NAME, messages=[{"role": "user", "content": "hi"}], n=6,
                                              temperature=1, seed=1, stop=["a"], max_tokens=12, logprobs=True)
    lengths = [len(c.logprobs.content) for c in response.choices]  # one entry per token, up to the end token
    ends = [c.finish_reason == "stop" and c.stop_reason is None for c in response.choices]
    assert len(set(lengths)) > 1 and any(c.stop_reason == "a" for c in response.choices)  # padding happened
    assert response.usage.completion_tokens == sum(lengths) + sum(ends)
    prompt = tiny_backend.tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True,
                                                        tokenize=False)
    assert response.usage.prompt_tokens == len(tiny_backend.tokenizer(prompt, add_special_tokens=False)["input_ids"])


def test_top_logprobs_up_to_openais_limit(served):
    client = openai.OpenAI(base_url=f"{served}/v1", api_key="none", max_retries=0)
    response = client.chat.completions.create(model=NAME, messages=[{"role": "user", "content": "hi"}], max_tokens=2,
                                              logprobs=True, top_logprobs=MAX_TOP_LOGPROBS)
    assert [len(t.top_logprobs) for t in response.choices[0].logprobs.content] == [MAX_TOP_LOGPROBS] * 2
    with pytest.raises(openai.BadRequestError, match="top_logprobs must be at most 20"):
        client.chat.completions.create(model=NAME, messages=[{"role": "user", "content": "hi"}], max_tokens=2,
                                       logprobs=True, top_logprobs=MAX_TOP_LOGPROBS + 1)


def test_unknown_paths_answer_in_openais_shape(served):
    response = httpx.get(f"{served}/v1/nowhere")
    assert response.status_code == 404 and response.json()["error"]["message"] == "Not Found"


def long_request_given_up(url, seconds):
    """A long generation whose client gives up after `seconds` and closes its connection."""
    with pytest.raises(httpx.ReadTimeout):
        post(url, "completions", json.dumps({"model": NAME, "prompt": "hi", "max_tokens": LONG}), timeout=seconds)


def test_a_client_that_leaves_frees_the_model(endless):
    long_request_given_up(endless, 1)
    start = time.monotonic()
    response = post(endless, "completions", json.dumps({"model": NAME, "prompt": "hi", "max_tokens": 2}))
    assert response.status_code == 200 and response.json()["usage"]["completion_tokens"] == 2
    assert time.monotonic() - start < PROMPTLY_S


def test_the_server_answers_other_requests_while_generating(endless):
    long = threading.Thread(target=long_request_given_up, args=(endless, 3))
    long.start()
    time.sleep(1)
    start = time.monotonic()
    assert httpx.get(f"{endless}/v1/models", timeout=PROMPTLY_S).status_code == 200
    assert time.monotonic() - start < 1
    long.join()


def test_sigterm_stops_generation_and_exits(endless_dir):
    proc, url = start_serve(endless_dir, "--max-top-logprobs", "30")
    try:
        # the raised limit reaches the server
        asked = {"model": str(endless_dir), "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1,
                 "logprobs": True, "top_logprobs": 30}
        assert len(post(url, "chat/completions", json.dumps(asked)).json()["choices"][0]["logprobs"]["content"][0][
            "top_logprobs"]) == 30

        answers = []
        body = json.dumps({"model": str(endless_dir), "prompt": "hi", "max_tokens": LONG})
        long = threading.Thread(target=lambda: answers.append(post(url, "completions", body, timeout=60)), daemon=True)
        long.start()
        time.sleep(2)  # generating by now
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(PROMPTLY_S + 5)
        assert time.monotonic() - start < PROMPTLY_S
        long.join(5)
        assert answers[0].status_code == 503
        assert answers[0].json()["error"] == {"message": "the server is shutting down", "type": "server_error",
                                              "param": None, "code": None}
    finally:
        proc.kill()
        proc.wait()
