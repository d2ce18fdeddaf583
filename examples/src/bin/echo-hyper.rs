//! `cargo run -p longpoll-examples --bin echo-hyper -- --listen 127.0.0.1:3000`
//!
//! Protocol v1 at `/longpoll` on hyper 1.x (HTTP/1.1 and HTTP/2); echoes every message;
//! `close-me` closes with 4000. Ctrl-C closes every session ("going away"), answers held
//! polls, lets connections finish (at most 5 s), then exits.

use clap::Parser;
use longpoll_examples::cli::EchoArgs;
use longpoll_examples::{echo, hyper_server};
use longpoll_hyper::LongPoll;
use tracing::info;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    longpoll_examples::init_tracing();
    let args = EchoArgs::parse();
    let mount = LongPoll::new(args.config()?)?.mount(echo::echo);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    info!(address = %listener.local_addr()?, path = echo::MOUNT_PATH, "echo-hyper listening");
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    hyper_server::serve(listener, mount, ctrl_c).await;
    info!("bye");
    Ok(())
}
