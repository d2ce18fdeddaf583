//! `echo-axum`'s router over real TCP, spoken to in raw HTTP/1.1 as a new user would: every
//! row of `PROTOCOL.md`'s status tables, ordering, large messages, overlap, limits, close,
//! reaping and a panicking handler.

mod support;

use bytes::Bytes;
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
async fn open_answers_201_with_the_session_parameters() {
    let (address, registry) = echo_server(Config::default()).await;
    let answer = http(address, "POST", BASE, &[], b"").await;
    assert_eq!(answer.status, 201);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let params = longpoll_core::SessionParams::from_json(&answer.text()).unwrap();
    assert_eq!(params.id.len(), 32);
    assert_eq!(params.poll_timeout, Duration::from_secs(25));
    assert_eq!(registry.len(), 1);
}

#[tokio::test]
async fn text_and_binary_are_echoed_with_their_kind_in_order() {
    let (address, _) = echo_server(quick_config()).await;
    let id = open(address, BASE).await;
    let sent = vec![text("héllo"), binary(vec![0u8, 255, 7]), text("")];
    let accepted = post_frames(address, BASE, &id, 0, &sent).await;
    assert_eq!(accepted.status, 204, "{accepted:?}");
    assert_eq!(collect(address, BASE, &id, 0, 3).await, sent);
}

#[tokio::test]
async fn a_poll_with_nothing_to_send_is_held_then_answered_204() {
    let (address, _) = echo_server(quick_config()).await;
    let id = open(address, BASE).await;
    let started = Instant::now();
    let answer = poll(address, BASE, &id, 0).await;
    assert_eq!(answer.status, 204);
    assert!(answer.body.is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "held for the poll timeout"
    );
}

#[tokio::test]
async fn thousand_messages_arrive_in_order() {
    let (address, _) = echo_server(Config::default()).await;
    let id = open(address, BASE).await;
    let frames: Vec<Frame> = (0..1000).map(|i| text(&format!("message {i}"))).collect();
    for (chunk, batch) in frames.chunks(100).enumerate() {
        let answer = post_frames(address, BASE, &id, (chunk * 100) as u64, batch).await;
        assert_eq!(answer.status, 204);
    }
    assert_eq!(collect(address, BASE, &id, 0, 1000).await, frames);
}

#[tokio::test]
async fn a_512_kib_message_round_trips() {
    let (address, _) = echo_server(Config::default()).await;
    let id = open(address, BASE).await;
    let payload: Vec<u8> = (0..512 * 1024).map(|i| (i % 251) as u8).collect();
    let frame = binary(payload);
    assert_eq!(
        post_frames(address, BASE, &id, 0, std::slice::from_ref(&frame))
            .await
            .status,
        204
    );
    assert_eq!(collect(address, BASE, &id, 0, 1).await, vec![frame]);
}

#[tokio::test]
async fn a_retried_post_is_accepted_and_not_delivered_twice() {
    let (address, _) = echo_server(quick_config()).await;
    let id = open(address, BASE).await;
    let batch = [text("a"), text("b")];
    assert_eq!(post_frames(address, BASE, &id, 0, &batch).await.status, 204);
    // The answer was "lost": the client sends the same again, plus one more.
    let retry = [text("a"), text("b"), text("c")];
    assert_eq!(post_frames(address, BASE, &id, 0, &retry).await.status, 204);
    assert_eq!(collect(address, BASE, &id, 0, 3).await, retry);
    let answer = poll(address, BASE, &id, 3).await;
    assert_eq!(answer.status, 204, "nothing was echoed twice");
}

#[tokio::test]
async fn a_lost_poll_answer_is_sent_again() {
    let (address, _) = echo_server(quick_config()).await;
    let id = open(address, BASE).await;
    post_frames(address, BASE, &id, 0, &[text("x"), text("y")]).await;
    let first = collect(address, BASE, &id, 0, 2).await;
    // Polling again with the same ack (the answer never reached the client) re-sends.
    let again = poll(address, BASE, &id, 0).await;
    assert_eq!(again.frames(), (0, first));
}

