"""A safe calculator for model tool calls, built on `simpleeval` (never `eval`/`exec`).

Model text is untrusted: every refusal comes back as a `CalcResult` with a message the
model can read, and nothing is raised. Time is bounded in three layers:

1. size: at most MAX_CHARS characters, MAX_NODES expression nodes, MAX_DEPTH levels;
2. cost per step: every number, intermediate and result is a finite int or float with
   |x| <= MAX_MAGNITUDE, and a power whose result would exceed it is refused before it
   is computed, so no single step (ints of at most ~333 bits, floats) takes more than
   microseconds;
3. wall clock: the evaluator checks a deadline before every node. A computation running
   in C cannot be interrupted from Python (a watchdog thread cannot kill it, SIGALRM only
   runs between bytecodes and only in the main thread), and a subprocess per call costs
   milliseconds, so the deadline is cooperative; layer 2 is what makes it a real bound:
   the overrun is at most one cheap step.
"""

from __future__ import annotations

import ast
import math
import operator
import time
from dataclasses import dataclass

from simpleeval import InvalidExpression, SimpleEval

MAX_CHARS = 500
MAX_NODES = 200
MAX_DEPTH = 60
MAX_MAGNITUDE = 1e100
TIME_LIMIT_S = 0.1  # the worst case measured within the limits above is about 0.5 ms


class CalcError(Exception):
    """An expression the calculator refuses; the message is what the model sees."""


@dataclass(frozen=True)
class CalcResult:
    ok: bool
    value: float | None = None  # an int when the result is a whole number computed exactly
    error: str | None = None

    @property
    def text(self) -> str:
        """The result as the model sees it: at most 10 significant digits, no trailing zeros."""
        if not self.ok:
            return f"error: {self.error}"
        if self.value == 0:
            return "0"  # not "-0"
        if isinstance(self.value, int) and abs(self.value) < 10**15:
            return str(self.value)
        return f"{self.value:.10g}"


def _power(base, exp):
    if base == 0 and exp < 0:
        raise CalcError("zero cannot be raised to a negative power")
    if base < 0 and not float(exp).is_integer():
        raise CalcError("a negative number to a fractional power is not a real number")
    # log10 of the result, estimated before computing it: 9**9**9 or 2**100000 never run.
    if abs(base) not in (0, 1) and exp * math.log10(abs(base)) > math.log10(MAX_MAGNITUDE) + 0.5:
        raise CalcError(f"power too large: the result would exceed {MAX_MAGNITUDE:g}")
    return base**exp


def _sqrt(x):
    if x < 0:
        raise CalcError("sqrt of a negative number")
    return math.sqrt(x)


def _log(x, base=None):
    if x <= 0:
        raise CalcError("log of a number that is not positive")
    if base is None:
        return math.log(x)
    if base <= 0 or base == 1:
        raise CalcError("log base must be positive and not 1")
    return math.log(x, base)


def _round(x, ndigits=None):
    # int.__round__ computes 10**-ndigits, so a huge ndigits would be a huge power.
    if ndigits is not None and (not isinstance(ndigits, int) or abs(ndigits) > 100):
        raise CalcError("round's second argument must be a whole number from -100 to 100")
    return round(x, ndigits)


BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
          ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: _power}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
# name -> (function, fewest arguments, most arguments or None for any number)
FUNCTIONS = {"sqrt": (_sqrt, 1, 1), "log": (_log, 1, 2), "ln": (_log, 1, 1), "exp": (math.exp, 1, 1),
             "abs": (abs, 1, 1), "min": (min, 2, None), "max": (max, 2, None), "round": (_round, 1, 2)}
CONSTANTS = {"pi": math.pi, "e": math.e}

HELP = "use numbers, + - * / // % **, parentheses, pi, e and " + ", ".join(FUNCTIONS)
REFUSED = {
    ast.Attribute: "attribute access", ast.Subscript: "indexing", ast.Lambda: "lambda",
    ast.ListComp: "comprehensions", ast.SetComp: "comprehensions", ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions", ast.Compare: "comparisons", ast.BoolOp: "and/or",
    ast.IfExp: "if/else", ast.JoinedStr: "strings", ast.Tuple: "commas outside function calls",
    ast.List: "lists", ast.Set: "sets", ast.Dict: "dicts", ast.NamedExpr: "assignment",
    ast.Starred: "*-unpacking",
}
SYMBOLS = {ast.BitXor: "^ (use ** for powers)", ast.BitAnd: "&", ast.BitOr: "|", ast.LShift: "<<",
           ast.RShift: ">>", ast.MatMult: "@", ast.Invert: "~", ast.Not: "not"}


