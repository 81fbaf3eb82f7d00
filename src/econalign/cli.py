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
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer's own copy of click
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from econalign import EconalignError, __version__
from econalign.resume import every, progress_bar, status

VALUE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT"}


def value_name(param: TyperOption | TyperArgument) -> str:
    name = param.bare_type()
    if name.startswith("list[") and name.endswith("]"):  # several values: `PATH...`
        return value_name_of(name[5:-1]) + "..."
    return value_name_of(name)


def value_name_of(name: str) -> str:
    return VALUE_NAMES.get(name, name.upper())


class PlainOption(TyperOption):
    def display_type_rich(self, ctx) -> str | None:
        return None if self.is_flag else self.metavar or value_name(self)


class PlainArgument(TyperArgument):
    def display_type_rich(self, ctx) -> str:
        return value_name(self)

    def get_usage_pieces(self, ctx) -> list[str]:
        name = (self.metavar or self.name.upper()) + ("..." if self.nargs != 1 else "")
        return [name if self.required else f"[{name}]"]


def plain(param):
    # typer 0.29 labels every parameter `<type>` in help (`--quick <bool>`, `--help <bool>`) and braces
    # required arguments in the usage line (`{a}`), with no setting to turn it off: its help asks each
    # parameter for these labels, so each becomes one that answers as click does (`--quick`,
    # `--model TEXT`, `A B`).
    if param is not None:
        param.__class__ = PlainArgument if isinstance(param, TyperArgument) else PlainOption
    return param


class PlainHelp:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in self.params:
            plain(param)

    def get_help_option(self, ctx):
        return plain(super().get_help_option(ctx))


class PlainCommand(PlainHelp, TyperCommand):
    pass


class PlainGroup(PlainHelp, TyperGroup):
    pass


class App(typer.Typer):
    """A typer app whose commands and groups write plain help."""

    def __init__(self, **kwargs):
        super().__init__(cls=PlainGroup, no_args_is_help=True, **kwargs)

    def command(self, name: str | None = None, **kwargs):
        return super().command(name, cls=PlainCommand, **kwargs)


app = App(help="Measure and align the economic preferences of language-model agents.", pretty_exceptions_enable=False,
          add_completion=False)
# Redirected or piped output keeps whole table rows: rich would fit it to 80 columns (or to the
# terminal the command was started from) and cut cells.
console = Console(width=None if sys.stdout.isatty() else 1000)
errors = Console(stderr=True)


def show_version(value: bool) -> None:
    if value:
        typer.echo(f"econalign {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: bool = typer.Option(False, "--version", is_eager=True, callback=show_version,
                                      help="Print the version and exit.")):
    """The options before a command (`version` is handled by its callback)."""


def api_url(model: str, base_url: str | None) -> str | None:
    """--base-url belongs to openai:NAME models; a local model beside one ignores it."""
    return base_url if model.startswith("openai:") else None


