"""The `econalign` command line: it only wires the package's parts together."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape  # user text (ids, paths, messages) is not rich markup
from rich.table import Table

from econalign import EconalignError

app = typer.Typer(
    help="Measure and align the economic preferences of language-model agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True)


def slug(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", model).strip("_") or "model"


@app.command()
def profile(
    model: str = typer.Option("default", help="`default`, a Hugging Face id or local path, or sim:<preference>[,noise=x]."),
    out: Path = typer.Option(None, help="Output folder (default: runs/<model>)."),
    quick: bool = typer.Option(False, "--quick", help="The short battery (about 130 items)."),
    seed: int = typer.Option(0, help="Seed for sampled answers."),
    method: str = typer.Option("logits", help="logits: next-token choice probabilities; generate: greedy answer, parsed."),
    batch_size: int = typer.Option(16, help="Prompts per forward pass (Hugging Face models)."),
):
    """Run the risk battery on MODEL and write summary.json, results.csv, plots and report.html."""
    from econalign.backends import load_backend
    from econalign.io import writable_dir
    from econalign.measure.profile import check_method
    from econalign.measure.profile import profile as run_profile

    check_method(method)  # before the slow model load
    out = writable_dir(out or Path("runs") / slug(model))
    start = time.perf_counter()
    with console.status(f"loading {escape(model)}"):
        backend = load_backend(model, batch_size=batch_size)
    summary = run_profile(backend, out, quick, seed, method, load_seconds=time.perf_counter() - start)
    show_profile(summary)
    console.print(f"wrote {escape(str(out))}/summary.json, results.csv, report.html and plots")


def show_profile(summary: dict) -> None:
    from econalign.measure.report import estimate_rows, fmt

    table = Table(title=escape(f"{summary['model']} ({summary['method']})"))
    frame = estimate_rows(summary)
    for col in frame.columns:
        table.add_column(col)
    for row in frame.itertuples(index=False):
        table.add_row(*map(str, row))
    console.print(table)
    for name, hl in summary["holt_laury"].items():
        lo, hi = hl["crra_interval"]
        console.print(f"Holt–Laury {name}: {hl['safe_choices']} safe choices → CRRA r in ({fmt(lo, 2)}, {fmt(hi, 2)})"
                      + ("" if hl["consistent"] else " [multiple switching]"))
    t = summary["timings"]
    console.print(f"{summary['answers']['items']} items, {fmt(t['items_per_s'])} items/s, total {fmt(t['total_s'])} s")


@app.command()
def compare(a: Path = typer.Argument(..., help="First profile folder."), b: Path = typer.Argument(..., help="Second profile folder.")):
    """Show the differences between two profiles (B - A)."""
    from econalign.measure.compare import compare as diff
    from econalign.measure.report import fmt

    table = Table(title=escape(f"{a} → {b}"))
    for col in ("metric", "A", "B", "B - A"):
        table.add_column(col, justify="right" if col != "metric" else "left")
    for key, va, vb, d in diff(a, b):
        table.add_row(escape(key), fmt(va, 3), fmt(vb, 3), fmt(d, 3))
    console.print(table)


calculator = typer.Typer(help="The safe calculator tool used in agent rollouts.", no_args_is_help=True)
app.add_typer(calculator, name="calculator")


@calculator.command("serve")
def calculator_serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
):
    """Serve POST /calculate and GET /health over HTTP until interrupted."""
    from econalign.tools.server import serve

    serve(host, port)


@calculator.command("eval")
def calculator_eval(expression: str = typer.Argument(..., help='e.g. "0.5*1000**0.88"; put -- before one starting with -.')):
    """Print EXPRESSION's value as a model sees it; exit 1 if the calculator refuses it."""
    from econalign.tools.calculator import evaluate

    result = evaluate(expression)
    typer.echo(result.text, err=not result.ok)  # plain echo: one line, no markup or wrapping
    if not result.ok:
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except EconalignError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        errors.print("interrupted; run the same command again to resume")
        sys.exit(130)
