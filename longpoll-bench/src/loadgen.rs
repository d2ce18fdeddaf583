//! The load generator: many sessions in one process on hyper's client connections, one
//! thread (the harness gives it its own core). Speaks protocol v1, engine.io v4 polling, or plain
//! `GET`s (the floor). Reports one JSON line, `result {...}`, and exits.

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use http::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use longpoll_bench::{ENGINEIO_PATH, Scenario, V1_PATH, monotonic_nanos, payload};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Which wire protocol the sessions speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub(crate) enum Protocol {
    /// longpoll protocol v1 (`PROTOCOL.md`).
    V1,
    /// engine.io v4, polling transport.
    Engineio,
    /// One `GET /` per exchange, answered at once (the plain hyper floor).
    Plain,
}

/// Flags of `longpoll-bench loadgen` (the harness passes them).
#[derive(Debug, Clone, Parser)]
pub(crate) struct LoadArgs {
    /// The server under test.
    #[arg(long)]
    pub(crate) address: SocketAddr,
    /// Its protocol.
    #[arg(long, value_enum)]
    pub(crate) protocol: Protocol,
    /// What the sessions do.
    #[arg(long, value_enum)]
    pub(crate) scenario: Scenario,
    /// How many sessions.
    #[arg(long)]
    pub(crate) sessions: usize,
    /// Time between all sessions being ready and the measured window.
    #[arg(long, default_value_t = 1000)]
    pub(crate) warmup_ms: u64,
    /// The measured window (the idle scenario: how long polls must stay parked first).
    #[arg(long, default_value_t = 3000)]
    pub(crate) window_ms: u64,
    /// The server's process id, to read its CPU time and memory.
    #[arg(long)]
    pub(crate) server_pid: u32,
    /// Sessions opening at once.
    #[arg(long, default_value_t = 200)]
    pub(crate) open_concurrency: usize,
    /// Give up on sessions that are not all open after this long.
    #[arg(long, default_value_t = 60_000)]
    pub(crate) setup_timeout_ms: u64,
    /// Protocol v1 sends without `ack`, so the server answers them `204` and replies come on
    /// the poll (two exchanges per echo), as from a client without `PROTOCOL.md` section 5.3.
    /// By default sends carry `ack`, as our clients' do.
    #[arg(long)]
    pub(crate) no_send_ack: bool,
}

/// What one run measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct RunResult {
    /// Sessions that opened (and, in the idle scenario, parked a poll).
    pub(crate) sessions_ready: u64,
    /// Messages received by the clients in the window (echo: echoes; plain: exchanges).
    pub(crate) messages: u64,
    /// Payload bytes received in the window.
    pub(crate) bytes: u64,
    /// HTTP exchanges completed in the window.
    pub(crate) exchanges: u64,
    /// Length of the window, seconds.
    pub(crate) window_secs: f64,
    /// Server CPU time (user + system) in the window, seconds.
    pub(crate) server_cpu_secs: f64,
    /// Delivery latency percentiles in the window, microseconds (latency scenario).
    pub(crate) latency_p50_us: f64,
    /// 99th percentile.
    pub(crate) latency_p99_us: f64,
    /// 99.9th percentile.
    pub(crate) latency_p999_us: f64,
    /// Latency samples behind the percentiles.
    pub(crate) latency_samples: u64,
    /// Server resident memory before any session, bytes.
    pub(crate) rss_before: u64,
    /// Server resident memory with every session parked, bytes (idle scenario).
    pub(crate) rss_after: u64,
    /// Server open file descriptors with every session parked (idle scenario).
    pub(crate) server_fds: u64,
    /// Polls answered while they should have stayed parked (idle scenario; should be 0).
    pub(crate) unparked: u64,
    /// Requests that failed or got an unexpected status.
    pub(crate) errors: u64,
}

