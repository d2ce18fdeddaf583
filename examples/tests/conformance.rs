//! One protocol v1 conformance suite (`conformance/suite.rs`), run unchanged against every
//! echo server over real TCP on 127.0.0.1: axum, hyper, actix-web, and the custom runtime
//! without tokio. Prints which servers it ran against.

#[path = "conformance/suite.rs"]
mod suite;
mod support;

use support::servers::{self, Adapter};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_passes_the_same_suite() {
    let args = servers::args(
        suite::POLL_TIMEOUT.as_millis() as u64,
        suite::IDLE_TIMEOUT.as_millis() as u64,
    );
    let mut running = Vec::new();
    for adapter in Adapter::ALL {
        running.push(servers::start(adapter, &args).await);
    }
    let runs = running.iter().map(|server| async move {
        let name = server.adapter.name();
        (name, suite::run(name, server.address).await)
    });
    let results = futures_util::future::join_all(runs).await;
    let names: Vec<&str> = results.iter().map(|(name, _)| *name).collect();
    let checks = results[0].1;
    println!(
        "conformance: {checks} checks passed against {} servers: {}",
        names.len(),
        names.join(", ")
    );
    for server in running {
        server.stop().await;
    }
}
