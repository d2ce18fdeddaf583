//! `cargo run -p longpoll-examples --bin echo-axum -- --listen 127.0.0.1:3000`
//!
//! Protocol v1 at `/longpoll` on axum, answered by `LongPollLayer` in front of the app
//! (served through hyper-util for its header read timeout); echoes every message;
//! `close-me` closes with 4000. Ctrl-C closes every session ("going away"), answers held
//! polls, lets clients fetch their close frames (at most 5 s), then exits.
//! `--help` lists the flags (limits, timeouts, `--max-sessions`, `--allow-origin`).

use clap::Parser;
use longpoll_examples::cli::EchoArgs;
use longpoll_examples::echo;
use tracing::info;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    longpoll_examples::init_tracing();
    let args = EchoArgs::parse();
    let (app, registry) = echo::app_for(echo::mount(&args)?);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    info!(address = %listener.local_addr()?, path = echo::MOUNT_PATH, "echo-axum listening");
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    echo::serve_app(listener, app, registry, args.header_timeout(), ctrl_c).await;
    info!("bye");
    Ok(())
}
