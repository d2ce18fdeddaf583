//! `cargo run -p longpoll-examples --bin chat -- --listen 127.0.0.1:3000`
//!
//! A browser chat at `http://127.0.0.1:3000/`: one room, over longpoll (`/longpoll`) or, with
//! `?transport=websocket`, over WebSocket (`/ws`). Ctrl-C closes every longpoll session
//! ("going away"), lets clients fetch their close frames (at most 5 s), then exits. `--help`
//! lists the flags (the echo servers' limits and timeouts, plus routing behind nginx).
//!
//! Behind nginx with `hash ... consistent` routing on the session id (see the README), give
//! each process the upstream's server list with `--route-peers` and its own entry with
//! `--route-self`: it then issues only session ids that nginx routes back to it.

use clap::Parser;
use longpoll_axum::LongPoll;
use longpoll_examples::cli::EchoArgs;
use longpoll_examples::nginx_hash::ConsistentHash;
use std::sync::Arc;
use tracing::info;

#[derive(Debug, Parser)]
#[command(about = "The longpoll browser chat: the page at /, the room at /longpoll and /ws")]
struct ChatArgs {
    #[command(flatten)]
    server: EchoArgs,
    /// The `server` lines of an nginx `upstream { hash $id consistent; }` block in front of
    /// this process and its peers, comma-separated `host:port`, exactly as written there.
    #[arg(long, value_delimiter = ',', requires = "route_self")]
    route_peers: Vec<String>,
    /// This process's own entry in `--route-peers`.
    #[arg(long, requires = "route_peers")]
    route_self: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    longpoll_examples::init_tracing();
    let args = ChatArgs::parse();
    let mut longpoll = LongPoll::new(args.server.config()?)?;
    if let Some(own) = args.route_self {
        if !args.route_peers.contains(&own) {
            return Err(format!("--route-self {own} is not one of --route-peers").into());
        }
        let ring = Arc::new(ConsistentHash::new(args.route_peers));
        longpoll = longpoll.with_id_filter(move |id| ring.server_for(&id.to_string()) == own);
    }
    let chat = longpoll_examples::chat::chat(longpoll, args.server.max_sessions);
    let listener = tokio::net::TcpListener::bind(args.server.listen).await?;
    let address = listener.local_addr()?;
    info!(%address, "chat listening: open http://{address}/ in a browser");
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    // Through hyper-util rather than `axum::serve`, for its header read timeout.
    longpoll_examples::echo::serve_app(
        listener,
        chat.router,
        chat.sessions,
        args.server.header_timeout(),
        ctrl_c,
    )
    .await;
    info!("bye");
    Ok(())
}
