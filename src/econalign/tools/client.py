"""Clients for the calculator service; a failing service becomes a failed CalcResult, not an exception.

A tool failure inside an agent rollout is counted like any other bad tool call, so a connection
dropped under load (a reset, or a kept-alive connection the server closed just as it was reused)
is retried: calculating is idempotent. Timeouts are not retried, and neither are HTTP errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx

from econalign.tools.calculator import CalcResult


def _result(response: httpx.Response) -> CalcResult:
    if response.status_code != 200:
        return CalcResult(ok=False, error=f"calculator service answered HTTP {response.status_code}")
    try:
        data = response.json()
        return CalcResult(ok=bool(data["ok"]), value=data["value"], error=data["error"])
    except (ValueError, KeyError, TypeError):
        return CalcResult(ok=False, error="calculator service sent an answer that is not a calculator result")


# ValueError: text JSON cannot carry (a lone surrogate from a bad decode) never reaches the wire.
_FAILURES = (httpx.HTTPError, ValueError)


# httpx's own `retries` covers connecting only; these are the errors of a dropped connection.
_DROPPED = (httpx.ConnectError, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
RETRY_PAUSES_S = (0.05, 0.25)  # before the second and the third (last) attempt


def _failed(base_url: str, exc: Exception) -> CalcResult:
    return CalcResult(ok=False, error=f"calculator request to {base_url} failed: {str(exc) or type(exc).__name__}")


class CalculatorClient:
    """Blocking client; reuses one connection pool. Use as a context manager or call close()."""

    def __init__(self, base_url: str = "http://127.0.0.1:8000", timeout: float = 5.0):
        self.base_url = base_url
        self._http = httpx.Client(base_url=base_url, timeout=timeout)

    def calculate(self, expression: str) -> CalcResult:
        try:
            return _result(self._post(expression))
        except _FAILURES as exc:
            return _failed(self.base_url, exc)

    def _post(self, expression: str) -> httpx.Response:
        for pause in RETRY_PAUSES_S:
            with contextlib.suppress(*_DROPPED):
                return self._http.post("/calculate", json={"expression": expression})
            time.sleep(pause)
        return self._http.post("/calculate", json={"expression": expression})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CalculatorClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class AsyncCalculatorClient:
    """The same for asyncio rollout loops (many concurrent tool calls on one connection pool)."""

    def __init__(self, base_url: str = "http://127.0.0.1:8000", timeout: float = 5.0):
        self.base_url = base_url
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def calculate(self, expression: str) -> CalcResult:
        try:
            return _result(await self._post(expression))
        except _FAILURES as exc:
            return _failed(self.base_url, exc)

    async def _post(self, expression: str) -> httpx.Response:
        for pause in RETRY_PAUSES_S:
            with contextlib.suppress(*_DROPPED):
                return await self._http.post("/calculate", json={"expression": expression})
            await asyncio.sleep(pause)
        return await self._http.post("/calculate", json={"expression": expression})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncCalculatorClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()
