//! `cargo run -p longpoll-examples --bin echo-axum -- --listen 127.0.0.1:3000`
//!
//! Protocol v1 at `/longpoll` on axum; echoes every message; `close-me` closes with 4000.
//! Ctrl-C closes every session ("going away"), answers held polls, then exits.

use clap::Parser;
use longpoll_examples::cli::EchoArgs;
use longpoll_examples::echo;
use tracing::info;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    longpoll_examples::init_tracing();
    let args = EchoArgs::parse();
    let (router, registry) = echo::router(args.config()?)?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    info!(address = %listener.local_addr()?, path = echo::MOUNT_PATH, "echo-axum listening");
    let shutdown = async move {
        let _ = tokio::signal::ctrl_c().await;
        info!("shutting down: closing every session");
        registry.shutdown();
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    info!("bye");
    Ok(())
}
