//! Churn: sessions opened and abandoned at a high rate, against each echo server on
//! `longpoll-tokio` (axum, hyper, actix-web) over raw HTTP/1.1 on 127.0.0.1. Abandoned
//! sessions must be reaped (the registry empty, its tombstones gone) and the process must
//! hold no more memory after a second round of churn than after the first.
//!
//! Three ways to abandon a session, in turn: open it and never come back; open it, start a
//! poll and drop the connection while the server holds it; open it, send a message (which
//! the echo queues for a poll that never comes) and vanish.
//!
//! Memory is compared against its level after warm-up rounds of churn: the allocator keeps
//! what it once grew to (arenas per thread, fragmented heaps), so the first rounds raise RSS
//! a few percent each before it levels off. Warm-up goes on until a round adds less than 1%
//! (at least 2 rounds, at most 8); then the measured round must leave RSS within 10% of that
//! level. A leak of even tens of bytes per session shows in the long mode.
//!
//! Quick mode (`cargo test`): 20,000 sessions per server in the measured round. Long mode
//! (about 6 minutes per server: the rate is capped at 3,000 sessions a second, see
//! [`LIVE_CAP`]); `CHURN_ADAPTERS` picks servers (`axum,hyper,actix`, all by default):
//!
//! ```text
//! CHURN_SESSIONS=1000000 CHURN_ADAPTERS=axum \
//!     cargo test -p longpoll-examples --test churn --release -- --nocapture
//! ```

mod support;

use longpoll_core::Config;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::servers::{self, Adapter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BASE: &str = "/longpoll";
const QUICK_SESSIONS: usize = 20_000;
/// Sessions per warm-up round: enough to reach [`LIVE_CAP`] several times over.
const WARM_UP_ROUND: usize = 8_000;
const MIN_WARM_UP_ROUNDS: usize = 2;
const MAX_WARM_UP_ROUNDS: usize = 8;
/// Warm-up ends once a round grows RSS by less than this.
const SETTLED_GROWTH_PERCENT: f64 = 1.0;
/// Concurrent abandoners, each on its own keep-alive connection.
const WORKERS: usize = 32;
/// Most sessions alive at once: openers wait while the registry holds this many. Memory
/// peaks with the live count (and the registry's maps keep the capacity they grew to), so a
/// cap that every round reaches makes their peaks, and so the high-water marks, the same
/// whatever speed the machine has at the time. It is reached when sessions open faster than
/// `LIVE_CAP / idle_timeout` (3,000 a second), and that also bounds the rate.
const LIVE_CAP: usize = 2_400;
/// How long an abandoned poll is held before its connection is dropped.
const POLL_HELD: Duration = Duration::from_millis(5);
/// RSS after the measured round may exceed the post-warm-up level by at most this much.
const RSS_TOLERANCE_PERCENT: f64 = 10.0;

/// Short timeouts so abandoned sessions are reaped, and their tombstones forgotten, quickly.
fn churn_config() -> Config {
    let mut config = Config::default();
    config.poll_timeout = Duration::from_millis(400);
    config.inbound_hold_timeout = Duration::from_millis(200);
    config.idle_timeout = Duration::from_millis(800);
    config.gone_timeout = Duration::from_millis(500);
    config.validate().expect("a valid churn config");
    config
}

/// The servers on `longpoll-tokio` named in `CHURN_ADAPTERS` (all of them by default).
fn adapters_to_churn() -> Vec<Adapter> {
    let all = [Adapter::Axum, Adapter::Hyper, Adapter::Actix];
    let Ok(names) = std::env::var("CHURN_ADAPTERS") else {
        return all.to_vec();
    };
    names
        .split(',')
        .map(|name| {
            let name = name.trim();
            *all.iter()
                .find(|adapter| adapter.name() == name)
                .unwrap_or_else(|| {
                    panic!("CHURN_ADAPTERS: {name} is not one of axum, hyper, actix")
                })
        })
        .collect()
}

fn sessions_to_churn() -> usize {
    std::env::var("CHURN_SESSIONS").map_or(QUICK_SESSIONS, |text| {
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("CHURN_SESSIONS={text} is not a number"))
    })
}

/// This process's resident set size in kB (`VmRSS` in `/proc/self/status`).
fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

