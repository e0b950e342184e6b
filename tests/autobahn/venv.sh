#!/usr/bin/env bash
# Make the Python 2.7 virtualenv that runs Autobahn|Testsuite's wstest
# (tests/autobahn/requirements-py27.txt, every dependency pinned, installed
# with --no-deps). Usage: venv.sh PYTHON27 VENV [PYTHON3]. Does nothing when
# VENV/bin/wstest is there already.
set -euo pipefail
PY27=$1
VENV=$2
PYTHON3=${3:-python3}
[ -x "$VENV/bin/wstest" ] && exit 0
echo "autobahn: making $VENV (Python 2.7, first time only)"
rm -rf "$VENV" "$VENV.boot"
# (A recent Python's venv can't make a 2.7 one: virtualenv 20.21 still can.)
"$PYTHON3" -m venv "$VENV.boot"
"$VENV.boot/bin/python" -m pip install -q virtualenv==20.21.1
"$VENV.boot/bin/virtualenv" -q -p "$PY27" "$VENV"
rm -rf "$VENV.boot"
"$VENV/bin/pip" install -q --no-deps -r tests/autobahn/requirements-py27.txt
