"""The Hugging Face backend on real models: a tiny random Llama built in milliseconds, and the default model."""

import numpy as np
import pytest

from econalign import EconalignError
from econalign.backends import load_backend
from econalign.measure.risk import risk_battery
from econalign.tasks import gamble

QUICK = risk_battery(quick=True)
FULL = risk_battery(quick=False)


@pytest.fixture(scope="module")
def tiny(tiny_backend):
    return tiny_backend


def prompt_length(tokenizer, task) -> int:
    text = tokenizer.apply_chat_template(task.messages(), tokenize=False, add_generation_prompt=True)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def distinct_lengths(tokenizer, tasks, n: int) -> list:
    """n items whose prompts all differ in token length (gambles, Holt–Laury rows, personas)."""
    by_length = {}
    for t in tasks:
        by_length.setdefault(prompt_length(tokenizer, t), t)
    assert len(by_length) >= n
    return list(by_length.values())[:n]


def assert_valid(scores, n: int) -> None:
    assert scores.probs.shape == (n, 2) and scores.mass.shape == (n,)
    np.testing.assert_allclose(scores.probs.sum(axis=1), 1.0, atol=1e-6)
    assert np.all((scores.probs >= 0) & (scores.probs <= 1))
    assert np.all((scores.mass > 0) & (scores.mass <= 1 + 1e-6))


def test_tiny_choice_scores_are_probabilities(tiny):
    scores = tiny.choice_scores(QUICK)
    assert_valid(scores, len(QUICK))
    assert np.ptp(scores.probs[:, 0]) > 0.2  # the prompt matters: batching mistakes would show


def curve_items(name: str) -> list:
    return [t for t in FULL if t.params["curve"] == name]


@pytest.mark.parametrize(
    "pick",
    [
        lambda tok: distinct_lengths(tok, FULL, 8),  # one batch, every row padded differently
        lambda tok: curve_items("50% +1,000 / 50% +300"),  # a long shared prefix, three batches
    ],
    ids=["mixed-lengths", "one-curve"],
)
def test_tiny_batch_invariance(tiny, tokenizer, pick):
    tasks = pick(tokenizer)
    assert len({prompt_length(tokenizer, t) for t in tasks}) > 1  # left padding is exercised
    together = tiny.choice_scores(tasks)
    alone = [tiny.choice_scores([t]) for t in tasks]
    np.testing.assert_allclose(together.probs, np.vstack([a.probs for a in alone]), atol=1e-4)
    np.testing.assert_allclose(together.mass, np.concatenate([a.mass for a in alone]), rtol=1e-3)


def test_tiny_generate_one_string_per_task(tiny, tokenizer):
    tasks = distinct_lengths(tokenizer, FULL, 10)
    answers = tiny.generate(tasks, max_new_tokens=4)
    assert len(answers) == len(tasks) and all(isinstance(a, str) for a in answers)
    # greedy answers come back to their own task whatever the batch
    assert answers == [tiny.generate([t], max_new_tokens=4)[0] for t in tasks]
    assert tiny.generate([], max_new_tokens=4) == []


def turns(backend, texts, calls=3, reuse=None):
    """Continue `texts` over a few calls, each extending the last output as a tool turn would."""
    out = []
    for turn in range(calls):
        written = backend.complete(texts, max_new_tokens=6, stop=["a"], reuse=reuse)
        out.append(written)
        texts = [t + w + f"<tool_output>{turn}</tool_output>" for t, w in zip(texts, written)]
    return out


@pytest.fixture
def small_batches(tiny):
    from econalign.backends.hf import HFBackend

    return HFBackend(tiny.model, tiny.tokenizer, "tiny", batch_size=3)  # rows of several lengths share batches


def test_tiny_continuations_from_kept_keys_and_values_match_reencoding(small_batches, tokenizer):
    texts = [small_batches.render(t) for t in distinct_lengths(tokenizer, FULL, 7)]
    kept = {}
    assert turns(small_batches, texts, reuse=kept) == turns(small_batches, texts)
    assert len(kept) == len(texts)  # the last call's texts only
    # a new text beside continued ones: rows with and without kept keys and values in one batch
    continued = [*kept, texts[0]]
    assert small_batches.complete(continued, 6, reuse=kept) == small_batches.complete(continued, 6)


def test_tiny_continuations_are_computed_from_the_kept_keys_and_values(small_batches, tokenizer):
    texts = [small_batches.render(t) for t in distinct_lengths(tokenizer, FULL, 4)]
    kept = {}
    small_batches.complete(texts, 6, reuse=kept)
    for text, (ids, kv) in kept.items():
        assert len(ids) == kv[0][0].shape[1] > len(tokenizer(texts[0])["input_ids"]) // 2
        kept[text] = ids, [(keys, values * 0) for keys, values in kv]  # read by a continuation, if not re-encoded
    longer = [text + " Then" for text in kept]
    assert small_batches.complete(longer, 6, reuse=kept) != small_batches.complete(longer, 6)


def test_folder_without_model(tmp_path, tokenizer):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EconalignError, match="cannot load model"):
        load_backend(str(empty))
    only_tokenizer = tmp_path / "tokenizer-only"
    tokenizer.save_pretrained(only_tokenizer)
    with pytest.raises(EconalignError, match="cannot load model"):
        load_backend(str(only_tokenizer))


def test_folder_with_corrupt_weights(tmp_path, tiny_dir):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in tiny_dir.iterdir():
        (broken / f.name).write_bytes(b"not safetensors" if f.name == "model.safetensors" else f.read_bytes())
    with pytest.raises(EconalignError, match="cannot load model"):
        load_backend(str(broken))


# ---------------------------------------------------------------- the built-in default model


def test_default_model_scores_holt_laury(default_backend):
    rows = [t for t in QUICK if t.family == "holt_laury"]
    assert len(rows) == 10
    scores = default_backend.choice_scores(rows)
    assert_valid(scores, len(rows))
    assert np.all(scores.mass > 0.1), scores.mass  # "A"/"B" carry real probability mass


def test_default_model_batch_invariance(default_backend, tokenizer):
    tasks = distinct_lengths(tokenizer, FULL, 4)
    together = default_backend.choice_scores(tasks)
    alone = np.vstack([default_backend.choice_scores([t]).probs for t in tasks])
    np.testing.assert_allclose(together.probs, alone, atol=1e-4)


def test_default_model_generates_parseable_answers(default_backend):
    tasks = [t for t in QUICK if t.family == "gamble"][:3]
    answers = default_backend.generate(tasks, max_new_tokens=16)
    assert len(answers) == 3 and all(isinstance(a, str) for a in answers), answers
    parsed = [gamble.parse(a) for a in answers]
    assert all(p in ("accept", "reject", None) for p in parsed), (answers, parsed)