def slug(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", model).strip("_") or "model"


@app.command()
def profile(
    model: str = typer.Option("default", help="`default`, a Hugging Face id or local path, or sim:<preference>[,noise=x]."),
    out: Path = typer.Option(None, help="Output folder (default: runs/<model>)."),
    quick: bool = typer.Option(False, "--quick", help="The short risk battery (about 130 items)."),
    battery: str = typer.Option("risk", help="risk: lotteries and Holt–Laury; social: games and dilemmas (72 items); "
                                "budget: allocations between two securities, GARP and CCEI (50 items); "
                                "consistency: transitivity, listing-order and gain/loss-frame flips (180 items); "
                                "giving: tokens split with another person at varying prices of giving (56 items); "
                                "see measure/battery.py."),
    seed: int = typer.Option(0, min=0, help="Seed for sampled answers."),
    method: str = typer.Option("logits", help="logits: next-token choice probabilities; generate: greedy answer, parsed; "
                               "agent: a calculator-agent rollout per item, its final answer parsed."),
    batch_size: int = typer.Option(16, min=1, help="Prompts per forward pass (Hugging Face models)."),
    base_url: str = typer.Option(None, help="OpenAI-compatible endpoint for openai:NAME models."),
    price_in: float = typer.Option(None, help="USD per million input tokens (openai:NAME models): the summary "
                                   "and report then estimate the run's cost."),
    price_out: float = typer.Option(None, help="USD per million output tokens (with --price-in)."),
):
    """Run a battery on MODEL and write summary.json, results.csv, plots and report.html."""
    from econalign.backends import load_backend
    from econalign.io import check_writable
    from econalign.measure.battery import get_battery
    from econalign.measure.profile import check_method, left_to_score
    from econalign.measure.profile import profile as run_profile

    check_method(method)  # before the slow model load
    kind = get_battery(battery)
    if (price_in is None) != (price_out is None):
        raise EconalignError("give both --price-in and --price-out (USD per million tokens), or neither")
    prices = None if price_in is None else (price_in, price_out)
    out = check_writable(out or Path("runs") / (slug(model) + ("" if battery == "risk" else f"-{battery}")))
    backend = load_backend(model, batch_size=batch_size, base_url=base_url, prices=prices, weights=False)
    load_seconds = None  # no model is loaded when every answer is saved from an earlier run
    if left_to_score(backend, out, battery, quick, seed, method):
        start = time.perf_counter()
        with status(f"loading {escape(model)}"):
            backend = load_backend(model, batch_size=batch_size, base_url=base_url, prices=prices)
        load_seconds = time.perf_counter() - start
    else:
        console.print(f"every answer is saved in {escape(str(out))}/.cache: {escape(model)} is not loaded",
                      highlight=False, soft_wrap=True)
    summary = run_profile(backend, out, quick, seed, method, load_seconds=load_seconds, battery=battery)
    show_summary(summary, kind)
    console.print(f"wrote {escape(str(out))}/summary.json, results.csv, report.html and plots")


def print_frame(frame, title: str) -> None:
    table = Table(title=escape(title))
    for col in frame.columns:
        table.add_column(escape(str(col)))
    for row in frame.itertuples(index=False):
        table.add_row(*(escape(str(v)) for v in row))
    console.print(table)


def show_totals(summary: dict) -> None:
    """A profile's last lines: items, timings and, for a model behind an API, its tokens and cost."""
    from econalign.measure.report import timings_line, tokens_facts

    console.print(f"{summary['answers']['items']} items; {timings_line(summary['timings'])}", highlight=False,
                  soft_wrap=True)
    for name, line in tokens_facts(summary):
        console.print(escape(f"{name}: {line}"), soft_wrap=True)


def show_summary(summary: dict, battery) -> None:
    """The verdict, the estimates and the battery's own tables."""
    from econalign.measure.report import estimate_rows

    console.print(escape(summary["verdict"]))
    if summary["estimates"]:  # a battery may fit no model (consistency)
        print_frame(estimate_rows(summary), f"{summary['model']} ({summary['method']})")
    for title, frame in battery.terminal(summary).items():
        print_frame(frame, title)
    show_totals(summary)


@app.command()
def utilities(
    outcomes: Path = typer.Option(..., help="Outcomes file: one per line (money `$250`, lotteries `50% $1,000, 50% $0`, "
                                  "or free text), or .yaml / .csv with optional kind and quantity; see "
                                  "examples/outcomes/ and tasks/outcomes.py."),
    model: str = typer.Option("default", help="`default`, a Hugging Face id or local path, openai:NAME, or "
                              "sim:<preference>[,noise=x] (money and lotteries only)."),
    out: Path = typer.Option(None, help="Output folder (default: runs/utilities-<model>)."),
    pairs: int = typer.Option(None, min=1, help="Pairs fitted in all (default 2·n·log2 n for n outcomes, as "
                              "emergent-values), each asked in both orders."),
    rounds: int = typer.Option(4, min=1, help="Active rounds after the first (a random cycle through the outcomes): "
                               "each adds the pairs the current fit is least sure about."),
    holdout: int = typer.Option(None, min=0, help="Random pairs held out of the fit, for its accuracy and log-loss "
                                "(default: n, at most a quarter of the pairs outside the first round)."),
    seed: int = typer.Option(0, min=0, help="Seed of the pairs and of sampled answers."),
    method: str = typer.Option("logits", help="logits: next-token choice probabilities; generate: greedy answer, parsed."),
    batch_size: int = typer.Option(16, min=1, help="Prompts per forward pass (Hugging Face models)."),
    base_url: str = typer.Option(None, help="OpenAI-compatible endpoint for openai:NAME models."),
):
    """Thurstonian utilities of MODEL over the outcomes in a file (Mazeika et al. 2025): forced choices between
    actively chosen pairs, a held-out split, utility, money and exchange-rate plots, summary.json and report.html."""
    from econalign.backends import load_backend
    from econalign.io import check_writable
    from econalign.measure.report import estimate_rows
    from econalign.measure.utilities import Answerer, check_answerable, plan
    from econalign.measure.utilities import utilities as run_utilities
    from econalign.measure.utilities_report import utility_rows
    from econalign.tasks.outcomes import read_outcomes

    items = read_outcomes(outcomes)
    design = plan(len(items), pairs, rounds, holdout)
    out = check_writable(out or Path("runs") / slug(f"utilities-{model}"))
    backend = load_backend(model, batch_size=batch_size, base_url=base_url, weights=False)
    answerer = Answerer(backend, lambda: load_backend(model, batch_size=batch_size, base_url=base_url), seed, method)
    check_answerable(backend, items)
    summary = run_utilities(answerer, items, design, out, source=str(outcomes))
    console.print(escape(summary["verdict"]))
    print_frame(utility_rows(summary), f"utilities of {summary['model']} (highest first)")
    if summary["estimates"]:
        print_frame(estimate_rows(summary), "CRRA fitted to the choices between money outcomes")
    show_totals(summary)
    console.print(f"wrote {escape(str(out))}/summary.json, utilities.csv, pairs.csv, report.html and plots")


@app.command()
def compare(
    runs: list[Path] = typer.Argument(..., metavar="RUN", help="Profile folders (risk or social), any number."),
    out: Path = typer.Option(Path("runs/compare"), help="Folder for compare.csv (one row per run) and compare.html."),
):
    """Every headline figure of several profiles side by side (and B - A for two)."""
    from econalign.io import writable_dir
    from econalign.measure.compare import compare as side_by_side
    from econalign.measure.compare import display_frame, write_comparison

    comparison = side_by_side(runs)  # every input checked before anything is written
    out = writable_dir(out)
    print_frame(display_frame(comparison), f"{len(runs)} profiles (bound: on its search bound, not identified)")
    write_comparison(comparison, out)
    console.print(f"wrote {escape(str(out))}/compare.csv and compare.html")


@app.command()
def data(
    preference: str = typer.Option(..., help="Target preference, e.g. crra:r=2, tk92, pt:alpha=0.88,lambda=2.25, moralis:kappa=0.5."),
    tasks: str = typer.Option("gamble,holt_laury,bet,insurance", help="Comma-separated task families (games, dilemma "
                              "for a social preference)."),
    n: int = typer.Option(1000, min=1, help="Training items, split evenly across the families."),
    mode: str = typer.Option("agentic", help="agentic: calculator tool calls; blind: the arithmetic written inline."),
    seed: int = typer.Option(0, min=0, help="Seed: the same arguments give the same data."),
    out: Path = typer.Option(..., help="Output folder for train.jsonl, dataset/ and eval.jsonl."),
    eval_n: int = typer.Option(0, "--eval-n", min=0, help="Held-out items, none of them in the training set, in eval.jsonl."),
):
    """Write synthetic reasoning traces of the exact solver for PREFERENCE (chat JSONL and a Hugging Face dataset)."""
    from econalign.data.generate import check_request, generate_splits, save
    from econalign.io import writable_dir

    check_request(preference, tasks.split(","), n, mode, eval_n)  # refuse bad input before any work
    writable_dir(out)
    with progress_bar() as progress:
        bar = progress.add_task("generating traces", total=n + eval_n)
        train, held_out = generate_splits(preference, tasks.split(","), n, mode, seed, eval_n,
                                          lambda k: progress.advance(bar, k))
    save(train, out, held_out)
    console.print(f"wrote {len(train)} training items to {escape(str(out))}/train.jsonl and dataset/"
                  + (f", {len(held_out)} held-out items to eval.jsonl" if held_out else ""), soft_wrap=True)


@app.command()
def align(
    preference: str = typer.Option(None, help="Target preference, e.g. crra:r=2, pt:alpha=0.88,lambda=2.25, "
                                   "moralis:kappa=0.5, fs:alpha=0.85,beta=0.315."),
    model: str = typer.Option(None, help="`default` (the default), a Hugging Face id or a local folder."),
    out: Path = typer.Option(None, help="Output folder (default: runs/align-<model>-<preference>)."),
    config: Path = typer.Option(None, "--config", help="Run config (YAML, recipes/align_*.yaml); flags override it."),
    n: int = typer.Option(None, min=1, help="Training items of the last item set (default: 1,000 for risk targets, "
                          "after 480 anchor items and 720 of both anchors and the mixed gambles; 1,500 for social ones)."),
    seed: int = typer.Option(None, min=0, help="Seed of the data, training and profiles (default 0)."),
    quick: bool = typer.Option(None, "--quick/--full", help="Short or full risk battery for both profiles (default full)."),
):
    """Profile MODEL, fine-tune it on direct decisions of PREFERENCE, profile it again, and report before / after /
    target with a verdict (resumable: run it again to continue)."""
    from econalign.align import run_align
    from econalign.training import AlignRunConfig
    from econalign.training.config import load_config, validate

    given = {"preference": preference, "model": model, "output_dir": out, "seed": seed, "quick": quick}
    raw = load_config(config, AlignRunConfig).model_dump(exclude_unset=True) if config else {}
    raw.update({k: v for k, v in given.items() if v is not None})
    if "preference" not in raw:
        raise EconalignError("give the target with --preference (or in --config)")
    raw.setdefault("output_dir", Path("runs") / slug(f"align-{raw.get('model', 'default')}-{raw['preference']}"))
    run = validate(AlignRunConfig, raw, "align settings")
    if n is not None:  # the last item set's (of the default ones too)
        run.data[-1] = run.data[-1].model_copy(update={"n": n})
    summary = run_align(run, say=lambda line: typer.echo(line))
    typer.echo(summary["verdict"]["line"])
    typer.echo(f"wrote {run.output_dir}/summary.json, report.html and plots")


calculator = App(help="The safe calculator tool used in agent rollouts.")
app.add_typer(calculator, name="calculator")


@calculator.command("serve")
def calculator_serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
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


train = App(help="Train a model towards a preference.")
app.add_typer(train, name="train")


@train.command("sft")
def train_sft_command(
    config: Path = typer.Option(..., "--config", help="Run config (YAML); see recipes/."),
    resume: bool = typer.Option(
        True, "--resume/--no-resume",
        help="Continue from the last checkpoint in output_dir; --no-resume deletes its checkpoints and starts over.",
    ),
):
    """Supervised fine-tuning (full or LoRA) on chat records, with the loss on the assistant's answers only."""
    from econalign.training import load_config, train_sft

    result = train_sft(load_config(config), resume=resume)
    # Plain echo: paths stay on one line, unwrapped, and are never read as markup.
    if result.resumed_from is not None:
        typer.echo(f"resumed from the checkpoint at step {result.resumed_from}")
    adapter = f" (LoRA adapter: {result.adapter_dir})" if result.adapter_dir else ""
    typer.echo(f"model saved to {result.model_dir}{adapter}")
    if result.losses:
        first, last = result.losses[0], result.losses[-1]
        typer.echo(f"loss {first['loss']:.4f} (step {first['step']}) → {last['loss']:.4f} (step {last['step']}); "
                   f"curve in {result.output_dir}/loss.png")


@train.command("grpo")
def train_grpo_command(
    config: Path = typer.Option(..., "--config", help="Run config (YAML); see recipes/grpo_*.yaml."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Continue from the last checkpoint in output_dir."),
):
    """GRPO (TRL) with verifiable rewards: format, outcome and utility regret for `econalign data` records
    (single-turn, or multi-turn with the calculator), math format and answer for `econalign math data` records;
    held-out rewards every eval_steps steps with `eval:` records."""
    from econalign.training import GRPORunConfig, load_config
    from econalign.training.grpo import train_grpo

    result = train_grpo(load_config(config, GRPORunConfig), resume=resume)
    if result.resumed_from is not None:
        typer.echo(f"resumed from the checkpoint at step {result.resumed_from}")
    typer.echo(f"model saved to {result.model_dir}; curves in {result.output_dir}/curves.csv, curves.png, report.html")
    if result.curves:
        from econalign.measure.report import fmt
        from econalign.training.grpo import evaluations, first_and_last

        k, *reward = first_and_last(result.curves, "reward")
        _, *accuracy = first_and_last(result.curves, "accuracy")
        typer.echo(f"mean of the first → last {k} steps: reward {fmt(reward[0], 3)} → {fmt(reward[1], 3)}, "
                   f"accuracy {fmt(accuracy[0], 3)} → {fmt(accuracy[1], 3)}")
        for name in ("eval_reward", "eval_accuracy"):
            if seen := evaluations(result.curves, name):
                (a, first), (b, last) = seen[0], seen[-1]
                typer.echo(f"held-out {name.removeprefix('eval_')} ({result.held_out_records} records), step {a} → "
                           f"{b}: {fmt(first, 3)} → {fmt(last, 3)}")


@train.command("ei")
def train_ei_command(config: Path = typer.Option(..., "--config", help="Run config (YAML); see recipes/ei_*.yaml.")):
    """Expert iteration: sample K completions per prompt, keep the verified-correct ones, SFT, repeat
    (records of `econalign data` or of `econalign math data`)."""
    from econalign.training import EIRunConfig, load_config
    from econalign.training.ei import train_ei

    summary = train_ei(load_config(config, EIRunConfig))
    for r in summary["rounds"]:
        acc = "—" if r.get("eval_accuracy") is None else f"{r['eval_accuracy']:.3f}"
        kept = f", kept {r['kept']} of {r['samples']} samples (accuracy {r['sample_accuracy']:.3f})" if "kept" in r else ""
        typer.echo(f"round {r['round']}: held-out accuracy {acc}{kept}" + (f"; {r['stopped']}" if "stopped" in r else ""))
    typer.echo(f"final model: {summary['final_model']}")


evaluation = App(help="Evaluate a model on agent tasks.")
app.add_typer(evaluation, name="eval")


@evaluation.command("agent")
def eval_agent(
    model: str = typer.Option("default", help="`default`, a Hugging Face id or local path (e.g. a trained OUT/model)."),
    preference: str = typer.Option(..., help="The target preference the decisions are graded against."),
    n: int = typer.Option(200, min=1, help="Held-out items to generate (ignored with --data)."),
    mode: str = typer.Option("agentic", help="agentic: with the calculator tool; blind: without."),
    tasks: str = typer.Option("gamble,holt_laury,bet,insurance", help="Task families, comma-separated."),
    data: Path = typer.Option(None, help="eval.jsonl from `econalign data --eval-n`: items held out from training."),
    out: Path = typer.Option(None, help="Output folder (default: runs/eval-<model>-<mode>)."),
    seed: int = typer.Option(0, min=0, help="Seed of the generated items and of sampling."),
    max_turns: int = typer.Option(6, min=1, help="Generation turns per item (each tool call ends a turn)."),
    max_new_tokens: int = typer.Option(384, min=1, help="New tokens per turn."),
    calculator_url: str = typer.Option(None, help="Use a running `econalign calculator serve` instead of the in-process tool."),
    batch_size: int = typer.Option(16, min=1, help="Rollouts generated together."),
    base_url: str = typer.Option(None, help="OpenAI-compatible endpoint for openai:NAME models."),
):
    """Roll out agent tasks and report tool use, format errors and decision accuracy; traces are saved."""
    from econalign.agent.evaluate import evaluate_agent, held_out_tasks, load_tasks
    from econalign.agent.format import MODES
    from econalign.backends import load_backend
    from econalign.data.generate import families, preference_for
    from econalign.io import check_writable, writable_dir
    from econalign.tools.client import CalculatorClient

    if mode not in MODES:
        raise EconalignError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    items = load_tasks(data) if data else None
    names = list(dict.fromkeys(t.family for t in items)) if items else families(tasks.split(","))
    pref = preference_for(preference, names)
    items = items or held_out_tasks(pref.spec(), names, n, seed)
    out = check_writable(out or Path("runs") / slug(f"eval-{model}-{mode}"))
    with status(f"loading {escape(model)}"):
        backend = load_backend(model, batch_size=batch_size, base_url=base_url)
    writable_dir(out)  # only now that the model is known to load
    kwargs = {"calculator": CalculatorClient(calculator_url).calculate} if calculator_url else {}
    summary = evaluate_agent(
        backend, items, pref, mode, out, seed=seed, max_turns=max_turns, max_new_tokens=max_new_tokens,
        batch=batch_size, **kwargs,
    )
    table = Table(title=escape(f"{summary['model']} · {mode} · target {summary['preference']}"))
    for col in ("family", "n", "accuracy", "format errors", "unparsed", "tool calls", "tool errors"):
        table.add_column(col)
    for name, m in {"all": summary, **summary["by_family"]}.items():
        table.add_row(name, str(m["n"]), f"{m['decision_accuracy']:.3f}", str(m["format_errors"]), str(m["unparsed"]),
                      str(m["tool_calls"]), str(m["tool_errors"]))
    console.print(table)
    console.print(f"wrote {escape(str(out))}/summary.json and traces.jsonl")


@app.command()
def teacher(
    teacher_model: str = typer.Option(..., "--teacher", help="The teacher: `default`, an HF id or path, or openai:NAME."),
    preference: str = typer.Option(..., help="The preference the teacher is told to have, e.g. crra:r=2, moralis:kappa=0.5."),
    questions: Path = typer.Option(..., help='JSONL of {"messages": [...]}, e.g. question/*.jsonl of github.com/thienkhoi01/risk-preference.'),
    out: Path = typer.Option(..., help="Output folder for train.jsonl (OpenAI chat fine-tuning format)."),
    max_new_tokens: int = typer.Option(512, min=1, help="New tokens per answer."),
    batch_size: int = typer.Option(16, min=1, help="Questions answered together (Hugging Face models)."),
    base_url: str = typer.Option(None, help="OpenAI-compatible endpoint for openai:NAME teachers."),
):
    """Teacher-generated SFT data: answers under a per-preference system prompt, saved without it."""
    from econalign.backends import load_backend
    from econalign.data.teacher import read_questions, system_prompt, teacher_records
    from econalign.io import check_writable, jsonl, writable_dir, write_json, write_text

    system = system_prompt(preference)  # refuses an unknown preference before the model loads
    items = read_questions(questions)
    out = check_writable(out)
    with status(f"loading {escape(teacher_model)}"):
        backend = load_backend(teacher_model, batch_size=batch_size, base_url=base_url)
    records = teacher_records(backend, items, preference, max_new_tokens)
    write_text(writable_dir(out) / "train.jsonl", jsonl(records))
    write_json(out / "meta.json", {"teacher": backend.name, "preference": preference, "system_prompt": system,
                                   "questions": str(questions), "records": len(records)})
    console.print(f"wrote {len(records)} records to {escape(str(out))}/train.jsonl (system prompt in meta.json only)")


@app.command()
def judge(
    model: str = typer.Option("default", help="The model whose free-text answers are judged."),
    judge_model: str = typer.Option("default", "--judge", help="The judge: `default`, an HF id or path, or openai:NAME."),
    questions: Path = typer.Option(..., help='JSONL of {"messages": [...]}, e.g. evals/*.jsonl of github.com/thienkhoi01/risk-preference.'),
    runs: int = typer.Option(3, min=1, help="Answers per question (sampled at temperature 1 when more than one)."),
    metrics: str = typer.Option("risk_seeking,coherence,alignment", help="Comma-separated judge metrics."),
    out: Path = typer.Option(None, help="Output folder (default: runs/judge-<model>)."),
    seed: int = typer.Option(0, min=0, help="Seed of the sampled answers."),
    max_new_tokens: int = typer.Option(256, min=1, help="New tokens per answer."),
    batch_size: int = typer.Option(16, min=1, help="Prompts per batch (Hugging Face models)."),
    base_url: str = typer.Option(None, help="OpenAI-compatible endpoint for openai:NAME models or judges."),
):
    """Score answers 0-100 with an LLM judge (strict integers; anything else is counted as unparsed)."""
    from econalign.backends import load_backend
    from econalign.data.teacher import read_questions
    from econalign.io import check_writable, writable_dir
    from econalign.measure.judge import check_metrics, run_judge

    names = [m.strip() for m in metrics.split(",") if m.strip()]
    check_metrics(names)
    items = read_questions(questions)
    out = check_writable(out or Path("runs") / slug(f"judge-{model}"))
    with status(f"loading {escape(model)} and {escape(judge_model)}"):
        answering = load_backend(model, batch_size=batch_size, base_url=api_url(model, base_url))
        judging = answering if judge_model == model else load_backend(
            judge_model, batch_size=batch_size, base_url=api_url(judge_model, base_url))
    writable_dir(out)  # only now that the models are known to load
    summary = run_judge(answering, judging, items, out, runs=runs, metrics=names, seed=seed, max_new_tokens=max_new_tokens)
    for name, m in summary["metrics"].items():
        mean = "—" if m["mean"] is None else f"{m['mean']:.1f}"
        console.print(f"{name}: mean {mean} over {m['n_scored']} scored answers, {m['n_unparsed']} unparsed")
    console.print(f"wrote {escape(str(out))}/summary.json, answers.jsonl, scores.csv, scores.png and report.html")


@app.command("serve")
def serve_command(
    model: str = typer.Option("default", help="`default`, a Hugging Face id or local path (e.g. a trained OUT/model)."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8001, min=1, max=65535, help="Port to listen on."),
    max_top_logprobs: int = typer.Option(
        20, min=0, help="Most top_logprobs a request may ask for (20, as OpenAI; the vocabulary size for exact "
        "API scores, at the cost of large responses)."),
):
    """Serve MODEL as an OpenAI-compatible API (/v1/models, /v1/chat/completions with log-probabilities,
    /v1/completions) until interrupted; use it elsewhere as --model openai:MODEL --base-url http://HOST:PORT/v1.

    Requests are answered one at a time, in arrival order (no batching across requests); a request
    whose client disconnects stops at its next token, and a prompt longer than the model's context
    is refused (400). SIGTERM or Ctrl-C stops the generation in progress and exits within seconds.
    """
    from econalign.serve import serve

    console.print(f"serving {escape(model)} on http://{host}:{port}/v1 (model name: {escape(model)})")
    serve(model, host, port, max_top_logprobs)


math_app = App(help="Math reasoning with verifiable rewards (GSM8K / MATH).")
app.add_typer(math_app, name="math")


@math_app.command("eval")
def math_eval(
    model: str = typer.Option("default", help="`default`, a Hugging Face id or local path (e.g. a trained OUT/model)."),
    data: str = typer.Option("gsm8k", help="gsm8k or math (hub), any hub id, a .jsonl file, or a folder of <split>.jsonl."),
    split: str = typer.Option("test", help="Dataset split."),
    n: int = typer.Option(200, min=1, help="The first N problems."),
    prompt: str = typer.Option("r1_zero", help="r1_zero (raw text, continues after `Assistant: <think>`) or question_only."),
    out: Path = typer.Option(None, help="Output folder (default: runs/math-<model>-<prompt>)."),
    max_new_tokens: int = typer.Option(512, min=1, help="New tokens per answer."),
    seed: int = typer.Option(0, min=0, help="Seed (greedy decoding: only sampling uses it)."),
    batch_size: int = typer.Option(16, min=1, help="Problems generated together."),
    base_url: str = typer.Option(None, help="OpenAI-compatible endpoint for openai:NAME models."),
):
    """Answer N problems, grade them (format, answer, reward) and count the three categories."""
    from econalign.backends import load_backend
    from econalign.io import check_writable, writable_dir
    from econalign.math.data import load_problems
    from econalign.math.evaluate import evaluate_math
    from econalign.math.prompts import check_prompt

    check_prompt(prompt)
    problems = load_problems(data, split, n)
    out = check_writable(out or Path("runs") / slug(f"math-{model}-{prompt}"))
    with status(f"loading {escape(model)}"):
        backend = load_backend(model, batch_size=batch_size, base_url=base_url)
    writable_dir(out)  # only now that the model is known to load
    s = evaluate_math(backend, problems, prompt, out, max_new_tokens=max_new_tokens, seed=seed, batch=batch_size,
                      data=f"{data}:{split}")
    c = s["categories"]
    console.print(f"{s['n']} problems: accuracy {s['accuracy']:.3f}, format {s['format_rate']:.3f}; format 1 answer 1: "
                  f"{c['format1_answer1']}, format 1 answer 0: {c['format1_answer0']}, format 0: {c['format0']}")
    console.print(f"wrote {escape(str(out))}/summary.json and generations.jsonl")


@math_app.command("data")
def math_data(
    data: str = typer.Option("gsm8k", help="As for `math eval`; its worked solutions become SFT targets."),
    split: str = typer.Option("train", help="Dataset split."),
    n: int = typer.Option(1000, min=1, help="The first N problems."),
    prompt: str = typer.Option("r1_zero", help="r1_zero (prompt/completion text records) or question_only (chat "
                               "records: the bare question as the user turn, the solution ending on its boxed answer)."),
    out: Path = typer.Option(..., help="Output folder for <split>.jsonl."),
):
    """Render worked solutions as records for `econalign train sft`, `train grpo` and `train ei` (gold answers kept)."""
    from econalign.io import jsonl, writable_dir, write_text
    from econalign.math.data import load_problems, sft_records
    from econalign.math.prompts import check_prompt

    check_prompt(prompt)
    records = sft_records(load_problems(data, split, n), prompt)
    write_text(writable_dir(out) / f"{split}.jsonl", jsonl(records))
    console.print(f"wrote {len(records)} {prompt} records to {escape(str(out))}/{split}.jsonl")


@app.command()
def pricing(
    model: str = typer.Option("default", help="Firm A: `default`, a Hugging Face id or path, or sim:moralis:kappa=K."),
    rival: str = typer.Option(None, help="Firm B (default: MODEL plays itself)."),
    rounds: int = typer.Option(50, min=1, help="Rounds of simultaneous price setting."),
    out: Path = typer.Option(None, help="Output folder (default: runs/pricing-<model>[-<rival>])."),
    seed: int = typer.Option(0, min=0, help="Seed of the starting prices and of sampling."),
    history: int = typer.Option(10, min=0, help="Past rounds shown to a language-model firm."),
    max_new_tokens: int = typer.Option(64, min=1, help="New tokens per answer."),
    batch_size: int = typer.Option(16, min=1, help="Prompts per forward pass (Hugging Face models)."),
    base_url: str = typer.Option(None, help="OpenAI-compatible endpoint for openai:NAME models."),
    menu: bool = typer.Option(False, "--menu", help="Choose each price from a lettered menu (the last price and "
                              "steps of $0.05 and $0.10), scored from the answer letter as the batteries are; any "
                              "sim: social preference may play."),
):
    """Repeated logit-demand Bertrand duopoly (Calvano et al. 2020): price paths and the collusion index."""
    from econalign.environments.pricing import run_pricing

    out = out or Path("runs") / slug(f"pricing-{model}" + (f"-{rival}" if rival else ""))
    from econalign.backends import load_backend

    summary = run_pricing(model, rival, rounds, out, seed=seed, history=history, max_new_tokens=max_new_tokens,
                          load=lambda m: load_backend(m, batch_size=batch_size, base_url=api_url(m, base_url)), menu=menu)
    nash, mono = summary["nash"]["prices"][0], summary["monopoly"]["prices"][0]
    late = summary["mean"]["last_half"]
    console.print(f"Nash price {nash:.4f}, joint-monopoly price {mono:.4f}; last {summary['mean']['last_half_rounds']} "
                  f"rounds: prices {late['price_a']:.4f} / {late['price_b']:.4f}, collusion index "
                  f"{summary['collusion_index']['last_half']:.3f} (overall {summary['collusion_index']['overall']:.3f}); "
                  f"unparsed answers A {summary['unparsed']['a']}, B {summary['unparsed']['b']}")
    console.print(f"wrote {escape(str(out))}/summary.json, rounds.csv, prices.png and report.html")


def fail(message: str, code: int) -> None:
    errors.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


def main() -> None:
    try:
        every()  # a bad ECONALIGN_PROGRESS_EVERY is refused before any work, not after a model load
        code = app(standalone_mode=False)
    except NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ClickException as exc:  # a bad option or value: one line, like every other input error
        fail(exc.format_message(), exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except EconalignError as exc:
        fail(str(exc), 2)
    except OSError as exc:  # a full disk, a read-only folder: files are written whole, so none is left half-written
        fail((exc.strerror or str(exc)) + (f": {exc.filename}" if exc.filename else ""), 1)
    if code == 130:  # typer turns Ctrl-C into exit code 130
        errors.print("interrupted; run the same command again to resume")
    sys.exit(code or 0)


if __name__ == "__main__":  # `python -m econalign.cli`, as `accelerate launch -m` runs it
    main()
