"""The command line itself: help screens, --version, defaults shared by every command, piped output."""

import json
import os
import re
import subprocess

import pytest
import typer
from typer.testing import CliRunner

import econalign
from econalign.cli import app

from commands import ECONALIGN, forkable
from commands import econalign as command

TYPE_LABEL = re.compile(r"<(bool|str|int|float|path)( range)?>")  # typer's own labels: `--quick <bool>`


def command_paths(command, path=()):
    """Every command and group of the app, as the words that reach it."""
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*path, name))


ALL_COMMANDS = list(command_paths(typer.main.get_command(app)))


def help_text(*words: str) -> str:
    res = CliRunner().invoke(app, [*words, "--help"], prog_name="econalign", env={"COLUMNS": "200"})  # no option wraps
    assert res.exit_code == 0, res.output
    return res.output


def option_row(text: str, option: str) -> str:
    return next(line for line in text.splitlines() if re.search(rf"│\s+(\*\s+)?{option}\s", line))


@pytest.mark.parametrize("words", ALL_COMMANDS, ids=lambda w: " ".join(w) or "econalign")
def test_help_has_no_type_labels_and_plain_usage(words):
    text = help_text(*words)
    assert not TYPE_LABEL.search(text), text
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage
    assert option_row(text, "--help").split("│")[1].split() == ["--help", "Show", "this", "message", "and", "exit."]


def test_help_reads_like_click():
    profile = help_text("profile")
    assert option_row(profile, "--quick").split()[1:3] == ["--quick", "The"]  # a flag takes no value
    assert option_row(profile, "--model").split()[1:3] == ["--model", "TEXT"]
    assert option_row(profile, "--seed").split()[1:4] == ["--seed", "INTEGER", "[x>=0]"]
    assert option_row(profile, "--out").split()[1:3] == ["--out", "PATH"]
    assert option_row(help_text("train", "sft"), "--resume").split()[1:3] == ["--resume", "--no-resume"]
    compare = help_text("compare")
    assert "Usage: econalign compare [OPTIONS] RUN..." in " ".join(compare.split())
    assert option_row(compare, "RUN").split()[1:5] == ["*", "RUN", "PATH...", "Profile"]


def test_version():
    res = command("--version")
    assert res.returncode == 0 and res.stderr == ""
    assert res.stdout == f"econalign {econalign.__version__}\n"


def test_model_defaults_to_default_in_every_command():
    helps = {words: help_text(*words) for words in ALL_COMMANDS}
    with_model = [words for words, text in helps.items() if re.search(r"│\s+(\*\s+)?--model\s", text)]
    assert ("eval", "agent") in with_model and ("utilities",) in with_model and len(with_model) == 8
    for words in with_model:
        if words != ("align",):  # align takes it from --config, else `default`
            assert "[default: default]" in option_row(helps[words], "--model"), words


@pytest.mark.slow
def test_eval_agent_runs_the_default_model_without_model(default_checkpoint, tmp_path):
    run = command("eval", "agent", "--preference", "log", "--tasks", "gamble", "--n", "1", "--max-turns", "1",
                  "--max-new-tokens", "4", "--out", tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "summary.json").read_text())["model"] == "default"


def test_piped_tables_keep_whole_rows(tmp_path):
    # The behaviour table of the social profile is 114 columns wide; rich used to cut its cells to fit 80.
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    run = command("profile", "--model", "sim:moralis:kappa=0.4,noise=0.1", "--battery", "social", "--out", tmp_path,
                  env=env)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("┃ game"))
    assert [c.strip() for c in lines[at].split("┃")[1:-1]] == [
        "game", "model", "homo-economicus", "moralis:kappa=0.5", "homo-kantiensis", "fs:alpha=0.85,beta=0.315"]
    games = [line.split("│")[1].strip() for line in lines[at:] if line.startswith("│")]
    assert games == ["dictator", "ultimatum_proposer", "ultimatum_responder", "trust_investor", "trust_trustee",
                     "prisoners_dilemma", "public_goods", "dilemma"]
    assert "…" not in run.stdout


@pytest.mark.parametrize("args", [["--version"], ["profile", "--model", "sim:foo"], ["calculator", "eval", "2+2"],
                                  ["profile", "--no-such-option"]])
def test_a_forked_command_answers_as_a_fresh_process(args):
    # tests run the CLI in children forked from the worker (tests/commands.py); they must see what users see
    fresh = subprocess.run([str(ECONALIGN), *args], capture_output=True, text=True, timeout=120)
    assert forkable(None) or not os.environ.get("PYTEST_XDIST_WORKER")  # `make test` does fork
    forked = command(*args)
    assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
