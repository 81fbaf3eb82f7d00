"""The calculator tool: arithmetic, refusals, fuzzing, the HTTP service and client, the CLI."""

import asyncio
import contextlib
import math
import operator
import socket
import socketserver
import string
import struct
import threading
import time

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from econalign.tools import calculator
from econalign.tools.calculator import (
    MAX_CHARS,
    MAX_DEPTH,
    MAX_MAGNITUDE,
    MAX_NODES,
    CalcResult,
    evaluate,
)
from econalign.tools.client import AsyncCalculatorClient, CalculatorClient
from econalign.tools.server import MAX_BODY_BYTES, MAX_REQUEST_CHARS, app
from servers import running
from commands import econalign

FAST_S = 10.0  # every refusal takes well under a millisecond; this only catches hangs (a loaded CI machine is slow)


def timed(expression):
    start = time.perf_counter()
    result = evaluate(expression)
    elapsed = time.perf_counter() - start
    assert elapsed < FAST_S, (expression, elapsed)
    return result


def assert_well_formed(result):
    assert isinstance(result, CalcResult)
    if result.ok:
        assert type(result.value) in (int, float) and result.error is None
        assert math.isfinite(result.value) and abs(result.value) <= MAX_MAGNITUDE
    else:
        assert result.value is None and isinstance(result.error, str) and result.error
        assert result.text.startswith("error: ")
    assert "\n" not in result.text


# ---------------------------------------------------------------- correct arithmetic

HAND_COMPUTED = [
    ("0.5*1000**0.88", 0.5 * 10**2.64, "218.2579161"),  # 1000**0.88 = 10**2.64
    ("log(2000)-log(1000)", math.log(2), "0.6931471806"),
    ("ln(2000) - ln(1000)", math.log(2), "0.6931471806"),
    ("2**10", 1024, "1024"),
    ("-3**2", -9, "-9"),  # ** binds tighter than unary minus, as in Python
    ("(1+2)*3", 9, "9"),
    ("7//2", 3, "3"),
    ("7/2", 3.5, "3.5"),
    ("7 % 3", 1, "1"),
    ("1e3*2", 2000, "2000"),
    ("2.5E-3 * 4", 0.01, "0.01"),
    ("2**-1", 0.5, "0.5"),
    ("sqrt(16)", 4, "4"),
    ("log(8, 2)", 3, "3"),
    ("ln(e)", 1, "1"),
    ("exp(0)", 1, "1"),
    ("abs(-2.5)", 2.5, "2.5"),
    ("min(3, 1, 2) + max(3, 1, 2)", 4, "4"),
    ("round(3.14159, 2)", 3.14, "3.14"),
    ("round(2.7)", 3, "3"),
    ("2*pi", 2 * math.pi, "6.283185307"),
    ("1/3", 1 / 3, "0.3333333333"),
    ("0.1 + 0.2", 0.3, "0.3"),
    ("2**60", 2**60, "1.152921505e+18"),
    ("10**100", 10**100, "1e+100"),
    ("1e-7", 1e-7, "1e-07"),
    ("-0.0", 0, "0"),
    # CRRA certainty equivalent of a 50/50 gamble over 1000 and 0 with r = 0.5: 250
    ("(0.5*1000**(1-0.5)/(1-0.5) * (1-0.5))**(1/(1-0.5))", 250, "250"),
]


@pytest.mark.parametrize("expression, value, text", HAND_COMPUTED)
def test_hand_computed_values(expression, value, text):
    result = timed(expression)
    assert result.ok, result.error
    assert math.isclose(result.value, value, rel_tol=1e-12)
    assert result.text == text
    assert_well_formed(result)


def test_ints_stay_exact():
    assert timed("7//2").value == 3 and type(timed("7//2").value) is int
    assert timed("3**200 // 3**199").value == 3  # exact integer arithmetic within the limit


# ---------------------------------------------------------------- refusals

