"""The fault table's rows: each fault, how a client meets it, what it gives."""

from __future__ import annotations

from . import servers
from .harness import GUARD, SOCK_READ, Case, Expect

STALL = {"sock_read": SOCK_READ}


def head(exc: str) -> Expect:
    return Expect(head=exc)


def body(exc: str) -> Expect:
    return Expect(body=exc)


def ok(content: bytes, status: int = 200) -> Expect:
    return Expect(status=status, content=content)


PARTIAL = servers.PAYLOAD[:1]  # marks "a prefix of PAYLOAD": aiohttp's cut-short bodies
TRUNCATED_CODING = (
    "a compressed stream cut short is an error (ClientPayloadError), not a shorter body; "
    "aiohttp returns what it decoded as if it were the whole body "
    "(docs/COMPATIBILITY.md, Known differences)"
)
TLS_TRUNCATION = (
    "a body delimited by the close that ends without TLS close_notify may have been cut by an "
    "attacker: ClientPayloadError; aiohttp returns it as complete"
)

CASES = [
    Case("refuse", None, head("ClientConnectorError")),
    # Closed before the request arrived or after: a FIN read as the end, or the
    # reset the kernel answers unread bytes with (either, by timing, in both
    # clients; a reset met before the request went out is a connect error).
    Case(
        "close_on_accept",
        servers.close_on_accept,
        head("ClientOSError|ServerDisconnectedError"),
        at_accept=True,
    ),
    Case(
        "reset_on_accept",
        servers.reset_on_accept,
        head("ClientOSError|ClientConnectorError"),
        at_accept=True,
    ),
    Case("accept_close", servers.accept_close, head("ServerDisconnectedError")),
    Case("accept_reset", servers.accept_reset, head("ClientOSError")),
    Case("never_answer", servers.never_answer, head("SocketTimeoutError"), STALL),
    Case("head_stall", servers.head_stall, head("SocketTimeoutError"), STALL),
    Case("body_stall", servers.body_stall, body("SocketTimeoutError"), STALL),
    # The drip's 10 ms gaps never reach the socket read timeout; the whole
    # answer (0.2 s) outlasts a 0.1 s total timeout.
    Case("drip_finishes", servers.drip, ok(servers.DRIP_BODY), {"sock_read": 0.5}),
    Case(
        "drip_cut_by_total",
        servers.drip,
        head("TimeoutError"),
        {"sock_read": GUARD, "total": 0.1},
    ),
    Case("reset_mid_head", servers.reset_mid_head, head("ClientOSError")),
    Case("reset_mid_body_length", servers.reset_mid_body_length, body("ClientPayloadError")),
    Case("reset_mid_body_chunked", servers.reset_mid_body_chunked, body("ClientPayloadError")),
    Case("reset_mid_chunk_size", servers.reset_mid_chunk_size, body("ClientPayloadError")),
    Case("close_before_length", servers.close_before_length, body("ClientPayloadError")),
    Case("chunked_without_last", servers.chunked_without_last, body("ClientPayloadError")),
    *(
        Case(
            f"{coding}_cut",
            servers.cut_coded(coding),
            body("ClientPayloadError"),
            aiohttp=ok(PARTIAL),
            why=TRUNCATED_CODING,
        )
        for coding in ("gzip", "br", "zstd")
    ),
    Case("interim_100_x1000", servers.interim_100, ok(b"final")),
    Case("interim_103_x1000", servers.interim_103, ok(b"final")),
    Case("long_status_line", servers.long_status_line, head("ClientResponseError")),
    Case("long_field", servers.long_field, head("ClientResponseError")),
    Case("many_fields", servers.many_fields, head("ClientResponseError")),
    # What follows the announced length (a whole second answer) is never read
    # as the next request's answer: the /good after it gets "good".
    Case("more_than_announced", servers.more_than_announced, ok(b"first")),
    # The answer came while the upload was still going out: it is returned.
    Case("early_413_close", servers.early_413, ok(b"too large", 413), upload_size=4 << 20),
    Case("early_413_reset", servers.early_413_reset, ok(b"too large", 413), upload_size=4 << 20),
    Case(
        "tls_early_413_reset",
        servers.early_413_reset,
        ok(b"too large", 413),
        upload_size=4 << 20,
        tls=True,
    ),
    Case("http09", servers.http09, head("ClientResponseError")),
    Case("ssh_banner", servers.ssh_banner, head("ClientResponseError")),
    Case("bad_status", servers.bad_status, head("ClientResponseError")),
    Case("binary_garbage", servers.binary_garbage, head("ClientResponseError")),
    Case("tls_abort_framed", servers.tls_abort_framed, ok(b"ok"), tls=True),
    Case("tls_abort_mid_body", servers.tls_abort_mid_body, body("ClientPayloadError"), tls=True),
    Case(
        "tls_abort_until_close",
        servers.tls_abort_until_close,
        body("ClientPayloadError"),
        tls=True,
        aiohttp=ok(b"0123456789"),
        why=TLS_TRUNCATION,
    ),
    Case(
        "tls_abort_before_head",
        servers.tls_abort_before_head,
        head("ServerDisconnectedError"),
        tls=True,
    ),
]
