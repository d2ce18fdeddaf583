//! One protocol v1 conformance suite (`conformance/suite.rs`), run unchanged against every
//! echo server over real TCP on 127.0.0.1: axum, hyper, actix-web, and the custom runtime
//! without tokio. Prints which servers it ran against.

#[path = "conformance/suite.rs"]
mod suite;
mod support;

use longpoll_examples::cli::EchoArgs;
use longpoll_examples::{actix_server, echo, hyper_server};
use std::net::SocketAddr;

fn args() -> EchoArgs {
    EchoArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        poll_timeout_ms: Some(suite::POLL_TIMEOUT.as_millis() as u64),
        idle_timeout_ms: Some(suite::IDLE_TIMEOUT.as_millis() as u64),
        max_body_bytes: None,
    }
}

async fn start_axum() -> SocketAddr {
    let (router, _registry) = echo::router(args().config().unwrap()).unwrap();
    support::serve(router).await
}

async fn start_hyper() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let mount = longpoll_tokio::LongPoll::new(args().config().unwrap())
        .unwrap()
        .mount(echo::echo);
    tokio::spawn(hyper_server::serve(
        listener,
        mount,
        std::future::pending::<()>(),
    ));
    address
}

fn start_custom() -> (SocketAddr, longpoll_example_custom::RunningServer) {
    let args = longpoll_example_custom::Args {
        listen: "127.0.0.1:0".parse().unwrap(),
        poll_timeout_ms: Some(suite::POLL_TIMEOUT.as_millis() as u64),
        idle_timeout_ms: Some(suite::IDLE_TIMEOUT.as_millis() as u64),
        max_body_bytes: None,
    };
    let server = longpoll_example_custom::spawn(args).unwrap();
    (server.local_addr(), server)
}

fn start_actix() -> (SocketAddr, actix_server::RunningActix) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = actix_server::spawn(listener, args().config().unwrap()).unwrap();
    (server.address, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_passes_the_same_suite() {
    let axum = start_axum().await;
    let hyper = start_hyper().await;
    let (actix, actix_server) = start_actix();
    let (custom, custom_server) = start_custom();
    let servers = [
        ("axum", axum),
        ("hyper", hyper),
        ("actix", actix),
        ("custom (no tokio)", custom),
    ];
    let runs = servers
        .iter()
        .map(|(name, address)| async move { (*name, suite::run(name, *address).await) });
    let results = futures_util::future::join_all(runs).await;
    let names: Vec<&str> = results.iter().map(|(name, _)| *name).collect();
    let checks = results[0].1;
    println!(
        "conformance: {checks} checks passed against {} servers: {}",
        names.len(),
        names.join(", ")
    );
    tokio::task::spawn_blocking(move || {
        actix_server.stop();
        drop(custom_server);
    })
    .await
    .unwrap();
}