#[derive(Debug)]
struct Stats {
    sessions: u64,
    measuring: AtomicBool,
    messages: AtomicU64,
    bytes: AtomicU64,
    exchanges: AtomicU64,
    errors: AtomicU64,
    ready: AtomicU64,
    parked: AtomicU64,
    unparked: AtomicU64,
    latency_us: Mutex<Histogram<u64>>,
}

impl Stats {
    fn received(&self, payload: &[u8]) {
        self.messages.fetch_add(1, Relaxed);
        self.bytes.fetch_add(payload.len() as u64, Relaxed);
    }

    fn error(&self, what: &str, detail: impl std::fmt::Display) {
        // The first few say why; the count says how many.
        if self.errors.fetch_add(1, Relaxed) < 5 {
            eprintln!("loadgen: {what}: {detail}");
        }
    }
}

/// Runs the load described by `args`, prints `result {json}` and returns.
pub(crate) fn run(args: LoadArgs) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(drive(args))?;
    println!("result {}", serde_json::to_string(&result)?);
    Ok(())
}

async fn drive(args: LoadArgs) -> Result<RunResult, BoxError> {
    let stats = Arc::new(Stats {
        sessions: args.sessions as u64,
        measuring: AtomicBool::new(false),
        messages: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        exchanges: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        ready: AtomicU64::new(0),
        parked: AtomicU64::new(0),
        unparked: AtomicU64::new(0),
        latency_us: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3)?),
    });
    let http = Http::new(args.address, stats.clone());
    let pid = args.server_pid;
    let rss_before = crate::procfs::rss_bytes(pid)?;

    let opening = Arc::new(Semaphore::new(args.open_concurrency));
    for _ in 0..args.sessions {
        let (http, stats, opening) = (http.clone(), stats.clone(), opening.clone());
        let (protocol, scenario) = (args.protocol, args.scenario);
        let send_ack = !args.no_send_ack;
        tokio::spawn(async move {
            let session = session(http, protocol, scenario, send_ack, &stats, &opening);
            if let Err(error) = session.await {
                stats.error("session", format!("{error:?}"));
            }
        });
    }
    let setup_deadline = Instant::now() + Duration::from_millis(args.setup_timeout_ms);
    let wanted = args.sessions as u64;
    let counter = if args.scenario == Scenario::Idle {
        &stats.parked
    } else {
        &stats.ready
    };
    while counter.load(Relaxed) < wanted && Instant::now() < setup_deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sessions_ready = counter.load(Relaxed);
    if sessions_ready < wanted {
        stats.error(
            "setup",
            format!("only {sessions_ready} of {wanted} sessions ready"),
        );
    }

    let mut result = RunResult {
        sessions_ready,
        rss_before,
        ..RunResult::default()
    };
    tokio::time::sleep(Duration::from_millis(args.warmup_ms)).await;
    let cpu_start = crate::procfs::cpu_secs(pid)?;
    let (messages, bytes, exchanges) = (
        stats.messages.load(Relaxed),
        stats.bytes.load(Relaxed),
        stats.exchanges.load(Relaxed),
    );
    let started = Instant::now();
    stats.measuring.store(true, Relaxed);
    tokio::time::sleep(Duration::from_millis(args.window_ms)).await;
    stats.measuring.store(false, Relaxed);
    result.window_secs = started.elapsed().as_secs_f64();
    result.server_cpu_secs = crate::procfs::cpu_secs(pid)? - cpu_start;
    result.messages = stats.messages.load(Relaxed) - messages;
    result.bytes = stats.bytes.load(Relaxed) - bytes;
    result.exchanges = stats.exchanges.load(Relaxed) - exchanges;
    if args.scenario == Scenario::Idle {
        result.rss_after = crate::procfs::rss_bytes(pid)?;
        result.server_fds = crate::procfs::open_fds(pid)?;
    }
    result.unparked = stats.unparked.load(Relaxed);
    result.errors = stats.errors.load(Relaxed);
    let histogram = stats.latency_us.lock().expect("not poisoned");
    result.latency_samples = histogram.len();
    if !histogram.is_empty() {
        result.latency_p50_us = histogram.value_at_quantile(0.5) as f64;
        result.latency_p99_us = histogram.value_at_quantile(0.99) as f64;
        result.latency_p999_us = histogram.value_at_quantile(0.999) as f64;
    }
    Ok(result)
}

