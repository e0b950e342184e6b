#!/usr/bin/env bash
# Usage: bench/run.sh PYTHON [bench.py options, e.g. --clients aiohttp --scenarios seq --quick]
#        BENCH_SCRIPT=bench/soak.py bench/run.sh PYTHON [soak.py options]   (make soak)
#
# Starts a private nginx (bench/nginx.conf) on 127.0.0.1:<free port> and the WebSocket echo
# server (bench/ws_echo.py, its own process on uvloop, on two free loopback ports), runs
# bench/bench.py against them under a hard timeout, and always stops both servers and
# removes the temp dir on exit.  Installs nginx with apt-get first if it is missing (needs
# root).  Without the echo server (picows not importable) the ws_* scenarios report errors.
set -euo pipefail

PY=${1:?usage: bench/run.sh PYTHON [bench.py options]}
shift
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TIMEOUT=${BENCH_TIMEOUT:-1200}
# The script run against the servers (it is given the same --url options as bench.py).
SCRIPT=${BENCH_SCRIPT:-$HERE/bench.py}

find_nginx() { command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; }; }
if ! NGINX=$(find_nginx); then
    echo "bench: nginx is missing; installing it with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nginx-light >/dev/null || apt-get install -y -qq nginx >/dev/null
    NGINX=$(find_nginx)
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/aioxide-bench.XXXXXX")
chmod 755 "$TMP"  # nginx's worker drops to nobody when started as root
NGINX_PID=
WS_PID=
BENCH_PID=

cleanup() {
    trap - EXIT INT TERM
    if [ -n "$BENCH_PID" ]; then
        kill -TERM "$BENCH_PID" 2>/dev/null || true  # timeout passes it to its whole group
        wait "$BENCH_PID" 2>/dev/null || true
    fi
    if [ -n "$WS_PID" ]; then
        kill -TERM "$WS_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$WS_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$WS_PID" 2>/dev/null || true
        wait "$WS_PID" 2>/dev/null || true
    fi
    if [ -n "$NGINX_PID" ]; then
        kill -TERM "$NGINX_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$PY" "$HERE/bench.py" --write-docroot "$TMP/www"
mkdir -p "$TMP/tmp"

# Start nginx on a free port; retry if another process took the port meanwhile.
for attempt in 1 2 3 4 5; do
    read -r PORT TLSPORT PROXYPORT < <("$PY" -c 'import socket
a, b, c = socket.socket(), socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0)); c.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1], c.getsockname()[1])')
    sed -e "s|@PREFIX@|$TMP|g" -e "s|@PORT@|$PORT|g" -e "s|@TLSPORT@|$TLSPORT|g" \
        -e "s|@PROXYPORT@|$PROXYPORT|g" \
        "$HERE/nginx.conf" >"$TMP/nginx.conf"
    "$NGINX" -p "$TMP" -e "$TMP/error.log" -c "$TMP/nginx.conf" &
    NGINX_PID=$!
    for _ in $(seq 100); do
        kill -0 "$NGINX_PID" 2>/dev/null || break
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break 2; fi
        sleep 0.05
    done
    kill -TERM "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=
    echo "bench: nginx failed to start on port $PORT (attempt $attempt)" >&2
done
if [ -z "$NGINX_PID" ]; then exit 1; fi
echo "bench: $("$NGINX" -v 2>&1) on 127.0.0.1:$PORT (pid $NGINX_PID)"

# The WebSocket echo server binds its own free ports and writes them to a file once listening.
WS_ARGS=()
"$PY" "$HERE/ws_echo.py" --port-file "$TMP/ws.ports" &
WS_PID=$!
for _ in $(seq 200); do
    [ -s "$TMP/ws.ports" ] && break
    kill -0 "$WS_PID" 2>/dev/null || break
    sleep 0.05
done
if [ -s "$TMP/ws.ports" ]; then
    read -r WSPORT WSZPORT <"$TMP/ws.ports"
    WS_ARGS=(--ws-url "ws://127.0.0.1:$WSPORT/" --ws-z-url "ws://127.0.0.1:$WSZPORT/")
    echo "bench: ws echo (picows) on 127.0.0.1:$WSPORT, with permessage-deflate on 127.0.0.1:$WSZPORT (pid $WS_PID)"
else
    kill -TERM "$WS_PID" 2>/dev/null || true
    wait "$WS_PID" 2>/dev/null || true
    WS_PID=
    echo "bench: the WebSocket echo server did not start; ws_* scenarios will fail" >&2
fi

# In the background so that a signal to this script runs the trap at once.  The servers'
# pids let bench.py read their CPU time.
BENCH_NGINX_PID=$NGINX_PID BENCH_WS_PID=$WS_PID timeout "$TIMEOUT" "$PY" "$SCRIPT" --url "http://127.0.0.1:$PORT" \
    --tls-url "https://127.0.0.1:$TLSPORT" --proxy-url "http://127.0.0.1:$PROXYPORT" \
    "${WS_ARGS[@]}" "$@" &
BENCH_PID=$!
rc=0
wait "$BENCH_PID" || rc=$?
BENCH_PID=
if [ "$rc" = 124 ]; then echo "bench: timed out after $TIMEOUT s" >&2; fi
exit "$rc"