REFUSALS = [
    ("1" * (MAX_CHARS + 1), "too long"),
    ("max(" + "1," * MAX_NODES + "1)", "expression too large"),
    ("-" * (MAX_DEPTH + 1) + "1", "nested too deeply"),
    ("+".join(["1"] * (MAX_DEPTH + 1)), "nested too deeply"),
    ("1e101", "too large"),
    ("1e100 * 10", "too large"),
    ("10**50 * 10**51", "too large"),
    ("99**50 * 99**50", "too large"),
    ("9**9**9", "power too large"),
    ("10**1000", "power too large"),
    ("2**100000", "power too large"),
    ("(-10)**(10**100)", "power too large"),
    ("0.5**-1000", "power too large"),
    ("factorial(1000)", "unknown function 'factorial'"),
    ("1000!", "not a valid expression"),
    ("x + 1", "unknown name 'x'"),
    ("sqrt", "unknown name 'sqrt'"),
    ("().__class__", "attribute access"),
    ("(1).__class__.__bases__[0].__subclasses__()", "only named functions"),
    ("pi.__class__", "attribute access"),
    ("[1][0]", "indexing"),
    ("[x**x for x in (9,)]", "comprehensions"),
    ("lambda: 9**9**9", "lambda"),
    ("(lambda: 1)()", "only named functions"),
    ("'a' * 10**9", "only numbers"),
    ("f'{9**9**9}'", "strings"),
    ("b'x'", "only numbers"),
    ("round(2.5, ndigits=1)", "keyword arguments"),
    ("__import__('os').system('echo pwned')", "only named functions"),
    ("__import__('os')", "unknown function '__import__'"),
    ("1/0", "division by zero"),
    ("1//0", "division by zero"),
    ("1 % 0.0", "division by zero"),
    ("1/(2-2)", "division by zero"),
    ("0**-1", "zero cannot be raised to a negative power"),
    ("log(0)", "not positive"),
    ("log(-1)", "not positive"),
    ("ln(-1e-9)", "not positive"),
    ("log(8, 1)", "log base"),
    ("log(8, -2)", "log base"),
    ("sqrt(-1)", "sqrt of a negative number"),
    ("1e999", "too large"),
    ("1e999 - 1e999", "too large"),
    ("exp(1000)", "too large"),
    ("exp(231)", "too large"),
    ("(-8)**(1/3)", "not a real number"),
    ("1j", "only numbers"),
    ("True + 1", "only numbers"),
    ("None", "only numbers"),
    ("1 if 1 else 0", "if/else"),
    ("1 < 2", "comparisons"),
    ("1 and 2", "and/or"),
    ("~1", "operator ~"),
    ("2^3", "use ** for powers"),
    ("1,000", "commas"),
    ("(x := 1)", "assignment"),
    ("max(*[1, 2])", "max() takes 2 or more arguments"),
    ("sqrt()", "sqrt() takes 1 argument, not 0"),
    ("round(5, -10**9)", "round's second argument"),
    ("round(1.5, 0.5)", "round's second argument"),
    ("a = 1", "not a valid expression"),
    ("import os", "not a valid expression"),
    ("", "not a valid expression"),
    ("1\x00", "null bytes"),
    ("\ud800", "cannot evaluate"),
]


@pytest.mark.parametrize("expression, message", REFUSALS, ids=lambda x: repr(x)[:40] if isinstance(x, str) else None)
def test_refusals_are_fast_and_explained(expression, message):
    result = timed(expression)
    assert not result.ok
    assert_well_formed(result)
    assert message in result.error, result.error


def test_non_text_is_refused():
    assert evaluate(None).error == "the expression must be text"


def test_the_wall_clock_bound_stops_evaluation(monkeypatch):
    monkeypatch.setattr(calculator, "TIME_LIMIT_S", 0.0)
    result = evaluate("1 + 1")
    assert not result.ok and "took longer than" in result.error


def test_limits_leave_room_for_real_work():
    # A worst case inside every limit: as many float remainders with huge quotients as fit.
    expression = "+".join(["1e100 % 1e-300"] * ((MAX_CHARS + 1) // len("1e100 % 1e-300+")))
    assert len(expression) <= MAX_CHARS
    start = time.perf_counter()
    assert timed(expression).ok
    assert time.perf_counter() - start < calculator.TIME_LIMIT_S


# ---------------------------------------------------------------- fuzzing

@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=MAX_CHARS + 20), st.text(alphabet=string.printable, max_size=MAX_CHARS + 20)))
def test_random_text_never_raises(text):
    assert_well_formed(timed(text))


TOKENS = ["9", "10", "0", "1e308", "0.5", "e", "pi", "+", "-", "*", "/", "//", "%", "**", "(", ")", ",",
          "sqrt(", "log(", "ln(", "exp(", "abs(", "min(", "max(", "round(", "__class__", ".", "[", "]", " "]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map("".join))
def test_random_calculator_tokens_never_raise(text):
    assert_well_formed(timed(text))


class Refused(Exception):
    """The reference says the calculator must refuse this tree."""


LEAVES = st.one_of(st.integers(0, 60), st.floats(0, 1000, allow_nan=False, allow_infinity=False))
BINARY_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
              "//": operator.floordiv, "%": operator.mod, "**": operator.pow}


def extend(children):
    return st.one_of(
        st.tuples(st.just("op"), st.sampled_from(sorted(BINARY_OPS)), children, children),
        st.tuples(st.just("neg"), children),
        st.tuples(st.just("fn"), st.sampled_from(["sqrt", "log", "ln", "exp", "abs", "round"]), st.tuples(children)),
        st.tuples(st.just("fn"), st.sampled_from(["log", "min", "max", "round"]), st.tuples(children, children)),
    )


