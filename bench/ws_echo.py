"""WebSocket echo server for bench/run.sh (nginx cannot echo WebSockets).

    ws_echo.py --port-file PATH [--host 127.0.0.1]

Runs on uvloop in its own process, so its CPU never counts in a client's figures.  Listens
on two free loopback ports, written as "PLAIN COMPRESSED" to PATH once both listen:

  PLAIN       picows' frame-level server (Cython): every data frame is sent straight back
              with its type and FIN bit; no permessage-deflate.  The fastest echo at hand.
  COMPRESSED  picows' websockets-compatible server with permessage-deflate (RFC 7692):
              every message is received whole and sent back (compressed if negotiated).

Stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal

import picows
from picows.websockets import serve

MAX_MESSAGE = 16 << 20


class Echo(picows.WSListener):
    def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
        t = frame.msg_type
        if t == picows.WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        elif t in (picows.WSMsgType.TEXT, picows.WSMsgType.BINARY, picows.WSMsgType.CONTINUATION):
            transport.send(t, frame.get_payload_as_memoryview(), frame.fin)
        # PING is answered by picows itself (enable_auto_pong); PONG is ignored.


async def echo_messages(ws) -> None:  # type: ignore[no-untyped-def]
    async for message in ws:
        await ws.send(message)


async def main(host: str, port_file: str) -> None:
    plain = await picows.ws_create_server(
        lambda _request: Echo(), host, 0, max_frame_size=MAX_MESSAGE
    )
    compressed = await serve(
        echo_messages,
        host,
        0,
        compression="deflate",
        max_size=MAX_MESSAGE,
        max_queue=None,
        ping_interval=None,
        write_limit=1 << 20,
    ).__aenter__()
    ports = (plain.sockets[0].getsockname()[1], compressed.sockets[0].getsockname()[1])
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{ports[0]} {ports[1]}\n")
    os.replace(tmp, port_file)  # run.sh waits for this file: both servers listen by then

    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    await stop
    plain.close()
    compressed.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    import uvloop

    uvloop.run(main(args.host, args.port_file))
