"""The profile pipeline end to end: simulated agents with known preferences, through the CLI and the library."""

import base64
import dataclasses
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from econalign import EconalignError
from econalign.backends.hf import HFBackend
from econalign.backends.sim import SimBackend
from econalign.cli import app
from econalign.measure.risk import PERSONAS, risk_battery
from econalign.measure.compare import metrics
from econalign.measure.profile import CHUNK, profile, resume_key, score_battery, scoring_order
from econalign.measure.report import fmt
from econalign.measure.social import social_battery
from econalign.resume import left_to_do, run_chunks

from commands import ECONALIGN, econalign

PNGS = ("curves.png", "holt_laury.png", "logit_vs_utility.png", "personas.png", "mixed.png")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
QUICK_ITEMS = len(risk_battery(quick=True))
FULL_ITEMS = len(risk_battery(quick=False))
SOCIAL_ITEMS = len(social_battery())


def strict_json(path: Path):
    """JSON as any parser reads it: NaN and Infinity are refused."""

    def refuse(constant):
        raise ValueError(f"{path} holds {constant}, which is not JSON")

    return json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=refuse)


def profile_cli(out: Path, *args) -> dict:
    res = econalign("profile", "--out", out, *args)
    assert res.returncode == 0, res.stdout + res.stderr
    return strict_json(out / "summary.json")


def inside(ci, value) -> bool:
    return ci is not None and ci[0] <= value <= ci[1]


