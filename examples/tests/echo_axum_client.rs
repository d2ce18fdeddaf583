//! `echo-axum` and the seed program driven by the Rust client over real TCP on 127.0.0.1,
//! including through a proxy that cuts poll responses mid-body and swallows send answers.

mod support;

use support::client::{next_message, quick_client};

use futures_util::{SinkExt, StreamExt};
use longpoll_client::Client;
use longpoll_core::Config;
use longpoll_examples::echo;
use longpoll_testkit::{Faults, proxy};
use longpoll_tokio::{CloseFrame, Message};
use std::sync::atomic::Ordering;
use std::time::Duration;

const BASE: &str = "/longpoll";

async fn echo_axum() -> std::net::SocketAddr {
    let (router, _) = echo::router(Config::default()).unwrap();
    support::serve(router).await
}

#[tokio::test]
async fn text_binary_and_large_messages_round_trip() {
    let address = echo_axum().await;
    let mut session = Client::new()
        .connect(&format!("http://{address}{BASE}"))
        .await
        .unwrap();
    session.send(Message::from("hello")).await.unwrap();
    session
        .send(Message::from(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    let large: Vec<u8> = (0..512 * 1024).map(|i| (i % 253) as u8).collect();
    session.send(Message::from(large.clone())).await.unwrap();
    assert_eq!(next_message(&mut session).await, Message::from("hello"));
    assert_eq!(
        next_message(&mut session).await,
        Message::from(vec![0u8, 1, 2, 255])
    );
    assert_eq!(next_message(&mut session).await, Message::from(large));
}

#[tokio::test]
async fn a_thousand_messages_arrive_in_order() {
    let address = echo_axum().await;
    let session = Client::new()
        .connect(&format!("http://{address}{BASE}"))
        .await
        .unwrap();
    let (mut tx, mut rx) = session.split();
    let sender = tokio::spawn(async move {
        for i in 0..1000 {
            tx.send(Message::from(format!("m{i}"))).await.unwrap();
        }
        tx
    });
    for i in 0..1000 {
        let message = tokio::time::timeout(Duration::from_secs(30), rx.next())
            .await
            .unwrap();
        assert_eq!(message.unwrap().unwrap(), Message::from(format!("m{i}")));
    }
    drop(sender.await.unwrap());
}

#[tokio::test]
async fn close_me_gets_the_close_frame_after_everything_before_it() {
    let address = echo_axum().await;
    let mut session = Client::new()
        .connect(&format!("http://{address}{BASE}"))
        .await
        .unwrap();
    session.send(Message::from("before")).await.unwrap();
    session.send(Message::from("close-me")).await.unwrap();
    assert_eq!(next_message(&mut session).await, Message::from("before"));
    assert_eq!(
        next_message(&mut session).await,
        Message::Close(Some(CloseFrame::new(4000, "requested")))
    );
    assert!(
        session.next().await.is_none(),
        "the stream ends after the close"
    );
}

#[tokio::test]
async fn cut_poll_responses_and_lost_send_answers_lose_nothing() {
    const MESSAGES: usize = 300;
    let address = echo_axum().await;
    for seed in [7u64, 0xfeed] {
        let faults = Faults {
            cut_polls: 10,
            drop_send_answers: 10,
            percent: 30,
        };
        let proxy = proxy(address, seed, faults).await;
        let session = quick_client().connect(&proxy.url(BASE)).await.unwrap();
        let (mut tx, mut rx) = session.split();
        let sender = tokio::spawn(async move {
            for i in 0..MESSAGES {
                tx.send(Message::from(format!("c{i}"))).await.unwrap();
            }
            tx
        });
        for i in 0..MESSAGES {
            let message = tokio::time::timeout(Duration::from_secs(30), rx.next())
                .await
                .unwrap_or_else(|_| panic!("seed {seed}: message {i} did not arrive"));
            assert_eq!(
                message.unwrap().unwrap(),
                Message::from(format!("c{i}")),
                "seed {seed}"
            );
        }
        let mut tx = sender.await.unwrap();
        tx.close().await.unwrap();
        let counts = &proxy.counts;
        assert!(
            counts.polls_cut.load(Ordering::SeqCst) > 0,
            "seed {seed}: no poll was cut"
        );
        assert!(
            counts.send_answers_dropped.load(Ordering::SeqCst) > 0,
            "seed {seed}"
        );
        println!(
            "faults seed {seed}: {} poll responses cut ({} mid-body), {} send answers lost; \
             {MESSAGES} echoes arrived once each, in order",
            counts.polls_cut.load(Ordering::SeqCst),
            counts.polls_cut_mid_body.load(Ordering::SeqCst),
            counts.send_answers_dropped.load(Ordering::SeqCst),
        );
    }
}

#[tokio::test]
async fn the_seed_program_echoes_through_the_rust_client() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut seed = std::process::Command::new(env!("CARGO_BIN_EXE_seed"))
        .arg(format!("127.0.0.1:{port}"))
        .spawn()
        .expect("the seed program starts");
    let base = format!("http://127.0.0.1:{port}/session");
    let mut session = None;
    for _ in 0..100 {
        match Client::new().connect(&base).await {
            Ok(opened) => {
                session = Some(opened);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let mut session = session.expect("the seed program accepts a session");
    session.send(Message::from("ping")).await.unwrap();
    session.send(Message::from(vec![1u8, 2, 3])).await.unwrap();
    let first = next_message(&mut session).await;
    let second = next_message(&mut session).await;
    let _ = seed.kill();
    let _ = seed.wait();
    assert_eq!(first, Message::from("ping"));
    assert_eq!(second, Message::from(vec![1u8, 2, 3]));
}
