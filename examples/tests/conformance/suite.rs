//! The protocol v1 contract, once, for every server: each check speaks raw HTTP/1.1 to an
//! echo server (protocol at `/longpoll`, every message echoed with its kind, `close-me`
//! closes with 4000 "requested") started with [`POLL_TIMEOUT`] and [`IDLE_TIMEOUT`].

use super::support::*;
use longpoll_core::SessionParams;
use longpoll_core::wire::Frame;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// The mount path every echo server uses.
pub(crate) const BASE: &str = "/longpoll";
/// The poll hold the servers are started with.
pub(crate) const POLL_TIMEOUT: Duration = Duration::from_millis(500);
/// The idle timeout the servers are started with.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_millis(1_500);

/// Runs every check against the server at `address`; returns how many ran.
pub(crate) async fn run(name: &str, address: SocketAddr) -> usize {
    let checks: Vec<(&str, Check)> = vec![
        (
            "open",
            Box::new(|a| Box::pin(open_answers_201_with_parameters(a))),
        ),
        (
            "echo",
            Box::new(|a| Box::pin(text_and_binary_echo_in_order(a))),
        ),
        (
            "hold",
            Box::new(|a| Box::pin(empty_poll_is_held_then_204(a))),
        ),
        (
            "order",
            Box::new(|a| Box::pin(thousand_messages_in_order(a))),
        ),
        (
            "large",
            Box::new(|a| Box::pin(largest_message_round_trips(a))),
        ),
        (
            "retry",
            Box::new(|a| Box::pin(retried_posts_deliver_once(a))),
        ),
        (
            "resend",
            Box::new(|a| Box::pin(lost_poll_answers_are_sent_again(a))),
        ),
        (
            "abandoned-poll",
            Box::new(|a| Box::pin(abandoned_poll_loses_nothing(a))),
        ),
        (
            "overlap",
            Box::new(|a| Box::pin(newer_poll_supersedes_older(a))),
        ),
        (
            "limits",
            Box::new(|a| Box::pin(oversize_is_413_and_harmless(a))),
        ),
        (
            "backpressure",
            Box::new(|a| Box::pin(full_buffers_hold_then_503_and_lose_nothing(a))),
        ),
        (
            "refusals",
            Box::new(|a| Box::pin(refusals_have_their_status(a))),
        ),
        ("delete", Box::new(|a| Box::pin(delete_then_410(a)))),
        (
            "close",
            Box::new(|a| Box::pin(close_me_flushes_then_closes(a))),
        ),
        (
            "reaping",
            Box::new(|a| Box::pin(idle_sessions_are_reaped(a))),
        ),
    ];
    let count = checks.len();
    for (check, run) in checks {
        let started = Instant::now();
        let outcome = tokio::time::timeout(Duration::from_secs(60), tokio::spawn(run(address)))
            .await
            .unwrap_or_else(|_| panic!("{name}: check `{check}` did not finish in 60 s"));
        if let Err(error) = outcome {
            let message = error.try_into_panic().ok().and_then(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            });
            panic!(
                "{name}: check `{check}` failed: {}",
                message.unwrap_or_default()
            );
        }
        eprintln!("conformance: {name}: {check} ok ({:?})", started.elapsed());
    }
    count
}

type Check = Box<dyn Fn(SocketAddr) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>;

/// Keeps a session alive (refused requests do not count as activity) by polling from `ack`
/// until frames arrive, which it returns.
fn poll_until_frames(
    address: SocketAddr,
    id: &str,
    ack: u64,
) -> tokio::task::JoinHandle<Vec<Frame>> {
    let id = id.to_string();
    tokio::spawn(async move {
        loop {
            let answer = poll(address, BASE, &id, ack).await;
            match answer.status {
                200 => return answer.frames().1,
                204 => continue,
                other => panic!("keep-alive poll answered {other}: {}", answer.text()),
            }
        }
    })
}

async fn open_answers_201_with_parameters(address: SocketAddr) {
    let answer = http(address, "POST", BASE, &[], b"").await;
    assert_eq!(answer.status, 201, "{answer:?}");
    assert!(
        answer
            .header("content-type")
            .is_some_and(|v| v.starts_with("application/json"))
    );
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let params = SessionParams::from_json(&answer.text()).expect("open JSON");
    assert_eq!(params.poll_timeout, POLL_TIMEOUT);
    assert_eq!(params.idle_timeout, IDLE_TIMEOUT);
    assert!(params.id.len() >= 22, "ids carry at least 128 bits");
}

