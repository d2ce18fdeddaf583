//! A chaos proxy: a TCP relay on 127.0.0.1 that, from a seed, delays, drops, truncates and
//! resets connections at random, whichever way the bytes flow.
//!
//! It works on the chunks each `read` returns, not on HTTP messages, so a fault lands
//! anywhere: before a request reaches the server, after the server acted on it but before
//! its answer got out, or in the middle of a response body. Each fault ends the connection
//! (but a delay, which holds one chunk back and everything behind it).

use crate::rng::{Rng, find};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How often a [`ChaosProxy`] injects each fault, per chunk relayed (either way), in parts
/// per thousand. The kinds are drawn from one roll, so their sum must stay at most 1000.
///
/// ```
/// use std::time::Duration;
/// let chaos = longpoll_testkit::Chaos {
///     drop_per_mille: 5,
///     truncate_per_mille: 5,
///     reset_per_mille: 5,
///     delay_per_mille: 20,
///     max_delay: Duration::from_millis(20),
/// };
/// assert_eq!(chaos.total_per_mille(), 35);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chaos {
    /// Close both connections (FIN) instead of forwarding the chunk: a request that never
    /// arrives, or a response lost after the server acted on its request.
    pub drop_per_mille: u32,
    /// Forward only part of the chunk, then close both connections (FIN). In a chunk that
    /// starts a response and carries body bytes, the cut falls inside the body.
    pub truncate_per_mille: u32,
    /// Forward part of the chunk (maybe none), then reset both connections (RST, by closing
    /// with a zero linger).
    pub reset_per_mille: u32,
    /// Hold the chunk back for 1 ms to `max_delay` before forwarding it.
    pub delay_per_mille: u32,
    /// Longest delay.
    pub max_delay: Duration,
}

impl Chaos {
    /// The chance, per mille, that a chunk meets any fault.
    pub fn total_per_mille(&self) -> u32 {
        self.drop_per_mille + self.truncate_per_mille + self.reset_per_mille + self.delay_per_mille
    }

    /// Which fault (if any) a roll in `0..1000` stands for.
    fn fault_for(&self, roll: u32) -> Option<Fault> {
        let mut bound = 0;
        for (per_mille, fault) in [
            (self.drop_per_mille, Fault::Drop),
            (self.truncate_per_mille, Fault::Truncate),
            (self.reset_per_mille, Fault::Reset),
            (self.delay_per_mille, Fault::Delay),
        ] {
            bound += per_mille;
            if roll < bound {
                return Some(fault);
            }
        }
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Drop,
    Truncate,
    Reset,
    Delay,
}

/// What a [`ChaosProxy`] did so far (a snapshot of [`ChaosProxy::report`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChaosReport {
    /// Connections accepted from clients.
    pub connections: u64,
    /// Chunks read from either side.
    pub chunks: u64,
    /// Connections closed instead of forwarding a chunk.
    pub dropped: u64,
    /// Connections closed after forwarding part of a chunk.
    pub truncated: u64,
    /// Of those, cut inside a response body.
    pub truncated_mid_body: u64,
    /// Connections reset.
    pub reset: u64,
    /// Chunks held back.
    pub delayed: u64,
}

