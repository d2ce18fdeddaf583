//! Exactly-once, in-order delivery through chaos, against every echo server over real TCP on
//! 127.0.0.1: many Rust-client sessions at once send numbered messages through a seeded
//! proxy that delays, drops, truncates and resets connections (`longpoll_testkit::chaos_proxy`),
//! and every echo must come back once, in order.
//!
//! Quick mode (`cargo test`): 10,000 messages each way per server. Long mode:
//!
//! ```text
//! CHAOS_MESSAGES=100000 cargo test -p longpoll-examples --test chaos --release -- --nocapture
//! ```
//!
//! `CHAOS_SESSIONS` changes how many sessions run at once (50). Each run prints its seed;
//! `CHAOS_SEED=<seed>` replays the same fault schedule (the same faults on each connection
//! number; which session gets which connection still depends on scheduling).

mod support;

use futures_util::{SinkExt, StreamExt};
use longpoll_client::{Client, ClientConfig, CloseFrame, Message};
use longpoll_testkit::{Chaos, ChaosReport, chaos_proxy};
use std::time::{Duration, Instant};
use support::servers::{self, Adapter};

const BASE: &str = "/longpoll";
const QUICK_MESSAGES: usize = 10_000;
/// Sessions at once, unless `CHAOS_SESSIONS` says otherwise.
const SESSIONS: usize = 50;
/// Short enough that held polls end often, long enough that the faults (each a quick
/// failure and a retry after at most `BACKOFF_MAX`) never come near the client's give-up
/// rule (`poll + idle` without an answer).
const POLL_TIMEOUT_MS: u64 = 1_000;
const IDLE_TIMEOUT_MS: u64 = 5_000;
const BACKOFF_MAX: Duration = Duration::from_millis(100);
/// A session that gets nothing for this long has stalled; what is missing counts as lost.
const STALL: Duration = Duration::from_secs(30);

/// Faults per chunk relayed: about one chunk in 20 meets one.
const CHAOS: Chaos = Chaos {
    drop_per_mille: 10,
    truncate_per_mille: 10,
    reset_per_mille: 10,
    delay_per_mille: 20,
    max_delay: Duration::from_millis(20),
};

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={text} is not a number")))
}

/// `CHAOS_SEED`, or a fresh one from the clock (printed, so a failure can be replayed).
fn seed() -> u64 {
    env_number("CHAOS_SEED").unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos();
        (nanos as u64) ^ ((nanos >> 64) as u64)
    })
}

/// What came back, counted per message: nothing is assumed from the message count.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    sent: u64,
    received: u64,
    lost: u64,
    duplicated: u64,
    reordered: u64,
    /// Messages carrying another session's number.
    misrouted: u64,
    /// Opens retried after a fault ate the open request or its answer.
    open_retries: u64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.sent += other.sent;
        self.received += other.received;
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.reordered += other.reordered;
        self.misrouted += other.misrouted;
        self.open_retries += other.open_retries;
    }
}

/// Message `index` of session `session`: the numbers, then padding of varying length so
/// bodies (and so the cuts in them) vary.
fn payload(session: usize, index: usize) -> String {
    let pad = (index * 7 + session) % 97;
    format!("{session}:{index}:{}", "x".repeat(pad))
}

fn parse(message: &Message) -> Option<(usize, usize)> {
    let text = message.as_text()?;
    let mut parts = text.splitn(3, ':');
    let session = parts.next()?.parse().ok()?;
    let index = parts.next()?.parse().ok()?;
    Some((session, index))
}

/// Tracks which of a session's echoes arrived.
struct Arrivals {
    session: usize,
    seen: Vec<bool>,
    distinct: usize,
    highest: Option<usize>,
    tally: Tally,
    problems: Vec<String>,
}

impl Arrivals {
    fn new(session: usize, count: usize) -> Self {
        Arrivals {
            session,
            seen: vec![false; count],
            distinct: 0,
            highest: None,
            tally: Tally::default(),
            problems: Vec::new(),
        }
    }

    fn complete(&self) -> bool {
        self.distinct == self.seen.len()
    }

    fn record(&mut self, message: &Message) {
        self.tally.received += 1;
        match parse(message) {
            Some((session, index)) if session == self.session && index < self.seen.len() => {
                if self.seen[index] {
                    self.tally.duplicated += 1;
                    return;
                }
                self.seen[index] = true;
                self.distinct += 1;
                if self.highest.is_some_and(|highest| index < highest) {
                    self.tally.reordered += 1;
                }
                self.highest = self.highest.max(Some(index));
            }
            _ => {
                self.tally.misrouted += 1;
                self.problems.push(format!(
                    "session {}: unexpected message {message:?}",
                    self.session
                ));
            }
        }
    }
}