/// A keep-alive HTTP/1.1 connection that sends one request at a time.
struct Connection {
    address: SocketAddr,
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    async fn open(address: SocketAddr) -> Connection {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Connection {
            address,
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends a request and reads its answer: `(status, body)`.
    async fn request(&mut self, method: &str, target: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/octet-stream\r\n\
             Content-Length: {}\r\n\r\n",
            self.address,
            body.len()
        );
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        self.stream.write_all(&request).await.expect("write");
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let header = |name: &str| {
            head.lines()
                .find_map(|line| line.strip_prefix(name))
                .map(|value| value.trim().to_string())
        };
        self.buf.drain(..head_end);
        let body = if header("transfer-encoding:").is_some_and(|v| v.contains("chunked")) {
            self.read_chunked().await
        } else {
            let length: usize = header("content-length:").map_or(0, |v| v.parse().expect("length"));
            while self.buf.len() < length {
                self.fill().await;
            }
            self.buf.drain(..length).collect()
        };
        (status, body)
    }

    async fn read_chunked(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                self.fill().await;
            };
            let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                .expect("a chunk size");
            self.buf.drain(..line_end + 2);
            while self.buf.len() < size + 2 {
                self.fill().await;
            }
            body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
            if size == 0 {
                return body;
            }
        }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the server closed a keep-alive connection");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// `POST {base}`: a new session's id.
    async fn open_session(&mut self) -> String {
        let (status, body) = self.request("POST", BASE, b"").await;
        assert_eq!(status, 201, "open: {}", String::from_utf8_lossy(&body));
        let json = std::str::from_utf8(&body).expect("UTF-8 params");
        longpoll_core::SessionParams::from_json(json)
            .expect("params JSON")
            .id
    }
}

/// How the `n`th session is abandoned.
#[derive(Debug, Clone, Copy)]
enum Abandon {
    AfterOpen,
    MidPoll,
    AfterSend,
}

impl Abandon {
    fn of(n: usize) -> Abandon {
        match n % 3 {
            0 => Abandon::AfterOpen,
            1 => Abandon::MidPoll,
            _ => Abandon::AfterSend,
        }
    }
}

/// What one round of churn saw.
#[derive(Debug, Clone, Copy)]
struct Round {
    /// Most sessions seen alive at once.
    peak: usize,
    /// Sends answered `410` (the session was reaped before the send arrived).
    sends_gone: usize,
}