async fn text_and_binary_echo_in_order(address: SocketAddr) {
    let id = open(address, BASE).await;
    let sent = vec![
        text("héllo"),
        binary(vec![0u8, 255, 7]),
        text(""),
        binary(Vec::new()),
    ];
    assert_eq!(post_frames(address, BASE, &id, 0, &sent).await.status, 204);
    assert_eq!(collect(address, BASE, &id, 0, sent.len()).await, sent);
}

async fn empty_poll_is_held_then_204(address: SocketAddr) {
    let id = open(address, BASE).await;
    let started = Instant::now();
    let answer = poll(address, BASE, &id, 0).await;
    assert_eq!(answer.status, 204, "{answer:?}");
    assert!(answer.body.is_empty());
    let held = started.elapsed();
    assert!(
        held >= POLL_TIMEOUT - Duration::from_millis(50),
        "held only {held:?}"
    );
}

async fn thousand_messages_in_order(address: SocketAddr) {
    let id = open(address, BASE).await;
    let frames: Vec<Frame> = (0..1000).map(|i| text(&format!("message {i}"))).collect();
    for (n, batch) in frames.chunks(100).enumerate() {
        let answer = post_frames(address, BASE, &id, (n * 100) as u64, batch).await;
        assert_eq!(answer.status, 204, "{answer:?}");
    }
    assert_eq!(collect(address, BASE, &id, 0, 1000).await, frames);
}

async fn largest_message_round_trips(address: SocketAddr) {
    let id = open(address, BASE).await;
    let payload: Vec<u8> = (0..512 * 1024).map(|i| (i % 251) as u8).collect();
    let frame = binary(payload);
    let answer = post_frames(address, BASE, &id, 0, std::slice::from_ref(&frame)).await;
    assert_eq!(answer.status, 204, "{}", answer.text());
    assert_eq!(collect(address, BASE, &id, 0, 1).await, vec![frame]);
}

async fn retried_posts_deliver_once(address: SocketAddr) {
    let id = open(address, BASE).await;
    assert_eq!(
        post_frames(address, BASE, &id, 0, &[text("a"), text("b")])
            .await
            .status,
        204
    );
    // The answer was lost: the same frames again, and a longer retry overlapping them.
    assert_eq!(
        post_frames(address, BASE, &id, 0, &[text("a"), text("b")])
            .await
            .status,
        204
    );
    let longer = [text("b"), text("c")];
    assert_eq!(
        post_frames(address, BASE, &id, 1, &longer).await.status,
        204
    );
    assert_eq!(
        collect(address, BASE, &id, 0, 3).await,
        vec![text("a"), text("b"), text("c")]
    );
    assert_eq!(
        poll(address, BASE, &id, 3).await.status,
        204,
        "nothing came twice"
    );
}

async fn lost_poll_answers_are_sent_again(address: SocketAddr) {
    let id = open(address, BASE).await;
    post_frames(address, BASE, &id, 0, &[text("x"), text("y")]).await;
    // The application may echo one at a time: poll from 0, acknowledging nothing, until the
    // answer has both (so the answer that is "lost" below is the whole of it).
    let mut first = poll(address, BASE, &id, 0).await.frames();
    for _ in 0..1_000 {
        if first.1.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        first = poll(address, BASE, &id, 0).await.frames();
    }
    assert_eq!(first, (0, vec![text("x"), text("y")]));
    let again = poll(address, BASE, &id, 0).await;
    assert_eq!(again.frames(), first, "same ack, same frames");
    // Acknowledging one releases it; the rest is still there.
    assert_eq!(
        poll(address, BASE, &id, 1).await.frames(),
        (1, vec![text("y")])
    );
}

async fn abandoned_poll_loses_nothing(address: SocketAddr) {
    let id = open(address, BASE).await;
    // A poll whose client goes away while it is held.
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {BASE}/{id}?ack=0 HTTP/1.1\r\nHost: x\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(stream);
    tokio::time::sleep(Duration::from_millis(100)).await;
    post_frames(address, BASE, &id, 0, &[text("kept")]).await;
    assert_eq!(collect(address, BASE, &id, 0, 1).await, vec![text("kept")]);
}

