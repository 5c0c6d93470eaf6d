# CodeValdCortex — two commands: `make run` (the cluster) and `make test` (the suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | sha1sum | cut -c1-12)
BUF    := .tools/node_modules/.bin/buf
PYTEST_ARGS ?=
# pytest-xdist: one worker per core (at most 4), each with its own NATS and PostgreSQL.
PYTEST_WORKERS ?= -n auto --maxprocesses=4

.PHONY: install run test lint bench bench-deps proto lock tools clean system-deps

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	@$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	@$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

run: install  ## start NATS, PostgreSQL, five services and the gateway
	$(BIN)/cortex up

system-deps:  ## Debian packages the tests use (promtool); installs them when missing and root
	@command -v promtool >/dev/null || { [ "$$(id -u)" = 0 ] && \
	  { apt-get install -y -q prometheus >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q prometheus >/dev/null; }; }; } \
	  || { echo "promtool missing: run apt-get install prometheus" >&2; exit 1; }

test: install tools system-deps  ## the whole test suite on its own NATS + PostgreSQL (tools: the GitHub webhook examples)
	$(BIN)/pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

$(BUF): .tools/package.json .tools/package-lock.json
	npm ci --prefix .tools --no-audit --no-fund --loglevel=error
	@touch $(BUF)

tools: $(BUF)

lint: install tools  ## ruff, mypy --strict, import contracts, proto freshness, buf lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy libs services gateway benchmarks
	$(BIN)/lint-imports
	$(BIN)/python scripts/gen_proto.py --check
	$(BUF) lint
	$(BIN)/python scripts/gen_k8s_streams.py --check
	$(BIN)/python scripts/gen_dashboards.py --check
	$(BIN)/python scripts/gen_gateway_openapi.py --check
	$(BIN)/python scripts/api_compat.py --check

bench-deps: tools  ## wrk (the HTTP load generator of the policy and gateway suites, else a Python one) and, via tools, the Cerbos server of the gateway suite
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && \
	  { apt-get install -y -q wrk >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }; }; } \
	  || echo "wrk missing (apt-get install wrk): HTTP loads fall back to a Python generator" >&2

bench: install bench-deps  ## every benchmark suite → benchmarks/results/<suite>.json
	$(BIN)/python -m benchmarks all

proto: install  ## regenerate libs/cortex_contracts/_pb from proto/
	$(BIN)/python scripts/gen_proto.py

lock: install  ## re-resolve requirements.lock after editing pyproject.toml
	$(BIN)/pip install -q uv && $(BIN)/uv pip compile pyproject.toml --extra dev --extra bench -o requirements.lock

clean:
	rm -rf $(VENV) .tools/node_modules .mypy_cache .ruff_cache .pytest_cache
