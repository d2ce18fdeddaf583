//! Faults between client and server: a TCP proxy on 127.0.0.1 cuts poll responses mid-body
//! and swallows answers to sends (seeded, bounded). Every message still arrives exactly once
//! and in order, both ways.

mod support;

use futures_util::{SinkExt, StreamExt};
use longpoll_client::{Client, ClientConfig, Message};
use longpoll_tokio::Session;
use std::sync::atomic::Ordering;
use std::time::Duration;
use support::{Faults, bounded, echo, proxy, start};

const SEEDS: [u64; 3] = [1, 0x5eed, 0xdead_beef];
const MESSAGES: usize = 300;

/// Quick retries keep the test short; the schedule is the same.
fn client() -> Client {
    let mut config = ClientConfig::default();
    config.backoff_initial = Duration::from_millis(10);
    config.backoff_max = Duration::from_millis(100);
    Client::with_config(config)
}

/// Server messages in bursts, so they travel in many poll responses.
async fn stream_then_wait(mut session: Session) {
    for i in 0..MESSAGES {
        if session.send(Message::from(format!("s{i}"))).await.is_err() {
            return;
        }
        if i % 7 == 6 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    // Stay open until the client closes.
    while let Some(Ok(message)) = session.recv().await {
        if matches!(message, Message::Close(_)) {
            break;
        }
    }
}

#[tokio::test]
async fn cut_poll_responses_lose_nothing() {
    for seed in SEEDS {
        bounded(async {
            let server = start(stream_then_wait).await;
            let faults = Faults {
                cut_polls: 8,
                drop_send_answers: 0,
                percent: 40,
            };
            let proxy = proxy(server.addr, seed, faults).await;
            let mut session = client().connect(&proxy.url(support::BASE)).await.unwrap();
            for i in 0..MESSAGES {
                let message = session.recv().await.unwrap().unwrap();
                assert_eq!(
                    message.as_text(),
                    Some(format!("s{i}").as_str()),
                    "seed {seed}"
                );
            }
            let cut = proxy.counts.polls_cut.load(Ordering::SeqCst);
            assert!(cut >= 1, "seed {seed}: the proxy cut no poll response");
            let mid_body = proxy.counts.polls_cut_mid_body.load(Ordering::SeqCst);
            assert!(mid_body >= 1, "seed {seed}: no cut fell inside a body");
            // Nothing more (no duplicate) is waiting.
            let extra = tokio::time::timeout(Duration::from_millis(200), session.recv()).await;
            assert!(extra.is_err(), "seed {seed}: unexpected {extra:?}");
            session.close(None).await.unwrap();
            assert!(session.recv().await.is_none());
            eprintln!(
                "seed {seed}: {} poll responses with frames, {cut} cut ({mid_body} mid-body)",
                proxy.counts.poll_responses_seen.load(Ordering::SeqCst)
            );
        })
        .await;
    }
}

#[tokio::test]
async fn echo_through_cuts_and_lost_send_answers_is_exactly_once() {
    for seed in SEEDS {
        bounded(async {
            let server = start(echo).await;
            let faults = Faults {
                cut_polls: 6,
                drop_send_answers: 6,
                percent: 30,
            };
            let proxy = proxy(server.addr, seed, faults).await;
            let session = client().connect(&proxy.url(support::BASE)).await.unwrap();
            let (mut tx, mut rx) = session.split();
            let sender = tokio::spawn(async move {
                for i in 0..MESSAGES {
                    tx.send(Message::from(format!("c{i}"))).await.unwrap();
                    if i % 11 == 10 {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
                // A marker: anything duplicated would arrive before its echo.
                tx.send(Message::from("end")).await.unwrap();
                tx
            });
            for i in 0..MESSAGES {
                let message = rx.next().await.unwrap().unwrap();
                assert_eq!(
                    message.as_text(),
                    Some(format!("c{i}").as_str()),
                    "seed {seed}"
                );
            }
            let end = rx.next().await.unwrap().unwrap();
            assert_eq!(end.as_text(), Some("end"), "seed {seed}");
            let mut tx = sender.await.unwrap();
            let counts = &proxy.counts;
            let dropped = counts.send_answers_dropped.load(Ordering::SeqCst);
            let cut = counts.polls_cut.load(Ordering::SeqCst);
            assert!(dropped >= 1, "seed {seed}: no send answer was dropped");
            assert!(cut >= 1, "seed {seed}: no poll response was cut");
            tx.send(Message::Close(None)).await.unwrap();
            assert!(rx.next().await.is_none());
            eprintln!(
                "seed {seed}: {cut} of {} poll responses cut, {dropped} of {} send answers dropped",
                counts.poll_responses_seen.load(Ordering::SeqCst),
                counts.sends_seen.load(Ordering::SeqCst)
            );
        })
        .await;
    }
}
