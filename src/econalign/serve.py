"""Any local model (`default`, a Hugging Face id or path, a fine-tuned output folder) as an
OpenAI-compatible server on 127.0.0.1, for OpenAI clients and `openai:NAME` backends.

Endpoints: GET /v1/models, POST /v1/chat/completions (the model's chat template, log-probabilities
with top alternatives), POST /v1/completions (raw prompt text). Requests run one at a time, under
a lock around the model: correctness over throughput. Log-probabilities are the log-softmax of the
model's own logits (before temperature), and `top_logprobs` may go up to the whole vocabulary.
Besides `finish_reason`, each choice says which stop string ended it in `stop_reason`, as vLLM does.
"""

from __future__ import annotations

import threading
import time
import uuid

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from econalign.backends.hf import HFBackend

DEFAULT_MAX_TOKENS = 256
MAX_N = 128


class Sampling(BaseModel):
    # Unknown fields (user, presence_penalty, ...) are ignored, as by most compatible servers.
    model_config = ConfigDict(extra="ignore")
    model: str
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int = Field(1, ge=1, le=MAX_N)
    stream: bool = False

    def stops(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])


class Message(BaseModel):
    role: str
    content: str


class ChatRequest(Sampling):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool = False
    top_logprobs: int = Field(0, ge=0)


class CompletionRequest(Sampling):
    prompt: str | list[str]


class Generator:
    """The model behind the lock; every token's text decoded once, for log-probability entries."""

    def __init__(self, backend: HFBackend):
        self.backend, self.lock = backend, threading.Lock()
        tokenizer, config = backend.tokenizer, backend.model.generation_config
        self.pieces = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
        eos = config.eos_token_id if isinstance(config.eos_token_id, list) else [config.eos_token_id]
        self.ends = {i for i in [*eos, tokenizer.eos_token_id, tokenizer.pad_token_id] if i is not None}

    def run(self, prompt: str, req: Sampling, max_tokens: int, top_logprobs: int | None = None) -> tuple[list, int]:
        """`req.n` choices for one prompt (with per-token log-probabilities if `top_logprobs` is not None),
        and the prompt's length in tokens."""
        import torch

        sampling = {"temperature": req.temperature, "top_p": req.top_p} if req.temperature > 0 else {}
        copies = req.n if sampling else 1  # greedy answers are all the same
        model, tokenizer = self.backend.model, self.backend.tokenizer
        with self.lock, torch.inference_mode():
            if req.seed is not None:
                torch.manual_seed(req.seed)
            enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
            out = model.generate(
                **enc, max_new_tokens=max_tokens, num_return_sequences=copies, do_sample=bool(sampling),
                stop_strings=req.stops() or None, tokenizer=tokenizer, pad_token_id=tokenizer.pad_token_id,
                output_logits=top_logprobs is not None, return_dict_in_generate=True, **sampling,
            )
            width = enc["input_ids"].shape[1]
            choices = [self.choice(out, row, width, req.stops(), top_logprobs) for row in range(copies)]
        return choices * (req.n // copies), width

    def choice(self, out, row: int, width: int, stops: list[str], top_logprobs: int | None) -> dict:
        ids = out.sequences[row, width:].tolist()
        end = next((j for j, token in enumerate(ids) if token in self.ends), None)
        ids = ids[:end]
        text = self.backend.tokenizer.decode(ids, skip_special_tokens=True)
        hits = sorted((text.find(s), s) for s in stops if s in text)
        if hits:
            text = text[: hits[0][0]]
        finish = "stop" if hits or end is not None else "length"
        logprobs = None
        if top_logprobs is not None:
            # Tokens up to the end; a stop string's tokens stay listed although the text leaves it out.
            logprobs = [self.logprob_entry(out.logits[j][row], token, top_logprobs) for j, token in enumerate(ids)]
        return {"text": text, "finish_reason": finish, "stop_reason": hits[0][1] if hits else None,
                "tokens": len(ids) + (end is not None), "logprobs": logprobs}

    def logprob_entry(self, logits, token: int, k: int) -> dict:
        import torch

        logp = torch.log_softmax(logits.float(), dim=-1)
        values, ids = logp.topk(min(k, len(self.pieces)))
        top = [self.token(i, v) for i, v in zip(ids.tolist(), values.tolist())]
        return {**self.token(token, logp[token].item()), "top_logprobs": top}

    def token(self, token: int, logprob: float) -> dict:
        # No bytes (the schema allows null): exact bytes need tokenizer internals, and vocabulary-sized
        # lists of byte lists would make up most of a response.
        return {"token": self.pieces[token] if token < len(self.pieces) else "", "logprob": logprob, "bytes": None}


def usage(prompt_tokens: int, choices: list[dict]) -> dict:
    completion = sum(c["tokens"] for c in choices)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion, "total_tokens": prompt_tokens + completion}