/// One session: open (retrying if a fault eats the open), send `count` messages while
/// reading their echoes, then close and read until the stream ends.
async fn run_session(client: Client, url: String, session: usize, count: usize) -> Arrivals {
    let mut arrivals = Arrivals::new(session, count);
    let opened = loop {
        match tokio::time::timeout(Duration::from_secs(20), client.connect(&url)).await {
            Ok(Ok(opened)) => break opened,
            Ok(Err(_)) | Err(_) if arrivals.tally.open_retries < 50 => {
                arrivals.tally.open_retries += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Ok(Err(error)) => {
                arrivals
                    .problems
                    .push(format!("session {session}: open failed: {error}"));
                arrivals.tally.lost = count as u64;
                return arrivals;
            }
            Err(_) => {
                arrivals
                    .problems
                    .push(format!("session {session}: open timed out"));
                arrivals.tally.lost = count as u64;
                return arrivals;
            }
        }
    };
    let (mut tx, mut rx) = opened.split();
    let sender = tokio::spawn(async move {
        let mut sent = 0u64;
        for index in 0..count {
            if tx
                .send(Message::from(payload(session, index)))
                .await
                .is_err()
            {
                break;
            }
            sent += 1;
        }
        (tx, sent)
    });
    while !arrivals.complete() {
        match tokio::time::timeout(STALL, rx.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => {
                arrivals
                    .problems
                    .push(format!("session {session}: closed early: {frame:?}"));
                break;
            }
            Ok(Some(Ok(message))) => arrivals.record(&message),
            Ok(Some(Err(error))) => {
                arrivals
                    .problems
                    .push(format!("session {session}: stream error: {error}"));
                break;
            }
            Ok(None) => {
                arrivals
                    .problems
                    .push(format!("session {session}: stream ended early"));
                break;
            }
            Err(_) => {
                arrivals.problems.push(format!(
                    "session {session}: stalled for {STALL:?} after {} of {count}",
                    arrivals.distinct
                ));
                break;
            }
        }
    }
    match tokio::time::timeout(STALL, sender).await {
        Ok(Ok((mut tx, sent))) => {
            arrivals.tally.sent = sent;
            // Everything sent before the close is delivered first, so an echo that still
            // arrives now is one too many.
            let _ = tx
                .send(Message::Close(Some(CloseFrame::new(1000, "done"))))
                .await;
            let drain = async {
                while let Some(item) = rx.next().await {
                    match item {
                        Ok(Message::Close(_)) | Err(_) => break,
                        Ok(message) => arrivals.record(&message),
                    }
                }
            };
            if tokio::time::timeout(STALL, drain).await.is_err() {
                arrivals
                    .problems
                    .push(format!("session {session}: did not close within {STALL:?}"));
            }
        }
        _ => arrivals
            .problems
            .push(format!("session {session}: the sender did not finish")),
    }
    arrivals.tally.lost = (count - arrivals.distinct) as u64;
    arrivals
}

/// Runs every session against one server through a fresh chaos proxy.
async fn run_adapter(
    adapter: Adapter,
    seed: u64,
    messages: usize,
    sessions: usize,
) -> (Tally, ChaosReport) {
    let server = servers::start(adapter, &servers::args(POLL_TIMEOUT_MS, IDLE_TIMEOUT_MS)).await;
    let proxy = chaos_proxy(server.address, seed, CHAOS).await;
    let mut config = ClientConfig::default();
    config.backoff_initial = Duration::from_millis(5);
    config.backoff_max = BACKOFF_MAX;
    let client = Client::with_config(config);
    let runs: Vec<_> = (0..sessions)
        .map(|session| {
            // Spread the messages evenly; the first sessions take the remainder.
            let count = messages / sessions + usize::from(session < messages % sessions);
            tokio::spawn(run_session(client.clone(), proxy.url(BASE), session, count))
        })
        .collect();
    let mut tally = Tally::default();
    let mut problems = Vec::new();
    for run in runs {
        let arrivals = run.await.expect("a session task panicked");
        tally.add(&arrivals.tally);
        problems.extend(arrivals.problems);
    }
    let report = proxy.report();
    drop(proxy);
    server.stop().await;
    for problem in problems.iter().take(20) {
        println!("chaos: seed={seed} adapter={}: {problem}", adapter.name());
    }
    assert!(
        problems.is_empty(),
        "{} problems against {} (replay with CHAOS_SEED={seed}); first: {}",
        problems.len(),
        adapter.name(),
        problems[0]
    );
    (tally, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_echo_arrives_once_and_in_order_through_chaos() {
    let seed = seed();
    let messages = env_number("CHAOS_MESSAGES").map_or(QUICK_MESSAGES, |n| n as usize);
    let sessions = env_number("CHAOS_SESSIONS")
        .map_or(SESSIONS, |n| n as usize)
        .clamp(1, messages.max(1));
    println!(
        "chaos: seed={seed} (replay with CHAOS_SEED={seed}) messages={messages} each way per server, {sessions} sessions at once, {CHAOS:?}"
    );
    // Generous: only a hang runs into it.
    let bound = Duration::from_secs(120) + Duration::from_millis(5) * messages as u32;
    for adapter in Adapter::ALL {
        // Each round must lose nothing. Every fault kind must have hit this adapter at least
        // once; a quick round has a few of each on average, so a round that happened to miss
        // one is followed by another (with the next seed) rather than failing by chance.
        let mut injected = Vec::new();
        for round in 0..MAX_ROUNDS {
            let seed = seed.wrapping_add(round);
            let report = run_round(adapter, seed, messages, sessions, bound).await;
            injected.push(report);
            let missing = missing_faults(&injected);
            if missing.is_empty() {
                break;
            }
            assert!(
                round + 1 < MAX_ROUNDS,
                "the proxy never {} a connection in {MAX_ROUNDS} rounds: adapter {} (replay \
                 with CHAOS_SEED={seed})",
                missing.join(", "),
                adapter.name()
            );
            println!(
                "chaos: no connection {} yet; another round: adapter={}",
                missing.join(", "),
                adapter.name()
            );
        }
    }
}

/// Rounds per adapter at most, for every fault kind to have happened at least once.
const MAX_ROUNDS: u64 = 4;

/// Runs one round against `adapter` and checks that nothing was lost, duplicated or
/// reordered; returns what the proxy did.
async fn run_round(
    adapter: Adapter,
    seed: u64,
    messages: usize,
    sessions: usize,
    bound: Duration,
) -> ChaosReport {
    let started = Instant::now();
    let (tally, report) =
        tokio::time::timeout(bound, run_adapter(adapter, seed, messages, sessions))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{} did not finish within {bound:?} (replay with CHAOS_SEED={seed})",
                    adapter.name()
                )
            });
    println!(
        "chaos: sent={} received={} lost={} duplicated={} reordered={} adapter={}",
        tally.sent,
        tally.received,
        tally.lost,
        tally.duplicated,
        tally.reordered,
        adapter.name()
    );
    println!(
        "chaos: faults injected: {report}; opens retried={}; {:.1} s; adapter={}",
        tally.open_retries,
        started.elapsed().as_secs_f64(),
        adapter.name()
    );
    let context = format!("adapter {} (replay with CHAOS_SEED={seed})", adapter.name());
    assert_eq!(
        tally.sent, messages as u64,
        "every message was sent: {context}"
    );
    assert_eq!(tally.lost, 0, "lost: {context}");
    assert_eq!(tally.duplicated, 0, "duplicated: {context}");
    assert_eq!(tally.reordered, 0, "reordered: {context}");
    assert_eq!(tally.misrouted, 0, "misrouted: {context}");
    assert_eq!(tally.received, messages as u64, "received: {context}");
    report
}

