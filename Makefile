# aioxide: `make run` and `make test` are the contract with a new user.
# Everything is installed into a local virtualenv (.venv) by these targets.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.deps-stamp
EXT_STAMP := $(VENV)/.ext-stamp
RUST_SRC := $(shell find crates -name '*.rs' -o -name Cargo.toml) Cargo.toml Cargo.lock
PY_SRC := $(shell find python -name '*.py' -o -name '*.pyi')

.PHONY: all run test test-rust test-python bench lint fmt build clean

all: build

# The last install line: the bench's peers (httpx, pyreqwest) and its WebSocket echo server
# (picows); sniffio because httpcore imports it on every request (see pyproject.toml).
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "maturin>=1.5,<2" multidict yarl
	$(PIP) install -q aiohttp==3.14.5 "pytest>=8" "pytest-asyncio>=0.24" "pytest-timeout>=2" \
		"uvloop>=0.19" "trustme>=1.1" "pproxy>=2.7" 'truststore>=0.9; python_version >= "3.10"' "ruff>=0.6" "mypy>=1.10" brotli 'backports.zstd; python_version < "3.14"'
	$(PIP) install -q 'httpx==0.29.0; python_version >= "3.10"' sniffio 'pyreqwest==0.15.1; python_version >= "3.11"' "picows==2.3.1"
	touch $@

# Build the extension in release mode into the virtualenv (editable install).
$(EXT_STAMP): $(STAMP) $(RUST_SRC) pyproject.toml
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH \
		$(VENV)/bin/maturin develop --release --quiet
	touch $@

build: $(EXT_STAMP)

run: build
	$(PY) examples/main.py

test: test-rust test-python

test-rust:
	timeout 900 cargo test --release -p aioxide

test-python: build
	$(PY) -m pytest -q -p no:cacheprovider

bench: build
	bench/run.sh $(abspath $(PY))

lint: $(STAMP)
	cargo fmt --all -- --check
	cargo clippy --release --all-targets -- -D warnings
	$(VENV)/bin/ruff check python tests bench examples
	$(VENV)/bin/mypy python/aioxide

fmt:
	cargo fmt --all
	$(VENV)/bin/ruff format python tests bench examples

clean:
	rm -rf target $(VENV)

# Autobahn|Testsuite (fuzzingserver, Python 2.7) against the ws engine's
# example client: tests/autobahn/run.sh. Needs pyenv's Python 2.7.18.
AUTOBAHN_PY27 := $(shell pyenv root 2>/dev/null)/versions/2.7.18/bin/python
AUTOBAHN_VENV := .autobahn-venv

.PHONY: autobahn
autobahn:
	@test -x "$(AUTOBAHN_PY27)" || { echo "autobahn: Python 2.7.18 is missing at '$(AUTOBAHN_PY27)' (pyenv install 2.7.18)"; exit 1; }
	@if [ ! -x $(AUTOBAHN_VENV)/bin/wstest ]; then \
		set -e; rm -rf $(AUTOBAHN_VENV) $(AUTOBAHN_VENV).boot; \
		$(PYTHON) -m venv $(AUTOBAHN_VENV).boot; \
		$(AUTOBAHN_VENV).boot/bin/python -m pip install -q virtualenv==20.21.1; \
		$(AUTOBAHN_VENV).boot/bin/virtualenv -q -p "$(AUTOBAHN_PY27)" $(AUTOBAHN_VENV); \
		rm -rf $(AUTOBAHN_VENV).boot; \
		$(AUTOBAHN_VENV)/bin/pip install -q --no-deps -r tests/autobahn/requirements-py27.txt; \
	fi
	AUTOBAHN_VENV=$(AUTOBAHN_VENV) tests/autobahn/run.sh
