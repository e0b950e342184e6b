#!/usr/bin/env bash
# Usage: tools/matrix.sh WHEEL [VERSION...]
#
# `make test-matrix`: installs the one abi3 wheel WHEEL into a fresh virtualenv
# (.matrix/<version>) for each CPython found (default 3.9 to 3.13: pyenv's
# versions, else pythonX.Y on PATH), with the test dependencies, and runs the
# Python suite there against the installed wheel (never the source tree's
# package).  Before that, a virtualenv with nothing but the wheel imports aioxide
# and makes a request to a local server (no Rust, no test dependencies).
# Prints one PASS/FAIL/MISSING line per version; fails if any version failed.
set -uo pipefail

WHEEL=${1:?usage: tools/matrix.sh WHEEL [VERSION...]}
shift
VERSIONS=("$@")
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(3.9 3.10 3.11 3.12 3.13)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHEEL=$(cd "$(dirname "$WHEEL")" && pwd)/$(basename "$WHEEL")
OUT="$HERE/.matrix"
mkdir -p "$OUT"

find_python() {
    local v=$1 root
    root=$(pyenv root 2>/dev/null) || root=
    if [ -n "$root" ]; then
        for p in "$root"/versions/"$v".*/bin/python"$v"; do
            [ -x "$p" ] && { echo "$p"; return 0; }
        done
    fi
    command -v "python$v" 2>/dev/null
}

# A request with nothing but the wheel installed: a local asyncio server answers.
SMOKE='
import asyncio, aioxide
async def main():
    async def answer(r, w):
        await r.readuntil(b"\r\n\r\n")
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await w.drain()
        w.close()
    srv = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    async with aioxide.ClientSession() as s:
        async with s.get(f"http://127.0.0.1:{port}/") as resp:
            assert resp.status == 200 and await resp.text() == "ok"
    srv.close()
    print("smoke: aioxide", aioxide.__file__)
asyncio.run(main())
'

declare -A RESULT
failed=0
for v in "${VERSIONS[@]}"; do
    py=$(find_python "$v") || py=
    if [ -z "$py" ]; then
        RESULT[$v]="MISSING (no python$v: pyenv install $v)"
        continue
    fi
    log="$OUT/$v.log"
    echo "== Python $v ($py): log in $log"
    rm -rf "$OUT/$v" "$OUT/$v-bare"
    (
        set -e
        "$py" -m venv "$OUT/$v-bare"
        "$OUT/$v-bare/bin/pip" install -q "$WHEEL"
        (cd "$OUT" && "$OUT/$v-bare/bin/python" -c "$SMOKE")
        "$py" -m venv "$OUT/$v"
        "$OUT/$v/bin/pip" install -q --upgrade pip
        # The suite's dependencies: pyproject's dev extra, from the wheel.
        "$OUT/$v/bin/pip" install -q "$WHEEL[dev]"
        cd "$HERE"
        "$OUT/$v/bin/python" -m pytest -q -p no:cacheprovider tests
    ) >"$log" 2>&1
    rc=$?
    summary=$(grep -E "^[0-9]+ (passed|failed)|passed|error" "$log" | tail -1)
    if [ $rc -eq 0 ]; then
        RESULT[$v]="PASS  $summary"
    else
        RESULT[$v]="FAIL  $summary (see $log)"
        failed=1
    fi
done

echo
echo "test-matrix: $(basename "$WHEEL")"
for v in "${VERSIONS[@]}"; do
    printf '  Python %-5s %s\n' "$v" "${RESULT[$v]}"
done
exit $failed