/// The fault kinds none of `reports` shows.
fn missing_faults(reports: &[ChaosReport]) -> Vec<&'static str> {
    let total = |count: fn(&ChaosReport) -> u64| reports.iter().map(count).sum::<u64>();
    [
        ("dropped", total(|report| report.dropped)),
        ("truncated", total(|report| report.truncated)),
        ("reset", total(|report| report.reset)),
        ("delayed", total(|report| report.delayed)),
    ]
    .into_iter()
    .filter(|&(_, count)| count == 0)
    .map(|(kind, _)| kind)
    .collect()
}

#[test]
fn a_fault_kind_missing_from_every_round_is_named() {
    let some = ChaosReport {
        dropped: 1,
        truncated: 1,
        reset: 0,
        delayed: 2,
        ..ChaosReport::default()
    };
    assert_eq!(missing_faults(&[some]), vec!["reset"]);
    let resets = ChaosReport {
        reset: 1,
        ..ChaosReport::default()
    };
    assert!(missing_faults(&[some, resets]).is_empty());
    assert_eq!(missing_faults(&[]).len(), 4);
}

#[test]
fn the_tally_counts_what_goes_wrong() {
    let mut arrivals = Arrivals::new(3, 5);
    for index in [0, 2, 1, 2, 4] {
        arrivals.record(&Message::from(payload(3, index)));
    }
    arrivals.record(&Message::from(payload(4, 3)));
    arrivals.record(&Message::from("noise"));
    let tally = arrivals.tally;
    assert_eq!(tally.received, 7);
    assert_eq!(tally.duplicated, 1, "index 2 came twice");
    assert_eq!(tally.reordered, 1, "index 1 came after 2");
    assert_eq!(tally.misrouted, 2, "another session's message and noise");
    assert_eq!(arrivals.distinct, 4, "index 3 never came");
    assert!(!arrivals.complete());
}
