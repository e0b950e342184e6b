# aioxide: `make run` and `make test` are the contract with a new user.
# Everything is installed into a local virtualenv (.venv) by these targets.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.deps-stamp
DOCS_STAMP := $(VENV)/.docs-stamp
EXT_STAMP := $(VENV)/.ext-stamp
RUST_SRC := $(shell find crates -name '*.rs' -o -name Cargo.toml) Cargo.toml Cargo.lock
PY_SRC := $(shell find python -name '*.py' -o -name '*.pyi')

.PHONY: all run test test-rust test-python bench bench-cli bench-py soak lint fmt build clean wheel test-matrix docs upstream-suite

all: build

# The next-to-last install line: the bench's peers (httpx, pyreqwest) and its WebSocket echo server
# (picows); sniffio because httpcore imports it on every request (see pyproject.toml).
# The last: OpenTelemetry's SDK and aiohttp instrumentation (the `otel` extra), for
# tests/test_opentelemetry.py.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "maturin>=1.5,<2" multidict yarl
	$(PIP) install -q aiohttp==3.14.5 "pytest>=8" "pytest-asyncio>=0.24" "pytest-timeout>=2" \
		"uvloop>=0.19" "trustme>=1.1" "pproxy>=2.7" "hypercorn>=0.17" "h2>=4.1" 'truststore>=0.9; python_version >= "3.10"' "ruff>=0.6" "mypy>=1.10" "basedpyright>=1.20" "hypothesis>=6.100" brotli 'backports.zstd; python_version < "3.14"' "rich>=13"
	$(PIP) install -q 'httpx==0.29.0; python_version >= "3.10"' sniffio 'pyreqwest==0.15.1; python_version >= "3.11"' "picows==2.3.1" matplotlib
	$(PIP) install -q 'opentelemetry-sdk>=1.20; python_version >= "3.10"' 'opentelemetry-instrumentation-aiohttp-client>=0.41b0; python_version >= "3.10"'
	touch $@

# The user guide's tools (the `docs` extra of pyproject.toml), apart from $(STAMP): `make test`
# does not need them (tests/test_docs_examples.py runs the guide's examples without mkdocs).
$(DOCS_STAMP): $(STAMP)
	$(PIP) install -q "mkdocs>=1.6,<2" "mkdocs-material>=9.5,<10" "mkdocstrings[python]>=1.0,<2" \
		"mkdocstrings-python>=2.0,<3"
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
	$(MAKE) --no-print-directory autobahn-core
	$(MAKE) --no-print-directory fuzz-ci

test-rust:
	timeout 900 cargo test --release -p aioxide

# H2_SUITE: the request-feature modules run a second time over HTTP/2
# (AIOXIDE_TEST_PROTO=h2, tests/conftest.py): every serve() app behind the h2c
# front of tests/h2front.py, every TCPConnector with http2="prior_knowledge";
# tests marked h1_only (and those on the raw HTTP/1.1 server) are skipped.
H2_SUITE := $(addprefix tests/test_,$(addsuffix .py, \
	request_flow request_options redirects session_cookies timeouts uploads streams \
	decompression auth digest_auth middlewares tracing_api tracing_stream client_response \
	response_extras release formdata multipart client_session client_request \
	session_options payload_close connection_info aiohttp_interop upload_tracker))

test-python: build
	$(PY) -m pytest -q -p no:cacheprovider
	AIOXIDE_TEST_PROTO=h2 $(PY) -m pytest -q -p no:cacheprovider $(H2_SUITE)

# `make docs`: the user guide (mkdocs.yml, docs/) into site/, warnings as errors.  The API
# reference is read from the Python source (python/aioxide, the engine from its .pyi stub):
# nothing is built or imported.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

# The table, the results as JSON (bench/results/, not committed) and docs/bench.png.
bench: build
	mkdir -p bench/results
	bench/run.sh $(abspath $(PY)) --json $(abspath bench/results/last.json) --png $(abspath docs/bench.png)

