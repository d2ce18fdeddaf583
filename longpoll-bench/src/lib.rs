//! Shared pieces of the longpoll performance harness: scenario names, payloads and the
//! clock the latency scenario stamps messages with.
//!
//! The binaries are what matter: `longpoll-bench` (the harness and its load generator),
//! `bench-server` (the servers under test) and `core-probe` (allocations and events per
//! second of the core state machine). `BENCHMARKS.md` at the repository root describes them.

pub mod core_echo;

use clap::ValueEnum;
use std::fmt;

/// Every message the scenarios send is this many bytes of payload.
pub const MESSAGE_BYTES: usize = 64;

/// Where protocol v1 is mounted on the bench servers.
pub const V1_PATH: &str = "/longpoll";

/// Where engine.io is mounted (engineioxide's and Node's default).
pub const ENGINEIO_PATH: &str = "/engine.io/";

/// The path the plain floor holds forever in the idle scenario. Its client first makes one
/// exchange that is answered at once, as ours opens a session before it polls, so the
/// floor's connections have the same history as ours: one answer written, one request held.
pub const HOLD_PATH: &str = "/hold";

/// How long a poll is held (and engine.io's ping interval) in the idle scenario: longer than
/// the scenario runs, so every poll stays parked while memory is measured.
pub const IDLE_HOLD_MS: u64 = 300_000;

/// What the server does with its sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Echo every client message.
    Echo,
    /// Push 64-byte messages to every session as fast as backpressure allows.
    Fanout,
    /// Push one timestamped message per second to every session.
    Latency,
    /// Hold sessions and do nothing.
    Idle,
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scenario::Echo => "echo",
            Scenario::Fanout => "fanout",
            Scenario::Latency => "latency",
            Scenario::Idle => "idle",
        })
    }
}

/// The 64-byte text every echo and fan-out message carries.
pub fn payload() -> &'static str {
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
}

/// CLOCK_MONOTONIC in nanoseconds: the same clock in every process on this machine (Node's
/// `process.hrtime.bigint()` reads it too), unlike `std::time::Instant`, whose values cannot
/// cross a process boundary.
pub fn monotonic_nanos() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// A 64-byte text payload starting with the send time (20 decimal digits of
/// [`monotonic_nanos`]).
pub fn stamped_payload() -> String {
    let mut text = format!("{:020}", monotonic_nanos());
    text.push_str(&payload()[20..]);
    text
}

/// The send time in a payload made by [`stamped_payload`] (or Node's equivalent).
pub fn stamp_of(payload: &[u8]) -> Option<u64> {
    std::str::from_utf8(payload.get(..20)?).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamped_payloads_are_64_bytes_and_carry_their_time() {
        let before = monotonic_nanos();
        let text = stamped_payload();
        let after = monotonic_nanos();
        assert_eq!(text.len(), MESSAGE_BYTES);
        let stamp = stamp_of(text.as_bytes()).unwrap();
        assert!(before <= stamp && stamp <= after);
        assert_eq!(stamp_of(payload().as_bytes()), None);
    }
}
