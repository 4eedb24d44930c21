# Every target sets up .venv/ itself: a fresh clone needs only Python 3.11+ and pip.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint bench clean

# pip compiles what it installs, but not an editable install's own sources: where
# PYTHONDONTWRITEBYTECODE is set (as on this project's machines) every `paydag` process, flow run and
# checker would compile them anew (0.1-0.2 s each). Python still checks each source against its
# compiled file, so an edited module is compiled again in memory, never run stale.
COMPILE := $(BIN)/python -m compileall -q -j 0 paydag tasks flows sandbox benchmarks

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(COMPILE) >/dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/paydag demo

test: $(STAMP)
	$(COMPILE) >/dev/null
	$(BIN)/python -m pytest -q -n 4 --dist worksteal --durations=25

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Run from the checkout's root, as modules: the benchmarks write their files with the sandbox's
# writers, which live in the repository and not in the installed package.
bench: $(STAMP)
	$(COMPILE) >/dev/null
	$(BIN)/python -m benchmarks.bench_pain001
	$(BIN)/python -m benchmarks.bench_camt054
	$(BIN)/python -m benchmarks.bench_settlement
	$(BIN)/python -m benchmarks.bench_reconcile
	$(BIN)/python -m benchmarks.bench_load

clean:
	rm -rf $(VENV) .paydag .pytest_cache