def _check(tree: ast.expr) -> None:
    """Refuse, with a message naming the problem, anything but plain arithmetic; bound its size."""
    stack, nodes = [(tree, 1)], 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise CalcError(f"expression too large (more than {MAX_NODES} numbers and operations)")
        if depth > MAX_DEPTH:
            raise CalcError(f"expression nested too deeply (more than {MAX_DEPTH} levels); split it into steps")
        children = []
        if isinstance(node, ast.Constant):
            if type(node.value) not in (int, float):  # bool, complex, str, bytes, None, ...
                raise CalcError(f"only numbers are allowed, not {type(node.value).__name__}; {HELP}")
        elif isinstance(node, ast.Name):
            if node.id not in CONSTANTS:
                raise CalcError(f"unknown name '{node.id}'; {HELP}")
        elif isinstance(node, (ast.BinOp, ast.UnaryOp)):
            if type(node.op) not in BINARY and type(node.op) not in UNARY:
                raise CalcError(f"operator {SYMBOLS.get(type(node.op), type(node.op).__name__)} is not allowed; {HELP}")
            children = [node.left, node.right] if isinstance(node, ast.BinOp) else [node.operand]
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name not in FUNCTIONS:
                what = f"unknown function {name!r}" if name else "only named functions can be called"
                raise CalcError(f"{what}; {HELP}")
            if node.keywords:
                raise CalcError(f"keyword arguments are not allowed in {name}()")
            _, least, most = FUNCTIONS[name]
            if len(node.args) < least or (most is not None and len(node.args) > most):
                wanted = f"{least}" if least == most else f"{least} or more" if most is None else f"{least} to {most}"
                raise CalcError(f"{name}() takes {wanted} argument{'' if wanted == '1' else 's'}, not {len(node.args)}")
            children = node.args
        else:
            raise CalcError(f"{REFUSED.get(type(node), type(node).__name__)} not allowed; {HELP}")
        stack.extend((child, depth + 1) for child in children)


def _number(x):
    """Every value met during evaluation must be a finite real number within MAX_MAGNITUDE."""
    if type(x) not in (int, float) or x != x:  # complex, bool, a function, NaN
        raise CalcError("the result is not a real number")
    if not abs(x) <= MAX_MAGNITUDE:  # inf too; exact for ints of any size
        raise CalcError(f"number too large (the limit is {MAX_MAGNITUDE:g} in absolute value)")
    return x


class _Evaluator(SimpleEval):
    """simpleeval restricted to the arithmetic `_check` admits, checking each value and the deadline."""

    def __init__(self):
        super().__init__(operators={**BINARY, **UNARY}, functions={k: f for k, (f, _, _) in FUNCTIONS.items()},
                         names=CONSTANTS)
        # Only these node types can be evaluated at all, whatever `_check` lets through.
        self.nodes = {t: self.nodes[t] for t in (ast.Constant, ast.Name, ast.BinOp, ast.UnaryOp, ast.Call)}
        self.deadline = time.perf_counter() + TIME_LIMIT_S

    def _eval(self, node):
        if time.perf_counter() > self.deadline:
            raise CalcError(f"took longer than {TIME_LIMIT_S:g} s")
        return _number(super()._eval(node))


def evaluate(expression: str) -> CalcResult:
    """Evaluate an arithmetic expression from a model; refusals are returned, never raised."""
    try:
        if not isinstance(expression, str):
            raise CalcError("the expression must be text")
        if len(expression) > MAX_CHARS:
            raise CalcError(f"expression too long ({len(expression)} characters, the limit is {MAX_CHARS})")
        try:
            tree = ast.parse(expression.strip(), mode="eval").body
        except SyntaxError as exc:
            raise CalcError(f"not a valid expression ({exc.msg}); {HELP}") from None
        _check(tree)
        evaluator = _Evaluator()
        return CalcResult(ok=True, value=evaluator.eval(expression, previously_parsed=tree))
    except CalcError as exc:
        return CalcResult(ok=False, error=str(exc))
    except ZeroDivisionError:
        return CalcResult(ok=False, error="division by zero")
    except OverflowError:
        return CalcResult(ok=False, error=f"number too large (the limit is {MAX_MAGNITUDE:g} in absolute value)")
    # Anything else the parser or a function can raise on odd input (null bytes, recursion, ...).
    except (InvalidExpression, ArithmeticError, ValueError, TypeError, RecursionError, MemoryError) as exc:
        return CalcResult(ok=False, error=f"cannot evaluate: {exc}")