#[tokio::test]
async fn overlapping_polls_supersede_the_older_and_lose_nothing() {
    let (address, _) = echo_server(quick_config()).await;
    let id = open(address, BASE).await;
    let older = tokio::spawn({
        let id = id.clone();
        async move { poll(address, BASE, &id, 0).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let newer = tokio::spawn({
        let id = id.clone();
        async move { poll(address, BASE, &id, 0).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let older = older.await.unwrap();
    assert_eq!(older.status, 409, "{older:?}");
    assert!(older.text().contains("superseded"));
    post_frames(address, BASE, &id, 0, &[text("kept")]).await;
    let newer = newer.await.unwrap();
    assert_eq!(newer.frames(), (0, vec![text("kept")]));
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
async fn every_refusal_has_its_status_and_harms_nothing() {
    let (address, _) = echo_server(quick_config()).await;
    let id = open(address, BASE).await;
    let session = format!("{BASE}/{id}");
    let ct = ("Content-Type", "application/octet-stream");
    // (method, target, headers, body, expected status)
    type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, Vec<u8>, u16);
    let cases: Vec<Case> = vec![
        (
            "POST",
            format!("{session}?seq=0"),
            vec![("Content-Type", "text/plain")],
            encode(&[text("x")]),
            415,
        ),
        (
            "POST",
            format!("{session}?seq=0"),
            vec![],
            encode(&[text("x")]),
            415,
        ),
        ("POST", session.clone(), vec![ct], encode(&[text("x")]), 400),
        (
            "POST",
            format!("{session}?seq=-1"),
            vec![ct],
            encode(&[text("x")]),
            400,
        ),
        (
            "POST",
            format!("{session}?seq=0"),
            vec![ct],
            b"\x01\x00\x00\x00\x05hi".to_vec(),
            400,
        ),
        (
            "POST",
            format!("{session}?seq=0"),
            vec![ct],
            b"\x09\x00\x00\x00\x00".to_vec(),
            400,
        ),
        (
            "POST",
            format!("{session}?seq=0"),
            vec![ct],
            b"\x01\x00\x00\x00\x01\xff".to_vec(),
            400,
        ),
        (
            "POST",
            format!("{session}?seq=5"),
            vec![ct],
            encode(&[text("x")]),
            409,
        ),
        ("GET", session.clone(), vec![], vec![], 400),
        ("GET", format!("{session}?ack=abc"), vec![], vec![], 400),
        ("GET", format!("{session}?ack=1"), vec![], vec![], 400),
        (
            "GET",
            format!("{session}?ack=18446744073709551616"),
            vec![],
            vec![],
            400,
        ),
        ("PUT", session.clone(), vec![], vec![], 405),
        ("GET", BASE.to_string(), vec![], vec![], 405),
        (
            "GET",
            format!("{BASE}/0123456789abcdef0123456789abcdef?ack=0"),
            vec![],
            vec![],
            404,
        ),
        (
            "GET",
            format!("{BASE}/not-an-id?ack=0"),
            vec![],
            vec![],
            404,
        ),
        (
            "GET",
            format!("{BASE}/{id}/extra?ack=0"),
            vec![],
            vec![],
            404,
        ),
    ];
    for (method, target, headers, body, status) in cases {
        let answer = http(address, method, &target, &headers, &body).await;
        assert_eq!(
            answer.status,
            status,
            "{method} {target}: {}",
            answer.text()
        );
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        if status == 405 {
            assert!(answer.header("allow").is_some());
        }
        if status == 409 {
            assert_eq!(answer.header("longpoll-expected-seq"), Some("0"));
        }
    }
    // After all that, the session works and nothing was delivered.
    assert_eq!(
        post_frames(address, BASE, &id, 0, &[text("ok")])
            .await
            .status,
        204
    );
    assert_eq!(collect(address, BASE, &id, 0, 1).await, vec![text("ok")]);
}

#[tokio::test]
async fn delete_closes_and_later_requests_are_410() {
    let (address, registry) = echo_server(quick_config()).await;
    let id = open(address, BASE).await;
    let session = format!("{BASE}/{id}");
    assert_eq!(
        http(address, "DELETE", &session, &[], b"").await.status,
        204
    );
    wait_until(|| registry.is_empty(), Duration::from_secs(5)).await;
    assert_eq!(poll(address, BASE, &id, 0).await.status, 410);
    assert_eq!(
        post_frames(address, BASE, &id, 0, &[text("late")])
            .await
            .status,
        410
    );
    assert_eq!(
        http(address, "DELETE", &session, &[], b"").await.status,
        204,
        "DELETE is idempotent"
    );
}

#[tokio::test]
async fn close_me_delivers_what_came_before_then_the_close_frame() {
    let (address, _) = echo_server(quick_config()).await;
    let id = open(address, BASE).await;
    let sent = [
        text("one"),
        binary(Bytes::from_static(b"two")),
        text("close-me"),
    ];
    assert_eq!(post_frames(address, BASE, &id, 0, &sent).await.status, 204);
    let frames = collect(address, BASE, &id, 0, 3).await;
    assert_eq!(
        frames,
        vec![
            text("one"),
            binary(Bytes::from_static(b"two")),
            close(4000, "requested")
        ]
    );
    // Acknowledging the close frame completes the close.
    assert_eq!(poll(address, BASE, &id, 3).await.status, 410);
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
