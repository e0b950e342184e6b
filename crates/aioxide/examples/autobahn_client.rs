//! Autobahn|Testsuite client for the `ws` engine: runs the fuzzingserver's
//! protocol over plain TCP with permessage-deflate offered (compress=15).
//!
//! `cargo run --release -p aioxide --example autobahn_client -- 127.0.0.1:9001 [agent]`
//!
//! For every case: `GET /runCase?case=N&agent=A`, echo each text and binary
//! message, answer pings, answer a close with the same code, close with the
//! engine's code on a protocol error. Then `/updateReports?agent=A`.

use std::error::Error;
use std::time::Duration;

use aioxide::ws::conn::{Config, WsReader, WsWriter};
use aioxide::ws::handshake::{check_response, request_headers, Key};
use aioxide::ws::{Message, WsError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

type BoxError = Box<dyn Error + Send + Sync>;

/// Window bits offered, as `ws_connect(compress=15)`.
const COMPRESS: u8 = 15;

/// Largest message accepted (Autobahn 9.* sends up to 16 MiB).
const MAX_MSG_SIZE: usize = 64 << 20;

/// One connected WebSocket: its halves.
struct Conn {
    reader: WsReader<OwnedReadHalf>,
    writer: WsWriter<OwnedWriteHalf>,
}

/// Connect to `addr`, send the upgrade request for `path`, check the answer.
async fn connect(addr: &str, path: &str) -> Result<Conn, BoxError> {
    let mut tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let key = Key::generate();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (name, value) in request_headers(&key, &[], COMPRESS, false, None)? {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str("\r\n");
    tcp.write_all(req.as_bytes()).await?;
    let (head, rest) = read_head(&mut tcp).await?;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    resp.parse(&head)?;
    let pairs: Vec<(&str, &str)> = resp
        .headers
        .iter()
        .map(|h| (h.name, std::str::from_utf8(h.value).unwrap_or("")))
        .collect();
    let negotiated = check_response(resp.code.unwrap_or(0), &pairs, &key, &[], COMPRESS)?;
    let config = Config {
        max_msg_size: MAX_MSG_SIZE,
        deflate: negotiated.deflate,
        ..Config::default()
    };
    let (r, w) = tcp.into_split();
    Ok(Conn {
        reader: WsReader::new(r, &config, &rest),
        writer: WsWriter::new(w, &config),
    })
}

/// Read up to the end of the response head; the head and what followed it.
async fn read_head(tcp: &mut TcpStream) -> Result<(Vec<u8>, Vec<u8>), BoxError> {
    let mut buf = Vec::with_capacity(1024);
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
        }
        if buf.len() > 64 * 1024 || tcp.read_buf(&mut buf).await? == 0 {
            return Err("no complete response head".into());
        }
    }
}

/// Echo data messages until the connection closes.
async fn echo(conn: &mut Conn) -> Result<(), BoxError> {
    loop {
        match conn.reader.recv().await {
            Ok(Message::Ping(p)) => conn.writer.send(&Message::Pong(p)).await?,
            Ok(Message::Pong(_)) => {}
            Ok(Message::Close(code, _)) => {
                conn.writer
                    .send(&Message::Close(code, String::new()))
                    .await?;
                break;
            }
            Ok(m) => conn.writer.send(&m).await?,
            Err(WsError::Protocol(e)) => {
                conn.writer.close(e.code, "").await?;
                break;
            }
            Err(_) => return Ok(()),
        }
    }
    // The server closes the TCP connection after the closing handshake.
    let _ = tokio::time::timeout(Duration::from_secs(5), drain(&mut conn.reader)).await;
    let _ = conn.writer.shutdown().await;
    Ok(())
}

/// Read (and drop) until EOF or an error.
async fn drain(reader: &mut WsReader<OwnedReadHalf>) {
    while reader.recv().await.is_ok() {}
}

/// The number of cases the server has.
async fn case_count(addr: &str) -> Result<u32, BoxError> {
    let mut conn = connect(addr, "/getCaseCount").await?;
    let count = match conn.reader.recv().await? {
        Message::Text(t) => t.trim().parse()?,
        other => return Err(format!("unexpected {other:?}").into()),
    };
    let _ = echo(&mut conn).await;
    Ok(count)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let agent = args.next().unwrap_or_else(|| "aioxide".to_owned());
    let count = case_count(&addr).await?;
    println!("{count} cases");
    for case in 1..=count {
        let path = format!("/runCase?case={case}&agent={agent}");
        let run = async {
            let mut conn = connect(&addr, &path).await?;
            echo(&mut conn).await
        };
        match tokio::time::timeout(Duration::from_secs(120), run).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("case {case}: {e}"),
            Err(_) => eprintln!("case {case}: timed out"),
        }
    }
    let mut conn = connect(&addr, &format!("/updateReports?agent={agent}")).await?;
    echo(&mut conn).await?;
    println!("reports updated");
    Ok(())
}
