"""Any local model (`default`, a Hugging Face id or path, a fine-tuned output folder) as an
OpenAI-compatible server on 127.0.0.1, for OpenAI clients and `openai:NAME` backends.

Endpoints: GET /v1/models, POST /v1/chat/completions (the model's chat template, log-probabilities
with top alternatives), POST /v1/completions (raw prompt text). The model answers one request at a
time, in arrival order, in its own thread (no batching across requests: each has its own seed,
sampling settings and stop strings); the event loop stays free meanwhile. A request whose client
disconnects stops generating at its next token, and one still waiting never runs; on SIGTERM or
SIGINT the request being generated stops too and is answered 503, as are those waiting.
Log-probabilities are the log-softmax of the model's own logits (before temperature); `top_logprobs`
goes up to 20 as at OpenAI, unless the server is started with a higher limit.
Refusals are OpenAI's: 400 with {"error": {"message", "type", "param", "code"}}, never the input
echoed back; a prompt that leaves no room in the model's context for the completion is refused
with code `context_length_exceeded`. Besides `finish_reason`, each choice says which stop string
ended it in `stop_reason`, as vLLM does.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import torch
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from transformers import StoppingCriteria, StoppingCriteriaList

from econalign.backends.hf import HFBackend, end_tokens
from econalign.http_errors import invalid_field, unicode_text

DEFAULT_MAX_TOKENS = 256  # when a request names none, and the context has room for them
MAX_N = 128
MAX_TOP_LOGPROBS = 20  # OpenAI's limit
SHUTDOWN_GRACE_S = 5  # then uvicorn cancels what still runs (a prompt's forward pass cannot stop)

Text = Annotated[str, AfterValidator(unicode_text)]
Texts = Annotated[str | list[str], AfterValidator(unicode_text)]  # one validator: no union member in errors


class Sampling(BaseModel):
    # Unknown fields (user, presence_penalty, ...) are ignored, as by most compatible servers.
    model_config = ConfigDict(extra="ignore")
    model: str
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    seed: int | None = Field(None, ge=-(2**63), lt=2**64)  # what torch.manual_seed takes
    stop: Texts | None = None
    n: int = Field(1, ge=1, le=MAX_N)
    stream: bool = False

    def stops(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])


class Message(BaseModel):
    role: Text
    content: Text


class ChatRequest(Sampling):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool = False
    top_logprobs: int = Field(0, ge=0)


class CompletionRequest(Sampling):
    prompt: Texts


class Refused(HTTPException):
    """A refusal in OpenAI's terms: `param` is the request field at fault, `code` the kind of fault."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(status, message)
        self.param, self.code = param, code


