//! Graceful shutdown of every echo server (axum, hyper, actix, custom), over raw TCP on
//! 127.0.0.1. When a server stops:
//!
//! - a held poll is answered at once with the close frame (1001, "server shutting down");
//! - a session with messages the client has not acknowledged gets them, then the close frame;
//! - a send whose body is still arriving is answered (`410`: the session is closing);
//! - no session opens any more (`503` with `Retry-After`), but the server keeps serving until
//!   every client has its close frame, then stops;
//! - the application's stream ends with `Err(Ended(ServerClosed(1001)))` (the servers on
//!   `longpoll-tokio`; the custom server's application is built in).

mod support;

use futures_util::{FutureExt, StreamExt};
use longpoll_tokio::{CloseFrame, CloseReason, Error, Message, Session};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use support::servers::{self, Adapter, Handler};
use support::session::Probe;
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const BASE: &str = "/longpoll";
const PATIENCE: Duration = Duration::from_secs(60);
const GOING_AWAY: u16 = 1001;
const SHUTDOWN_REASON: &str = "server shutting down";

/// The echo, reporting how each session's stream ended.
fn reporting_echo(ends: mpsc::UnboundedSender<Option<Result<Message, String>>>) -> Handler {
    Arc::new(move |mut session: Session| {
        let ends = ends.clone();
        async move {
            let end = loop {
                match session.next().await {
                    Some(Ok(Message::Close(frame))) => break Some(Ok(Message::Close(frame))),
                    Some(Ok(message)) => {
                        let _ = futures_util::SinkExt::send(&mut session, message).await;
                    }
                    Some(Err(Error::Ended(reason))) => break Some(Err(format!("{reason:?}"))),
                    Some(Err(other)) => break Some(Err(format!("other error: {other}"))),
                    None => break None,
                }
            };
            let _ = ends.send(end);
        }
        .boxed()
    })
}

async fn poll_answer(address: SocketAddr, id: &str, ack: u64) -> Raw {
    tokio::time::timeout(PATIENCE, poll(address, BASE, id, ack))
        .await
        .expect("poll answered")
}

async fn shuts_down_gracefully(adapter: Adapter) {
    let (ends_tx, mut ends) = mpsc::unbounded_channel();
    let mut args = servers::args(20_000, 60_000);
    args.max_body_bytes = Some(64 * 1024);
    let server = servers::start_with(adapter, &args, Some(reporting_echo(ends_tx))).await;
    let address = server.address;
    let name = adapter.name();
    let going_away = close(GOING_AWAY, SHUTDOWN_REASON);

    // A: a poll held when the server stops.
    let a = Probe::open(address).await;
    let held = tokio::spawn({
        let (id, ack) = (a.id.clone(), a.ack);
        async move { poll(address, BASE, &id, ack).await }
    });
    // B: two echoes the client has received but not acknowledged (as if the answer was lost).
    let mut b = Probe::open(address).await;
    let queued = [text("one"), text("two")];
    let sent = post_frames(address, BASE, &b.id, b.seq, &queued).await;
    assert_eq!(sent.status, 204, "{name}: {sent:?}");
    b.seq += 2;
    loop {
        let answer = poll_answer(address, &b.id, b.ack).await;
        if answer.frames().1.len() == 2 {
            break;
        }
    }
    // C: a send whose body is still arriving.
    let c = Probe::open(address).await;
    let body = encode(&[text("late")]);
    let head = format!(
        "POST {BASE}/{}?seq={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        c.id,
        c.seq,
        body.len()
    );
    let mut in_flight = TcpStream::connect(address).await.expect("connect");
    in_flight.write_all(head.as_bytes()).await.expect("head");
    in_flight.write_all(&body[..3]).await.expect("half a body");
    // Let every request reach the server before it stops.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!held.is_finished(), "{name}: A's poll must be held");

    let stopping = tokio::spawn(server.stop());

    // A's held poll is answered with the close frame.
    let answer = tokio::time::timeout(PATIENCE, held)
        .await
        .expect("held poll answered")
        .unwrap();
    assert_eq!(
        answer.frames(),
        (a.ack, vec![going_away.clone()]),
        "{name}: A"
    );
    // No new session while shutting down.
    let refused = http(address, "POST", BASE, &[], b"").await;
    assert_eq!(
        refused.status, 503,
        "{name}: open while stopping: {refused:?}"
    );
    assert!(refused.header("Retry-After").is_some(), "{name}");
    // B gets what it had not acknowledged, then the close frame.
    let answer = poll_answer(address, &b.id, b.ack).await;
    let mut expected = queued.to_vec();
    expected.push(going_away.clone());
    assert_eq!(answer.frames(), (b.ack, expected), "{name}: B");
    // C's send is answered: the session is closing and takes no more frames.
    in_flight
        .write_all(&body[3..])
        .await
        .expect("rest of the body");
    let answer = read_response(&mut in_flight).await;
    assert_eq!(answer.status, 410, "{name}: the send in flight: {answer:?}");
    let answer = poll_answer(address, &c.id, c.ack).await;
    assert_eq!(
        answer.frames(),
        (c.ack, vec![going_away.clone()]),
        "{name}: C"
    );
    // Each client completes the close; the server stops once all have.
    for (id, ack) in [(&a.id, a.ack), (&b.id, b.ack + 3), (&c.id, c.ack)] {
        let ack = if *id == b.id { ack } else { ack + 1 };
        let answer = poll_answer(address, id, ack).await;
        assert_eq!(answer.status, 410, "{name}: close completed: {answer:?}");
    }
    tokio::time::timeout(PATIENCE, stopping)
        .await
        .expect("the server stops once its sessions have ended")
        .unwrap();
    assert!(
        TcpStream::connect(address).await.is_err(),
        "{name}: stopped servers refuse connections"
    );
    // The application's streams ended with the shutdown's reason.
    if adapter != Adapter::Custom {
        let shutdown = format!(
            "{:?}",
            CloseReason::ServerClosed(Some(CloseFrame::new(GOING_AWAY, SHUTDOWN_REASON)))
        );
        for session in ["A", "B", "C"] {
            let end = tokio::time::timeout(PATIENCE, ends.recv())
                .await
                .expect("the handler ends")
                .expect("an end");
            assert_eq!(
                end,
                Some(Err(shutdown.clone())),
                "{name}: session {session}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_shuts_down_gracefully() {
    let runs = Adapter::ALL.map(shuts_down_gracefully);
    futures_util::future::join_all(runs).await;
    println!(
        "shutdown: held polls answered with 1001, unacknowledged messages then the close frame, \
         sends in flight answered, opens refused 503, app streams ended with the shutdown reason \
         ({} adapters; the custom server's app is built in)",
        Adapter::ALL.len()
    );
}