async fn newer_poll_supersedes_older(address: SocketAddr) {
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
    let older = older.await.unwrap();
    assert_eq!(older.status, 409, "{older:?}");
    post_frames(address, BASE, &id, 0, &[text("kept")]).await;
    let newer = newer.await.unwrap();
    assert_eq!(
        newer.frames(),
        (0, vec![text("kept")]),
        "the session survived the overlap"
    );
}

async fn oversize_is_413_and_harmless(address: SocketAddr) {
    let id = open(address, BASE).await;
    let target = format!("{BASE}/{id}?seq=0");
    let octets = ("Content-Type", "application/octet-stream");
    // A body over the 1 MiB default body limit.
    let big = encode(&[binary(vec![1u8; 600 * 1024]), binary(vec![2u8; 500 * 1024])]);
    assert_eq!(
        http(address, "POST", &target, &[octets], &big).await.status,
        413
    );
    // A frame claiming more than the message limit.
    let mut claim = encode(&[binary(vec![1u8; 10])]);
    claim[1..5].copy_from_slice(&(600 * 1024u32).to_be_bytes());
    assert_eq!(
        http(address, "POST", &target, &[octets], &claim)
            .await
            .status,
        413
    );
    assert_eq!(
        post_frames(address, BASE, &id, 0, &[text("fine")])
            .await
            .status,
        204
    );
    assert_eq!(collect(address, BASE, &id, 0, 1).await, vec![text("fine")]);
}

async fn full_buffers_hold_then_503_and_lose_nothing(address: SocketAddr) {
    // Nobody polls, so echoes pile up in the outbound buffer, the echo handler waits, and the
    // inbound buffer fills: a POST is held, then refused with 503 and Retry-After.
    let id = open(address, BASE).await;
    let mut seq = 0u64;
    let mut refused = None;
    for _ in 0..16 {
        let batch: Vec<Frame> = (seq..seq + 1024).map(|i| text(&i.to_string())).collect();
        let answer = post_frames(address, BASE, &id, seq, &batch).await;
        match answer.status {
            204 => seq += 1024,
            503 => {
                refused = Some(answer);
                break;
            }
            other => panic!("unexpected {other}: {}", answer.text()),
        }
    }
    let refused = refused.expect("the buffers must fill up and refuse with 503");
    assert!(
        refused
            .header("retry-after")
            .is_some_and(|v| v.parse::<u64>().is_ok())
    );
    // Draining the echoes makes room; the refused batch then goes through, and every message
    // arrives once, in order.
    let mut ack = 0;
    let mut accepted = seq;
    let total = seq + 1024;
    while ack < total {
        if accepted < total {
            let batch: Vec<Frame> = (accepted..total).map(|i| text(&i.to_string())).collect();
            if post_frames(address, BASE, &id, accepted, &batch)
                .await
                .status
                == 204
            {
                accepted = total;
            }
        }
        let answer = poll(address, BASE, &id, ack).await;
        if answer.status == 200 {
            let (first, frames) = answer.frames();
            assert_eq!(first, ack);
            for (i, frame) in frames.iter().enumerate() {
                assert_eq!(
                    *frame,
                    text(&(ack + i as u64).to_string()),
                    "in order, once"
                );
            }
            ack += frames.len() as u64;
        }
    }
}