def hidden_leftovers(folder: Path) -> list[str]:
    """Dot-files (temporary files of atomic writes) other than the resume cache."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != ".cache"]


@pytest.fixture(scope="module")
def log_quick(tmp_path_factory):
    """Log utility (r = 1), choice probabilities, quick battery."""
    out = tmp_path_factory.mktemp("log-quick")
    return out, profile_cli(out, "--model", "sim:crra:r=1,noise=0.05", "--quick")


@pytest.fixture(scope="module")
def crra_generate(tmp_path_factory):
    out = tmp_path_factory.mktemp("crra-generate")
    return out, profile_cli(out, "--model", "sim:crra:r=0.5,noise=0.05", "--method", "generate", "--seed", "0")


@pytest.fixture(scope="module")
def pt_generate(tmp_path_factory):
    out = tmp_path_factory.mktemp("pt-generate")
    return out, profile_cli(out, "--model", "sim:pt:alpha=0.88,lambda=2.25,noise=0.05", "--method", "generate", "--seed", "0")


# ---------------------------------------------------------------- what a profile writes


def test_summary_documented_keys(log_quick):
    _, s = log_quick
    assert s["model"] == "sim:crra:r=1,noise=0.05"
    assert (s["method"], s["quick"], s["seed"]) == ("logits", True, 0)
    for model, names in (("crra", ("r", "noise")), ("pt", ("alpha", "lambda", "gamma", "noise"))):
        params = s["estimates"][model]["params"]
        assert list(params) == list(names)
        assert all(set(p) == {"value", "se", "ci95", "on_bound"} for p in params.values())
    assert set(s["holt_laury"]) == {"x1"}
    assert {"safe_choices", "crra_interval", "consistent"} <= set(s["holt_laury"]["x1"])
    assert all({"curve", "indifference", "theory"} <= set(c) for c in s["indifference"])
    assert set(s["personas"]) == set(PERSONAS)
    assert all(set(p["shift_vs_neutral"]) == {"indifference", "mean_p_accept"} for p in s["personas"].values())
    assert set(s["logit_vs_utility"]) == {"ev", "crra_fit"}
    assert [m["curve"] for m in s["mixed"]] == ["50% +G / 50% -500"]
    assert {"loss", "wealth", "p_take", "threshold", "theory"} <= set(s["mixed"][0])
    assert s["verdict"].startswith("Risk-averse: CRRA r = ")
    assert set(s["position_bias"]) == {"p_accept_sure_first", "p_accept_gamble_first"}
    assert s["answers"] == {"items": QUICK_ITEMS, "unparsed": 0, "mean_option_mass": 1.0}
    t = s["timings"]
    assert (t["items_scored"], t["items_resumed"]) == (QUICK_ITEMS, 0)
    assert {"load_s", "score_s", "items_per_s", "total_s"} <= set(t)


def test_log_utility_agent_is_recovered(log_quick):
    _, s = log_quick
    r = s["estimates"]["crra"]["params"]["r"]
    assert inside(r["ci95"], 1.0), r
    hl = s["holt_laury"]["x1"]
    assert hl["safe_choices"] == 8 and hl["consistent"]  # log utility: 8 safe choices
    lo, hi = hl["crra_interval"]
    assert lo < 1.0 < hi
    # every curve crosses 1/2 near the log-utility certainty equivalent (1% of the range)
    for c in s["indifference"]:
        assert c["indifference"] == pytest.approx(c["theory"]["log"], abs=10.0), c["curve"]
    assert s["logit_vs_utility"]["crra_fit"]["pearson"] > 0.99


def test_sim_agent_ignores_personas_and_order(log_quick):
    _, s = log_quick
    for entry in s["personas"].values():
        assert entry["shift_vs_neutral"] == {"indifference": 0.0, "mean_p_accept": 0.0}
    assert s["position_bias"]["p_accept_sure_first"] == s["position_bias"]["p_accept_gamble_first"]


def test_results_csv_has_one_row_per_item(log_quick):
    out, s = log_quick
    table = pd.read_csv(out / "results.csv")
    assert list(table.id) == [t.id for t in risk_battery(quick=True)]
    assert table.y.between(0, 1).all() and (table.mass == 1.0).all()
    gambles = table[(table.family == "gamble") & table.persona.isna()]
    assert gambles.curve.notna().all()  # the mixed gambles too: one curve per loss, the gain varying along it
    assert [c["curve"] for c in s["indifference"]] == list(gambles[gambles.kind != "mixed"].curve.unique())
    assert [m["curve"] for m in s["mixed"]] == list(gambles[gambles.kind == "mixed"].curve.unique())


def test_mixed_gamble_threshold_is_near_the_agents(log_quick):
    # log utility, wealth 1,500, loss 500: ln(1500 + G) + ln(1000) = 2 ln(1500)  =>  G = 750 (ratio 1.5);
    # the battery offers G = 500, 750, 1000, ...: the crossing lies within one step of 750
    _, s = log_quick
    m = s["mixed"][0]
    assert m["theory"]["log"] == pytest.approx(750, rel=1e-6)
    assert 500 <= m["threshold"] <= 1000
    assert m["p_take"]["500"] < 0.5 < m["p_take"]["1000"]


def test_report_is_self_contained(log_quick):
    out, s = log_quick
    page = (out / "report.html").read_text(encoding="utf-8")
    assert s["model"] in page
    targets = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]+)""", page, flags=re.IGNORECASE)
    assert len(targets) == len(PNGS)
    for target in targets:
        assert target.startswith("data:image/png;base64,"), target[:80]
        assert base64.b64decode(target.split(",", 1)[1]).startswith(PNG_MAGIC)
    assert not re.search(r"https?://", page)
    for name in PNGS:
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    assert hidden_leftovers(out) == []


# ---------------------------------------------------------------- recovery with sampled answers


def test_crra_recovered_from_generated_answers(crra_generate):
    _, s = crra_generate
    assert (s["method"], s["quick"], s["answers"]["items"], s["answers"]["unparsed"]) == ("generate", False, FULL_ITEMS, 0)
    assert s["answers"]["mean_option_mass"] is None  # generated answers have no token mass
    assert inside(s["estimates"]["crra"]["params"]["r"]["ci95"], 0.5)


def test_pt_recovered_from_generated_answers(pt_generate):
    _, s = pt_generate
    params = s["estimates"]["pt"]["params"]
    assert inside(params["lambda"]["ci95"], 2.25), params["lambda"]
    # This sample (items in scoring order, one seed per chunk) reads alpha 0.82 [0.72, 0.93]; the one drawn in
    # battery order read 1.09 [0.88, 1.34], just missing 0.88 (the 1 in 20).
    assert inside(params["alpha"]["ci95"], 0.88) and abs(params["alpha"]["value"] - 0.88) < 0.25, params["alpha"]


