"""Shared fixtures: one ECONALIGN_HOME per session, so the default model is converted once."""

import os
from pathlib import Path

import pytest

# Tests never download: set before anything imports huggingface_hub (subprocesses inherit it).
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def econalign_home(tmp_path_factory):
    """A developer's ECONALIGN_HOME is reused (its converted model too); otherwise a fresh folder."""
    if os.environ.get("ECONALIGN_HOME"):
        yield Path(os.environ["ECONALIGN_HOME"])
        return
    home = tmp_path_factory.mktemp("econalign-home")
    os.environ["ECONALIGN_HOME"] = str(home)  # CLI subprocesses inherit it
    yield home
    os.environ.pop("ECONALIGN_HOME", None)


@pytest.fixture(scope="session")
def default_checkpoint(econalign_home) -> Path:
    """The built-in default model as a safetensors checkpoint (converted on first use, ~25 s)."""
    from econalign.backends.default_model import default_checkpoint as convert

    path = convert()
    assert path.is_relative_to(econalign_home)
    return path


@pytest.fixture(scope="session")
def default_backend(default_checkpoint):
    from econalign.backends import load_backend

    return load_backend("default")
