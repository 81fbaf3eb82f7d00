"""Math pipeline: grading against adversarial answers, dataset loading, the eval command, SFT records."""

import json
from pathlib import Path

import pytest

from econalign import EconalignError
from econalign.math.data import load_problems, sft_records, worked_solution
from econalign.math.grader import boxed, grade, gsm8k_gold
from econalign.math.prompts import r1_zero
from econalign.training.dataset import to_prompt_completion, tokenize_record

from commands import econalign

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


@pytest.mark.parametrize("response, gold", [
    ("The answer is not 12 ... 13", "12"),  # the last number is the answer
    ("The answer is 12, not 13.", "13"),  # ... unless the closing statement takes it back
    ("It is 13. Just kidding, it isn't.", "13"),
    ("It is 12 or 13", "13"),  # a hedge
    ("Between 12 and 13.", "13"),
    ("So it is at least 13.", "13"),
    ("It is about \\boxed{13}.", "13"),
    ("\\boxed{12}, or rather \\boxed{13}", "13"),  # several boxes: several answers
    ("\\boxed{13} \\boxed{13}", "13"),
    ("I computed 13 and 7, so \\boxed{12}.", "13"),  # the box is the answer, not the last number
    ("\\boxed{12} is what 13 - 1 gives.", "13"),
    ("The values are 12, 13", "13"),  # numbers side by side are not one value
    ("12 13", "13"),
    ("It is 12-13.", "13"),  # the expression holding the last number is graded whole
    ("It is 2x+13.", "13"),
    ("It is 2x + 13.", "13"),  # the last number is an operand
    ("It is 12 - 13.", "13"),
    ("It is 3x.", "3"),
    ("", "13"),
    ("   ", "13"),
    ("thirteen", "13"),
    ("1" * 5000, "1" * 5000),  # runaway
])
def test_question_only_grading_never_pays_a_wrong_or_hedged_answer(response, gold):
    assert grade(response, gold, "question_only").reward == 0


@pytest.mark.parametrize("response, gold", [
    ("Tom has 5 more apples than Ann.", "5"),  # `more` is a hedge only at the value: `at least 5`
    ("5 is wrong. The answer is 6.", "6"),  # a corrected earlier value does not count
    ("So 18, and that's all.", "18"),
    ("The profit is $70,000.", "70000"),
    ("It is $\\boxed{\\frac{1}{2}}$.", "0.5"),
    ("x = -4", "-4"),
    ("So he writes 12*52=624 pages a year", "624"),  # the right side of the last `=`
    ("The answer is **18**.", "18"),  # markdown
    ("It is $\\frac{1}{2}$.", "0.5"),  # the expression holding the last number, graded whole
    ("She has 24/2 left.", "12"),
])
def test_question_only_grading_pays_a_committed_right_answer(response, gold):
    assert grade(response, gold, "question_only").reward == 1


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


def test_worked_solutions_become_question_only_targets():
    """Chat records: the bare question as the user turn, the worked solution ending on its boxed answer
    (MATH solutions box it already); every target earns the question_only reward."""
    problems = load_problems(str(GSM8K)) + load_problems(str(FIXTURES / "math_test.jsonl"))
    records = sft_records(problems, "question_only")
    assert [r["messages"][0] for r in records] == [{"role": "user", "content": p["question"].strip()} for p in problems]
    assert all(grade(r["messages"][1]["content"], r["gold"], "question_only").reward == 1 for r in records)
    assert records[0]["messages"][1]["content"].endswith("The answer is \\boxed{18}.")
    assert all(r["messages"][1]["content"].count("\\boxed") == 1 for r in records)


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


def test_math_data_writes_question_only_chat_records(tmp_path, tiny_backend, tokenizer):
    from econalign.math.evaluate import render

    train = FIXTURES / "gsm8k_train.jsonl"
    bad = econalign("math", "data", "--data", train, "--prompt", "cot", "--out", tmp_path / "bad", timeout=120)
    assert bad.returncode == 2 and "unknown prompt 'cot'" in bad.stderr and not (tmp_path / "bad").exists()
    run = econalign("math", "data", "--data", train, "--n", "5", "--prompt", "question_only", "--out", tmp_path / "d")
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in (tmp_path / "d" / "train.jsonl").read_text().splitlines()]
    problems = load_problems(str(train), "train", 5)
    assert [r["gold"] for r in rows] == [p["gold"] for p in problems]
    for row, problem in zip(rows, problems):
        user, answer = row["messages"]
        assert answer["role"] == "assistant" and grade(answer["content"], row["gold"], "question_only").reward == 1
        # the prompt that SFT and GRPO train on is the one `math eval --prompt question_only` sends
        assert tokenizer.apply_chat_template([user], add_generation_prompt=True, tokenize=False) == \
            render(tiny_backend, problem, "question_only")
    out = tokenize_record(to_prompt_completion(rows[0], "row"), tokenizer)  # SFT: the loss is on the answer only
    trained = tokenizer.decode([i for i, keep in zip(out["input_ids"], out["completion_mask"]) if keep])
    assert trained.startswith(rows[0]["messages"][1]["content"]) and problems[0]["question"][:40] not in trained
