//! The load generator: many sessions in one process on hyper-util's client, one thread
//! (the harness gives it its own core). Speaks protocol v1, engine.io v4 polling, or plain
//! `GET`s (the floor). Reports one JSON line, `result {...}`, and exits.

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use http::header::{CONTENT_TYPE, HeaderMap};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use longpoll_bench::{ENGINEIO_PATH, Scenario, V1_PATH, monotonic_nanos, payload};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
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
        tokio::spawn(async move {
            if let Err(error) = session(http, protocol, scenario, &stats, &opening).await {
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

#[derive(Debug, Clone)]
struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    authority: Arc<str>,
    stats: Arc<Stats>,
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Http {
    fn new(address: SocketAddr, stats: Arc<Stats>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(usize::MAX)
            .build(connector);
        Http {
            client,
            authority: address.to_string().into(),
            stats,
        }
    }

    async fn exchange(
        &self,
        method: Method,
        path_and_query: &str,
        content_type: Option<&'static str>,
        body: Bytes,
    ) -> Result<Answer, BoxError> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{}{path_and_query}", self.authority));
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let response = self.client.request(request.body(Full::new(body))?).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        self.stats.exchanges.fetch_add(1, Relaxed);
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

// ----- sessions --------------------------------------------------------------------------

/// One open session of either protocol.
#[derive(Debug, Clone)]
enum Conn {
    V1 {
        path: Arc<str>,
    },
    Engineio {
        query: Arc<str>,
        /// engine.io allows one `POST` at a time per session; pongs and sends take turns.
        posting: Arc<tokio::sync::Mutex<()>>,
    },
}

async fn session(
    http: Http,
    protocol: Protocol,
    scenario: Scenario,
    stats: &Arc<Stats>,
    opening: &Semaphore,
) -> Result<(), BoxError> {
    if protocol == Protocol::Plain {
        return plain_session(http, scenario, stats, opening).await;
    }
    let conn = {
        let _permit = opening.acquire().await?;
        open(&http, protocol).await?
    };
    stats.ready.fetch_add(1, Relaxed);
    match scenario {
        Scenario::Echo => {
            let (echoes_tx, mut echoes) = mpsc::unbounded_channel();
            let poller = tokio::spawn(poll_loop(http.clone(), conn.clone(), stats.clone(), {
                move |payload: Bytes| {
                    let _ = echoes_tx.send(payload);
                }
            }));
            let mut seq = 0;
            let message = Bytes::from_static(payload().as_bytes());
            loop {
                send(&http, &conn, &mut seq, &message).await?;
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
            send(&http, &conn, &mut 0, &Bytes::from_static(b"go")).await?;
            let stats2 = stats.clone();
            poll_loop(http, conn, stats.clone(), move |payload: Bytes| {
                if stats2.measuring.load(Relaxed) {
                    stats2.received(&payload);
                }
            })
            .await
        }
        Scenario::Latency => {
            let stats2 = stats.clone();
            poll_loop(http, conn, stats.clone(), move |payload: Bytes| {
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
            poll_loop(http, conn, stats.clone(), move |_payload: Bytes| {
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
        http.exchange(Method::GET, "/", None, Bytes::new()).await?;
        stats.parked.fetch_add(1, Relaxed);
        let request = http.exchange(Method::GET, longpoll_bench::HOLD_PATH, None, Bytes::new());
        drop(permit);
        let _ = request.await?;
        stats.unparked.fetch_add(1, Relaxed);
        return Ok(());
    }
    stats.ready.fetch_add(1, Relaxed);
    loop {
        let answer = http.exchange(Method::GET, "/", None, Bytes::new()).await?;
        if answer.status != StatusCode::OK {
            stats.error("plain", answer.status);
        } else if stats.measuring.load(Relaxed) {
            stats.received(&answer.body);
        }
    }
}

async fn open(http: &Http, protocol: Protocol) -> Result<Conn, BoxError> {
    match protocol {
        Protocol::V1 => {
            let answer = http
                .exchange(Method::POST, V1_PATH, None, Bytes::new())
                .await?;
            if answer.status != StatusCode::CREATED {
                return Err(format!("open answered {}", answer.status).into());
            }
            let params: serde_json::Value = serde_json::from_slice(&answer.body)?;
            let id = params["id"].as_str().ok_or("open response without an id")?;
            Ok(Conn::V1 {
                path: format!("{V1_PATH}/{id}").into(),
            })
        }
        Protocol::Engineio => {
            let query = format!("{ENGINEIO_PATH}?EIO=4&transport=polling");
            let answer = http
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
            Ok(Conn::Engineio {
                query: format!("{query}&sid={sid}").into(),
                posting: Arc::default(),
            })
        }
        Protocol::Plain => Err("plain sessions do not open".into()),
    }
}

/// Sends one message; `seq` counts protocol v1 frames.
async fn send(http: &Http, conn: &Conn, seq: &mut u64, message: &Bytes) -> Result<(), BoxError> {
    match conn {
        Conn::V1 { path } => {
            let mut body = Vec::with_capacity(5 + message.len());
            body.push(1); // text
            body.extend_from_slice(&(message.len() as u32).to_be_bytes());
            body.extend_from_slice(message);
            let uri = format!("{path}?seq={seq}");
            let answer = http
                .exchange(
                    Method::POST,
                    &uri,
                    Some("application/octet-stream"),
                    body.into(),
                )
                .await?;
            if answer.status != StatusCode::NO_CONTENT {
                return Err(format!("send answered {}", answer.status).into());
            }
            *seq += 1;
            Ok(())
        }
        Conn::Engineio { query, posting } => {
            let mut body = Vec::with_capacity(1 + message.len());
            body.push(b'4');
            body.extend_from_slice(message);
            engineio_post(http, query, posting, body.into()).await
        }
    }
}

async fn engineio_post(
    http: &Http,
    query: &str,
    posting: &tokio::sync::Mutex<()>,
    body: Bytes,
) -> Result<(), BoxError> {
    let _turn = posting.lock().await;
    let answer = http
        .exchange(Method::POST, query, Some("text/plain;charset=UTF-8"), body)
        .await?;
    if answer.status != StatusCode::OK {
        return Err(format!("engine.io POST answered {}", answer.status).into());
    }
    Ok(())
}

/// Polls until the session ends, handing every message payload to `deliver`.
async fn poll_loop(
    http: Http,
    conn: Conn,
    stats: Arc<Stats>,
    mut deliver: impl FnMut(Bytes),
) -> Result<(), BoxError> {
    match &conn {
        Conn::V1 { path } => {
            let mut ack: u64 = 0;
            loop {
                stats.parked.fetch_add(1, Relaxed);
                let answer = http
                    .exchange(
                        Method::GET,
                        &format!("{path}?ack={ack}"),
                        None,
                        Bytes::new(),
                    )
                    .await?;
                match answer.status {
                    StatusCode::OK => {
                        let first: u64 = answer
                            .headers
                            .get("longpoll-seq")
                            .and_then(|v| v.to_str().ok()?.parse().ok())
                            .ok_or("200 without Longpoll-Seq")?;
                        let mut seq = first;
                        for payload in v1_payloads(&answer.body)? {
                            if seq >= ack {
                                deliver(payload);
                            }
                            seq += 1;
                        }
                        ack = ack.max(seq);
                    }
                    StatusCode::NO_CONTENT => {}
                    other => return Err(format!("poll answered {other}").into()),
                }
            }
        }
        Conn::Engineio { query, posting } => loop {
            stats.parked.fetch_add(1, Relaxed);
            let answer = http
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
                        engineio_post(&http, query, posting, Bytes::from_static(b"3")).await?
                    }
                    Some(b'1') => return Ok(()),
                    _ => {}
                }
            }
        },
    }
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
