# Every target that needs the tools depends on the virtualenv, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
GEN_PKG := generated/qaas_client
SPEC ?= openapi.yaml
GENERATOR = $(BIN)/openapi-python-client generate --path $(SPEC) --config generator-config.yaml \
	--meta none --overwrite --fail-on-warning
LINTED := qiboconnection tests bench scripts docs
# The whole package is held to mypy --strict (see [tool.mypy] in pyproject.toml).
MYPY_PATHS := qiboconnection
# The released 0.23.2 client pins numpy 1.26 and qibo 0.2.8, so it lives in a venv of its own; the
# compatibility tests and the benchmarks drive it there.
RELEASED_VENV := .venv-released
RELEASED_STAMP := $(RELEASED_VENV)/.installed
PORT ?= 8000

.PHONY: install released generate check-generated unasync check-unasync lint lint-imports format docs test demo contract bench serve clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed; set PYTHON=python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

released: $(RELEASED_STAMP)

$(RELEASED_STAMP):
	test -x $(RELEASED_VENV)/bin/python || $(PYTHON) -m venv $(RELEASED_VENV)
	$(RELEASED_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(RELEASED_VENV)/bin/python -m pip install --quiet 'qiboconnection==0.23.2'
	touch $(RELEASED_STAMP)

# Regenerate the typed client from openapi.yaml (never edit generated/ by hand).
generate: $(STAMP)
	rm -rf $(GEN_PKG)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(GENERATOR) --output-path $(GEN_PKG)
	touch $(GEN_PKG)/py.typed

# Fails when generated/ differs in any way (changed, missing or extra files) from what the spec gives.
check-generated: $(STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	PATH="$(CURDIR)/$(BIN):$$PATH" $(GENERATOR) --output-path "$$tmp/qaas_client" >/dev/null && \
	touch "$$tmp/qaas_client/py.typed" && \
	if diff -r -x __pycache__ "$$tmp/qaas_client" $(GEN_PKG) >"$$tmp/diff"; then \
		echo "generated/ matches openapi.yaml"; \
	else \
		head -n 40 "$$tmp/diff"; echo "generated/ is stale: run 'make generate' and commit the result" >&2; exit 1; \
	fi

# qiboconnection/_sync is written from qiboconnection/_async (never edit it by hand).
unasync: $(STAMP)
	$(BIN)/python scripts/unasync.py

check-unasync: $(STAMP)
	$(BIN)/python scripts/unasync.py --check

lint: $(STAMP) check-unasync lint-imports
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/python -m mypy $(MYPY_PATHS)
	$(BIN)/python docs/docstring_coverage.py --quiet qiboconnection || \
		{ $(BIN)/python docs/docstring_coverage.py qiboconnection; exit 1; }

# The layers of the package, as stated in [tool.importlinter] in pyproject.toml.
lint-imports: $(STAMP)
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix $(LINTED)
	$(BIN)/ruff format $(LINTED)
	$(BIN)/python scripts/unasync.py

# The documentation site in docs/_build/html, warnings as errors. It builds offline; INTERSPHINX=1 also
# fetches the inventories of Python, httpx, numpy and qibo to link their names (needs the network).
INTERSPHINX ?= 0
docs: $(STAMP)
	QIBOCONNECTION_DOCS_INTERSPHINX=$(INTERSPHINX) $(BIN)/python -m sphinx -b html -W --keep-going -E -q \
		docs docs/_build/html
	@echo "docs/_build/html/index.html"

test: check-generated lint docs $(RELEASED_STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/python -m qiboconnection.demo

contract: $(STAMP)
	$(BIN)/python tests/contract_live.py --seed 4242 --max-examples 25

bench: $(STAMP) $(RELEASED_STAMP)
	$(BIN)/python -m bench

serve: $(STAMP)
	$(BIN)/python -m qiboconnection serve --host 127.0.0.1 --port $(PORT)

clean:
	rm -rf $(VENV) $(RELEASED_VENV) .pytest_cache .ruff_cache
