//! `cargo run -p longpoll-examples --bin echo-hyper -- --listen 127.0.0.1:3000`
//!
//! Protocol v1 at `/longpoll` on hyper 1.x (HTTP/1.1 and HTTP/2); echoes every message;
//! `close-me` closes with 4000. Ctrl-C closes every session ("going away"), answers held
//! polls, lets clients fetch their close frames and connections finish (at most 5 s each),
//! then exits. `--help` lists the flags (limits, timeouts, `--max-sessions`, `--allow-origin`).

use clap::Parser;
use longpoll_examples::cli::EchoArgs;
use longpoll_examples::{echo, hyper_server};
use longpoll_hyper::LongPollService;
use tracing::info;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    longpoll_examples::init_tracing();
    let args = EchoArgs::parse();
    // The echo as a callback per session: no task per session (echo-axum runs a task).
    let mount = echo::mount_callback(&args)?;
    let registry = mount.registry().clone();
    let service = LongPollService::new(echo::MOUNT_PATH, mount);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    info!(address = %listener.local_addr()?, path = echo::MOUNT_PATH, "echo-hyper listening");
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let header_timeout = args.header_timeout();
    hyper_server::serve_service(listener, service, registry, header_timeout, ctrl_c).await;
    info!("bye");
    Ok(())
}
