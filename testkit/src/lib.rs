//! Test tools shared by the project's test suites (not published): two seeded TCP proxies
//! that inject faults between a longpoll client and server over 127.0.0.1, and a clock
//! reading for `longpoll-core`'s documentation examples (the core itself never reads a clock).
//!
//! - [`proxy`] knows the protocol: it cuts poll responses mid-body and swallows answers to
//!   sends, each at most a bounded number of times, for targeted fault tests.
//! - [`chaos_proxy`] knows nothing of HTTP beyond where a head ends: it delays, drops,
//!   truncates and resets connections at random, in both directions, for soak tests.
//!
//! Both take a seed, so a failing schedule replays.

mod chaos;
mod rng;

pub use chaos::{Chaos, ChaosProxy, ChaosReport, chaos_proxy};

use rng::{Rng, find};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Which faults a [`Proxy`] injects, at most how often.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// Poll responses with frames (`200` + `Longpoll-Seq`) to cut mid-body, at most. The
    /// first one seen is always cut; later ones with probability `percent`.
    pub cut_polls: usize,
    /// Answers to sends (`POST ...?seq=`) to swallow (the server got the request, the client
    /// never sees its answer; the connection closes), at most, with probability `percent`.
    pub drop_send_answers: usize,
    /// Probability of each fault, in percent.
    pub percent: u64,
}

/// What the proxy did.
#[derive(Debug, Default)]
pub struct FaultCounts {
    /// Poll responses with frames that went through the proxy.
    pub poll_responses_seen: AtomicUsize,
    /// Of those, how many were cut.
    pub polls_cut: AtomicUsize,
    /// Of those, cut after the whole head and part of the body (the rest were cut in the head).
    pub polls_cut_mid_body: AtomicUsize,
    /// Sends (`POST ...?seq=`) that went through the proxy.
    pub sends_seen: AtomicUsize,
    /// Of those, how many had their answer swallowed.
    pub send_answers_dropped: AtomicUsize,
}

struct ProxyState {
    faults: Faults,
    rng: Mutex<Rng>,
    counts: Arc<FaultCounts>,
}

impl ProxyState {
    /// Whether to inject the `n`th (0-based) fault of a kind that has had `done` injected.
    fn roll(&self, first: bool, done: usize, max: usize) -> bool {
        if done >= max {
            return false;
        }
        first || self.rng.lock().unwrap().below(100) < self.faults.percent
    }

    /// For a chunk from the server: where to cut it (bytes to forward before closing), if
    /// it starts a poll response with frames that should be cut.
    fn cut_point(&self, chunk: &[u8]) -> Option<usize> {
        if !chunk.starts_with(b"HTTP/1.1 200") {
            return None;
        }
        let head_end = find(chunk, b"\r\n\r\n").map(|i| i + 4);
        let head = &chunk[..head_end.unwrap_or(chunk.len())];
        let head_text = String::from_utf8_lossy(head).to_ascii_lowercase();
        if !head_text.contains("longpoll-seq:") {
            return None;
        }
        let seen = self
            .counts
            .poll_responses_seen
            .fetch_add(1, Ordering::SeqCst);
        let cut = self.counts.polls_cut.load(Ordering::SeqCst);
        if !self.roll(seen == 0, cut, self.faults.cut_polls) {
            return None;
        }
        self.counts.polls_cut.fetch_add(1, Ordering::SeqCst);
        let Some(head_end) = head_end else {
            // Only part of the head arrived in this chunk: forward half of it.
            return Some(chunk.len() / 2);
        };
        let content_length = head_text
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let body_here = chunk.len() - head_end;
        // Forward the head and fewer body bytes than the response has.
        let most = body_here.min(content_length.saturating_sub(1));
        let extra = self.rng.lock().unwrap().below(most as u64 + 1) as usize;
        self.counts
            .polls_cut_mid_body
            .fetch_add(1, Ordering::SeqCst);
        Some(head_end + extra)
    }

    /// For a chunk from the client: whether it starts a send whose answer is to be dropped.
    fn drop_answer_to(&self, chunk: &[u8]) -> bool {
        let is_send =
            chunk.starts_with(b"POST ") && find(&chunk[..chunk.len().min(512)], b"?seq=").is_some();
        if !is_send {
            return false;
        }
        let seen = self.counts.sends_seen.fetch_add(1, Ordering::SeqCst);
        let done = self.counts.send_answers_dropped.load(Ordering::SeqCst);
        if !self.roll(seen == 0, done, self.faults.drop_send_answers) {
            return false;
        }
        self.counts
            .send_answers_dropped
            .fetch_add(1, Ordering::SeqCst);
        true
    }
}

/// A TCP proxy on 127.0.0.1 in front of `upstream` that injects [`Faults`].
#[derive(Debug)]
pub struct Proxy {
    /// Where the proxy listens.
    pub addr: SocketAddr,
    /// What it has done so far.
    pub counts: Arc<FaultCounts>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// `http://127.0.0.1:PORT{path}`, through the proxy.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a proxy to `upstream` with a seeded fault schedule.
pub async fn proxy(upstream: SocketAddr, seed: u64, faults: Faults) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Arc::new(FaultCounts::default());
    let state = Arc::new(ProxyState {
        faults,
        rng: Mutex::new(Rng::new(seed)),
        counts: counts.clone(),
    });
    let task = tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(relay(client, upstream, state.clone()));
        }
    });
    Proxy { addr, counts, task }
}

/// Copies bytes both ways until either side closes or a fault cuts the connection; then
/// both connections are dropped (closed).
async fn relay(mut client: TcpStream, upstream: SocketAddr, state: Arc<ProxyState>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let drop_next_answer = AtomicBool::new(false);
    let up = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if state.drop_answer_to(&buf[..n]) {
                drop_next_answer.store(true, Ordering::SeqCst);
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let down = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if drop_next_answer.swap(false, Ordering::SeqCst) {
                return; // the answer to a send vanishes with its connection
            }
            if let Some(cut) = state.cut_point(&buf[..n]) {
                let _ = client_write.write_all(&buf[..cut]).await;
                let _ = client_write.flush().await;
                return;
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}

/// A reading of the real clock, for examples that play the driver's part: `longpoll-core`
/// takes every instant from its caller and never reads a clock itself.
pub fn driver_clock() -> std::time::Instant {
    std::time::Instant::now()
}