def test_generate_is_deterministic_per_seed(tmp_path):
    args = ("--model", "sim:crra:r=0.5,noise=0.1", "--method", "generate", "--quick")
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        profile_cli(tmp_path / name, *args, "--seed", seed)
    a, b, c = (tmp_path / n / "results.csv" for n in "abc")
    assert a.read_bytes() == b.read_bytes()
    answers_a, answers_c = pd.read_csv(a).answer, pd.read_csv(c).answer
    assert (answers_a != answers_c).sum() > 0


# ---------------------------------------------------------------- resume


def test_resume_after_lost_chunks(tmp_path):
    backend = SimBackend.from_spec("sim:crra:r=0.5,noise=0.1")
    out = tmp_path / "runs" / "sim"  # not there yet: the library creates it
    first = profile(backend, out, quick=True, seed=3, method="generate")
    assert first["timings"]["items_resumed"] == 0
    table = (out / "results.csv").read_bytes()
    chunks = sorted((out / ".cache").glob("chunk-*.json"))
    assert len(chunks) > 3
    for lost in (out / "summary.json", chunks[1], chunks[3]):
        lost.unlink()
    kept = sum(len(strict_json(c)["records"]) for c in chunks if c.exists())
    assert 0 < kept < QUICK_ITEMS

    second = profile(backend, out, quick=True, seed=3, method="generate")
    assert second["timings"]["items_resumed"] == kept
    assert second["timings"]["items_scored"] == QUICK_ITEMS - kept
    work = sum(strict_json(c)["seconds"] for c in chunks)  # the kept chunks' time from the first run, the rest now
    assert second["timings"]["score_s"] == pytest.approx(work)
    assert second["timings"]["items_per_s"] == pytest.approx(QUICK_ITEMS / work)
    assert strict_json(out / "summary.json")["timings"]["items_resumed"] == kept
    assert (out / "results.csv").read_bytes() == table
    assert hidden_leftovers(out) == []


def test_chunks_hold_neighbouring_prompts_and_records_come_back_in_battery_order(tmp_path):
    tasks = risk_battery(quick=True)
    records, _ = score_battery(SimBackend.from_spec("sim:crra:r=1"), tasks, tmp_path, 0, "logits", "risk")
    assert [r["id"] for r in records] == [t.id for t in tasks]
    first = strict_json(tmp_path / ".cache" / "chunk-00000.json")["records"]
    texts = [[m["content"] for m in tasks[i].messages()] for i in scoring_order(tasks)]
    assert texts == sorted(texts) != [[m["content"] for m in t.messages()] for t in tasks]
    assert [r["id"] for r in first] == [tasks[i].id for i in scoring_order(tasks)[:CHUNK]]


def test_resume_key_covers_the_backend_settings_and_the_items():
    tasks = risk_battery(quick=True)
    key = resume_key(HFBackend(None, None, "m", batch_size=4), "logits", 0, tasks, CHUNK)
    assert key == resume_key(HFBackend(None, None, "m", batch_size=4), "logits", 0, tasks, CHUNK)
    assert key != resume_key(HFBackend(None, None, "m", batch_size=8), "logits", 0, tasks, CHUNK)
    assert key != resume_key(HFBackend(None, None, "m", batch_size=4), "logits", 0, tasks, CHUNK + 1)
    moved = [dataclasses.replace(tasks[0], prompt=tasks[0].prompt + " "), *tasks[1:]]  # same id, another item
    assert key != resume_key(HFBackend(None, None, "m", batch_size=4), "logits", 0, moved, CHUNK)


def labelled(run: str):
    return lambda part, i, advance: [{"id": x, "run": run} for x in part]


def test_chunks_without_their_key_are_not_reused(tmp_path):
    cache = tmp_path / ".cache"
    assert left_to_do(5, cache, "key", chunk=2) == 5
    assert run_chunks(list(range(5)), labelled("first"), cache, "key", "first", chunk=2)[1]["items_resumed"] == 0
    assert left_to_do(5, cache, "key", chunk=2) == 0 and left_to_do(5, cache, "other key", chunk=2) == 5
    (cache / "chunk-00001.json").unlink()
    assert left_to_do(5, cache, "key", chunk=2) == 2
    records, figures = run_chunks(list(range(5)), labelled("second"), cache, "key", "second", chunk=2)
    assert [r["run"] for r in records] == ["first", "first", "second", "second", "first"]
    assert (figures["items_resumed"], figures["items_scored"]) == (3, 2)
    (cache / "meta.json").unlink()  # whose chunks these are is no longer known
    assert left_to_do(5, cache, "key", chunk=2) == 5
    records, figures = run_chunks(list(range(5)), labelled("third"), cache, "key", "third", chunk=2)
    assert figures["items_resumed"] == 0 and {r["run"] for r in records} == {"third"}


