#!/usr/bin/env bash
# Run Autobahn|Testsuite's fuzzingserver against a client, then summarise.
# Called by `make autobahn` (all cases) and `make autobahn-core` (1.*-10.*),
# which make the Python 2.7 venv first (tests/autobahn/venv.sh).
#
#   run.sh [--cases all|core] [--client python|engine] [--target aioxide|aiohttp]
#          [--write-expected]
#
# --client python (the default): tests/autobahn/client.py, aiohttp's API over
#   aioxide (run by $PY, default .venv/bin/python; `make build` makes it),
#   checked against tests/autobahn/expected-python.json.
# --client engine: the ws engine's own example client
#   (crates/aioxide/examples/autobahn_client.rs, permessage-deflate offered in
#   every case), checked against tests/autobahn/expected-engine.json.
# --target aiohttp: client.py on real aiohttp (comparison only: summarised,
#   not checked against any expected file).
# --cases core: 1.*-10.* only (301 cases, about a minute); all: 517 cases
#   1.*-13.* (10-20 minutes, mostly the Python 2 server in 12.* and 13.*).
# --write-expected: record this run (it must be `--cases all`) as the
#   expected results.
#
# The server gets a free port: the committed fuzzingserver.json is the
# template, the config actually used is written under tests/autobahn/out/
# (with the logs and the server's reports).
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${AUTOBAHN_VENV:-.autobahn-venv}
PY=${PY:-.venv/bin/python}
WORK=tests/autobahn/out
CASES=all
CLIENT=python
TARGET=aioxide
SUMMARY_ARGS=()
while [ $# -gt 0 ]; do
    case $1 in
        --cases) CASES=$2; shift 2 ;;
        --client) CLIENT=$2; shift 2 ;;
        --target) TARGET=$2; shift 2 ;;
        --write-expected) SUMMARY_ARGS+=(--write-expected); shift ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
case $CASES in
    all) GROUPS_RUN="1-13" ;;
    core) GROUPS_RUN="1-10" ;;
    *) echo "run.sh: --cases all|core" >&2; exit 2 ;;
esac
if [ "$CASES" != all ] && [ ${#SUMMARY_ARGS[@]} -gt 0 ]; then
    echo "run.sh: --write-expected needs --cases all" >&2
    exit 2
fi
case $CLIENT/$TARGET in
    python/aioxide) EXPECTED=tests/autobahn/expected-python.json ;;
    python/aiohttp) EXPECTED= ;;
    engine/aioxide) EXPECTED=tests/autobahn/expected-engine.json ;;
    *) echo "run.sh: --client python|engine, --target aioxide|aiohttp (python only)" >&2; exit 2 ;;
esac

rm -rf "$WORK"
mkdir -p "$WORK"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$PORT" "$CASES" > "$WORK/fuzzingserver.json" <<'PY'
import json, sys
config = json.load(open("tests/autobahn/fuzzingserver.json"))
config["url"] = "ws://127.0.0.1:%s" % sys.argv[1]
if sys.argv[2] == "core":
    config["cases"] = ["%d.*" % g for g in range(1, 11)]
json.dump(config, sys.stdout, indent=2)
PY
if [ "$CLIENT" = engine ]; then
    cargo build --release -p aioxide --example autobahn_client
fi
(cd "$WORK" && exec "../../../$VENV/bin/wstest" -m fuzzingserver -s fuzzingserver.json > wstest.log 2>&1) &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 150); do
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$PORT" 2>/dev/null && break
    kill -0 $SERVER 2>/dev/null || { echo "autobahn: wstest died:"; cat "$WORK/wstest.log"; exit 1; }
    sleep 0.2
done
START=$(date +%s)
CLIENT_RC=0
if [ "$CLIENT" = engine ]; then
    cargo run --release -q -p aioxide --example autobahn_client -- "127.0.0.1:$PORT" aioxide || CLIENT_RC=$?
else
    # (pipefail: the client's exit status, not tee's.)
    "$PY" tests/autobahn/client.py --target "$TARGET" "127.0.0.1:$PORT" 2>&1 | tee "$WORK/client.log" || CLIENT_RC=$?
fi
echo "autobahn: client ($CLIENT/$TARGET, $CASES) took $(( $(date +%s) - START )) s"
SUMMARY_RC=0
if [ -z "$EXPECTED" ]; then
    python3 tests/autobahn/summarize.py "$WORK/reports/clients/index.json" - --groups "$GROUPS_RUN" || SUMMARY_RC=$?
else
    python3 tests/autobahn/summarize.py "$WORK/reports/clients/index.json" "$EXPECTED" \
        --groups "$GROUPS_RUN" ${SUMMARY_ARGS[@]+"${SUMMARY_ARGS[@]}"} || SUMMARY_RC=$?
fi
if [ "$CLIENT_RC" != 0 ]; then
    echo "autobahn: the client failed (exit $CLIENT_RC): a case timed out or raised"
    exit 1
fi
exit "$SUMMARY_RC"
