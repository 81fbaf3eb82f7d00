"""Load test of the calculator service, with in-process evaluate() on the same expressions as baseline.

Starts `econalign calculator serve` on a free 127.0.0.1 port in a subprocess, sends a bounded
load of valid and refused expressions, checks every answer against evaluate(), and stops it.

    python benchmarks/bench_calculator.py [--requests 2000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from econalign.tools.calculator import evaluate

VALID = [
    "0.5*1000**0.88 + 0.5*0**0.88",
    "log(2000) - log(1000)",
    "(0.5*sqrt(1000) + 0.5*sqrt(0))**2",
    "0.3*100 + 0.7*(-20)",
    "1 - exp(-0.01*500)",
    "round(218.2579161/3, 4)",
    "max(0.5*1000**0.5, 400**0.5)",
    "(0.5*1000**(1-0.5)/(1-0.5) * (1-0.5))**(1/(1-0.5))",
    "2**10",
    "7//2 + 7 % 2",
]
REFUSED = ["9**9**9", "1/0", "log(0)", "().__class__", "x + 1", "1" * 600, "sqrt(-1)"]
EXPRESSIONS = VALID + REFUSED  # 10 valid : 7 refused


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    command = [sys.executable, "-c", "from econalign.cli import main; main()",
               "calculator", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the calculator service exited at start:\n{server.stderr.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.05)
    stop_server(server)
    sys.exit("the calculator service did not answer /health within 30 s")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc): tells the service's cost from the client's."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(url: str, requests: int, concurrency: int) -> tuple[float, list[float], Counter]:
    """Send `requests` POSTs from `concurrency` workers; return wall time, latencies and errors."""
    expected = {expression: evaluate(expression).text for expression in EXPRESSIONS}
    latencies, errors, jobs = [], Counter(), iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as client:

        async def worker():
            for i in jobs:  # shared: each job is taken by exactly one worker
                expression = EXPRESSIONS[i % len(EXPRESSIONS)]
                start = time.perf_counter()
                try:
                    response = await client.post("/calculate", json={"expression": expression})
                except httpx.HTTPError as exc:
                    errors[f"transport: {type(exc).__name__}"] += 1
                    continue
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    errors[f"HTTP {response.status_code}"] += 1
                elif response.json()["text"] != expected[expression]:
                    errors["answer differs from evaluate()"] += 1

        await asyncio.gather(*(client.get("/health") for _ in range(concurrency)))  # open the connections
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start, latencies, errors


def in_process(requests: int) -> float:
    """evaluate() calls per second on the same expressions, best of 3 rounds."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for i in range(requests):
            evaluate(EXPRESSIONS[i % len(EXPRESSIONS)])
        best = min(best, time.perf_counter() - start)
    return requests / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    port = free_port()
    server = start_server(port)
    try:
        server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
        wall, latencies, errors = asyncio.run(load(f"http://127.0.0.1:{port}", args.requests, args.concurrency))
        if server_cpu is not None:
            server_cpu = cpu_seconds(server.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
    finally:
        stop_server(server)
    if len(latencies) < 2:
        sys.exit(f"no answers from the service: {dict(errors)}")
    local = in_process(args.requests)

    refused = sum(EXPRESSIONS[i % len(EXPRESSIONS)] in REFUSED for i in range(args.requests))
    p50, p99 = statistics.median(latencies), statistics.quantiles(latencies, n=100)[98]
    print(f"calculator service on 127.0.0.1:{port} (python {platform.python_version()}, {platform.machine()})")
    print(f"load: {args.requests} requests, {args.concurrency} concurrent, "
          f"{args.requests - refused} valid + {refused} refused expressions")
    print(f"errors: {sum(errors.values())}" + "".join(f"\n  {kind}: {n}" for kind, n in errors.items()))
    print(f"service: {args.requests / wall:,.0f} req/s, latency p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms")
    if server_cpu is not None:
        print(f"CPU per request: service {server_cpu / args.requests * 1e3:.2f} ms, "
              f"client {client_cpu / args.requests * 1e3:.2f} ms ({os.cpu_count()} cores shared)"
              + (" - the load generator, not the service, limits throughput" if client_cpu > server_cpu else ""))
    print(f"baseline, in-process evaluate(): {local:,.0f} calls/s ({1e6 / local:.1f} us/call)")
    print(f"ratio in-process / service: {local / (args.requests / wall):.1f}x")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
