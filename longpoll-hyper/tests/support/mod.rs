//! Test scaffolding: an echo mount, a hyper server on an ephemeral loopback port (the same
//! `auto` builder settings the crate docs show), raw HTTP/1.1 and hyper clients, frames.

#![allow(dead_code, unreachable_pub)]

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use longpoll_core::wire::{Frame, decode_body, encode_frame};
use longpoll_hyper::{CloseFrame, Config, LongPoll, Message, Mount, Session};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const BASE: &str = "/longpoll";
pub const FRAMES: &str = "application/octet-stream";

/// Fails the test if `test` takes longer than `limit`.
pub async fn bounded<T>(limit: Duration, test: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, test)
        .await
        .expect("the test finished within its time bound")
}

/// Short timeouts and a 1 KiB body limit.
pub fn quick_config() -> Config {
    let mut config = Config::default();
    config.poll_timeout = Duration::from_millis(400);
    config.inbound_hold_timeout = Duration::from_millis(200);
    config.idle_timeout = Duration::from_millis(3_000);
    config.max_body_bytes = 1024;
    config.max_message_bytes = 1000;
    config
}

/// Echoes every message; the text `close-me` closes with 4000 "requested".
pub async fn echo(session: Session) {
    let (mut tx, mut rx) = session.split();
    while let Some(item) = rx.next().await {
        let reply = match item {
            Ok(Message::Text(text)) if text.as_str() == "close-me" => {
                Message::Close(Some(CloseFrame::new(4000, "requested")))
            }
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(message) => message,
        };
        if tx.send(reply).await.is_err() {
            break;
        }
    }
}

pub fn echo_mount(config: Config) -> Mount {
    LongPoll::new(config).expect("valid config").mount(echo)
}

/// Serves `service` on 127.0.0.1 (ephemeral port) with HTTP/1.1 and HTTP/2, the given
/// header read timeout, until the test ends.
pub async fn serve<S>(service: S, header_read_timeout: Duration) -> SocketAddr
where
    S: hyper::service::Service<
            Request<Incoming>,
            Response = Response<Full<Bytes>>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address");
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(10));
    let builder = Arc::new(builder);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (builder, service) = (builder.clone(), service.clone());
            tokio::spawn(async move {
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

/// A response as raw as it came.
#[derive(Debug, Clone)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Writes `request` on a fresh connection, then reads until the server closes it.
pub async fn raw_exchange(address: SocketAddr, request: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(request).await.expect("write request");
    read_to_close(&mut stream).await
}

/// Reads until the server closes the connection, and parses one response.
pub async fn read_to_close(stream: &mut TcpStream) -> Raw {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Raw {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Raw {
        status,
        headers,
        body: Bytes::copy_from_slice(&raw[split + 4..]),
    }
}

/// An HTTP/1.1 client connection (keep-alive).
pub async fn h1(address: SocketAddr) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(address).await.expect("connect");
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(connection);
    sender
}

/// An HTTP/2 client connection with prior knowledge (no upgrade, no TLS).
pub async fn h2(address: SocketAddr) -> hyper::client::conn::http2::SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(address).await.expect("connect");
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    sender
}

/// A request with `body` (`Content-Type: application/octet-stream` when `POST`).
pub fn request(method: &str, uri: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    let mut builder = Request::builder().method(method).uri(uri);
    if method == "POST" {
        builder = builder.header("content-type", FRAMES);
    }
    builder.body(Full::new(body.into())).expect("valid request")
}

/// Reads a hyper client response whole.
pub async fn collect(response: Response<Incoming>) -> Raw {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("response body")
        .to_bytes();
    Raw {
        status,
        headers,
        body,
    }
}

/// The id in an open (`201`) answer.
pub fn session_id(opened: &Raw) -> String {
    assert_eq!(opened.status, 201, "open: {opened:?}");
    let json = String::from_utf8_lossy(&opened.body);
    longpoll_core::SessionParams::from_json(&json)
        .expect("session parameters")
        .id
}

/// The frames of a `200` poll answer, with the seq of the first.
pub fn frames(answer: &Raw) -> (u64, Vec<Frame>) {
    assert_eq!(answer.status, 200, "expected frames, got {answer:?}");
    let seq = answer
        .header("longpoll-seq")
        .expect("Longpoll-Seq")
        .parse()
        .expect("a number");
    let frames = decode_body(answer.body.clone(), usize::MAX, usize::MAX).expect("valid frames");
    (seq, frames)
}

pub fn encode(frames: &[Frame]) -> Bytes {
    let mut body = BytesMut::new();
    for frame in frames {
        encode_frame(frame, &mut body).expect("encodable");
    }
    body.freeze()
}

pub fn text(s: &str) -> Frame {
    Frame::Message(longpoll_core::Message::from(s))
}

pub fn binary(bytes: &[u8]) -> Frame {
    Frame::Message(longpoll_core::Message::Binary(Bytes::copy_from_slice(
        bytes,
    )))
}

pub fn close(code: u16, reason: &str) -> Frame {
    Frame::Close(Some(CloseFrame::new(code, reason)))
}
