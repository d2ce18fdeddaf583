//! Test scaffolding: start a server on an ephemeral loopback port, speak raw HTTP/1.1 to it,
//! and build frames.

#![allow(dead_code, unreachable_pub)]

pub mod client;
pub mod processes;
pub mod servers;
pub mod session;

use bytes::{Bytes, BytesMut};
use longpoll_core::wire::{Frame, decode_body, encode_frame};
use longpoll_core::{CloseFrame, Message};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Serves `router` on 127.0.0.1 at an ephemeral port until the test ends.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    address
}

/// An HTTP response as raw as it came.
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

    /// The frames of a `200` poll answer, with the seq of the first.
    pub fn frames(&self) -> (u64, Vec<Frame>) {
        assert_eq!(self.status, 200, "expected frames, got {self:?}");
        let seq = self
            .header("longpoll-seq")
            .expect("Longpoll-Seq")
            .parse()
            .expect("number");
        (
            seq,
            decode_body(self.body.clone(), usize::MAX, usize::MAX).expect("valid frames"),
        )
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the whole answer.
pub async fn http(
    address: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Raw {
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write head");
    // A server may answer (413, say) and close before the whole body is sent; read its
    // answer all the same.
    let _ = stream.write_all(body).await;
    read_response(&mut stream).await
}

/// Reads a response to EOF and parses it (Content-Length or chunked bodies).
pub async fn read_response(stream: &mut TcpStream) -> Raw {
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    // Read to EOF; a reset after the answer arrived (the server closed early) still counts.
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("response within 60 s");
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> Raw {
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
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Raw {
        status,
        headers,
        body: Bytes::from(body),
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        rest = &rest[line_end + 2..];
        if size == 0 || rest.len() < size {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[(size + 2).min(rest.len())..];
    }
    out
}

/// Opens a session with `POST {base}`; returns its id.
pub async fn open(address: SocketAddr, base: &str) -> String {
    let answer = http(address, "POST", base, &[], b"").await;
    assert_eq!(answer.status, 201, "open: {answer:?}");
    let params = longpoll_core::SessionParams::from_json(&answer.text()).expect("params JSON");
    params.id
}

/// `POST {base}/{id}?seq=N` with these frames.
pub async fn post_frames(
    address: SocketAddr,
    base: &str,
    id: &str,
    seq: u64,
    frames: &[Frame],
) -> Raw {
    let body = encode(frames);
    http(
        address,
        "POST",
        &format!("{base}/{id}?seq={seq}"),
        &[("Content-Type", "application/octet-stream")],
        &body,
    )
    .await
}

/// `GET {base}/{id}?ack=N`.
pub async fn poll(address: SocketAddr, base: &str, id: &str, ack: u64) -> Raw {
    http(address, "GET", &format!("{base}/{id}?ack={ack}"), &[], b"").await
}

pub fn encode(frames: &[Frame]) -> Vec<u8> {
    let mut body = BytesMut::new();
    for frame in frames {
        encode_frame(frame, &mut body).expect("encodable");
    }
    body.to_vec()
}

pub fn text(s: &str) -> Frame {
    Frame::Message(Message::from(s))
}

pub fn binary(bytes: impl Into<Bytes>) -> Frame {
    Frame::Message(Message::Binary(bytes.into()))
}

pub fn close(code: u16, reason: &str) -> Frame {
    Frame::Close(Some(CloseFrame::new(code, reason)))
}

/// Polls until `count` frames have arrived (from `ack` on), acknowledging as it goes.
pub async fn collect(
    address: SocketAddr,
    base: &str,
    id: &str,
    mut ack: u64,
    count: usize,
) -> Vec<Frame> {
    let mut frames = Vec::new();
    while frames.len() < count {
        let answer = poll(address, base, id, ack).await;
        match answer.status {
            200 => {
                let (seq, batch) = answer.frames();
                assert_eq!(seq, ack, "frames must start at the ack");
                ack += batch.len() as u64;
                frames.extend(batch);
            }
            204 => {}
            other => panic!("poll answered {other}: {}", answer.text()),
        }
    }
    frames
}