TREES = st.recursive(LEAVES, extend, max_leaves=12)


def render(tree) -> str:
    if not isinstance(tree, tuple):
        return repr(tree)  # round-trips ints and floats exactly
    if tree[0] == "op":
        return f"({render(tree[2])} {tree[1]} {render(tree[3])})"
    if tree[0] == "neg":
        return f"(-{render(tree[1])})"
    return f"{tree[1]}({', '.join(render(arg) for arg in tree[2])})"


def size(tree) -> tuple[int, int]:
    """(expression nodes, depth), counted as the calculator counts them."""
    if not isinstance(tree, tuple):
        return 1, 1
    children = tree[2:] if tree[0] == "op" else tree[1:] if tree[0] == "neg" else tree[2]
    sizes = [size(child) for child in children]
    return 1 + sum(n for n, _ in sizes), 1 + max(d for _, d in sizes)


def reference(tree):
    """Walk the tree with Python numbers under the calculator's documented rules."""
    if not isinstance(tree, tuple):
        value = tree
    elif tree[0] == "neg":
        value = -reference(tree[1])
    elif tree[0] == "op":
        a, b = reference(tree[2]), reference(tree[3])
        if tree[1] in ("/", "//", "%") and b == 0:
            raise Refused
        if tree[1] == "**":
            if (a == 0 and b < 0) or (a < 0 and not float(b).is_integer()):
                raise Refused
            try:  # guard: estimate in floats before computing exactly
                if abs(float(a)) ** float(b) > MAX_MAGNITUDE:
                    raise Refused
            except OverflowError:
                raise Refused from None
        function = BINARY_OPS[tree[1]]
    else:
        name, args = tree[1], [reference(arg) for arg in tree[2]]
        if (name == "sqrt" and args[0] < 0) or (name in ("log", "ln") and args[0] <= 0):
            raise Refused
        if name == "log" and len(args) == 2 and (args[1] <= 0 or args[1] == 1):
            raise Refused
        if name == "round" and len(args) == 2 and (type(args[1]) is not int or abs(args[1]) > 100):
            raise Refused
        function = {"sqrt": math.sqrt, "log": math.log, "ln": math.log, "exp": math.exp, "abs": abs,
                    "min": min, "max": max, "round": round}[name]
    if isinstance(tree, tuple) and tree[0] in ("op", "fn"):
        try:
            value = function(*([a, b] if tree[0] == "op" else args))
        except OverflowError:  # float results past 1.8e308, exp(1000)
            raise Refused from None
    if not abs(value) <= MAX_MAGNITUDE:
        raise Refused
    return value


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TREES)
def test_generated_trees_agree_with_a_reference_walk(tree):
    text = render(tree)
    nodes, depth = size(tree)
    assume(len(text) <= MAX_CHARS and nodes <= MAX_NODES and depth <= MAX_DEPTH)
    result = timed(text)
    assert_well_formed(result)
    try:
        expected = reference(tree)
    except Refused:
        assert not result.ok, (text, result.value)
        return
    assert result.ok, (text, result.error)
    assert result.value == expected or math.isclose(result.value, expected, rel_tol=1e-12), text


# ---------------------------------------------------------------- HTTP service and client

@pytest.fixture(scope="module")
def service():
    with running(app) as url:
        yield url


def test_service_health_and_calculate(service):
    assert httpx.get(f"{service}/health").json() == {"status": "ok"}
    with CalculatorClient(service, timeout=5) as client:
        good = client.calculate("0.5*1000**0.88")
        assert good.ok and good.text == "218.2579161"
        assert client.calculate("2**10").value == 1024
        bad = client.calculate("9**9**9")
        assert not bad.ok and "power too large" in bad.error
        too_long = client.calculate("1" * (MAX_CHARS + 1))  # the calculator's message, as in-process
        assert not too_long.ok and "too long" in too_long.error


def test_service_answers_the_full_result(service):
    body = httpx.post(f"{service}/calculate", json={"expression": "1/0"}).json()
    assert body == {"ok": False, "value": None, "error": "division by zero", "text": "error: division by zero"}


@pytest.mark.parametrize("payload", [
    {"expr": "1+1"},
    {"expression": 5},
    {"expression": "1", "extra": 1},
    {"expression": "1" * (MAX_REQUEST_CHARS + 1)},
    [1, 2],
])
def test_service_rejects_malformed_requests(service, payload):
    assert httpx.post(f"{service}/calculate", json=payload).status_code == 422


