# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# The peer retrievers of bench/peer_run.py (LlamaIndex, LangChain): bench-only, their own venv.
PEERS_VENV := .venv-peers

# Offline by default: model hubs and telemetry are unreachable here.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export MLFLOW_DISABLE_TELEMETRY := true
export RAGAS_DO_NOT_TRACK := true
# llama-cpp-python compiles llama.cpp from source. A native build (-march=native) uses every
# instruction the CPU reports, AMX included, and on VMs that report AMX without granting it the
# model crashes (SIGILL / SIGSEGV) on its first multi-token prompt. A portable AVX2 build runs
# everywhere; set CMAKE_ARGS yourself for a tuned one.
CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export CMAKE_ARGS

.PHONY: setup peers run test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[all,dev]"
	touch $@

setup: $(VENV)/.installed

$(PEERS_VENV)/.installed: bench/peers-requirements.txt
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install -q --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install -q -r bench/peers-requirements.txt
	touch $@

peers: $(PEERS_VENV)/.installed

run: setup
	$(PY) scripts/stdlib_corpus.py .ragline/corpus/stdlib --modules 30
	$(BIN)/ragline ingest .ragline/corpus/stdlib docs README.md --collection docs
	$(BIN)/ragline collections
	$(BIN)/ragline ask "How do I parse a JSON string into a Python object?" --collection docs
	$(BIN)/ragline ask "How are point ids computed in ragline?" --collection docs
	$(BIN)/ragline ask "What is the capital of France?" --collection docs

lint: setup
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

bench: setup
	$(PY) bench/ingest_throughput.py
	$(PY) bench/edge_upsert.py
	$(PY) bench/rerun.py

clean:
	rm -rf .ragline .mypy_cache .pytest_cache .ruff_cache