impl fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "connections={} chunks={} dropped={} truncated={} (mid-body {}) reset={} delayed={}",
            self.connections,
            self.chunks,
            self.dropped,
            self.truncated,
            self.truncated_mid_body,
            self.reset,
            self.delayed
        )
    }
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    chunks: AtomicU64,
    dropped: AtomicU64,
    truncated: AtomicU64,
    truncated_mid_body: AtomicU64,
    reset: AtomicU64,
    delayed: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A running chaos proxy; dropping it stops accepting connections (those open go on until
/// either side closes them).
#[derive(Debug)]
pub struct ChaosProxy {
    /// Where the proxy listens (127.0.0.1).
    pub addr: SocketAddr,
    seed: u64,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl ChaosProxy {
    /// `http://127.0.0.1:PORT{path}`, through the proxy.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The seed the schedule comes from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// What the proxy has done so far.
    pub fn report(&self) -> ChaosReport {
        let c = &self.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ChaosReport {
            connections: load(&c.connections),
            chunks: load(&c.chunks),
            dropped: load(&c.dropped),
            truncated: load(&c.truncated),
            truncated_mid_body: load(&c.truncated_mid_body),
            reset: load(&c.reset),
            delayed: load(&c.delayed),
        }
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a chaos proxy on 127.0.0.1 in front of `upstream`.
///
/// The faults on each direction of each connection come from the seed and the connection's
/// number (in accept order) alone. With concurrent clients, which connection gets which
/// number depends on scheduling, so a seed replays the same mix of faults rather than the
/// same interleaving; a single client replays exactly.
///
/// # Panics
///
/// If `chaos` asks for more than 1000 per mille, or 127.0.0.1 cannot be bound.
pub async fn chaos_proxy(upstream: SocketAddr, seed: u64, chaos: Chaos) -> ChaosProxy {
    assert!(
        chaos.total_per_mille() <= 1000,
        "fault rates add up to more than 1000 per mille: {chaos:?}"
    );
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local address");
    let counters = Arc::new(Counters::default());
    let accepted = counters.clone();
    let task = tokio::spawn(async move {
        let mut number = 0u64;
        loop {
            let Ok((client, _)) = listener.accept().await else {
                continue;
            };
            bump(&accepted.connections);
            let streams = (
                Rng::stream(seed, 2 * number),
                Rng::stream(seed, 2 * number + 1),
            );
            number += 1;
            tokio::spawn(relay(client, upstream, chaos, streams, accepted.clone()));
        }
    });
    ChaosProxy {
        addr,
        seed,
        counters,
        task,
    }
}

/// How one direction of a relay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// A side closed or failed: close the other one too.
    Closed,
    /// A fault: reset both connections.
    Reset,
}

async fn relay(
    mut client: TcpStream,
    upstream: SocketAddr,
    chaos: Chaos,
    (up_rng, down_rng): (Rng, Rng),
    counters: Arc<Counters>,
) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let end = {
        let (client_read, client_write) = client.split();
        let (server_read, server_write) = server.split();
        let up = pump(client_read, server_write, chaos, up_rng, &counters);
        let down = pump(server_read, client_write, chaos, down_rng, &counters);
        tokio::select! {
            end = up => end,
            end = down => end,
        }
    };
    if end == End::Reset {
        // A zero linger makes the close below send RST instead of FIN. (Tokio deprecates
        // `set_linger` because a non-zero linger blocks the thread on drop; a zero one
        // never does.)
        #[allow(deprecated)]
        let _ = client.set_linger(Some(Duration::ZERO));
        #[allow(deprecated)]
        let _ = server.set_linger(Some(Duration::ZERO));
    }
}

/// Copies chunks from `from` to `to`, injecting faults, until either side closes or a
/// fault ends the connection.
async fn pump(
    mut from: ReadHalf<'_>,
    mut to: WriteHalf<'_>,
    chaos: Chaos,
    mut rng: Rng,
    counters: &Counters,
) -> End {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return End::Closed,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        bump(&counters.chunks);
        let roll = rng.below(1000) as u32;
        match chaos.fault_for(roll) {
            None => {}
            Some(Fault::Delay) => {
                bump(&counters.delayed);
                let most = chaos.max_delay.as_millis().max(1) as u64;
                let ms = 1 + rng.below(most);
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            Some(Fault::Drop) => {
                bump(&counters.dropped);
                let _ = to.shutdown().await;
                return End::Closed;
            }
            Some(Fault::Truncate) => {
                bump(&counters.truncated);
                let cut = match body_start(chunk) {
                    Some(start) if start < n => {
                        bump(&counters.truncated_mid_body);
                        start + rng.below((n - start) as u64) as usize
                    }
                    // At least one byte goes through, never the whole chunk.
                    _ => 1 + rng.below(n.saturating_sub(1) as u64) as usize,
                };
                let _ = to.write_all(&chunk[..cut.min(n)]).await;
                let _ = to.shutdown().await;
                return End::Closed;
            }
            Some(Fault::Reset) => {
                bump(&counters.reset);
                let cut = rng.below(n as u64) as usize;
                let _ = to.write_all(&chunk[..cut]).await;
                let _ = to.flush().await;
                return End::Reset;
            }
        }
        if to.write_all(chunk).await.is_err() {
            return End::Closed;
        }
    }
}

/// Where the body starts, if `chunk` starts an HTTP response whose head ends in it.
fn body_start(chunk: &[u8]) -> Option<usize> {
    if !chunk.starts_with(b"HTTP/1.") {
        return None;
    }
    find(chunk, b"\r\n\r\n").map(|i| i + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolls_map_to_faults_in_proportion() {
        let chaos = Chaos {
            drop_per_mille: 1,
            truncate_per_mille: 2,
            reset_per_mille: 3,
            delay_per_mille: 4,
            max_delay: Duration::from_millis(1),
        };
        let faults: Vec<Option<Fault>> = (0..1000).map(|roll| chaos.fault_for(roll)).collect();
        let count = |fault| faults.iter().filter(|f| **f == Some(fault)).count();
        assert_eq!(count(Fault::Drop), 1);
        assert_eq!(count(Fault::Truncate), 2);
        assert_eq!(count(Fault::Reset), 3);
        assert_eq!(count(Fault::Delay), 4);
        assert_eq!(faults.iter().filter(|f| f.is_none()).count(), 990);
    }

    #[test]
    fn the_body_starts_after_a_response_head() {
        assert_eq!(body_start(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nxyz"), Some(25));
        assert_eq!(body_start(b"HTTP/1.1 200 OK\r\nA: b"), None);
        assert_eq!(body_start(b"GET / HTTP/1.1\r\n\r\n"), None);
    }
}
