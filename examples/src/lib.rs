//! Runnable longpoll servers, and the pieces of them that tests reuse.
//!
//! - `echo-axum`, `echo-hyper`, `echo-actix` (`src/bin/`): protocol v1 at `/longpoll` on each
//!   framework; echo every message; `close-me` closes with 4000. The same conformance suite
//!   (`tests/conformance`) runs against each, and against `longpoll-example-custom`.
//! - `chat` (`src/bin/chat.rs`, [`chat`]): the browser chat, the README's first command.
//! - `seed` (`src/bin/seed.rs`): the program from the post that started the project, using
//!   the primitive (the application keeps session handles itself).

pub mod actix_server;
pub mod chat;
pub mod cli;
pub mod echo;
pub mod hyper_server;
pub mod nginx_hash;
pub mod tower_to_hyper;

/// Logs to stderr with `tracing`, at `info` unless `RUST_LOG` says otherwise.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
}
