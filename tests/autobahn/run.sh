#!/usr/bin/env bash
# Run Autobahn|Testsuite's fuzzingserver against the ws engine's example
# client, then summarise. Called by `make autobahn` (which builds the venv).
# The server gets a free port: the committed fuzzingserver.json is the
# template, the config actually used is written under tests/autobahn/out/.
# Arguments go to summarize.py: `run.sh --write-expected` records a clean
# run as tests/autobahn/expected.json. A full run (517 cases, 1.*-13.*)
# takes 10-20 minutes, mostly in the Python 2 server.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${AUTOBAHN_VENV:-.autobahn-venv}
WORK=tests/autobahn/out
rm -rf "$WORK"
mkdir -p "$WORK"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$PORT" > "$WORK/fuzzingserver.json" <<'PY'
import json, sys
config = json.load(open("tests/autobahn/fuzzingserver.json"))
config["url"] = "ws://127.0.0.1:%s" % sys.argv[1]
json.dump(config, sys.stdout, indent=2)
PY
cargo build --release -p aioxide --example autobahn_client
(cd "$WORK" && exec "../../../$VENV/bin/wstest" -m fuzzingserver -s fuzzingserver.json > wstest.log 2>&1) &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$PORT" 2>/dev/null && break
    kill -0 $SERVER 2>/dev/null || { echo "autobahn: wstest died:"; cat "$WORK/wstest.log"; exit 1; }
    sleep 0.2
done
cargo run --release -q -p aioxide --example autobahn_client -- "127.0.0.1:$PORT" aioxide
python3 tests/autobahn/summarize.py "$WORK/reports/clients/index.json" tests/autobahn/expected.json "$@"
