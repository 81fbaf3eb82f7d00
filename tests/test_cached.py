"""Training the top layers on cached states (align's `trainer: cached`): exact forward, merge, loss, resume."""

import json

import pytest
import torch
from peft import get_peft_model

from econalign.backends.hf import HFBackend
from econalign.data.decisions import decision_records
from econalign.io import jsonl
from econalign.measure.risk import risk_battery
from econalign.training.cached import (cached_states, choice_loss, epoch_order, merge_into, shared_prefix, top_logits,
                                       top_model, train_cached)
from econalign.training.config import DataConfig, LoraSettings, SFTRunConfig, TrainingConfig
from econalign.training.sft import lora_config


def lora_top(backend, split, seed=0):
    top = top_model(backend.model, split)
    top = get_peft_model(top, lora_config(LoraSettings(r=4, alpha=8, dropout=0.0, top_layers=1), top))
    torch.manual_seed(seed)
    for name, p in top.named_parameters():
        if "lora_B" in name:  # as if trained: B starts at zero, which would hide a wrong merge
            p.data.normal_(0, 0.5)
    return top


def test_cached_states_and_the_top_layers_give_the_full_models_logits(tiny_dir):
    backend = HFBackend.load(str(tiny_dir))
    seqs = [backend.tokenizer(backend.render(t), add_special_tokens=False)["input_ids"] for t in risk_battery(True)[:5]]
    assert len({len(s) for s in seqs}) > 1  # padding is exercised
    top = lora_top(backend, 1)
    with torch.no_grad():
        for name, p in top.named_parameters():
            if "lora_B" in name:
                p.zero_()
        ran = []
        watch = backend.model.lm_head.register_forward_hook(lambda *a: ran.append("lm_head"))
        states = cached_states(backend.model, seqs, 1, batch_size=2)
        watch.remove()
        assert ran == []  # the layers from the split up and the LM head are not run when caching
        got = top_logits(top, states)
        full = torch.stack([backend.model(input_ids=torch.tensor([s])).logits[0, -1] for s in seqs])
    torch.testing.assert_close(got, full, rtol=1e-4, atol=1e-4)


def test_the_trained_top_merged_back_is_the_full_model_it_trained(tiny_dir):
    backend = HFBackend.load(str(tiny_dir))
    seqs = [backend.tokenizer(backend.render(t), add_special_tokens=False)["input_ids"] for t in risk_battery(True)[:4]]
    top = lora_top(backend, 1)
    with torch.no_grad():
        trained = top_logits(top, cached_states(backend.model, seqs, 1, batch_size=4))
        before = torch.stack([backend.model(input_ids=torch.tensor([s])).logits[0, -1] for s in seqs])
        merge_into(backend.model, top.merge_and_unload(), 1)
        after = torch.stack([backend.model(input_ids=torch.tensor([s])).logits[0, -1] for s in seqs])
    assert (trained - before).abs().max() > 0.1  # the adapter changes the answer...
    torch.testing.assert_close(after, trained, rtol=1e-4, atol=1e-4)  # ...and the merged model gives it


