//! Test scaffolding: raw HTTP/1.1 over `std::net`, frames, and a time bound for every test.

#![allow(dead_code, unreachable_pub)]

use bytes::{Bytes, BytesMut};
use longpoll_core::wire::{Frame, decode_body, encode_frame};
use longpoll_core::{CloseFrame, Config, Message};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

pub const BASE: &str = "/longpoll";

/// No single socket read or write waits longer than this.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `test` on its own thread and fails if it takes longer than `limit`.
pub fn bounded(limit: Duration, test: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let runner = std::thread::spawn(move || {
        test();
        let _ = done.send(());
    });
    match finished.recv_timeout(limit) {
        Ok(()) => runner.join().unwrap(),
        // The test panicked: re-raise its panic here.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(runner.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test took longer than {limit:?}"),
    }
}

/// Short timeouts so that holds, reaping and tombstones happen within a test.
pub fn quick_config() -> Config {
    let mut config = Config::default();
    config.poll_timeout = Duration::from_millis(400);
    config.inbound_hold_timeout = Duration::from_millis(200);
    config.idle_timeout = Duration::from_millis(1_500);
    config.gone_timeout = Duration::from_secs(5);
    config
}

/// An HTTP response as it came.
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
        let seq = self.header("longpoll-seq").unwrap().parse().unwrap();
        let frames = decode_body(self.body.clone(), usize::MAX, usize::MAX).unwrap();
        (seq, frames)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// Writes raw bytes on a fresh connection and reads the answer to the end.
pub fn raw(address: SocketAddr, bytes: &[u8]) -> Raw {
    let mut stream = connect(address);
    stream.write_all(bytes).expect("write request");
    read_response(&mut stream)
}

/// The bytes of a request with `Content-Length` (always for `POST`).
pub fn request_bytes(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: test\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

pub fn http(
    address: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Raw {
    raw(address, &request_bytes(method, target, headers, body))
}

/// Reads to the end of the stream and parses (the server always closes after answering).
pub fn read_response(stream: &mut TcpStream) -> Raw {
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("response");
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(&bytes)));
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let body = Bytes::copy_from_slice(&bytes[split + 4..]);
    let raw = Raw {
        status,
        headers,
        body,
    };
    if status != 204 {
        let length = raw.header("content-length").expect("Content-Length");
        assert_eq!(length.parse::<usize>().unwrap(), raw.body.len());
    }
    raw
}

/// Opens a session; returns its id.
pub fn open(address: SocketAddr) -> String {
    let answer = http(address, "POST", BASE, &[], b"");
    assert_eq!(answer.status, 201, "open: {answer:?}");
    longpoll_core::SessionParams::from_json(&answer.text())
        .expect("open JSON")
        .id
}

pub fn post_frames(address: SocketAddr, id: &str, seq: u64, frames: &[Frame]) -> Raw {
    http(
        address,
        "POST",
        &format!("{BASE}/{id}?seq={seq}"),
        &[("Content-Type", "application/octet-stream")],
        &encode(frames),
    )
}

pub fn poll(address: SocketAddr, id: &str, ack: u64) -> Raw {
    http(address, "GET", &format!("{BASE}/{id}?ack={ack}"), &[], b"")
}

/// Polls until `count` frames have arrived from `ack` on.
pub fn collect(address: SocketAddr, id: &str, mut ack: u64, count: usize) -> Vec<Frame> {
    let mut frames = Vec::new();
    while frames.len() < count {
        let answer = poll(address, id, ack);
        match answer.status {
            200 => {
                let (seq, batch) = answer.frames();
                assert_eq!(seq, ack, "frames start at the ack");
                ack += batch.len() as u64;
                frames.extend(batch);
            }
            204 => {}
            other => panic!("poll answered {other}: {}", answer.text()),
        }
    }
    frames
}

pub fn encode(frames: &[Frame]) -> Vec<u8> {
    let mut body = BytesMut::new();
    for frame in frames {
        encode_frame(frame, &mut body).unwrap();
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

/// `body` in chunked transfer coding, 1000 bytes a chunk.
pub fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(1000) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}