def test_a_run_that_fails_at_once_leaves_nothing(tmp_path):
    with pytest.raises(EconalignError, match="cannot answer gamble, holt_laury tasks"):
        profile(SimBackend.from_spec("sim:moralis:kappa=0.5"), tmp_path / "out", quick=True, seed=0, method="logits")
    assert not (tmp_path / "out").exists()
    stale = tmp_path / "stale" / ".cache"
    run_chunks([1, 2, 3], labelled("old"), stale, "old key", "old", chunk=2)

    def fails(part, i, advance):
        raise EconalignError("no answer")

    with pytest.raises(EconalignError):
        run_chunks([1, 2, 3], fails, stale, "new key", "new", chunk=2)
    assert sorted(p.name for p in stale.iterdir()) == ["meta.json"]  # the other work's chunks are gone, none new


def test_changed_seed_reuses_nothing(tmp_path):
    backend = SimBackend.from_spec("sim:crra:r=0.5,noise=0.1")
    profile(backend, tmp_path / "same", quick=True, seed=3, method="generate")
    again = profile(backend, tmp_path / "same", quick=True, seed=4, method="generate")
    assert (again["timings"]["items_resumed"], again["timings"]["items_scored"]) == (0, QUICK_ITEMS)


def test_killed_run_resumes(tmp_path, tiny_dir):
    out = tmp_path / "tiny"
    # the smallest battery (3 chunks); after the first, the other two and the fits take seconds
    args = [str(ECONALIGN), "profile", "--model", str(tiny_dir), "--out", str(out), "--battery", "social"]
    log = tmp_path / "first.log"
    with open(log, "w") as sink:
        proc = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 300
            while not list((out / ".cache").glob("chunk-*.json")):
                assert proc.poll() is None, f"exited early ({proc.returncode}): {log.read_text()[-2000:]}"
                assert time.monotonic() < deadline, "no chunk written within 300 s"
                time.sleep(0.1)
        finally:
            proc.kill()  # SIGKILL: no clean-up handlers run
            proc.wait()
    assert proc.returncode == -9
    assert not (out / "summary.json").exists()
    saved = {r["id"]: r for c in sorted((out / ".cache").glob("chunk-*.json")) for r in strict_json(c)["records"]}

    res = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    s = strict_json(out / "summary.json")
    assert s["timings"]["items_resumed"] == len(saved) > 0
    assert s["timings"]["items_scored"] == SOCIAL_ITEMS - len(saved)
    table = pd.read_csv(out / "results.csv").set_index("id")
    assert len(table) == SOCIAL_ITEMS and table.p_first.between(0, 1).all()
    for item, record in saved.items():  # the kept answers are the ones scored before the kill
        assert table.loc[item, "p_first"] == pytest.approx(record["y"], abs=1e-12)
    assert hidden_leftovers(out) == []


