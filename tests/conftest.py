"""Shared fixtures: one ECONALIGN_HOME per run (xdist workers share it), so the default model is converted once."""

import os
from pathlib import Path

import pytest
import torch
from filelock import FileLock
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

# Tests never download: set before anything imports huggingface_hub (subprocesses inherit it).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist runs a worker per core: one torch thread each (CLI subprocesses too), or their
    # OpenMP threads spin against each other and torch tests run many times slower
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def run_folder(tmp_path_factory) -> Path:
    """This run's temporary folder: under pytest-xdist (`make test`) the one its workers share."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def econalign_home(tmp_path_factory):
    """A developer's ECONALIGN_HOME is reused (its converted model too); otherwise a fresh folder."""
    if os.environ.get("ECONALIGN_HOME"):
        yield Path(os.environ["ECONALIGN_HOME"])
        return
    home = run_folder(tmp_path_factory) / "econalign-home"
    home.mkdir(exist_ok=True)
    os.environ["ECONALIGN_HOME"] = str(home)  # CLI subprocesses inherit it
    yield home
    os.environ.pop("ECONALIGN_HOME", None)


@pytest.fixture(scope="session")
def default_checkpoint(tmp_path_factory, econalign_home) -> Path:
    """The built-in default model as a safetensors checkpoint (converted on first use, ~25 s)."""
    from econalign.backends.default_model import default_checkpoint as convert

    with FileLock(run_folder(tmp_path_factory) / "default-model.lock"):  # one worker converts, the others wait
        path = convert()
    assert path.is_relative_to(econalign_home)
    return path


@pytest.fixture(scope="session")
def default_backend(default_checkpoint):
    from econalign.backends import load_backend

    return load_backend("default")


@pytest.fixture(scope="session")
def tokenizer(default_checkpoint):
    """The default model's tokenizer, for tiny models that share its vocabulary."""
    return AutoTokenizer.from_pretrained(default_checkpoint)


@pytest.fixture(scope="session")
def make_tiny_llama(tmp_path_factory, tokenizer):
    """Build and save a tiny random Llama with the default tokenizer's vocabulary (milliseconds)."""

    def make(initializer_range: float, **overrides) -> Path:
        """`overrides` replace LlamaConfig settings, e.g. max_position_embeddings."""
        torch.manual_seed(0)
        config = LlamaConfig(**{
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,  # grouped-query attention, as in SmolLM2
            "max_position_embeddings": 512,
            "initializer_range": initializer_range,
            "tie_word_embeddings": True,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
            **overrides,
        })
        path = tmp_path_factory.mktemp("tiny-llama")
        LlamaForCausalLM(config).save_pretrained(path)
        tokenizer.save_pretrained(path)
        return path

    return make


@pytest.fixture(scope="session")
def tiny_dir(make_tiny_llama):
    # wide weights: the answer probabilities depend strongly on the prompt
    return make_tiny_llama(initializer_range=0.5)


@pytest.fixture(scope="session")
def tiny_backend(tiny_dir):
    from econalign.backends import load_backend

    return load_backend(str(tiny_dir), batch_size=8)