// ----- HTTP ----------------------------------------------------------------------------

/// Where the server is; opens connections to it.
#[derive(Debug, Clone)]
struct Http {
    address: SocketAddr,
    authority: HeaderValue,
    stats: Arc<Stats>,
}

/// One HTTP/1.1 connection, one request at a time. Each session keeps its own (one for
/// polls, one for sends): a pooled client would look a connection up and spawn a task to
/// return it on every request, client work that limits the throughput this one thread
/// can drive (the harness measures servers, not its client).
#[derive(Debug)]
struct Connection {
    sender: SendRequest<Full<Bytes>>,
    http: Http,
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Http {
    fn new(address: SocketAddr, stats: Arc<Stats>) -> Self {
        let authority = HeaderValue::from_str(&address.to_string()).expect("an address is text");
        Http {
            address,
            authority,
            stats,
        }
    }

    async fn connect(&self) -> Result<Connection, BoxError> {
        let stream = TcpStream::connect(self.address).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // It ends when the server closes it or the sender is dropped; a request on it
            // then fails, and that request's caller reports it.
            let _ = connection.await;
        });
        Ok(Connection {
            sender,
            http: self.clone(),
        })
    }
}

impl Connection {
    async fn exchange(
        &mut self,
        method: Method,
        path_and_query: &str,
        content_type: Option<&'static str>,
        body: Bytes,
    ) -> Result<Answer, BoxError> {
        let mut request = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(HOST, self.http.authority.clone());
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        self.sender.ready().await?;
        let response = self
            .sender
            .send_request(request.body(Full::new(body))?)
            .await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        self.http.stats.exchanges.fetch_add(1, Relaxed);
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// A session's connection for `POST`s, opened when first needed and again when the server
/// has closed it. One `POST` at a time: engine.io allows no more per session. (engine.io's
/// pongs go on the poll connection, free between polls, as a pooled client would send them:
/// engineioxide pings on a session's first poll, and a second connection per idle session
/// would double the idle scenario's connections.)
#[derive(Debug)]
struct Poster {
    http: Http,
    connection: tokio::sync::Mutex<Option<Connection>>,
}

impl Poster {
    fn new(http: Http) -> Self {
        Poster {
            http,
            connection: tokio::sync::Mutex::new(None),
        }
    }

    async fn post(
        &self,
        path_and_query: &str,
        content_type: &'static str,
        body: Bytes,
    ) -> Result<Answer, BoxError> {
        let mut slot = self.connection.lock().await;
        let connection = match &mut *slot {
            Some(connection) if !connection.sender.is_closed() => connection,
            stale => stale.insert(self.http.connect().await?),
        };
        let answer = connection
            .exchange(Method::POST, path_and_query, Some(content_type), body)
            .await;
        if answer.is_err() {
            *slot = None;
        }
        answer
    }

    /// Posts on `connection` (a free one the caller holds), still one `POST` at a time.
    async fn post_on(
        &self,
        connection: &mut Connection,
        path_and_query: &str,
        content_type: &'static str,
        body: Bytes,
    ) -> Result<Answer, BoxError> {
        let _turn = self.connection.lock().await;
        connection
            .exchange(Method::POST, path_and_query, Some(content_type), body)
            .await
    }
}

// ----- sessions --------------------------------------------------------------------------

/// One open session of either protocol.
#[derive(Debug, Clone)]
struct Conn {
    place: Place,
    /// Sends, and engine.io's pongs.
    poster: Arc<Poster>,
}

/// Where an open session's requests go.
#[derive(Debug, Clone)]
enum Place {
    V1 {
        path: Arc<str>,
        /// Server frames received, from polls and send answers alike (the next `ack`).
        received: Arc<Mutex<u64>>,
        /// Sends carry `ack` (`PROTOCOL.md` section 5.3).
        send_ack: bool,
    },
    Engineio {
        query: Arc<str>,
    },
}

async fn session(
    http: Http,
    protocol: Protocol,
    scenario: Scenario,
    send_ack: bool,
    stats: &Arc<Stats>,
    opening: &Semaphore,
) -> Result<(), BoxError> {
    if protocol == Protocol::Plain {
        return plain_session(http, scenario, stats, opening).await;
    }
    let (polls, conn) = {
        let _permit = opening.acquire().await?;
        // The session opens on the connection its polls then use, as one client would.
        let mut polls = http.connect().await?;
        let conn = open(&mut polls, &http, protocol, send_ack).await?;
        (polls, conn)
    };
    stats.ready.fetch_add(1, Relaxed);
    match scenario {
        Scenario::Echo => {
            let (echoes_tx, mut echoes) = mpsc::unbounded_channel();
            let poller = tokio::spawn(poll_loop(polls, conn.clone(), stats.clone(), {
                let echoes_tx = echoes_tx.clone();
                move |payload: Bytes| {
                    let _ = echoes_tx.send(payload);
                }
            }));
            let mut seq = 0;
            let message = Bytes::from_static(payload().as_bytes());
            let mut echo_in_answer = move |payload: Bytes| {
                let _ = echoes_tx.send(payload);
            };
            loop {
                send(&conn, &mut seq, &message, &mut echo_in_answer).await?;
                let Some(echo) = echoes.recv().await else {
                    break;
                };
                if stats.measuring.load(Relaxed) {
                    stats.received(&echo);
                }
            }
            poller.abort();
            Ok(())
        }
        Scenario::Fanout => {
            // Pushing starts when the client says go, once every session is open: a server
            // pushing to the first sessions would otherwise starve the later opens.
            let wanted = stats.sessions;
            while stats.ready.load(Relaxed) < wanted {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let stats2 = stats.clone();
            let mut count = move |payload: Bytes| {
                if stats2.measuring.load(Relaxed) {
                    stats2.received(&payload);
                }
            };
            send(&conn, &mut 0, &Bytes::from_static(b"go"), &mut count).await?;
            poll_loop(polls, conn, stats.clone(), count).await
        }
        Scenario::Latency => {
            let stats2 = stats.clone();
            poll_loop(polls, conn, stats.clone(), move |payload: Bytes| {
                let now = monotonic_nanos();
                if !stats2.measuring.load(Relaxed) {
                    return;
                }
                stats2.received(&payload);
                match longpoll_bench::stamp_of(&payload) {
                    Some(sent) => {
                        let micros = now.saturating_sub(sent) / 1000;
                        let mut histogram = stats2.latency_us.lock().expect("not poisoned");
                        let _ = histogram.record(micros.max(1));
                    }
                    None => stats2.error("latency", "message without a time stamp"),
                }
            })
            .await
        }
        Scenario::Idle => {
            let stats2 = stats.clone();
            poll_loop(polls, conn, stats.clone(), move |_payload: Bytes| {
                stats2.unparked.fetch_add(1, Relaxed);
            })
            .await
        }
    }
}

async fn plain_session(
    http: Http,
    scenario: Scenario,
    stats: &Arc<Stats>,
    opening: &Semaphore,
) -> Result<(), BoxError> {
    if scenario == Scenario::Idle {
        // One exchange answered at once (ours open a session first), then one request the
        // server holds: a connection with a parked request, nothing else.
        let permit = opening.acquire().await?;
        let mut connection = http.connect().await?;
        connection
            .exchange(Method::GET, "/", None, Bytes::new())
            .await?;
        stats.parked.fetch_add(1, Relaxed);
        let request =
            connection.exchange(Method::GET, longpoll_bench::HOLD_PATH, None, Bytes::new());
        drop(permit);
        let _ = request.await?;
        stats.unparked.fetch_add(1, Relaxed);
        return Ok(());
    }
    let mut connection = http.connect().await?;
    stats.ready.fetch_add(1, Relaxed);
    loop {
        let answer = connection
            .exchange(Method::GET, "/", None, Bytes::new())
            .await?;
        if answer.status != StatusCode::OK {
            stats.error("plain", answer.status);
        } else if stats.measuring.load(Relaxed) {
            stats.received(&answer.body);
        }
    }
}

async fn open(
    polls: &mut Connection,
    http: &Http,
    protocol: Protocol,
    send_ack: bool,
) -> Result<Conn, BoxError> {
    let place = match protocol {
        Protocol::V1 => {
            let answer = polls
                .exchange(Method::POST, V1_PATH, None, Bytes::new())
                .await?;
            if answer.status != StatusCode::CREATED {
                return Err(format!("open answered {}", answer.status).into());
            }
            let params: serde_json::Value = serde_json::from_slice(&answer.body)?;
            let id = params["id"].as_str().ok_or("open response without an id")?;
            Place::V1 {
                path: format!("{V1_PATH}/{id}").into(),
                received: Arc::default(),
                send_ack,
            }
        }
        Protocol::Engineio => {
            let query = format!("{ENGINEIO_PATH}?EIO=4&transport=polling");
            let answer = polls
                .exchange(Method::GET, &query, None, Bytes::new())
                .await?;
            // Only the first packet is the open packet (a server may queue more behind it;
            // they are sent again on the first poll only if not delivered, so they are
            // counted nowhere: this is setup).
            let first = answer.body.split(|&b| b == 0x1e).next().unwrap_or_default();
            let open = first
                .strip_prefix(b"0")
                .ok_or("handshake is not an open packet")?;
            let params: serde_json::Value = serde_json::from_slice(open)?;
            let sid = params["sid"].as_str().ok_or("handshake without a sid")?;
            Place::Engineio {
                query: format!("{query}&sid={sid}").into(),
            }
        }
        Protocol::Plain => return Err("plain sessions do not open".into()),
    };
    Ok(Conn {
        place,
        poster: Arc::new(Poster::new(http.clone())),
    })
}

/// Sends one message; `seq` counts protocol v1 frames. Server messages in the answer (to a
/// v1 send that carried `ack`) go to `deliver`.
async fn send(
    conn: &Conn,
    seq: &mut u64,
    message: &Bytes,
    deliver: &mut impl FnMut(Bytes),
) -> Result<(), BoxError> {
    match &conn.place {
        Place::V1 {
            path,
            received,
            send_ack,
        } => {
            let mut body = Vec::with_capacity(5 + message.len());
            body.push(1); // text
            body.extend_from_slice(&(message.len() as u32).to_be_bytes());
            body.extend_from_slice(message);
            let uri = if *send_ack {
                let ack = *received.lock().expect("not poisoned");
                format!("{path}?seq={seq}&ack={ack}")
            } else {
                format!("{path}?seq={seq}")
            };
            let answer = conn
                .poster
                .post(&uri, "application/octet-stream", body.into())
                .await?;
            match answer.status {
                StatusCode::NO_CONTENT => {}
                StatusCode::OK if *send_ack => take_v1_frames(received, &answer, deliver)?,
                other => return Err(format!("send answered {other}").into()),
            }
            *seq += 1;
            Ok(())
        }
        Place::Engineio { query } => {
            let mut body = Vec::with_capacity(1 + message.len());
            body.push(b'4');
            body.extend_from_slice(message);
            engineio_post(&conn.poster, query, body.into()).await
        }
    }
}

/// What engine.io's clients send their `POST`s as.
const ENGINEIO_CONTENT_TYPE: &str = "text/plain;charset=UTF-8";

async fn engineio_post(poster: &Poster, query: &str, body: Bytes) -> Result<(), BoxError> {
    let answer = poster.post(query, ENGINEIO_CONTENT_TYPE, body).await?;
    if answer.status != StatusCode::OK {
        return Err(format!("engine.io POST answered {}", answer.status).into());
    }
    Ok(())
}

/// Polls until the session ends, handing every message payload to `deliver`.
async fn poll_loop(
    mut polls: Connection,
    conn: Conn,
    stats: Arc<Stats>,
    mut deliver: impl FnMut(Bytes),
) -> Result<(), BoxError> {
    match &conn.place {
        Place::V1 { path, received, .. } => loop {
            stats.parked.fetch_add(1, Relaxed);
            let ack = *received.lock().expect("not poisoned");
            let answer = polls
                .exchange(
                    Method::GET,
                    &format!("{path}?ack={ack}"),
                    None,
                    Bytes::new(),
                )
                .await?;
            match answer.status {
                StatusCode::OK => take_v1_frames(received, &answer, &mut deliver)?,
                StatusCode::NO_CONTENT => {}
                other => return Err(format!("poll answered {other}").into()),
            }
        },
        Place::Engineio { query } => loop {
            stats.parked.fetch_add(1, Relaxed);
            let answer = polls
                .exchange(Method::GET, query, None, Bytes::new())
                .await?;
            if answer.status != StatusCode::OK {
                return Err(format!(
                    "engine.io poll answered {} {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                )
                .into());
            }
            for packet in answer.body.split(|&b| b == 0x1e) {
                match packet.first() {
                    Some(b'4') => deliver(answer.body.slice_ref(&packet[1..])),
                    Some(b'2') => {
                        let pong = Bytes::from_static(b"3");
                        let answer = conn
                            .poster
                            .post_on(&mut polls, query, ENGINEIO_CONTENT_TYPE, pong)
                            .await?;
                        if answer.status != StatusCode::OK {
                            return Err(format!("engine.io pong answered {}", answer.status).into());
                        }
                    }
                    Some(b'1') => return Ok(()),
                    _ => {}
                }
            }
        },
    }
}

/// Hands the frames of a protocol v1 `200` (to a poll or a send) that the session has not
/// received yet to `deliver`, in order, each once: a frame can come in a send's answer and
/// again on the poll (`PROTOCOL.md` section 5.3).
fn take_v1_frames(
    received: &Mutex<u64>,
    answer: &Answer,
    deliver: &mut impl FnMut(Bytes),
) -> Result<(), BoxError> {
    let first: u64 = answer
        .headers
        .get("longpoll-seq")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .ok_or("200 without Longpoll-Seq")?;
    let mut received = received.lock().expect("not poisoned");
    if first > *received {
        return Err(format!("frames from {first} while {} were received", *received).into());
    }
    for (seq, payload) in (first..).zip(v1_payloads(&answer.body)?) {
        if seq == *received {
            deliver(payload);
            *received += 1;
        }
    }
    Ok(())
}

/// The payloads of a protocol v1 response body (text and binary frames; a close frame ends).
fn v1_payloads(body: &Bytes) -> Result<Vec<Bytes>, BoxError> {
    let mut payloads = Vec::new();
    let mut offset = 0;
    while offset < body.len() {
        let header = body
            .get(offset..offset + 5)
            .ok_or("truncated frame header")?;
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        let start = offset + 5;
        if start + len > body.len() {
            return Err("truncated frame".into());
        }
        if header[0] == 3 {
            return Err("the server closed the session".into());
        }
        payloads.push(body.slice(start..start + len));
        offset = start + len;
    }
    Ok(payloads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_bodies_split_into_payloads() {
        let body = Bytes::from_static(b"\x01\x00\x00\x00\x02hi\x02\x00\x00\x00\x03\x00\x01\xff");
        let payloads = v1_payloads(&body).unwrap();
        assert_eq!(
            payloads,
            vec![
                Bytes::from_static(b"hi"),
                Bytes::from_static(b"\x00\x01\xff")
            ]
        );
        assert!(v1_payloads(&Bytes::from_static(b"\x01\x00\x00\x00\x05hi")).is_err());
        assert!(v1_payloads(&Bytes::from_static(b"\x03\x00\x00\x00\x00")).is_err());
    }
}
