# The two Quickstart commands: `make demo` and `make test`. Both create or update a local
# virtualenv in .venv and install the project into it first, so a fresh machine needs only
# Python >= 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lint demo test bench snapshot-update clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/codeassist demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install lint
	$(BIN)/python -m pytest -q -n 2

bench: install
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench.wire_decode --out bench/results/wire-decode-$$(date +%F).json
	$(BIN)/python -m bench.client_overhead --out bench/results/client-overhead-$$(date +%F).json
	$(BIN)/python -m bench.transport --out bench/results/transport-$$(date +%F).json
	$(BIN)/python -m bench.startup --out bench/results/startup-$$(date +%F).json
	$(BIN)/python -m bench.cli_startup --out bench/results/cli-startup-$$(date +%F).json
	$(BIN)/python -m bench.sessions --out bench/results/sessions-$$(date +%F).json
	$(BIN)/python -m bench.render --out bench/results/render-$$(date +%F).json
	$(BIN)/python -m bench.long_session --out bench/results/long-session-$$(date +%F).json
	$(BIN)/python -m bench.checkpoint --out bench/results/checkpoint-$$(date +%F).json

snapshot-update: install
	$(BIN)/python -m pytest -q tests/tui/test_snapshots.py --snapshot-update

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
