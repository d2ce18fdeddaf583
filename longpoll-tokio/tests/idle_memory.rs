//! Memory per idle session, measured as process RSS growth.
//!
//! Quick check in `cargo test` (10,000 sessions, a loose bound that only catches gross
//! regressions); the figure quoted in the docs comes from the full run:
//!
//! ```sh
//! cargo test --release -p longpoll-tokio --test idle_memory -- --ignored --nocapture
//! ```
//!
//! It compares three things for N sessions: the bare core state machines (the floor any
//! design pays), full sessions (core + per-session task + channels + the handler's task,
//! waiting in `recv`), and full sessions each with a poll parked in `exchange`.

use longpoll_core::{Config, ServerSession};
use longpoll_tokio::{LongPoll, Registry, SessionRequest};
use std::sync::Arc;
use std::time::Duration;

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

struct Figures {
    core_only: f64,
    sessions: f64,
    with_parked_poll: f64,
}

async fn measure(n: usize) -> Figures {
    let config = Arc::new(Config::default());
    let start = std::time::Instant::now();
    let before = rss_bytes();
    let cores: Vec<ServerSession> = (0..n)
        .map(|_| ServerSession::new(start, config.clone()))
        .collect();
    let core_only = (rss_bytes() - before) as f64 / n as f64;
    drop(cores);

    let registry = Registry::new(LongPoll::default(), None);
    let before = rss_bytes();
    let mut handles = Vec::with_capacity(n);
    for _ in 0..n {
        handles.push(
            registry
                .open(|mut session| async move { while session.recv().await.is_some() {} })
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await; // let every task start and park
    let sessions = (rss_bytes() - before) as f64 / n as f64;

    let before = rss_bytes();
    let polls: Vec<_> = handles
        .iter()
        .map(|h| {
            let h = h.clone();
            tokio::spawn(async move { h.exchange(SessionRequest::Poll { ack: 0 }).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let with_parked_poll = sessions + (rss_bytes() - before) as f64 / n as f64;
    assert_eq!(registry.len(), n);
    registry.shutdown();
    for poll in polls {
        let _ = poll.await;
    }
    Figures {
        core_only,
        sessions,
        with_parked_poll,
    }
}

fn report(n: usize, f: &Figures) {
    println!(
        "idle memory, {n} sessions: core state machine {:.0} B, full session (task, channels, \
         handler task) {:.0} B, with a parked poll {:.0} B per session",
        f.core_only, f.sessions, f.with_parked_poll
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_stay_small() {
    let n = 10_000;
    let figures = measure(n).await;
    report(n, &figures);
    // Generous (RSS at this scale is noisy: allocator arenas, page granularity): it catches a
    // session that holds buffers it should not (the outbound limit alone is 2 MiB), not drift.
    assert!(
        figures.with_parked_poll < 64.0 * 1024.0,
        "{:.0} B per idle session",
        figures.with_parked_poll
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "takes a while; run with --ignored --release for the documented figure"]
async fn idle_memory_100k() {
    let n = 100_000;
    let figures = measure(n).await;
    report(n, &figures);
}