/// Opens and abandons `sessions` sessions with `WORKERS` at a time, keeping at most about
/// [`LIVE_CAP`] alive.
async fn churn(address: SocketAddr, registry: &longpoll_tokio::Registry, sessions: usize) -> Round {
    let next = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let gone = Arc::new(AtomicUsize::new(0));
    let message = support::encode(&[support::text("into the void")]);
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let next = next.clone();
            let peak = peak.clone();
            let gone = gone.clone();
            let registry = registry.clone();
            let message = message.clone();
            tokio::spawn(async move {
                let mut connection = Connection::open(address).await;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= sessions {
                        return;
                    }
                    loop {
                        let live = registry.len();
                        peak.fetch_max(live, Ordering::Relaxed);
                        if live < LIVE_CAP {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    let id = connection.open_session().await;
                    match Abandon::of(n) {
                        Abandon::AfterOpen => {}
                        Abandon::MidPoll => {
                            let mut poll = TcpStream::connect(address).await.expect("connect");
                            let request = format!(
                                "GET {BASE}/{id}?ack=0 HTTP/1.1\r\nHost: {address}\r\n\r\n"
                            );
                            poll.write_all(request.as_bytes()).await.expect("write");
                            // The server holds the poll (nothing to send yet); vanish.
                            tokio::time::sleep(POLL_HELD).await;
                            drop(poll);
                        }
                        Abandon::AfterSend => {
                            let target = format!("{BASE}/{id}?seq=0");
                            let (status, body) =
                                connection.request("POST", &target, &message).await;
                            // 410: the session was reaped before the send arrived (a worker
                            // starved for longer than the idle timeout on a busy machine).
                            assert!(
                                (200..300).contains(&status) || status == 410,
                                "send answered {status}: {}",
                                String::from_utf8_lossy(&body)
                            );
                            if status == 410 {
                                gone.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a churn worker failed");
    }
    Round {
        peak: peak.load(Ordering::Relaxed),
        sends_gone: gone.load(Ordering::Relaxed),
    }
}

/// Waits until every session is reaped and its tombstone forgotten; returns what is left
/// if that takes longer than `bound`.
async fn drained(registry: &longpoll_tokio::Registry, bound: Duration) -> (usize, usize) {
    let deadline = Instant::now() + bound;
    loop {
        let left = (registry.len(), registry.gone_len());
        if left == (0, 0) || Instant::now() >= deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// RSS once freed memory has had a moment to settle (tasks finishing, connections closing).
async fn settled_rss_kb() -> u64 {
    tokio::time::sleep(Duration::from_millis(500)).await;
    rss_kb()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_sessions_are_reaped_and_memory_returns() {
    let sessions = sessions_to_churn();
    let warm_up = sessions.min(WARM_UP_ROUND);
    // Generous: only a hang runs into it.
    let round_bound = Duration::from_secs(120) + Duration::from_millis(2) * sessions as u32;
    let drain_bound = Duration::from_secs(60);
    for adapter in adapters_to_churn() {
        let name = adapter.name();
        let server = servers::start_with_config(adapter, churn_config()).await;
        let registry = server
            .registry()
            .expect("a longpoll-tokio registry")
            .clone();

        let mut warm_rss: Vec<u64> = Vec::new();
        let mut warm_peak = 0;
        while warm_rss.len() < MAX_WARM_UP_ROUNDS {
            let round =
                tokio::time::timeout(round_bound, churn(server.address, &registry, warm_up))
                    .await
                    .unwrap_or_else(|_| {
                        panic!("{name}: warm-up did not finish in {round_bound:?}")
                    });
            warm_peak = warm_peak.max(round.peak);
            let left = drained(&registry, drain_bound).await;
            assert_eq!(left, (0, 0), "{name}: (live, gone) after a warm-up round");
            warm_rss.push(settled_rss_kb().await);
            if let [.., before, last] = warm_rss[..]
                && warm_rss.len() >= MIN_WARM_UP_ROUNDS
                && (last as f64 - before as f64) < before as f64 * SETTLED_GROWTH_PERCENT / 100.0
            {
                break;
            }
        }
        let rss_warm = *warm_rss.last().expect("at least one warm-up round");

        let started = Instant::now();
        let round = tokio::time::timeout(round_bound, churn(server.address, &registry, sessions))
            .await
            .unwrap_or_else(|_| panic!("{name}: the churn did not finish in {round_bound:?}"));
        let churned = started.elapsed();
        let (live_after, gone_after) = drained(&registry, drain_bound).await;
        let reaped = started.elapsed();
        let rss_after = settled_rss_kb().await;
        let change = (rss_after as f64 - rss_warm as f64) / rss_warm as f64 * 100.0;
        println!(
            "churn: sessions={sessions} registry_after={live_after} rss_warm={rss_warm} \
             rss_after={rss_after} change={change:+.1}% adapter={name}"
        );
        println!(
            "churn: warm-up {rounds} rounds of {warm_up} sessions, RSS kB after each {warm_rss:?}; \
             churned in {:.1} s ({:.0} sessions/s), \
             sends answered 410={sends_gone}, most alive at once={peak} (warm-up {warm_peak}, cap {LIVE_CAP}), \
             all reaped after {:.1} s, \
             tombstones after={gone_after}; adapter={name}",
            churned.as_secs_f64(),
            sessions as f64 / churned.as_secs_f64(),
            reaped.as_secs_f64(),
            rounds = warm_rss.len(),
            sends_gone = round.sends_gone,
            peak = round.peak,
        );
        assert_eq!(live_after, 0, "{name}: sessions left in the registry");
        assert_eq!(
            gone_after, 0,
            "{name}: tombstones left after the gone timeout"
        );
        assert!(
            change <= RSS_TOLERANCE_PERCENT,
            "{name}: RSS grew from {rss_warm} kB to {rss_after} kB ({change:+.1}%); most \
             sessions alive at once: {} in the measured round, {warm_peak} in warm-up",
            round.peak
        );
        server.stop().await;
    }
}
