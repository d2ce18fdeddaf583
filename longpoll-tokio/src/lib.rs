//! **Not implemented yet.** This crate will drive `longpoll-core` sessions with tokio timers
//! and channels: the user-facing `Session` (a `Stream` of messages and a `Sink`), the
//! `LongPoll` builder whose handle forwards HTTP exchanges to a session, and a session
//! registry with secure ids. It exports nothing today; see the project README's roadmap.
