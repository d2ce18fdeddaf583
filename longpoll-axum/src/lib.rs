//! **Not implemented yet.** This crate will adapt axum 0.8 requests to `longpoll-core`: the
//! per-request primitive (`handle.send(request).await`) and a `Router` that mounts protocol v1
//! at a path. It exports nothing today; see the project README's roadmap.