def test_running_the_common_prefix_once_gives_the_same_logits_and_gradients(tiny_dir):
    backend = HFBackend.load(str(tiny_dir))
    tasks = risk_battery(True)
    seqs = [backend.tokenizer(backend.render(t), add_special_tokens=False)["input_ids"] for t in tasks[:3] + tasks[-3:]]
    shared = shared_prefix(seqs)
    assert 0 < shared < min(len(s) for s in seqs) and len({s[shared] for s in seqs}) > 1
    states = cached_states(backend.model, seqs, 1, batch_size=4)  # batches of 4 and 2: different prefixes
    with torch.no_grad():
        alone = [backend.model(input_ids=torch.tensor([s]), output_hidden_states=True).hidden_states[1][0] for s in seqs]
    for got, want in zip(states, alone):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    top = lora_top(backend, 1)
    runs = []
    for k in (0, shared):
        top.zero_grad()
        logits = top_logits(top, states, k)
        logits.logsumexp(-1).sum().backward()
        runs.append((logits.detach(), [p.grad.clone() for p in top.parameters() if p.requires_grad]))
    torch.testing.assert_close(runs[1][0], runs[0][0], rtol=1e-4, atol=1e-4)
    for a, b in zip(runs[1][1], runs[0][1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_shared_prefix_leaves_each_sequence_a_token_of_its_own():
    assert shared_prefix([[1, 2, 3, 4], [1, 2, 5]]) == 2
    assert shared_prefix([[1, 2, 3], [1, 2, 3, 4]]) == 2  # not 3: the shorter one keeps its last token
    assert shared_prefix([[7, 1], [8, 1]]) == 0 and shared_prefix([[5]]) == 0


def test_each_epoch_visits_every_item_once_in_its_own_order():
    order = epoch_order(7, 20, seed=3)
    epochs = order.reshape(-1, 7)
    assert len(order) == 21 and len(epochs) == 3
    assert all(sorted(e) == list(range(7)) for e in epochs)
    assert len({tuple(e) for e in epochs}) == 3  # a fresh generator per epoch would repeat one order
    assert (epoch_order(7, 20, seed=3) == order).all() and (epoch_order(7, 20, seed=4) != order).any()


def test_choice_loss_is_the_options_cross_entropy_less_a_tenth_of_their_log_mass():
    logits = torch.log(torch.tensor([[0.2, 0.1, 0.3, 0.4]]))  # options: {0, 1} and {2}; token 3 is neither
    loss = choice_loss(logits, [[[0, 1], [2]]], torch.tensor([[0.25, 0.75]]))
    p = torch.tensor([0.3, 0.3]) / 0.6
    expected = -(0.25 * torch.log(p[0]) + 0.75 * torch.log(p[1])) - 0.1 * torch.log(torch.tensor(0.6))
    torch.testing.assert_close(loss, expected)


def sft_run(tmp_path, tiny_dir, steps, **training) -> SFTRunConfig:
    records, _ = decision_records("crra:r=2", 24, seed=0, shapes=["anchor"])
    tmp_path.mkdir()
    data = tmp_path / "train.jsonl"
    data.write_text(jsonl(records))
    return SFTRunConfig(model=str(tiny_dir), data=DataConfig(paths=[data]), output_dir=tmp_path / "run", seed=0,
                        training=TrainingConfig(max_steps=steps, batch_size=8, learning_rate=1e-2, logging_steps=1,
                                                **training),
                        lora=LoraSettings(r=4, alpha=8, dropout=0.0, top_layers=1))


def test_training_lowers_the_loss_and_an_interrupted_run_resumes_where_it_stopped(tmp_path, tiny_dir):
    whole = train_cached(sft_run(tmp_path / "whole", tiny_dir, 12, save_steps=100), noise=0.05, say=lambda _: None)
    losses = [r["loss"] for r in whole["losses"]]
    assert whole["global_step"] == 12 and sum(losses[-3:]) < sum(losses[:3])
    assert HFBackend.load(whole["model_dir"]).choice_scores(risk_battery(True)[:2]).probs.shape == (2, 2)

    def stop_at_step_5(line):
        if "step 5/" in line:
            raise KeyboardInterrupt

    cut = sft_run(tmp_path / "cut", tiny_dir, 12, save_steps=4)
    with pytest.raises(KeyboardInterrupt):
        train_cached(cut, noise=0.05, say=stop_at_step_5)
    assert (tmp_path / "cut" / "run" / "checkpoint.pt").exists() and not (tmp_path / "cut" / "run" / "model").exists()
    said = []
    resumed = train_cached(cut, noise=0.05, say=said.append)
    assert "      resuming at step 4 of 12" in said
    assert [r["loss"] for r in resumed["losses"]] == pytest.approx(losses, rel=1e-5)
    assert not (tmp_path / "cut" / "run" / "checkpoint.pt").exists()
    saved = json.loads((tmp_path / "cut" / "run" / "summary.json").read_text())
    assert saved["global_step"] == 12 and saved["last_loss"] == resumed["last_loss"]
