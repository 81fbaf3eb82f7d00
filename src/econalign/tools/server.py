"""The calculator as an HTTP service, so rollout workers on other processes or hosts can share it."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from econalign.http_errors import invalid_field
from econalign.tools.calculator import MAX_CHARS, evaluate

# Well above the calculator's own limit, so an over-long expression gets the calculator's
# message (what the model would see in-process too); this only bounds what is parsed.
MAX_REQUEST_CHARS = 20 * MAX_CHARS
# Room for such an expression in any JSON spelling (an escaped character takes up to 12 bytes);
# a larger body is refused (413) before it is read whole.
MAX_BODY_BYTES = 16 * MAX_REQUEST_CHARS


class CalculateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    expression: str = Field(max_length=MAX_REQUEST_CHARS)


class CalculateResponse(BaseModel):
    ok: bool
    value: int | float | None
    error: str | None
    text: str


app = FastAPI(title="econalign calculator", version="1", max_body_size=MAX_BODY_BYTES)


@app.exception_handler(RequestValidationError)
async def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with one short line, e.g. `expression: Input should be a valid string`."""
    field, message = invalid_field(exc)
    return JSONResponse({"detail": f"{field}: {message}" if field else message}, status_code=422)


@app.get("/health")
async def health() -> dict:
    return {"status": "ok"}


# `async def`: evaluation is bounded to well under a millisecond, cheaper inline on the
# event loop than a hop through the thread pool.
@app.post("/calculate")
async def calculate(request: CalculateRequest) -> CalculateResponse:
    result = evaluate(request.expression)
    return CalculateResponse(ok=result.ok, value=result.value, error=result.error, text=result.text)


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve until interrupted; no access log, which would cost more than the arithmetic."""
    uvicorn.run(app, host=host, port=port, access_log=False)
