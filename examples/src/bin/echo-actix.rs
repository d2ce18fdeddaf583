//! `cargo run -p longpoll-examples --bin echo-actix -- --listen 127.0.0.1:3000`
//!
//! Protocol v1 at `/longpoll` on actix-web (two workers); echoes every message; `close-me`
//! closes with 4000. Ctrl-C closes every session ("going away"), answers held polls, lets
//! clients fetch their close frames (at most 5 s), exits. `--help` lists the flags.

use clap::Parser;
use longpoll_examples::cli::EchoArgs;
use longpoll_examples::{actix_server, echo};
use tracing::info;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    longpoll_examples::init_tracing();
    let args = EchoArgs::parse();
    let listener = std::net::TcpListener::bind(args.listen)?;
    let server = actix_server::spawn_mount(listener, echo::mount(&args)?, args.header_timeout())?;
    info!(address = %server.address, "echo-actix listening");
    let (stop_tx, stop_rx) = std::sync::mpsc::channel();
    ctrlc_channel(stop_tx)?;
    let _ = stop_rx.recv();
    info!("shutting down: closing every session");
    server.stop();
    info!("bye");
    Ok(())
}

/// Sends once on `stop` when Ctrl-C arrives (a small tokio runtime waits for the signal).
fn ctrlc_channel(stop: std::sync::mpsc::Sender<()>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::spawn(move || {
        runtime.block_on(async {
            let _ = tokio::signal::ctrl_c().await;
        });
        let _ = stop.send(());
    });
    Ok(())
}
