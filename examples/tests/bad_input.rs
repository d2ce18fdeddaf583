//! Bad input, tried as an attacker would, against every echo server (axum, hyper, actix, custom)
//! over raw TCP on 127.0.0.1. Each request gets the status `PROTOCOL.md` names (sections 2, 4, 5
//! and 7), and after each one the same session still carries a message both ways: no bad
//! request harms a healthy session.
//!
//! Beyond the table: concurrent POSTs, 100 overlapping polls, a slowloris client, bodies
//! trickled past the body timeout, and the session cap.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::servers::{self, Adapter};
use support::session::Probe;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BASE: &str = "/longpoll";
/// Small, so that bodies over it are cheap to send.
const MAX_BODY: usize = 64 * 1024;
/// Short, so the slow-client cases end quickly; every request of the table is written in one
/// go, far within it.
const HEADER_TIMEOUT_MS: u64 = 2_000;
const BODY_TIMEOUT_MS: u64 = 2_000;
/// How long any one wait may take before the test fails: generous, never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);
const OCTETS: (&str, &str) = ("Content-Type", "application/octet-stream");

fn server_args() -> longpoll_examples::cli::EchoArgs {
    let mut args = servers::args(20_000, 60_000);
    args.max_body_bytes = Some(MAX_BODY);
    args.header_timeout_ms = Some(HEADER_TIMEOUT_MS);
    args.body_timeout_ms = Some(BODY_TIMEOUT_MS);
    args
}

