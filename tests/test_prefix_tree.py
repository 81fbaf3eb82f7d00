"""The prefix plan: every prompt scored once, from exactly its own tokens, and the logits of a plain forward pass."""

import numpy as np
import pytest
import torch

from econalign.backends import hf
from econalign.backends.prefix_tree import CALL_COST, batches, plan, schedule, tokens_run
from econalign.measure.risk import risk_battery

CASES = {
    "shared-root": [[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 6, 7, 8], [1, 2, 6, 7, 9], [1, 2, 6, 7, 9]],
    "no-common-token": [[5, 1], [6, 1, 2], [7], [5, 1, 3]],
    "one-is-a-prefix-of-another": [[1, 2], [1, 2, 3], [1, 2, 3, 4], [1]],
    "duplicates": [[4, 4, 4]] * 5,
    "one": [[9, 8, 7]],
}


@pytest.mark.parametrize("seqs", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("max_rows", [1, 2, 16])
def test_every_prompt_runs_once_after_its_own_prefix(seqs, max_rows):
    root = plan(seqs)
    prefix = {None: []}  # each node's full prefix, as the schedule computes them
    seen = []
    for batch in schedule(root, seqs, max_rows):
        assert 0 < len(batch) <= max_rows
        for row in batch:
            assert id(row.after) in prefix or row.after is None  # what it runs after is already known
            text = prefix[row.after if row.after is None else id(row.after)] + row.tokens
            if isinstance(row.what, int):
                assert text == seqs[row.what] and row.tokens  # its own tokens, one at least
                seen.append(row.what)
            else:
                assert len(text) == row.what.depth and row.tokens
                prefix[id(row.what)] = text
    assert sorted(seen) == list(range(len(seqs)))
    naive = sum(len(b) * max(len(seqs[i]) for i in b) for b in batches(list(map(len, seqs)), max_rows))
    assert tokens_run(root, seqs, max_rows) <= naive  # padding included, as a plain batched pass pads


def test_shared_prefixes_are_run_once():
    seqs = [[1] * 50 + [2] * 30 + [i] for i in range(10)] + [[1] * 50 + [3] * 30 + [i] for i in range(10)]
    assert tokens_run(plan(seqs), seqs, 16) == 50 + 30 + 30 + 20  # the trunk, two branches, one token per prompt


@pytest.mark.parametrize("max_rows", [1, 4, 100])
def test_batches_cut_sorted_rows_with_the_least_padding(max_rows):
    lengths = [3, 50, 4, 51, 3, 52, 5]
    got = batches(lengths, max_rows)
    assert sorted(i for b in got for i in b) == list(range(len(lengths))) and all(len(b) <= max_rows for b in got)
    cost = sum(len(b) * max(lengths[i] for i in b) + CALL_COST for b in got)
    if max_rows == 100:  # short rows together, long rows together: 4 x 5 + 3 x 52 and two calls
        assert cost == 4 * 5 + 3 * 52 + 2 * CALL_COST
    assert cost <= sum(lengths) + len(lengths) * CALL_COST  # never worse than one row per call


def test_an_empty_prompt_is_refused():
    with pytest.raises(ValueError, match="at least one token"):
        plan([[1, 2], []])


def test_the_battery_runs_about_half_its_tokens(tokenizer):
    seqs = [tokenizer(tokenizer.apply_chat_template(t.messages(), tokenize=False, add_generation_prompt=True),
                      add_special_tokens=False)["input_ids"] for t in risk_battery(quick=True)]
    assert tokens_run(plan(seqs), seqs, 16) < 0.6 * sum(map(len, seqs))


def test_choice_probabilities_equal_a_plain_forward_pass(tiny_backend):
    """fp32 choice probabilities through the plan agree with one unbatched forward pass per prompt to 1e-5."""
    tasks = risk_battery(quick=True)
    want = []
    with torch.inference_mode():
        for t in tasks:
            ids = tiny_backend.tokenizer(tiny_backend.render(t), add_special_tokens=False)["input_ids"]
            logp = torch.log_softmax(tiny_backend.model(input_ids=torch.tensor([ids])).logits[0, -1], dim=-1)
            groups = tiny_backend.option_token_ids(t.options)
            want.append(torch.softmax(torch.stack([torch.logsumexp(logp[g], 0) for g in groups]), 0).numpy())
    got = tiny_backend.choice_scores(tasks).probs
    np.testing.assert_allclose(got, np.array(want), atol=1e-5, rtol=0)
    assert np.ptp(got[:, 0]) > 0.2  # the prompts differ in what they give, so a misplaced row would show


@pytest.mark.parametrize("batch_size", [1, 3, 16])
@pytest.mark.parametrize("seqs", CASES.values(), ids=CASES.keys())
def test_logits_equal_a_plain_forward_pass_on_odd_trees(tiny_backend, seqs, batch_size, monkeypatch):
    """Rows of different depths share batches; no common token, duplicates and nested prompts included."""
    monkeypatch.setattr(tiny_backend, "batch_size", batch_size)
    monkeypatch.setattr(hf, "PLAN_PROMPTS", 3)  # several plans, their prompts' indices mapped back
    got = {}
    with torch.inference_mode():
        for idx, logits in tiny_backend.last_logits(seqs):
            assert len(idx) <= batch_size
            got.update({i: row.numpy() for i, row in zip(idx, logits)})
        assert sorted(got) == list(range(len(seqs)))
        for i, s in enumerate(seqs):
            want = tiny_backend.model(input_ids=torch.tensor([s])).logits[0, -1].numpy()
            np.testing.assert_allclose(got[i], want, atol=1e-4, rtol=0)
