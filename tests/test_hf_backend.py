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


def conversation(converse, texts, temperature=0.0, seed=0):
    """Each text's turns under a fixed answering rule: text i takes 1 + i % 3 turns, some answers merging
    with the continuation's last token ("a" + "nd" re-tokenizes as one token)."""
    turns = {i: [] for i in range(len(texts))}

    def respond(i, out):
        turns[i].append(out)
        return None if len(turns[i]) == 1 + i % 3 else ("nd so" if i % 2 else f"<tool_output>{i}</tool_output>")

    converse(texts, respond, 10, stop=["a"], temperature=temperature, seed=seed)
    return turns


@pytest.fixture
def three_slots(tiny):
    from econalign.backends.hf import HFBackend

    return HFBackend(tiny.model, tiny.tokenizer, "tiny", batch_size=3)


def test_tiny_continuous_batching_writes_what_turn_by_turn_generate_writes(three_slots, tokenizer):
    from econalign.backends.base import Backend

    # more texts than slots; raw texts, whose continuations re-tokenize differently once answered
    texts = ["Hello there, how", "x", "What is 2+2? <tool>", "Say",
             *map(three_slots.render, distinct_lengths(tokenizer, FULL, 5))]
    continuous = conversation(three_slots.converse, texts)
    assert continuous == conversation(lambda *a, **k: Backend.converse(three_slots, *a, **k), texts)
    assert [len(t) for t in continuous.values()] == [1 + i % 3 for i in range(9)]
    assert sum("a" in out for t in continuous.values() for out in t) > 8  # turns end at the stop string


def test_tiny_model_whose_generation_config_suppresses_tokens_rolls_out_as_generate_does(three_slots, tokenizer):
    from econalign.backends.base import Backend

    texts = ["Hello there, how", "x", *map(three_slots.render, distinct_lengths(tokenizer, FULL, 3))]
    plain = conversation(three_slots.converse, texts)
    first = tokenizer(plain[0][0], add_special_tokens=False)["input_ids"][0]
    three_slots.model.generation_config.suppress_tokens = [first]  # a processor continuous batching lacks
    try:
        suppressed = conversation(three_slots.converse, texts)
        assert suppressed == conversation(lambda *a, **k: Backend.converse(three_slots, *a, **k), texts)
        assert suppressed[0] != plain[0]
    finally:
        three_slots.model.generation_config.suppress_tokens = None


def test_continuous_sampling_applies_what_generate_would():
    from transformers import GenerationConfig

    from econalign.backends.continuous import sampling_warpers

    assert sampling_warpers(GenerationConfig(), 0.0) is None  # greedy
    unset = sampling_warpers(GenerationConfig(), 0.7)  # generate's defaults: top-k 50, top-p 1
    assert [type(w).__name__ for w in unset] == ["TemperatureLogitsWarper", "TopKLogitsWarper"]
    assert unset[0].temperature == 0.7 and unset[1].top_k == 50
    nucleus = sampling_warpers(GenerationConfig(top_k=0, top_p=0.9), 1.0)
    assert [type(w).__name__ for w in nucleus] == ["TemperatureLogitsWarper", "TopPLogitsWarper"]


def test_tiny_continuous_batching_samples_reproducibly(three_slots, tokenizer):
    texts = [three_slots.render(t) for t in distinct_lengths(tokenizer, FULL, 5)]
    first = conversation(three_slots.converse, texts, temperature=1.0, seed=1)
    assert first == conversation(three_slots.converse, texts, temperature=1.0, seed=1)
    assert first != conversation(three_slots.converse, texts, temperature=1.0, seed=2)
    assert first != conversation(three_slots.converse, texts)


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
