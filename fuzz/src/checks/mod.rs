//! The checks behind the fuzz targets, as plain functions of the input bytes.
//!
//! They use only `longpoll-core`, `bytes`, `arbitrary` and std, never libFuzzer, so the same
//! code runs in the fuzz targets (`fuzz/fuzz_targets`) and in `cargo test`, which replays the
//! committed corpus through it (`longpoll-core/tests/fuzz_corpus.rs` includes this module).
//!
//! Each target has a `run_*` function that returns the first broken rule as `Err`, with an
//! [`Outcome`] naming what the input exercised, and a panicking wrapper for libFuzzer.

pub mod book;
pub mod inputs;
pub mod pair;
pub mod seeds;
pub mod server;
pub mod wire;

use std::collections::BTreeSet;

/// What one input exercised (statuses, events, errors), to show a corpus covers the paths
/// it should.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Labels such as `"send 503"` or `"event closed: idle timeout"`.
    pub seen: BTreeSet<String>,
}

impl Outcome {
    /// Notes that the input exercised `label`.
    pub fn saw(&mut self, label: &str) {
        if !self.seen.contains(label) {
            self.seen.insert(label.to_string());
        }
    }
}

/// A target's check: the first broken rule, or what the input exercised.
pub type Check = fn(&[u8]) -> Result<Outcome, String>;

/// The fuzz targets by name, with their checks.
pub const TARGETS: [(&str, Check); 3] = [
    ("wire_decode", wire::run),
    ("server_session", server::run),
    ("session_pair", pair::run),
];

/// `wire_decode`: frame decoding, query, route and open-response parsing. Panics on a
/// broken rule.
pub fn wire_decode(data: &[u8]) {
    if let Err(error) = wire::run(data) {
        panic!("wire_decode: {error}");
    }
}

/// `server_session`: one server session driven by arbitrary inputs. Panics on a broken rule.
pub fn server_session(data: &[u8]) {
    if let Err(error) = server::run(data) {
        panic!("server_session: {error}");
    }
}

/// `session_pair`: a server and a client through a fuzz-driven network. Panics on a broken
/// rule.
pub fn session_pair(data: &[u8]) {
    if let Err(error) = pair::run(data) {
        panic!("session_pair: {error}");
    }
}