def test_a_finished_run_run_again_keeps_its_figures_and_loads_no_model(tmp_path, tiny_dir):
    model = tmp_path / "model"
    shutil.copytree(tiny_dir, model)
    out = tmp_path / "out"
    args = ["profile", "--model", model, "--battery", "social", "--batch-size", 8, "--out", out]
    first = econalign(*args)
    assert first.returncode == 0, first.stdout + first.stderr
    scored = strict_json(out / "summary.json")["timings"]
    assert f"loading {model}\n" in first.stdout and scored["load_s"] is not None and scored["items_resumed"] == 0
    weights = list(model.glob("*.safetensors"))
    assert weights and not list(model.glob("*.bin"))
    for path in weights:
        path.unlink()  # a folder without weights does not load (test_hf_backend)

    again = econalign(*args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "loading" not in again.stdout and f"every answer is saved in {out}/.cache: {model} is not loaded" in again.stdout
    t = strict_json(out / "summary.json")["timings"]
    assert t["load_s"] is None and (t["items_scored"], t["items_resumed"]) == (0, 72)
    assert (t["score_s"], t["items_per_s"]) == (scored["score_s"], scored["items_per_s"])
    assert "model not loaded" in again.stdout and "72 items scored by an earlier run" in again.stdout


# ---------------------------------------------------------------- progress


def test_progress_lines_in_a_log_file(tmp_path):
    """Piped output shows a redrawn bar only once it has finished: plain lines come instead."""
    log = tmp_path / "log"
    with open(log, "w") as sink:
        run = subprocess.run([ECONALIGN, "profile", "--model", "sim:moralis:kappa=0.5", "--battery", "social", "--out",
                              tmp_path / "out"], stdout=sink, stderr=subprocess.STDOUT, timeout=600,
                             env={**os.environ, "ECONALIGN_PROGRESS_EVERY": "0"})  # a line each time items are done
    text = log.read_text()
    assert run.returncode == 0, text
    assert "loading sim:moralis:kappa=0.5\n" in text
    lines = re.findall(r"^social logits · sim:moralis:kappa=0\.5,noise=0\.1: (\d+)/72 items, [\d,.]+ items/s, (.+)$",
                       text, re.M)
    assert len(lines) >= 2 and lines[-1] == ("72", "done")
    assert all(re.fullmatch(r"\d+:\d\d:\d\d left", left) for _, left in lines[:-1])
    assert [int(done) for done, _ in lines] == sorted({int(done) for done, _ in lines})


def test_a_bad_progress_interval_is_one_error_line(tmp_path):
    run = econalign("profile", "--model", "sim:crra:r=1", "--out", tmp_path / "out",
                    env={**os.environ, "ECONALIGN_PROGRESS_EVERY": "soon"})
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == "error: ECONALIGN_PROGRESS_EVERY must be a number of seconds >= 0, got 'soon'\n"
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- compare


def table_rows(text: str) -> dict[str, list[str]]:
    """Rows of a rich table: metric -> [A, B, B - A]."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 4:
            rows[cells[0]] = cells[1:]
    return rows


def test_compare_prints_metrics(log_quick, crra_generate, tmp_path):
    (a, sa), (b, sb) = log_quick, crra_generate
    res = econalign("compare", a, b, "--out", tmp_path / "cmp")  # piped: whole rows at any terminal width
    assert res.returncode == 0, res.stderr
    rows = table_rows(res.stdout)
    ma, mb = metrics(sa), metrics(sb)
    assert set(rows) == set(ma) | set(mb)
    r_a, r_b = sa["estimates"]["crra"]["params"]["r"]["value"], sb["estimates"]["crra"]["params"]["r"]["value"]
    assert rows["crra r"] == [fmt(r_a, 3), fmt(r_b, 3), fmt(r_b - r_a, 3)]
    assert rows["Holt–Laury safe choices (x20)"] == ["—", fmt(sb["holt_laury"]["x20"]["safe_choices"], 3), "—"]
    board = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    assert list(board.run) == [str(a), str(b)] and board["crra r"].tolist() == pytest.approx([r_a, r_b])


def with_r_on_its_bound(run: Path, folder: Path) -> Path:
    s = json.loads((run / "summary.json").read_text())
    s["estimates"]["crra"]["params"]["r"] = {"value": 5.0, "se": None, "ci95": None, "on_bound": True}
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps(s))
    return folder


def test_compare_marks_bound_values_and_takes_no_difference_from_them(log_quick, tmp_path):
    bound = with_r_on_its_bound(log_quick[0], tmp_path / "bound")
    res = econalign("compare", log_quick[0], bound, "--out", tmp_path / "cmp")
    assert res.returncode == 0, res.stderr
    assert table_rows(res.stdout)["crra r"] == ["1.000", "5.000 (bound)", "—"]
    board = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    assert board["crra r on bound"].tolist() == [False, True] and board["crra r"].tolist()[1] == 5.0


def test_compare_many_runs_of_every_battery(log_quick, crra_generate, tmp_path):
    social, budget = tmp_path / "moralis", tmp_path / "budget"
    profile(SimBackend.from_spec("sim:moralis:kappa=0.5"), social, seed=0, method="logits", battery="social")
    profile(SimBackend.from_spec("sim:crra:r=1,noise=0"), budget, seed=0, method="logits", battery="budget")
    bound = with_r_on_its_bound(log_quick[0], tmp_path / "bound")
    runs = [log_quick[0], crra_generate[0], bound, social, budget]
    res = econalign("compare", *runs, "--out", tmp_path / "cmp")
    assert res.returncode == 0, res.stderr
    rows = {}
    for line in res.stdout.splitlines():  # metric and one cell per run, no B - A column beyond two runs
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 6:
            rows[cells[0]] = cells[1:]
    assert rows["crra r"][2] == "5.000 (bound)" and rows["crra r"][3] == "—"
    assert rows["moralis kappa"][:3] == ["—"] * 3 and rows["moralis kappa"][3] != "—"
    assert rows["CCEI"] == ["—"] * 4 + ["1.000"]
    board = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    assert list(board.run) == [str(r) for r in runs]
    assert list(board.battery) == ["risk", "risk", "risk", "social", "budget"]
    assert board["verdict"].str.len().gt(20).all()
    assert board["moralis kappa"].notna().tolist() == [False, False, False, True, False]
    page = (tmp_path / "cmp" / "compare.html").read_text()
    assert "5.000 (bound)" in page and "Behaves closest to moralis:kappa=0.5" in page


@pytest.mark.parametrize("summary", [None, '{"model": "x"}', "not json"], ids=["missing", "not-a-profile", "corrupt"])
def test_compare_refuses_a_folder_without_profile(log_quick, tmp_path, summary):
    if summary is not None:
        (tmp_path / "summary.json").write_text(summary)
    res = econalign("compare", log_quick[0], tmp_path, "--out", tmp_path / "cmp")
    assert res.returncode != 0
    assert res.stdout == "" and not (tmp_path / "cmp").exists()
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and str(tmp_path) in lines[0], res.stderr


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "args",
    [
        ["--model", "nonexistent-org/nonexistent-model"],
        ["--model", "sim:crra:r=abc"],
        ["--model", "sim:crra"],
        ["--model", "sim:foo"],
        ["--model", "sim:crra:r=1", "--out", "{file}/sub"],
        ["--model", "sim:crra:r=1", "--method", "sample"],
        ["--model", "sim:moralis:kappa=0.5"],
        ["--model", "sim:crra:r=1", "--batch-size", "0"],
        ["--model", "sim:crra:r=1", "--batch-size", "x"],
        ["--model", "sim:crra:r=1", "--no-such-option"],
    ],
    ids=[
        "unknown-model", "r-not-a-number", "r-missing", "unknown-preference", "out-inside-a-file", "unknown-method",
        "social-preference", "batch-size-out-of-range", "batch-size-not-a-number", "unknown-option",
    ],
)
def test_bad_input_is_one_error_line(tmp_path, args):
    regular = tmp_path / "file"
    regular.write_text("not a folder")
    args = [a.replace("{file}", str(regular)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    res = econalign("profile", "--quick", *args, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert res.returncode != 0
    assert "Traceback" not in res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert not (tmp_path / "out").exists()  # outputs come only after the inputs are checked


@pytest.mark.parametrize(
    "args, option",
    [
        (["profile", "--model", "sim:crra:r=1", "--batch-size", "-1"], "--batch-size"),
        (["profile", "--model", "sim:crra:r=1", "--batch-size", "0"], "--batch-size"),
        (["profile", "--model", "sim:crra:r=1", "--seed", "-1"], "--seed"),
        (["math", "data", "--n", "-1"], "--n"),
        (["data", "--preference", "crra:r=2", "--n", "0"], "--n"),
        (["data", "--preference", "crra:r=2", "--eval-n", "-1"], "--eval-n"),
        (["align", "--preference", "crra:r=2", "--n", "0"], "--n"),
        (["eval", "agent", "--model", "x", "--preference", "crra:r=2", "--max-turns", "0"], "--max-turns"),
        (["eval", "agent", "--model", "x", "--preference", "crra:r=2", "--max-new-tokens", "0"], "--max-new-tokens"),
        (["teacher", "--teacher", "x", "--preference", "crra:r=2", "--questions", "q", "--batch-size", "0"], "--batch-size"),
        (["judge", "--questions", "q", "--runs", "0"], "--runs"),
        (["math", "eval", "--n", "0"], "--n"),
        (["pricing", "--rounds", "0"], "--rounds"),
        (["pricing", "--history", "-1"], "--history"),
        (["serve", "--port", "70000"], "--port"),
        (["calculator", "serve", "--port", "0"], "--port"),
    ],
    ids=["profile-batch-size-negative", "profile-batch-size-0", "profile-seed", "math-data-n", "data-n", "data-eval-n",
         "align-n", "eval-agent-max-turns", "eval-agent-max-new-tokens", "teacher-batch-size", "judge-runs",
         "math-eval-n", "pricing-rounds", "pricing-history", "serve-port", "calculator-serve-port"],
)
def test_numeric_options_out_of_range_are_refused_before_any_work(tmp_path, args, option):
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")] if args[0] not in ("serve", "calculator")
                             else args)
    assert res.exit_code == 2, res.output
    assert option in res.output and "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []


def limited_file_size(limit: int):
    """For subprocess: files past `limit` bytes cannot be written (EFBIG, as on a full disk), for root as well."""
    import resource
    import signal

    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def blocked_cache(out: Path) -> None:
    out.mkdir()
    (out / ".cache").write_text("a file where the cache folder goes")


def read_only_cache(out: Path) -> None:
    (out / ".cache").mkdir(parents=True)
    (out / ".cache").chmod(0o555)


@pytest.mark.parametrize("setup", ["full-disk", "blocked-cache", "read-only-cache"])
def test_write_errors_are_one_line_and_leave_nothing_half_written(tmp_path, setup):
    out = tmp_path / "out"
    if setup == "read-only-cache" and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    {"blocked-cache": blocked_cache, "read-only-cache": read_only_cache}.get(setup, lambda _: None)(out)
    res = subprocess.run([str(ECONALIGN), "profile", "--model", "sim:crra:r=1", "--quick", "--out", str(out)],
                         capture_output=True, text=True, timeout=600,
                         preexec_fn=limited_file_size(20_000) if setup == "full-disk" else None)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in res.stdout, res.stderr
    assert not (out / "summary.json").exists()
    assert hidden_leftovers(out) == []  # no temporary files of atomic writes
    cache = out / ".cache"
    assert not cache.is_dir() or [p.name for p in cache.iterdir() if p.name.startswith(".")] == []


def test_user_text_is_not_read_as_markup(log_quick, tmp_path):
    # rich would read "[/x]" as a closing tag: a crash instead of an error line
    res = econalign("profile", "--model", "sim:crra:r=[/x]", "--out", tmp_path / "out")
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert res.stderr.strip() == "error: r must be a number, got '[/x]'"
    renamed = tmp_path / "[/b]"  # a folder "[" holding "b]"
    renamed.mkdir(parents=True)
    (renamed / "summary.json").write_bytes((log_quick[0] / "summary.json").read_bytes())
    res = econalign("compare", log_quick[0], renamed, "--out", tmp_path / "cmp")  # folder names head the columns
    assert res.returncode == 0, res.stderr
    assert table_rows(res.stdout)["crra r"] == ["1.000", "1.000", "0.000"]


def test_agent_method_counts_unparsed_rollouts_and_stops_with_one_clear_line(tiny_backend, tmp_path, monkeypatch):
    # A random tiny model never writes the trace format: every answer is counted as unparsed, saved,
    # and the run ends with a clear error instead of estimating from nothing.
    monkeypatch.setattr("econalign.measure.profile.AGENT_TOKENS", 8)  # a short rollout shows the same
    with pytest.raises(EconalignError, match="no gamble answer .* could be parsed"):
        profile(tiny_backend, tmp_path, quick=True, seed=0, method="agent")
    table = pd.read_csv(tmp_path / "results.csv")
    assert len(table) == QUICK_ITEMS and table.y.isna().all()
