# chipstack — the README's two commands:
#   make run   set up (first time) and run the headline experiment, printing its summary table
#   make test  set up (first time) and run the whole test suite
# Also: make reproduce (every published result, regenerated and compared), make dist (sdist + wheel)
# Set-up: finds a Python >= 3.12 (PATH, then pyenv's versions folder), creates .venv and installs
# chipstack with the exact versions of requirements.lock.

SHELL := /bin/bash
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

# Candidates in order of preference: 3.12 (the lock file was resolved on it), then 3.13, then python3.
find_python = for p in "$$PYTHON" python3.12 \
	  $$(ls -d "$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/3.12*/bin/python3 2>/dev/null | sort -rV) \
	  python3.13 \
	  $$(ls -d "$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/3.1[3-9]*/bin/python3 2>/dev/null | sort -rV) \
	  python3; do \
	  [ -n "$$p" ] || continue; \
	  if "$$p" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then \
	    command -v "$$p" 2>/dev/null || echo "$$p"; exit 0; fi; \
	done; exit 1

.PHONY: run test test-fast lint venv clean benchmark ui reproduce dist

$(STAMP): pyproject.toml requirements.lock
	@py=$$($(find_python)) || { echo "chipstack: error: no Python >= 3.12 found (tried \$$PYTHON, python3.12, pyenv's versions folder, python3.13, python3). Install Python 3.12, e.g. 'pyenv install 3.12', or set PYTHON=/path/to/python3.12." >&2; exit 2; }; \
	echo "chipstack: using $$py ($$($$py --version))"; \
	if [ ! -x $(VPY) ] || ! $(VPY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then \
	  rm -rf $(VENV); "$$py" -m venv $(VENV); fi
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# The headline experiment, fresh each time, into outputs/latest/ (outputs/export_regimes/ holds the
# committed reference results that `chipstack replicate` checks).
run: $(STAMP)
	rm -rf outputs/latest/export_regimes
	$(VENV)/bin/chipstack sweep export_regimes --out outputs/latest/export_regimes

# ruff (pinned in requirements.lock; rules in pyproject.toml [tool.ruff]) over the whole tree.
lint: $(STAMP)
	$(VENV)/bin/ruff check model tests benchmarks

# The browser tests drive Debian's Chromium (/usr/bin/chromium); without it `make test` stops with one line
# instead of skipping them silently. SKIP_BROWSER=1 runs the rest and says so.
CHROMIUM := /usr/bin/chromium
SKIP_BROWSER ?=

test: lint
	@if [ -z "$(SKIP_BROWSER)" ] && [ ! -x $(CHROMIUM) ]; then \
	  echo "chipstack: error: make test runs the browser tests, which need Debian's Chromium at $(CHROMIUM): install it with 'apt-get install -y chromium', or run 'SKIP_BROWSER=1 make test' to leave them out" >&2; exit 2; fi
	@echo "make test: ruff passed; now every test (fast tier, slow, browser$(if $(SKIP_BROWSER), left out by SKIP_BROWSER,)) on 2 workers; ~8 min on 2 cores"
	$(VPY) -m pytest -n 2 --dist loadgroup $(if $(SKIP_BROWSER),-m "not browser") $(PYTEST_ARGS)

test-fast: $(STAMP)
	@echo "make test-fast: the fast tier (no slow or browser tests) on 2 workers"
	$(VPY) -m pytest -n 2 --dist loadgroup -m "not slow and not browser" $(PYTEST_ARGS)

benchmark: $(STAMP)
	$(VPY) -m benchmarks

ui: $(STAMP)
	$(VENV)/bin/chipstack ui

# Regenerate every published table, figure and quoted number into a scratch folder and compare them
# with the committed ones (docs/REPRODUCING.md); RTOL=1e-9 off x86-64 or with another lock file.
RTOL ?= 0
reproduce: $(STAMP)
	$(VPY) -m model.reproduce --rtol $(RTOL)

# sdist and wheel in dist/, then a clean virtual environment installs the wheel (pinned versions) and
# runs the quick experiment from the installed package's own experiment files.
dist: $(STAMP)
	rm -rf dist build
	$(VPY) -m build --outdir dist .
	rm -rf build/dist-check && $(VPY) -m venv build/dist-check
	build/dist-check/bin/pip install --quiet -c requirements.lock dist/chipstack-*.whl
	cd build && dist-check/bin/chipstack sweep quick --out dist-check/quick --workers 1
	cd build && dist-check/bin/chipstack run --steps 4 --set n_developers=50 >/dev/null
	@echo "dist: $$(ls dist) built; the installed wheel ran the quick experiment"

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