def create_app(backend: HFBackend, name: str | None = None) -> FastAPI:
    """The server for a loaded model, answering to `name` (default: the backend's name)."""
    name = name or backend.name
    generator = Generator(backend)
    app = FastAPI(title="econalign model server", version="1")

    @app.exception_handler(HTTPException)
    async def openai_error(request: Request, exc: HTTPException) -> JSONResponse:
        """Errors in OpenAI's shape, whose clients show `error.message`."""
        body = {"error": {"message": exc.detail, "type": "invalid_request_error", "param": None, "code": None}}
        return JSONResponse(body, status_code=exc.status_code)

    def check(req: Sampling) -> None:
        if req.model != name:
            raise HTTPException(404, f"this server serves {name!r}, not {req.model!r}")
        if req.stream:
            raise HTTPException(400, "streaming is not supported")
        if "" in req.stops():
            raise HTTPException(400, "stop strings must not be empty")

    def header(kind: str) -> dict:
        return {"id": f"{kind}-{uuid.uuid4().hex}", "created": int(time.time()), "model": name}

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "econalign"}]}

    # Plain `def` endpoints run in the thread pool, so the event loop stays free while the model works;
    # JSONResponse skips FastAPI's recursive encoder, slow on vocabulary-sized log-probability lists.
    @app.post("/v1/chat/completions")
    def chat(req: ChatRequest) -> JSONResponse:
        check(req)
        if not backend.tokenizer.chat_template:
            raise HTTPException(400, f"{name} has no chat template; use /v1/completions")
        messages = [m.model_dump() for m in req.messages]
        prompt = backend.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        max_tokens = req.max_tokens or req.max_completion_tokens or DEFAULT_MAX_TOKENS
        choices, prompt_tokens = generator.run(prompt, req, max_tokens, req.top_logprobs if req.logprobs else None)
        return JSONResponse({
            **header("chatcmpl"), "object": "chat.completion",
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": c["text"]},
                 "logprobs": None if c["logprobs"] is None else {"content": c["logprobs"]},
                 "finish_reason": c["finish_reason"], "stop_reason": c["stop_reason"]}
                for i, c in enumerate(choices)
            ],
            "usage": usage(prompt_tokens, choices),
        })

    @app.post("/v1/completions")
    def completions(req: CompletionRequest) -> JSONResponse:
        """Raw text continued as is (no chat template); log-probabilities are not offered here."""
        check(req)
        prompts = [req.prompt] if isinstance(req.prompt, str) else req.prompt
        runs = [generator.run(p, req, req.max_tokens or DEFAULT_MAX_TOKENS) for p in prompts]
        choices = [c for cs, _ in runs for c in cs]
        return JSONResponse({
            **header("cmpl"), "object": "text_completion",
            "choices": [
                {"index": i, "text": c["text"], "logprobs": None, "finish_reason": c["finish_reason"],
                 "stop_reason": c["stop_reason"]}
                for i, c in enumerate(choices)
            ],
            "usage": usage(sum(width for _, width in runs), choices),
        })

    return app


def serve(model: str, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Load `model` and serve it under that name until interrupted."""
    uvicorn.run(create_app(HFBackend.load(model), name=model), host=host, port=port, access_log=False)