async fn refusals_have_their_status(address: SocketAddr) {
    let id = open(address, BASE).await;
    let held = poll_until_frames(address, &id, 0);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let session = format!("{BASE}/{id}");
    let octets = ("Content-Type", "application/octet-stream");
    let x = encode(&[text("x")]);
    type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, Vec<u8>, u16);
    let cases: Vec<Case> = vec![
        (
            "POST",
            format!("{session}?seq=0"),
            vec![("Content-Type", "text/plain")],
            x.clone(),
            415,
        ),
        (
            "POST",
            format!("{session}?seq=0"),
            vec![("Content-Type", "application/x-www-form-urlencoded")],
            x.clone(),
            415,
        ),
        ("POST", session.clone(), vec![octets], x.clone(), 400),
        (
            "POST",
            format!("{session}?seq=x"),
            vec![octets],
            x.clone(),
            400,
        ),
        (
            "POST",
            format!("{session}?seq=0"),
            vec![octets],
            b"\x01\x00\x00\x00\x05hi".to_vec(),
            400,
        ),
        (
            "POST",
            format!("{session}?seq=0"),
            vec![octets],
            b"\x09\x00\x00\x00\x00".to_vec(),
            400,
        ),
        (
            "POST",
            format!("{session}?seq=0"),
            vec![octets],
            b"\x01\x00\x00\x00\x01\xff".to_vec(),
            400,
        ),
        (
            "POST",
            format!("{session}?seq=0"),
            vec![octets],
            b"\x03\x00\x00\x00\x01\x03".to_vec(),
            400,
        ),
        (
            "POST",
            format!("{session}?seq=7"),
            vec![octets],
            x.clone(),
            409,
        ),
        ("GET", session.clone(), vec![], vec![], 400),
        ("GET", format!("{session}?ack=-1"), vec![], vec![], 400),
        ("GET", format!("{session}?ack=1"), vec![], vec![], 400),
        (
            "GET",
            format!("{session}?ack=99999999999999999999"),
            vec![],
            vec![],
            400,
        ),
        ("PUT", session.clone(), vec![], vec![], 405),
        ("PATCH", session.clone(), vec![], vec![], 405),
        ("GET", BASE.to_string(), vec![], vec![], 405),
        ("DELETE", BASE.to_string(), vec![], vec![], 405),
        (
            "GET",
            format!("{BASE}/0123456789abcdef0123456789abcdef?ack=0"),
            vec![],
            vec![],
            404,
        ),
        (
            "POST",
            format!("{BASE}/0123456789abcdef0123456789abcdef?seq=0"),
            vec![octets],
            x.clone(),
            404,
        ),
        (
            "DELETE",
            format!("{BASE}/0123456789abcdef0123456789abcdef"),
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
            format!("{BASE}/../etc/passwd?ack=0"),
            vec![],
            vec![],
            404,
        ),
        ("GET", format!("{session}/more?ack=0"), vec![], vec![], 404),
    ];
    for (method, target, headers, body, status) in cases {
        let answer = http(address, method, &target, &headers, &body).await;
        assert_eq!(
            answer.status,
            status,
            "{method} {target}: {}",
            answer.text()
        );
        assert_eq!(
            answer.header("cache-control"),
            Some("no-store"),
            "{method} {target}"
        );
        match status {
            405 => assert!(answer.header("allow").is_some(), "{method} {target}: Allow"),
            409 => assert_eq!(answer.header("longpoll-expected-seq"), Some("0")),
            _ => {}
        }
    }
    assert_eq!(
        post_frames(address, BASE, &id, 0, &[text("ok")])
            .await
            .status,
        204
    );
    assert_eq!(held.await.unwrap(), vec![text("ok")], "nothing was harmed");
}

async fn delete_then_410(address: SocketAddr) {
    let id = open(address, BASE).await;
    let session = format!("{BASE}/{id}");
    assert_eq!(
        http(address, "DELETE", &session, &[], b"").await.status,
        204
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
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
        "idempotent"
    );
}

async fn close_me_flushes_then_closes(address: SocketAddr) {
    let id = open(address, BASE).await;
    let sent = [text("one"), binary(b"two".to_vec()), text("close-me")];
    assert_eq!(post_frames(address, BASE, &id, 0, &sent).await.status, 204);
    let frames = collect(address, BASE, &id, 0, 3).await;
    assert_eq!(
        frames,
        vec![
            text("one"),
            binary(b"two".to_vec()),
            close(4000, "requested")
        ]
    );
    // POSTs are refused while closing; acknowledging the close frame completes it.
    assert_eq!(
        post_frames(address, BASE, &id, 3, &[text("late")])
            .await
            .status,
        410
    );
    assert_eq!(poll(address, BASE, &id, 3).await.status, 410);
}

async fn idle_sessions_are_reaped(address: SocketAddr) {
    let id = open(address, BASE).await;
    let kept = open(address, BASE).await;
    // Keep one alive by polling; leave the other alone.
    let started = Instant::now();
    while started.elapsed() < IDLE_TIMEOUT + Duration::from_millis(500) {
        let answer = poll(address, BASE, &kept, 0).await;
        assert_eq!(answer.status, 204, "the polled session lives: {answer:?}");
    }
    assert_eq!(
        poll(address, BASE, &id, 0).await.status,
        410,
        "the idle session was reaped"
    );
}
