"""Math pipeline: grading against adversarial answers, dataset loading, the eval command, SFT records."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from econalign import EconalignError
from econalign.math.data import load_problems, sft_records, worked_solution
from econalign.math.grader import boxed, grade, gsm8k_gold
from econalign.math.prompts import r1_zero
from econalign.training.dataset import to_prompt_completion, tokenize_record

ECONALIGN = Path(sys.executable).parent / "econalign"
FIXTURES = Path(__file__).parent / "fixtures"
GSM8K = FIXTURES / "gsm8k_test.jsonl"  # the first 8 GSM8K test problems (MIT licence: GSM8K_LICENSE)


def r1(answer: str, reasoning: str = "2 + 2 = 4.") -> str:
    return f" {reasoning} </think> <answer> {answer} </answer>"


@pytest.mark.parametrize("response, gold, fmt, ans", [
    (r1("4"), "4", 1, 1),
    (r1("\\boxed{4}"), "4", 1, 1),
    (r1("$4"), "4", 1, 1),  # units and currency
    (r1("4 dollars"), "4", 1, 1),
    (r1("4.0"), "4", 1, 1),
    (r1("1,000"), "1000", 1, 1),
    (r1("0.5"), "\\frac{1}{2}", 1, 1),  # fraction vs decimal
    (r1("\\frac{1}{2}"), "0.5", 1, 1),
    (r1("1/2"), "\\frac{1}{2}", 1, 1),
    (r1("\\dfrac{5}{6}"), "\\frac{5}{6}", 1, 1),  # latex variants
    (r1("2\\sqrt{2}"), "2\\sqrt{2}", 1, 1),
    (r1("\\sqrt{8}"), "2\\sqrt{2}", 1, 1),
    (r1("5"), "4", 1, 0),
    (r1("4 or 5"), "4", 1, 0),  # a hedge is not an answer
    (r1("\\boxed{4} \\boxed{5}"), "4", 1, 0),
    (r1(""), "4", 1, 0),
    (r1("four"), "4", 1, 0),
    (" 2 + 2 = 4. <answer> 4 </answer>", "4", 0, 0),  # reasoning never closed
    (" 2 + 2 = 4. </think> 4", "4", 0, 0),  # no answer tags
    (" x </think> <answer> 4", "4", 0, 0),  # answer never closed
    (r1("4") + r1("4"), "4", 0, 0),  # several answer tags
    (" x </think> so <answer> 4 </answer>", "4", 0, 0),  # text between </think> and <answer>
    ("", "4", 0, 0),
    (r1("4" * 5000), "4", 1, 0),  # huge
    (r1("2x+1"), "2", 1, 0),  # an expression holding the gold is not the gold
    (r1("- 5"), "5", 1, 0),
    (r1("- 5"), "-5", 1, 1),
    (r1("x = 3, y = 4"), "4", 1, 0),  # several values
    (r1("18 = 19"), "19", 1, 0),
    (r1("x = 19"), "19", 1, 1),
    (r1("4}{5"), "4", 1, 0),  # unbalanced: math-verify would read the first group
    (r1("\\boxed{4} \\boxed{4}"), "4", 1, 0),
    (r1("2ab"), "2", 1, 0),  # not a unit
])
def test_r1_zero_grading(response, gold, fmt, ans):
    g = grade(response, gold)
    assert (g.format_reward, g.answer_reward, g.reward) == (fmt, ans, ans)


def test_every_corpus_case_gets_its_recorded_reward():
    """Generated responses (seeded) with the reward we intend and the one CS336's r1_zero_reward_fn gave;
    every difference from CS336 carries its reason."""
    cases = [json.loads(line) for line in (FIXTURES / "math_grader_cases.jsonl").read_text().splitlines()]
    assert len(cases) > 500 and {c["reward"] for c in cases} == {0, 1}
    wrong = [(c["kind"], c["response"], c["gold"]) for c in cases if grade(c["response"], c["gold"]).reward != c["reward"]]
    assert not wrong, wrong
    assert all(("reason" in c) == (c["reward"] != c["cs336"]) for c in cases)


def test_question_only_grading_takes_the_last_box_or_number():
    assert grade("So the total is 18 eggs, i.e. \\boxed{18}.", "18", "question_only").reward == 1
    assert grade("She has 16 - 3 - 4 = 9 eggs and makes 9 * 2 = 18 dollars.", "18", "question_only").reward == 1
    assert grade("I am not sure.", "18", "question_only").format_reward == 0


def test_gold_answers():
    assert gsm8k_gold("3 + 4 = <<3+4=7>>7\n#### 1,007") == "1007"
    assert boxed("so $\\boxed{\\frac{a}{\\sqrt{b}}}$ and more") == "\\frac{a}{\\sqrt{b}}"
    assert boxed("no box") is None and boxed("\\boxed{unclosed") is None
    with pytest.raises(ValueError):
        gsm8k_gold("no final answer line")


def test_gsm8k_and_math_load_through_one_path(tmp_path):
    gsm = load_problems(str(GSM8K), n=3)
    assert [p["gold"] for p in gsm] == ["18", "3", "70000"] and gsm[0]["id"] == "test-00000"
    (tmp_path / "test.jsonl").write_text(GSM8K.read_text())
    assert load_problems(str(tmp_path), "test", 3) == gsm  # a folder of <split>.jsonl
    math = load_problems(str(FIXTURES / "math_test.jsonl"))
    assert [p["gold"] for p in math] == ["\\frac{5}{6}", "3", "2\\sqrt{2}"]


def test_worked_solutions_become_r1_zero_targets():
    problem = load_problems(str(GSM8K), n=1)[0]
    assert "<<" not in worked_solution(problem) and "####" not in worked_solution(problem)
    record = sft_records([problem])[0]
    assert record["prompt"] == r1_zero(problem["question"]) and record["prompt"].endswith("Assistant: <think>")
    assert grade(record["completion"], problem["gold"]).reward == 1  # the target earns full reward


def test_text_records_train_on_the_completion_and_eos(tokenizer):
    record = to_prompt_completion({"prompt": "Q: 1+1?\nA: <think>", "completion": " 2 </think> <answer> 2 </answer>"}, "t")
    out = tokenize_record(record, tokenizer)
    trained = tokenizer.decode([i for i, keep in zip(out["input_ids"], out["completion_mask"]) if keep])
    assert trained == " 2 </think> <answer> 2 </answer>" + tokenizer.eos_token


@pytest.mark.parametrize("row, message", [
    ({"question": "q", "answer": "no marker"}, "####"),
    ({"problem": "p", "solution": "no box"}, "boxed"),
    ({"text": "x"}, "expected GSM8K"),
])
def test_bad_rows_are_named(tmp_path, row, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(EconalignError, match=message):
        load_problems(str(path))


def econalign(*args, timeout=600):
    return subprocess.run([ECONALIGN, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def test_math_eval_end_to_end_on_a_tiny_model(tiny_dir, tmp_path):
    out = tmp_path / "eval"
    args = ("math", "eval", "--model", tiny_dir, "--data", GSM8K, "--n", "4", "--max-new-tokens", "12",
            "--batch-size", "2", "--out", out)
    run = econalign(*args)
    assert run.returncode == 0, run.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["n"] == 4 and sum(s["categories"].values()) == 4 and s["items_resumed"] == 0
    rows = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert [r["gold"] for r in rows] == ["18", "3", "70000", "540"]
    assert all(r["prompt"].endswith("Assistant: <think>") and {"format_reward", "answer_reward", "reward"} <= set(r)
               for r in rows)
    assert econalign(*args).returncode == 0
    assert json.loads((out / "summary.json").read_text())["items_resumed"] == 4


@pytest.mark.parametrize("args, message", [
    (["--data", "gsm8k"], "cannot load gsm8k"),  # the hub is offline here
    (["--data", str(GSM8K), "--prompt", "cot"], "unknown prompt 'cot'"),
    (["--data", "/no/such/dir/"], "cannot load"),
])
def test_math_eval_bad_input_is_one_line(tmp_path, args, message):
    run = econalign("math", "eval", "--out", tmp_path / "x", "--n", "2", *args, timeout=120)
    assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr


def test_math_data_writes_sft_records(tmp_path):
    run = econalign("math", "data", "--data", FIXTURES / "gsm8k_train.jsonl", "--n", "5", "--out", tmp_path / "d")
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in (tmp_path / "d" / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and all(isinstance(r["prompt"], str) and "</answer>" in r["completion"] for r in rows)