def test_service_rejects_invalid_json(service):
    response = httpx.post(f"{service}/calculate", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json() == {"detail": "the body is not valid JSON: Expecting property name enclosed in double quotes"
                                          " at character 1"}


SHORT_BYTES = 300  # a refusal names the field and the problem, never the input


@pytest.mark.parametrize("body, detail", [
    (b'{"expression": "\\ud800"}', "expression: Input should be a valid string, unable to parse raw data"),
    (b'{"expression": NaN}', "expression: Input should be a valid string"),
    (b'{"expression": -Infinity}', "expression: Input should be a valid string"),
    (b'{"expression": "' + b"1" * (MAX_REQUEST_CHARS + 1) + b'"}', "expression: String should have at most"),
    (b'{"expression": "1", "' + b"k" * 50_000 + b'": 1}', "kkkk"),
], ids=["lone surrogate", "NaN", "-Infinity", "too long", "huge unknown key"])
def test_service_refusals_are_short_and_never_echo_the_input(service, body, detail):
    response = httpx.post(f"{service}/calculate", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert len(response.content) < SHORT_BYTES and response.json()["detail"].startswith(detail)


def test_service_refuses_a_huge_body_before_reading_it(service):
    body = b'{"expression": "' + b"1" * 10_000_000 + b'"}'
    response = httpx.post(f"{service}/calculate", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413 and len(response.content) < SHORT_BYTES
    assert len(body) > MAX_BODY_BYTES


def test_async_client(service):
    async def run():
        async with AsyncCalculatorClient(service, timeout=5) as client:
            return await asyncio.gather(*(client.calculate(f"{i}**2") for i in range(20)), client.calculate("log(0)"))

    *squares, error = asyncio.run(run())
    assert [r.value for r in squares] == [i**2 for i in range(20)]
    assert not error.ok and "not positive" in error.error


def test_client_turns_service_errors_into_results(service):
    with CalculatorClient(f"{service}/nowhere", timeout=5) as client:
        result = client.calculate("1+1")
    assert not result.ok and "HTTP 404" in result.error


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_client_against_a_closed_port_returns_an_error():
    url = f"http://127.0.0.1:{closed_port()}"
    with CalculatorClient(url, timeout=2) as client:
        result = client.calculate("1+1")
    assert not result.ok and result.error.startswith(f"calculator request to {url} failed")

    async def run():
        async with AsyncCalculatorClient(url, timeout=2) as client:
            return await client.calculate("1+1")

    assert not asyncio.run(run()).ok


class Dropping(socketserver.StreamRequestHandler):
    """Reads a request, then drops the connection, except every `answer_every`-th connection of the
    server, which gets the answer to 1+1. Drops alternate: a reset (the client's ReadError), and a
    close without an answer (RemoteProtocolError)."""

    def handle(self):
        with self.server.lock:
            self.server.connections += 1
            count = self.server.connections
        length = 0
        while (line := self.rfile.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        self.rfile.read(length)
        if count % self.server.answer_every != 0:
            if count % 2:  # linger 0: closing sends a reset
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            return
        body = b'{"ok": true, "value": 2, "error": null, "text": "2"}'
        self.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
                         b"content-length: %d\r\n\r\n%s" % (len(body), body))


@contextlib.contextmanager
def dropping_service(answer_every):
    """A real TCP server on 127.0.0.1 that drops connections; yields it and its URL."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Dropping)
    server.daemon_threads, server.answer_every, server.connections = True, answer_every, 0
    server.lock = threading.Lock()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def calculate_both_ways(url):
    """1+1 through the blocking client, then through the async client."""
    with CalculatorClient(url, timeout=5) as client:
        blocking = client.calculate("1+1")

    async def run():
        async with AsyncCalculatorClient(url, timeout=5) as client:
            return await client.calculate("1+1")

    return blocking, asyncio.run(run())


def test_clients_retry_dropped_connections():
    with dropping_service(answer_every=3) as (server, url):
        results = calculate_both_ways(url)
    assert [r.value for r in results] == [2, 2]
    assert server.connections == 6  # two dropped, then the answer, for each client


def test_client_retries_are_bounded():
    with dropping_service(answer_every=10**9) as (server, url):
        results = calculate_both_ways(url)
    assert server.connections == 6  # three attempts each
    for result in results:
        assert not result.ok and result.error.startswith(f"calculator request to {url} failed")


# ---------------------------------------------------------------- CLI

def cli(*args):
    return econalign(*args, timeout=60)


def test_cli_eval_prints_the_value():
    done = cli("calculator", "eval", "2+2")
    assert done.returncode == 0 and done.stdout == "4\n"


def test_cli_eval_refusal_is_one_line():
    done = cli("calculator", "eval", "9**9**9")
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert output.count("\n") == 1 and "Traceback" not in output
    assert output.startswith("error: power too large")
