#!/usr/bin/env bash
# Usage: tools/upstream/run.sh [--baseline] tests/test_client_functional.py ... [pytest options]
#
# aiohttp's own tests (tests/ of the sdist of the aiohttp installed beside
# aioxide, fetched once into .upstream/) with aioxide as the client: the
# aioxide_swap plugin puts aioxide's public client names where the tests take
# aiohttp's; the servers stay aiohttp.web.  --baseline runs them unswapped
# (plain aiohttp: they should all pass).  A report, not a gate: tests that
# read aiohttp's internals fail by design (README.md).  Test dependencies the
# suite needs beyond the dev ones go to .upstream/site, never the virtualenv.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${PY:-$ROOT/.venv/bin/python}
CACHE=${UPSTREAM_DIR:-$ROOT/.upstream}
VER=$("$PY" -c 'import aiohttp; print(aiohttp.__version__)')
SRC=$CACHE/aiohttp-$VER
if [ ! -d "$SRC/tests" ]; then
    mkdir -p "$CACHE"
    "$PY" -m pip download -q --no-deps --no-binary :all: "aiohttp==$VER" -d "$CACHE"
    tar xzf "$CACHE/aiohttp-$VER.tar.gz" -C "$CACHE"
fi
SITE=$CACHE/site
if [ ! -f "$SITE/.done" ]; then
    # (--no-deps: a second pytest there would shadow the virtualenv's)
    "$PY" -m pip install -q --no-deps --target "$SITE" pytest-mock freezegun python-dateutil proxy.py
    touch "$SITE/.done"
fi
PLUGIN=(-p aioxide_swap)
if [ "${1:-}" = "--baseline" ]; then
    PLUGIN=()
    shift
fi
ARGS=()
for a in "$@"; do
    case "$a" in
        tests/*) ARGS+=("$SRC/$a") ;;
        *) ARGS+=("$a") ;;
    esac
done
cd "$HERE"
PYTHONPATH="$SITE:$HERE" exec timeout "${UPSTREAM_TIMEOUT:-1800}" "$PY" -m pytest \
    -c "$HERE/pytest.ini" --rootdir "$SRC" "${PLUGIN[@]}" "${ARGS[@]}"