/// How a case's request is sent.
enum Sent {
    /// `support::http`: one write, `Content-Length` for POSTs.
    Http {
        method: &'static str,
        target: &'static str,
        headers: Vec<(&'static str, &'static str)>,
        body: Vec<u8>,
    },
    /// These exact bytes (after filling in the template) on a fresh connection.
    Raw { head: &'static str, body: Vec<u8> },
    /// A chunked send body, `pieces` chunks of `size` bytes with a pause between them.
    SlowChunks { pieces: usize, size: usize },
}

/// One bad request and what it must be answered.
struct Case {
    name: &'static str,
    sent: Sent,
    status: u16,
    /// A header the answer must carry, and its value (after filling in).
    header: Option<(&'static str, &'static str)>,
}

fn hex(text: &str) -> Vec<u8> {
    let digits: String = text.split_whitespace().collect();
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}

fn send(target: &'static str, body: Vec<u8>) -> Case {
    Case {
        name: "",
        sent: Sent::Http {
            method: "POST",
            target,
            headers: vec![OCTETS],
            body,
        },
        status: 0,
        header: None,
    }
}

fn frames_case(name: &'static str, body: Vec<u8>, status: u16) -> Case {
    named(name, send("{id}?seq={seq}", body), status)
}

fn request(method: &'static str, target: &'static str) -> Case {
    Case {
        name: "",
        sent: Sent::Http {
            method,
            target,
            headers: vec![],
            body: vec![],
        },
        status: 0,
        header: None,
    }
}

fn named(name: &'static str, case: Case, status: u16) -> Case {
    Case {
        name,
        status,
        ..case
    }
}

fn with_header(case: Case, name: &'static str, value: &'static str) -> Case {
    Case {
        header: Some((name, value)),
        ..case
    }
}

/// The table: the same for every server.
fn cases() -> Vec<Case> {
    let mut close_126 = hex("03 0000007e 03e8");
    close_126.extend(vec![b'r'; 124]);
    let too_many: Vec<u8> = (0..1025).flat_map(|_| hex("02 00000000")).collect();
    let over_limit = encode(&[binary(vec![7u8; MAX_BODY])]);
    let chunked_over = {
        let mut body = format!("{:x}\r\n", MAX_BODY + 1).into_bytes();
        body.extend(vec![0u8; MAX_BODY + 1]);
        body.extend_from_slice(b"\r\n0\r\n\r\n");
        body
    };
    let session = |method| request(method, "{id}");
    vec![
        // Section 7: malformed and truncated frames, lengths over the limit, invalid UTF-8.
        frames_case("unknown frame kind", hex("04 00000000"), 400),
        frames_case("kind 0", hex("00 00000000"), 400),
        frames_case("truncated header", hex("01 0000"), 400),
        frames_case("truncated payload", hex("01 00000005 6869"), 400),
        frames_case(
            "valid frame then a truncated one",
            hex("01 00000001 61 02"),
            400,
        ),
        frames_case("text length 2^32-1", hex("01 ffffffff"), 413),
        frames_case("binary length 2^32-1", hex("02 ffffffff 00"), 413),
        frames_case("close payload of 126 bytes", close_126, 413),
        frames_case("invalid UTF-8 text", hex("01 00000001 ff"), 400),
        frames_case("overlong UTF-8 text", hex("01 00000002 c0af"), 400),
        frames_case("surrogate in UTF-8 text", hex("01 00000003 eda080"), 400),
        frames_case("cut UTF-8 sequence", hex("01 00000002 c3 61"), 400),
        frames_case(
            "invalid UTF-8 close reason",
            hex("03 00000003 03e8 ff"),
            400,
        ),
        frames_case("1-byte close payload", hex("03 00000001 03"), 400),
        frames_case("frame after close", hex("03 00000000 01 00000001 61"), 400),
        frames_case("1025 frames", too_many, 413),
        // Section 2.4 step 5: bodies over the limit.
        frames_case("body over the limit, sent at once", over_limit, 413),
        Case {
            name: "Content-Length over the limit, body never sent",
            sent: Sent::Raw {
                head: "POST /longpoll/{id}?seq={seq} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                       Content-Type: application/octet-stream\r\nContent-Length: 1000000000\r\n\r\n",
                body: vec![],
            },
            status: 413,
            header: None,
        },
        Case {
            name: "chunked body over the limit, no Content-Length",
            sent: Sent::Raw {
                head: "POST /longpoll/{id}?seq={seq} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                       Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
                body: chunked_over,
            },
            status: 413,
            header: None,
        },
        Case {
            name: "chunked body over the limit, streamed slowly",
            sent: Sent::SlowChunks {
                pieces: 6,
                size: MAX_BODY / 4,
            },
            status: 413,
            header: None,
        },
        // Section 2.2: missing and garbage `seq` and `ack`.
        named("POST without seq", send("{id}", hex("01 00000001 61")), 400),
        named("seq empty", send("{id}?seq=", hex("01 00000001 61")), 400),
        named(
            "seq not a number",
            send("{id}?seq=abc", hex("01 00000001 61")),
            400,
        ),
        named(
            "seq negative",
            send("{id}?seq=-1", hex("01 00000001 61")),
            400,
        ),
        named(
            "seq with a sign",
            send("{id}?seq=+1", hex("01 00000001 61")),
            400,
        ),
        named(
            "seq percent-encoded",
            send("{id}?seq=%31", hex("01 00000001 61")),
            400,
        ),
        named(
            "seq repeated",
            send("{id}?seq={seq}&seq={seq}", hex("01 00000001 61")),
            400,
        ),
        named(
            "seq in upper case",
            send("{id}?SEQ={seq}", hex("01 00000001 61")),
            400,
        ),
        named(
            "seq over 2^64-1",
            send("{id}?seq=18446744073709551616", hex("01 00000001 61")),
            400,
        ),
        named(
            "seq of 21 digits",
            send("{id}?seq=000000000000000000001", hex("01 00000001 61")),
            400,
        ),
        named("GET without ack", request("GET", "{id}"), 400),
        named("ack empty", request("GET", "{id}?ack="), 400),
        named("ack not a number", request("GET", "{id}?ack=x1"), 400),
        named("ack negative", request("GET", "{id}?ack=-1"), 400),
        named(
            "ack repeated",
            request("GET", "{id}?ack={ack}&ack={ack}"),
            400,
        ),
        named("ack a fraction", request("GET", "{id}?ack=1.0"), 400),
        // Section 4.1 step 1 and 5.1 step 3: numbers beyond what was sent.
        named(
            "ack beyond what was sent",
            request("GET", "{id}?ack={ack+1}"),
            400,
        ),
        named(
            "ack of 2^64-1",
            request("GET", "{id}?ack=18446744073709551615"),
            400,
        ),
        with_header(
            named(
                "seq leaving a gap",
                send("{id}?seq={seq+5}", hex("01 00000001 61")),
                409,
            ),
            "Longpoll-Expected-Seq",
            "{seq}",
        ),
        with_header(
            named(
                "seq of 2^64-1",
                send("{id}?seq=18446744073709551615", hex("01 00000001 61")),
                409,
            ),
            "Longpoll-Expected-Seq",
            "{seq}",
        ),
        // A retried send of something already accepted changes nothing (and is not echoed).
        named(
            "duplicate of the last send",
            send("{id}?seq={seq-1}", hex("01 00000001 61")),
            204,
        ),
        named("empty body", send("{id}?seq={seq}", vec![]), 204),
        // Section 2.1: forged and malformed session ids; none of these reaches the session.
        named(
            "forged id, poll",
            request("GET", "0123456789abcdef0123456789abcdef?ack=0"),
            404,
        ),
        named(
            "forged id, send",
            send(
                "0123456789abcdef0123456789abcdef?seq=0",
                hex("01 00000001 61"),
            ),
            404,
        ),
        named(
            "forged id, close",
            request("DELETE", "0123456789abcdef0123456789abcdef"),
            404,
        ),
        named("id in upper case, close", request("DELETE", "{ID}"), 404),
        named(
            "id in upper case, poll",
            request("GET", "{ID}?ack={ack}"),
            404,
        ),
        named(
            "id cut to 31 digits, close",
            request("DELETE", "{id31}"),
            404,
        ),
        named(
            "id with a digit more, close",
            request("DELETE", "{id}0"),
            404,
        ),
        named(
            "id with a trailing slash, close",
            request("DELETE", "{id}/"),
            404,
        ),
        named(
            "id with a path below it, close",
            request("DELETE", "{id}/x"),
            404,
        ),
        named("id not hex, close", request("DELETE", "{id31}g"), 404),
        named(
            "id percent-encoded, close",
            request("DELETE", "%30{id31}"),
            404,
        ),
        // Section 2.2: wrong methods.
        with_header(
            named("PUT on a session", session("PUT"), 405),
            "Allow",
            "GET, POST, DELETE",
        ),
        with_header(
            named("PATCH on a session", session("PATCH"), 405),
            "Allow",
            "GET, POST, DELETE",
        ),
        with_header(
            named("OPTIONS on a session", session("OPTIONS"), 405),
            "Allow",
            "GET, POST, DELETE",
        ),
        with_header(
            named("HEAD on a session", session("HEAD"), 405),
            "Allow",
            "GET, POST, DELETE",
        ),
        with_header(
            named("made-up method on a session", session("BREW"), 405),
            "Allow",
            "GET, POST, DELETE",
        ),
        with_header(
            named("GET on the mount path", request("GET", ""), 405),
            "Allow",
            "POST",
        ),
        with_header(
            named("DELETE on the mount path", request("DELETE", ""), 405),
            "Allow",
            "POST",
        ),
        with_header(
            named("PUT on the mount path", request("PUT", ""), 405),
            "Allow",
            "POST",
        ),
        // Section 2.4 step 3: wrong content types (a form cannot send the right one).
        Case {
            name: "POST without Content-Type",
            sent: Sent::Http {
                method: "POST",
                target: "{id}?seq={seq}",
                headers: vec![],
                body: hex("01 00000001 61"),
            },
            status: 415,
            header: None,
        },
        content_type_case("POST as text/plain", "text/plain"),
        content_type_case("POST as a form", "application/x-www-form-urlencoded"),
        content_type_case("POST as multipart", "multipart/form-data; boundary=x"),
        content_type_case("POST as JSON", "application/json"),
        content_type_case("POST as octet-streamx", "application/octet-streamx"),
        // Not HTTP at all.
        Case {
            name: "garbage request line",
            sent: Sent::Raw {
                head: "\x16\x03\x01 not http at all\r\n\r\n",
                body: vec![],
            },
            status: 400,
            header: None,
        },
        Case {
            name: "header line without a colon",
            sent: Sent::Raw {
                head: "GET /longpoll/{id}?ack={ack} HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
                body: vec![],
            },
            status: 400,
            header: None,
        },
    ]
}

fn content_type_case(name: &'static str, content_type: &'static str) -> Case {
    Case {
        name,
        sent: Sent::Http {
            method: "POST",
            target: "{id}?seq={seq}",
            headers: vec![("Content-Type", content_type)],
            body: hex("01 00000001 61"),
        },
        status: 415,
        header: None,
    }
}

/// Sends `bytes` on a fresh connection (a write error after the server answered early is
/// fine) and reads the answer.
async fn raw(address: SocketAddr, bytes: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let _ = stream.write_all(bytes).await;
    read_response(&mut stream).await
}

async fn run_case(probe: &Probe, case: &Case) -> Raw {
    let address = probe.address;
    match &case.sent {
        Sent::Http {
            method,
            target,
            headers,
            body,
        } => {
            // An empty target names the mount path itself.
            let target = match *target {
                "" => BASE.to_string(),
                target => probe.fill(&format!("{BASE}/{target}")),
            };
            http(address, method, &target, headers, body).await
        }
        Sent::Raw { head, body } => {
            let mut bytes = probe.fill(head).into_bytes();
            bytes.extend_from_slice(body);
            raw(address, &bytes).await
        }
        Sent::SlowChunks { pieces, size } => {
            let head = probe.fill(
                "POST /longpoll/{id}?seq={seq} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                 Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
            );
            let mut stream = TcpStream::connect(address).await.expect("connect");
            stream.write_all(head.as_bytes()).await.expect("head");
            for _ in 0..*pieces {
                let mut chunk = format!("{size:x}\r\n").into_bytes();
                chunk.extend(vec![0u8; *size]);
                chunk.extend_from_slice(b"\r\n");
                if stream.write_all(&chunk).await.is_err() {
                    break; // answered and closed: the limit was found while streaming
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // actix answers at once but keeps reading (and discarding) the rest of the body
            // before it closes, so read the answer, not to the end of the connection.
            read_answer(&mut stream).await
        }
    }
}

/// Reads one complete response (head, and a body of `Content-Length`), without waiting for
/// the connection to end.
async fn read_answer(stream: &mut TcpStream) -> Raw {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = parse_response(&raw[..end + 4]);
                let length: usize = head
                    .header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if raw.len() >= end + 4 + length {
                    return parse_response(&raw);
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return parse_response(&raw),
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("an answer")
}

async fn run_table(adapter: Adapter, address: SocketAddr) -> usize {
    let mut probe = Probe::open(address).await;
    let cases = cases();
    for case in &cases {
        println!("{}: {}", adapter.name(), case.name);
        let answer = run_case(&probe, case).await;
        assert_eq!(
            answer.status,
            case.status,
            "{}: {}: {answer:?}",
            adapter.name(),
            case.name
        );
        // A refused body that was not read to its end must not keep the connection for
        // another request (actix and the custom server say so; hyper closes without saying).
        if matches!(case.sent, Sent::SlowChunks { .. })
            && matches!(adapter, Adapter::Actix | Adapter::Custom)
        {
            assert_eq!(answer.header("connection"), Some("close"), "{}", case.name);
        }
        if let Some((name, value)) = case.header {
            assert_eq!(
                answer.header(name),
                Some(probe.fill(value).as_str()),
                "{}: {}: header {name}",
                adapter.name(),
                case.name
            );
        }
        probe.round_trip(case.name).await;
    }
    cases.len()
}

/// Concurrent sends of the same frames, each a longer retry of the one before (as a client
/// that re-sends from its oldest unacknowledged frame does): every one is `204`, and each
/// message is delivered once, in order.
async fn concurrent_sends(address: SocketAddr) {
    let mut probe = Probe::open(address).await;
    let first = probe.seq;
    let messages: Vec<_> = (0..10).map(|i| text(&format!("overlap {i}"))).collect();
    let sends = (1..=messages.len()).map(|count| {
        let (id, frames) = (probe.id.clone(), messages[..count].to_vec());
        async move { post_frames(address, BASE, &id, first, &frames).await }
    });
    for answer in futures_util::future::join_all(sends).await {
        assert_eq!(answer.status, 204, "concurrent send: {answer:?}");
    }
    probe.seq += messages.len() as u64;
    let echoed = tokio::time::timeout(
        PATIENCE,
        collect(address, BASE, &probe.id, probe.ack, messages.len()),
    )
    .await
    .expect("echoes");
    assert_eq!(echoed, messages, "each message once, in order");
    probe.ack += messages.len() as u64;
    probe.round_trip("concurrent sends").await;
}

/// 100 polls at once on one session: 99 are superseded (`409`), the last is held and
/// answered with the next message, and the session works on.
async fn hundred_polls(address: SocketAddr) {
    let mut probe = Probe::open(address).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..100 {
        let (tx, id, ack) = (tx.clone(), probe.id.clone(), probe.ack);
        tokio::spawn(async move {
            let _ = tx.send(poll(address, BASE, &id, ack).await);
        });
    }
    for answered in 1..=99 {
        let answer = tokio::time::timeout(PATIENCE, rx.recv())
            .await
            .expect("superseded polls are answered")
            .expect("answer");
        assert_eq!(answer.status, 409, "poll {answered} of 99: {answer:?}");
        assert_eq!(answer.header("Longpoll-Expected-Seq"), None);
    }
    // The survivor is still held: nothing answered it yet.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rx.try_recv().is_err(), "the last poll must be held");
    let message = text("after 100 polls");
    let sent = post_frames(
        address,
        BASE,
        &probe.id,
        probe.seq,
        std::slice::from_ref(&message),
    )
    .await;
    assert_eq!(sent.status, 204);
    probe.seq += 1;
    let last = tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("the held poll is answered")
        .expect("answer");
    let (first, frames) = last.frames();
    assert_eq!((first, frames), (probe.ack, vec![message]));
    probe.ack += 1;
    probe.round_trip("100 overlapping polls").await;
}

/// Writes `bytes` one at a time, `pause` apart, until the server closes the connection;
/// returns how long that took, or panics after `PATIENCE`.
async fn trickle_until_closed(mut stream: TcpStream, bytes: &[u8], pause: Duration) -> Duration {
    let started = Instant::now();
    let mut reply = Vec::new();
    let mut buf = [0u8; 1024];
    for &byte in bytes.iter().cycle() {
        assert!(
            started.elapsed() < PATIENCE,
            "the connection is still open after {PATIENCE:?}"
        );
        if stream.write_all(&[byte]).await.is_err() {
            return started.elapsed();
        }
        // Anything the server says is read; end of stream or a reset means it closed.
        match tokio::time::timeout(pause, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(n)) => reply.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    unreachable!("cycle never ends")
}

/// A client that trickles its request head byte by byte (and never ends it) is cut off by the
/// server's header read timeout.
async fn slowloris(address: SocketAddr, probe: &mut Probe) {
    let stream = TcpStream::connect(address).await.expect("connect");
    // A head that never ends: a request line, then header lines forever.
    let head = format!(
        "GET {BASE}/{}?ack={} HTTP/1.1\r\nHost: x\r\n",
        probe.id, probe.ack
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(b"X-Slow: abcdefgh\r\n".repeat(1000).as_slice());
    trickle_until_closed(stream, &bytes, Duration::from_millis(100)).await;
    probe.round_trip("slowloris").await;
}

/// A send whose body trickles in slower than the body read timeout is answered `408`.
async fn slow_body(address: SocketAddr, probe: &mut Probe) {
    let body = encode(&[text("never accepted")]);
    let head = format!(
        "POST {BASE}/{}?seq={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        probe.id,
        probe.seq,
        body.len() + 10_000
    );
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    let started = Instant::now();
    // One byte every 100 ms; the whole body would take minutes.
    for &byte in body.iter().chain([0u8; 10_000].iter()) {
        assert!(started.elapsed() < PATIENCE, "no answer to a trickled body");
        let _ = stream.write_all(&[byte]).await;
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => raw.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        if raw.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let answer = parse_response(&raw);
    assert_eq!(answer.status, 408, "trickled body: {answer:?}");
    probe.round_trip("slow body").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_the_session_stays_healthy() {
    let args = server_args();
    let mut running = Vec::new();
    for adapter in Adapter::ALL {
        running.push(servers::start(adapter, &args).await);
    }
    let runs = running.iter().map(|server| async move {
        let cases = run_table(server.adapter, server.address).await;
        concurrent_sends(server.address).await;
        hundred_polls(server.address).await;
        cases
    });
    let counts = futures_util::future::join_all(runs).await;
    println!(
        "bad input: {} cases passed against {} servers (+ concurrent sends, 100 overlapping polls)",
        counts[0],
        running.len()
    );
    // Each waits for its sessions' clients (up to its grace period): stop them together.
    futures_util::future::join_all(running.into_iter().map(|server| server.stop())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    let args = server_args();
    let mut running = Vec::new();
    for adapter in Adapter::ALL {
        running.push(servers::start(adapter, &args).await);
    }
    let runs = running.iter().map(|server| async move {
        let mut probe = Probe::open(server.address).await;
        slowloris(server.address, &mut probe).await;
        slow_body(server.address, &mut probe).await;
    });
    futures_util::future::join_all(runs).await;
    println!(
        "slow clients: slowloris closed and trickled body answered 408 by {} servers",
        running.len()
    );
    // Each waits for its sessions' clients (up to its grace period): stop them together.
    futures_util::future::join_all(running.into_iter().map(|server| server.stop())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cap_refuses_with_retry_after() {
    const CAP: usize = 3;
    let mut args = server_args();
    args.max_sessions = Some(CAP);
    for adapter in Adapter::ALL {
        let server = servers::start(adapter, &args).await;
        let address = server.address;
        let mut probes = Vec::new();
        for _ in 0..CAP {
            probes.push(Probe::open(address).await);
        }
        for _ in 0..3 {
            let refused = http(address, "POST", BASE, &[], b"").await;
            assert_eq!(
                refused.status,
                503,
                "{}: over the cap: {refused:?}",
                adapter.name()
            );
            let retry_after: u64 = refused
                .header("Retry-After")
                .expect("Retry-After")
                .parse()
                .expect("delta-seconds");
            assert!(retry_after >= 1);
        }
        for probe in &mut probes {
            probe.round_trip("refused opens").await;
        }
        // A session that ends makes room again.
        let closed = http(
            address,
            "DELETE",
            &format!("{BASE}/{}", probes[0].id),
            &[],
            b"",
        )
        .await;
        assert_eq!(closed.status, 204);
        let started = Instant::now();
        loop {
            let answer = http(address, "POST", BASE, &[], b"").await;
            if answer.status == 201 {
                break;
            }
            assert_eq!(answer.status, 503);
            assert!(started.elapsed() < PATIENCE, "no room after a close");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for probe in &mut probes[1..] {
            probe.round_trip("a new session").await;
        }
        server.stop().await;
    }
    println!(
        "session cap: {} servers answer 503 + Retry-After past {CAP} sessions; open sessions unaffected",
        Adapter::ALL.len()
    );
}