def error(status: int, message: str, param: str | None = None, code: str | None = None) -> JSONResponse:
    """Errors in OpenAI's shape, whose clients show `error.message`."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}}, status)


def context_length(backend: HFBackend) -> int:
    """Tokens the model can attend to: its position limit, else what its tokenizer states."""
    config = backend.model.config.get_text_config()
    return getattr(config, "max_position_embeddings", None) or backend.tokenizer.model_max_length


class Halt(StoppingCriteria):
    """Ends every sequence at the next token once `halted()` is true."""

    def __init__(self, halted: Callable[[], bool]):
        self.halted = halted

    def __call__(self, input_ids, scores, **kwargs):
        return torch.full((input_ids.shape[0],), self.halted(), dtype=torch.bool, device=input_ids.device)


async def set_on_disconnect(request: Request, left: threading.Event) -> None:
    # The body is read, so the next message the server sends the app is the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass
    left.set()


class Generator:
    """The model in its own thread; every token's text decoded once, for log-probability entries."""

    def __init__(self, backend: HFBackend):
        self.backend, self.context = backend, context_length(backend)
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="econalign-model")
        self.closing = threading.Event()  # set on SIGTERM or SIGINT
        tokenizer, config = backend.tokenizer, backend.model.generation_config
        self.pieces = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
        self.ends = {i for i in [*end_tokens(config), tokenizer.eos_token_id, tokenizer.pad_token_id] if i is not None}

    async def run(self, request: Request, job: Callable[[Callable[[], bool]], object]):
        """`job(halted)` in the model's thread once the requests before it are done; `halted()` turns
        true when the client disconnects or the server shuts down."""
        left = threading.Event()
        listener = asyncio.create_task(set_on_disconnect(request, left))
        try:
            return await asyncio.get_running_loop().run_in_executor(self.worker, self.guarded, job, left)
        finally:  # also when cancelled: uvicorn cancels what still runs after SHUTDOWN_GRACE_S
            left.set()
            listener.cancel()

    def guarded(self, job, left: threading.Event):
        """`job`'s answer, unless the client left or the server is closing (then `job` never starts
        or stops at its next token)."""

        def halted() -> bool:
            return left.is_set() or self.closing.is_set()

        result = None if halted() else job(halted)
        if self.closing.is_set():
            raise Refused(503, "the server is shutting down")
        if left.is_set():  # the answer would reach no one
            raise Refused(499, "the client closed the request")
        return result

    def encode(self, text: str, max_tokens: int | None, param: str) -> tuple[list[int], int]:
        """The prompt's token ids and how many tokens to generate after them, within the context."""
        ids = self.backend.tokenizer(text, add_special_tokens=False)["input_ids"]
        room = self.context - len(ids)
        wanted = max_tokens or max(1, min(DEFAULT_MAX_TOKENS, room))
        if wanted > room:
            raise Refused(
                400, f"This model's maximum context length is {self.context} tokens. However, you requested "
                f"{len(ids) + wanted} tokens ({len(ids)} in the {param}, {wanted} in the completion). "
                f"Please reduce the length of the {param} or completion.",
                param=param, code="context_length_exceeded",
            )
        return ids, wanted

    def complete(self, prompt: tuple[list[int], int], req: Sampling, halted, top_logprobs: int | None = None):
        """`req.n` choices for one encoded prompt (with per-token log-probabilities if `top_logprobs` is
        not None), and the prompt's length in tokens."""
        ids, max_tokens = prompt
        sampling = {"temperature": req.temperature, "top_p": req.top_p} if req.temperature > 0 else {}
        copies = req.n if sampling else 1  # greedy answers are all the same
        model, tokenizer = self.backend.model, self.backend.tokenizer
        with torch.inference_mode():
            if req.seed is not None:
                torch.manual_seed(req.seed)
            out = model.generate(
                input_ids=torch.tensor([ids], device=model.device), attention_mask=torch.ones(1, len(ids),
                dtype=torch.long, device=model.device), max_new_tokens=max_tokens, num_return_sequences=copies,
                do_sample=bool(sampling), stop_strings=req.stops() or None, tokenizer=tokenizer,
                pad_token_id=tokenizer.pad_token_id, stopping_criteria=StoppingCriteriaList([Halt(halted)]),
                output_logits=top_logprobs is not None, return_dict_in_generate=True, **sampling,
            )
            choices = [self.choice(out, row, len(ids), req.stops(), top_logprobs) for row in range(copies)]
        return choices * (req.n // copies), len(ids)

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
        # Generated tokens: the end token counts, the padding after a stop string does not (n > 1).
        return {"text": text, "finish_reason": finish, "stop_reason": hits[0][1] if hits else None,
                "tokens": len(ids) + (end is not None and not hits), "logprobs": logprobs}

    def logprob_entry(self, logits, token: int, k: int) -> dict:
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


def create_app(backend: HFBackend, name: str | None = None, max_top_logprobs: int = MAX_TOP_LOGPROBS) -> FastAPI:
    """The server for a loaded model, answering to `name` (default: the backend's name); its
    Generator is `app.state.generator`."""
    name = name or backend.name
    generator = Generator(backend)
    app = FastAPI(title="econalign model server", version="1")
    app.state.generator = generator

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, exc.detail, getattr(exc, "param", None), getattr(exc, "code", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        field, message = invalid_field(exc)
        return error(400, f"invalid {field}: {message}" if field else message, field)

    def check(req: Sampling) -> None:
        if req.model != name:
            raise Refused(404, f"this server serves {name!r} only", "model", "model_not_found")
        if req.stream:
            raise Refused(400, "streaming is not supported", "stream")
        if "" in req.stops():
            raise Refused(400, "stop strings must not be empty", "stop")

    def header(kind: str) -> dict:
        return {"id": f"{kind}-{uuid.uuid4().hex}", "created": int(time.time()), "model": name}

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "econalign"}]}

    # JSONResponse skips FastAPI's recursive encoder, slow on long log-probability lists.
    @app.post("/v1/chat/completions")
    async def chat(req: ChatRequest, request: Request) -> JSONResponse:
        check(req)
        if not backend.tokenizer.chat_template:
            raise Refused(400, f"{name} has no chat template; use /v1/completions", "messages")
        if req.logprobs and req.top_logprobs > max_top_logprobs:
            raise Refused(400, f"top_logprobs must be at most {max_top_logprobs} on this server",
                          "top_logprobs", "integer_above_max_value")
        messages = [m.model_dump() for m in req.messages]

        def job(halted):
            prompt = backend.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            encoded = generator.encode(prompt, req.max_tokens or req.max_completion_tokens, "messages")
            return generator.complete(encoded, req, halted, req.top_logprobs if req.logprobs else None)

        choices, prompt_tokens = await generator.run(request, job)
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
    async def completions(req: CompletionRequest, request: Request) -> JSONResponse:
        """Raw text continued as is (no chat template); log-probabilities are not offered here."""
        check(req)
        texts = [req.prompt] if isinstance(req.prompt, str) else req.prompt

        def job(halted):
            prompts = [generator.encode(text, req.max_tokens, "prompt") for text in texts]  # all, before any runs
            return [generator.complete(prompt, req, halted) for prompt in prompts]

        runs = await generator.run(request, job)
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


class Server(uvicorn.Server):
    """uvicorn's server, which on SIGTERM or SIGINT also halts the model's work: uvicorn alone waits
    for the responses in progress, however long their generation takes."""

    def __init__(self, config: uvicorn.Config, generator: Generator):
        super().__init__(config)
        self.generator = generator

    def handle_exit(self, sig, frame) -> None:
        self.generator.closing.set()
        super().handle_exit(sig, frame)


def serve(model: str, host: str = "127.0.0.1", port: int = 8001, max_top_logprobs: int = MAX_TOP_LOGPROBS) -> None:
    """Load `model` and serve it under that name until interrupted."""
    app = create_app(HFBackend.load(model), name=model, max_top_logprobs=max_top_logprobs)
    config = uvicorn.Config(app, host=host, port=port, access_log=False, timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
    Server(config, app.state.generator).run()