# `aioxide bench` (the engine's load generator) against wrk on the same nginx:
# GET /small, 64 connections, 10 s each (bench/cli_bench.py); installs wrk with
# apt-get when it is missing (needs root).
bench-cli: build
	@command -v wrk >/dev/null || { export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	BENCH_SCRIPT=$(abspath bench/cli_bench.py) bench/run.sh $(abspath $(PY))

# aiohttp's own client tests (its sdist's tests/, fetched into .upstream/) with
# aioxide as the client, a file at a time: a report, not a gate (tests of
# aiohttp's internals fail by design; tools/upstream/README.md).
UPSTREAM_FILES ?= test_client_functional.py test_client_ws_functional.py \
	test_client_middleware.py test_client_session.py test_proxy_functional.py \
	test_cookiejar.py test_client_exceptions.py test_formdata.py \
	test_client_fingerprint.py test_tracing.py test_multipart.py
upstream-suite: build
	@for f in $(UPSTREAM_FILES); do \
		echo "upstream-suite: $$f"; \
		tools/upstream/run.sh tests/$$f -q 2>&1 | grep -E "[0-9]+ (passed|failed)" | tail -1; \
	done

# The Python layer's instructions per request under callgrind, against a stand-in
# engine (bench/pylayer.py): the figure a change to the request path is judged
# by, as it does not move with the machine's load. Installs valgrind with apt-get
# when it is missing (needs root).
bench-py: build
	@command -v valgrind >/dev/null || { export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
	$(PY) bench/pylayer.py

# Soak: the cancellation storms at full size (10,000 requests per loop), the exit
# with requests in flight 200 times, then bench/soak.py against the bench's nginx:
# SOAK_REQUESTS (1,000,000) mixed requests, 5% faults, 5% cancelled; RSS and fds
# printed every 100,000; fails on RSS growth of 5 MiB after warm-up or an fd change.
SOAK_REQUESTS ?= 1000000
soak: build
	AIOXIDE_STORM_SIZE=10000 AIOXIDE_EXIT_RUNS=200 timeout 1800 $(PY) -m pytest -q -p no:cacheprovider \
		tests/test_storms.py tests/test_many_loops.py
	BENCH_SCRIPT=$(abspath bench/soak.py) BENCH_TIMEOUT=$${BENCH_TIMEOUT:-7200} \
		bench/run.sh $(abspath $(PY)) --requests $(SOAK_REQUESTS)

# mypy --strict (pyproject.toml) on the package and on tests/typing (the public API
# as users write it, with assert_type expectations and mistakes that must stay
# errors); stubtest checks _aioxide.pyi against the built module; basedpyright
# (pyright's strict rules) checks tests/typing too.
lint: build
	cargo fmt --all -- --check
	cargo fmt --manifest-path fuzz/Cargo.toml --all -- --check
	cargo clippy --release --all-targets -- -D warnings
	$(VENV)/bin/ruff check python tests bench examples
	$(VENV)/bin/ruff format --check python tests bench examples
	$(PY) -m mypy python/aioxide tests/typing
	$(PY) -m mypy.stubtest aioxide._aioxide
	$(PY) -m basedpyright --pythonpath $(abspath $(PY))

# `make wheel`: the one abi3 wheel (CPython 3.9 and later) into dist/.
# `make test-matrix`: that wheel installed into a fresh virtualenv for each
# CPython 3.9-3.13 found (pyenv's), the Python suite run there
# (tools/matrix.sh; MATRIX_VERSIONS to choose), a PASS/FAIL line per version.
MATRIX_VERSIONS ?= 3.9 3.10 3.11 3.12 3.13

wheel: $(STAMP)
	rm -f dist/aioxide-*.whl
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH \
		$(VENV)/bin/maturin build --release --quiet --out dist

test-matrix: wheel
	tools/matrix.sh $$(ls dist/aioxide-*.whl | head -1) $(MATRIX_VERSIONS)

fmt:
	cargo fmt --all
	$(VENV)/bin/ruff format python tests bench examples

clean:
	rm -rf target $(VENV)

# Autobahn|Testsuite (fuzzingserver, Python 2.7) against the Python client
# tests/autobahn/client.py (aiohttp's API over aioxide): tests/autobahn/run.sh
# (`run.sh --client engine` runs the engine's own example client instead).
# `autobahn`: all 517 cases 1.*-13.* (12.* and 13.* with compress=15),
# 10-20 minutes; fails on a FAILED or a change from
# tests/autobahn/expected-python.json, and so does `autobahn-core`: cases
# 1.*-10.* (301 cases, about a minute), part of `make test`. Both need
# pyenv's Python 2.7.18: `autobahn` fails without it, `autobahn-core` says
# SKIPPED and passes. The 2.7 venv is made the first time (about 1.5 min).
AUTOBAHN_PY27 := $(shell pyenv root 2>/dev/null)/versions/2.7.18/bin/python
AUTOBAHN_VENV := .autobahn-venv

.PHONY: autobahn autobahn-core
autobahn: build
	@test -x "$(AUTOBAHN_PY27)" || { echo "autobahn: Python 2.7.18 is missing at '$(AUTOBAHN_PY27)' (pyenv install 2.7.18)"; exit 1; }
	tests/autobahn/venv.sh "$(AUTOBAHN_PY27)" $(AUTOBAHN_VENV) $(PYTHON)
	AUTOBAHN_VENV=$(AUTOBAHN_VENV) PY=$(PY) tests/autobahn/run.sh --cases all

autobahn-core: build
	@if [ ! -x "$(AUTOBAHN_PY27)" ]; then \
		echo "************************************************************"; \
		echo "SKIPPED: Autobahn needs Python 2.7 (pyenv install 2.7.18)"; \
		echo "  (looked for '$(AUTOBAHN_PY27)')"; \
		echo "************************************************************"; \
		exit 0; \
	fi; \
	set -e; \
	tests/autobahn/venv.sh "$(AUTOBAHN_PY27)" $(AUTOBAHN_VENV) $(PYTHON); \
	AUTOBAHN_VENV=$(AUTOBAHN_VENV) PY=$(PY) tests/autobahn/run.sh --cases core

# Fuzzing every parser that reads what a server sends: libFuzzer targets
# under fuzz/ (its own workspace), each from its seed corpus in
# fuzz/corpus/<target>/ (origins and licences in the READMEs there):
#   h1_head, h1_chunked, h1_response   the HTTP/1.1 codec (crates/aioxide/src/h1)
#   cookie_parse, cookie_date          Set-Cookie, the jar's Cookie header, dates
#   redirect                           Location resolution and requoting
#   ws_frames, ws_inflate              WebSocket frames, messages, permessage-deflate
#   ws_handshake                       the 101 answer, Sec-WebSocket-Extensions
#   body_decode                        gzip, deflate, br, zstd bodies, bounded pulls
#   json                               resp.json()'s parser (aioxide::json), round trip
# `fuzz`: each target for FUZZ_SECONDS (default 60), one after the other,
# with AddressSanitizer; new finds are added to the corpus dirs (only seed-*
# files are committed).
# `fuzz-ci` (the last step of `make test`): each target for 20 s, two at a
# time (one per core), finds kept out of the tree, built without a sanitizer into fuzz/target-ci: the parsers
# are safe Rust, where ASan finds nothing the bounds checks do not, and the
# uninstrumented build takes 2 minutes cold and runs 4-7x more inputs in the
# 20 s.  When `cargo +nightly` is missing it says so and passes.
# Both need a nightly toolchain; cargo-fuzz is installed (`cargo install
# cargo-fuzz`, about a minute) when missing. Crashes land in fuzz/artifacts/<target>/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := h1_head h1_chunked h1_response cookie_parse cookie_date redirect \
	ws_frames ws_inflate ws_handshake body_decode json
FUZZ_CI_SECONDS := 20
FUZZ_CI_FLAGS := --fuzz-dir fuzz --sanitizer none --target-dir fuzz/target-ci

.PHONY: fuzz fuzz-ci fuzz-tools
fuzz-tools:
	@cargo +nightly --version >/dev/null 2>&1 || { echo "fuzz: the nightly toolchain is missing (rustup toolchain install nightly)"; exit 1; }
	@cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz

fuzz: fuzz-tools
	cargo +nightly fuzz build --fuzz-dir fuzz
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
		cargo +nightly fuzz run --fuzz-dir fuzz $$t fuzz/corpus/$$t -- -max_total_time=$(FUZZ_SECONDS); \
	done

fuzz-ci:
	@if ! cargo +nightly --version >/dev/null 2>&1; then \
		echo "fuzz-ci: SKIPPED: no nightly toolchain (cargo +nightly); rustup toolchain install nightly"; \
		exit 0; \
	fi; \
	set -e; \
	cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz; \
	cargo +nightly fuzz build $(FUZZ_CI_FLAGS); \
	finds=$$(mktemp -d); trap 'rm -rf "$$finds"' EXIT; \
	printf '%s\n' $(FUZZ_TARGETS) | xargs -P 2 -I{} sh -c ' \
		echo "fuzz-ci: {} for $(FUZZ_CI_SECONDS)s"; mkdir -p "$$0/{}"; \
		cargo +nightly fuzz run $(FUZZ_CI_FLAGS) {} "$$0/{}" fuzz/corpus/{} -- \
			-max_total_time=$(FUZZ_CI_SECONDS) 2>"$$0/{}.log" || \
			{ tail -40 "$$0/{}.log"; echo "fuzz-ci: {} FAILED"; exit 1; }' "$$finds"
