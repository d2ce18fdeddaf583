//! Fuzz targets for `longpoll-core`; see `fuzz/README.md`.
//!
//! The checks live in [`checks`], free of libFuzzer, so `cargo test` in the main workspace
//! replays the committed corpus through the very same code
//! (`longpoll-core/tests/fuzz_corpus.rs`). Each target in `fuzz_targets/` is one line that
//! calls [`wire_decode`], [`server_session`] or [`session_pair`].

pub mod checks;

pub use checks::{server_session, session_pair, wire_decode};
