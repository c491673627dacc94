# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PRISM := .prism/node_modules/.bin/prism

.PHONY: run test test-soak lint bench install install-test prism clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed-run: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install -q -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install -q -c constraints.txt -e '.[test,lint]'
	touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run
install-test: $(VENV)/.installed-test

# Prism serves ../shared/specs for the contract tests; skipped (tests say why) without npm.
prism:
	@if [ -x $(PRISM) ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
		npm install --prefix .prism --no-audit --no-fund --loglevel=error @stoplight/prism-cli@5 >/dev/null; \
	else echo "npm not found: Prism contract tests will be skipped"; fi

run: install
	$(BIN)/dspy-tui

test: install-test prism
	$(BIN)/python -m pytest -q

test-soak: install-test prism
	$(BIN)/python -m pytest -q -m soak

# mypy and import-linter read the package as installed (dspy_tui.engine, ...): a throwaway
# copy laid out that way, since neither follows setuptools' editable package-dir mapping.
lint: install-test
	$(BIN)/ruff check .
	rm -rf .lint-tree && mkdir -p .lint-tree/dspy_tui
	cp dspy_tui/*.py .lint-tree/dspy_tui/ && cp -r cli engine storage tui .lint-tree/dspy_tui/
	cd .lint-tree && ../$(BIN)/mypy --config-file ../pyproject.toml -p dspy_tui
	cd .lint-tree && ../$(BIN)/lint-imports --config ../pyproject.toml --no-cache

bench: install-test
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .prism .pytest_cache
