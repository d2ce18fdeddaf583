//! Runnable longpoll servers, and the pieces of them that tests reuse.
//!
//! - `echo-axum` (`src/bin/echo-axum.rs`): protocol v1 at `/longpoll` through the
//!   batteries-included router; echoes every message; `close-me` closes with 4000.
//! - `seed` (`src/bin/seed.rs`): the program from the post that started the project, using
//!   the primitive (the application keeps session handles itself).

pub mod actix_server;
pub mod cli;
pub mod echo;
pub mod hyper_server;
