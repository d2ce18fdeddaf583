//! axum-specific behaviour over real TCP in raw HTTP/1.1: bodies streamed without a length,
//! handlers that close or panic, and the registry reaping a thousand abandoned sessions. The
//! protocol contract itself (every status row, ordering, overlap, limits, close) is checked
//! once for every server by the conformance suite (`tests/conformance`).

mod support;

use longpoll_axum::{CloseFrame, LongPoll, Message, close_code};
use longpoll_core::Config;
use longpoll_core::wire::Frame;
use longpoll_examples::echo;
use std::time::{Duration, Instant};
use support::*;

const BASE: &str = "/longpoll";

fn quick_config() -> Config {
    let mut config = Config::default();
    config.poll_timeout = Duration::from_millis(400);
    config.inbound_hold_timeout = Duration::from_millis(200);
    config.idle_timeout = Duration::from_millis(1_500);
    config.gone_timeout = Duration::from_secs(5);
    config
}

async fn echo_server(config: Config) -> (std::net::SocketAddr, longpoll_axum::Registry) {
    let (router, registry) = echo::router(config).expect("valid config");
    (serve(router).await, registry)
}

#[tokio::test]
async fn oversize_posts_are_413_and_the_session_stays_fine() {
    let mut config = quick_config();
    config.max_body_bytes = 4096;
    config.max_message_bytes = 4000;
    let (address, _) = echo_server(config).await;
    let id = open(address, BASE).await;
    let big = encode(&[binary(vec![1u8; 5000])]);
    let target = format!("{BASE}/{id}?seq=0");
    let ct = ("Content-Type", "application/octet-stream");
    // Declared too long.
    assert_eq!(
        http(address, "POST", &target, &[ct], &big).await.status,
        413
    );
    // Streamed without a length (chunked), found too long while reading.
    let chunked = chunk(&big);
    let answer = http(
        address,
        "POST",
        &target,
        &[ct, ("Transfer-Encoding", "chunked")],
        &chunked,
    )
    .await;
    assert_eq!(answer.status, 413, "{answer:?}");
    // A frame claiming more than the message limit, in a small body.
    let claim = encode(&[binary(vec![1u8; 10])]);
    let mut claim = claim;
    claim[1..5].copy_from_slice(&5000u32.to_be_bytes());
    assert_eq!(
        http(address, "POST", &target, &[ct], &claim).await.status,
        413
    );
    // The session is untouched.
    assert_eq!(
        post_frames(address, BASE, &id, 0, &[text("still here")])
            .await
            .status,
        204
    );
    assert_eq!(
        collect(address, BASE, &id, 0, 1).await,
        vec![text("still here")]
    );
}

fn chunk(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(1000) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[tokio::test]
async fn a_server_close_flushes_queued_messages_first() {
    let mount = LongPoll::new(quick_config())
        .unwrap()
        .mount(|mut session| async move {
            for i in 0..5 {
                session
                    .send(Message::from(format!("queued {i}")))
                    .await
                    .unwrap();
            }
            session
                .close(Some(CloseFrame::new(4001, "done")))
                .await
                .unwrap();
            // Whatever the client does next, the stream ends.
            while session.recv().await.is_some() {}
        });
    let (router, _) = echo::router_for(mount);
    let address = serve(router).await;
    let id = open(address, BASE).await;
    let frames = collect(address, BASE, &id, 0, 6).await;
    let mut expected: Vec<Frame> = (0..5).map(|i| text(&format!("queued {i}"))).collect();
    expected.push(close(4001, "done"));
    assert_eq!(frames, expected);
}

#[tokio::test]
async fn a_panicking_handler_closes_its_session_and_the_server_keeps_serving() {
    let mount = LongPoll::new(quick_config())
        .unwrap()
        .mount(|mut session| async move {
            if let Some(Ok(Message::Text(text))) = session.recv().await
                && text.as_str() == "panic"
            {
                panic!("the handler panics on purpose");
            }
            echo::echo(session).await;
        });
    let (router, registry) = echo::router_for(mount);
    let address = serve(router).await;
    let doomed = open(address, BASE).await;
    post_frames(address, BASE, &doomed, 0, &[text("panic")]).await;
    let frames = collect(address, BASE, &doomed, 0, 1).await;
    assert_eq!(
        frames,
        vec![close(close_code::INTERNAL_ERROR, "handler panicked")]
    );
    assert_eq!(poll(address, BASE, &doomed, 1).await.status, 410);
    wait_until(|| registry.is_empty(), Duration::from_secs(5)).await;
    // A new session on the same server works.
    let fine = open(address, BASE).await;
    post_frames(address, BASE, &fine, 0, &[text("first"), text("hello")]).await;
    assert_eq!(
        collect(address, BASE, &fine, 0, 1).await,
        vec![text("hello")]
    );
}

#[tokio::test]
async fn a_thousand_abandoned_sessions_are_reaped_within_the_idle_timeout() {
    let config = quick_config();
    let idle = config.idle_timeout;
    let (address, registry) = echo_server(config).await;
    let mut ids = Vec::new();
    for _ in 0..1000 {
        ids.push(open(address, BASE).await);
    }
    let opened = Instant::now();
    assert_eq!(registry.len(), 1000);
    // Every session was opened at most `opened - first open` ago; all must be gone within
    // the idle timeout of the last open, plus scheduling slack.
    wait_until(|| registry.is_empty(), idle + Duration::from_secs(2)).await;
    let took = opened.elapsed();
    println!("1000 abandoned sessions reaped {took:?} after the last open (idle timeout {idle:?})");
    assert!(
        took >= idle - Duration::from_millis(50),
        "reaped before the idle timeout: {took:?}"
    );
    assert_eq!(
        poll(address, BASE, &ids[0], 0).await.status,
        410,
        "a reaped id is gone"
    );
}

async fn wait_until(condition: impl Fn() -> bool, limit: Duration) {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < limit,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
