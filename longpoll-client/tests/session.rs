//! The client against a real server over TCP on 127.0.0.1: round trips, volume, the largest
//! message, and closes from either side.

mod support;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use longpoll_client::{Client, CloseFrame, CloseReason, Error, Message};
use longpoll_tokio::Session;
use std::time::Duration;
use support::{bounded, echo, start};
use tokio::sync::mpsc;

/// The default server limit: exactly this many payload bytes are allowed per message.
const MAX_MESSAGE: usize = 512 * 1024;

#[tokio::test]
async fn text_and_binary_round_trip() {
    bounded(async {
        let server = start(echo).await;
        let mut session = Client::new().connect(&server.base_url()).await.unwrap();
        assert_eq!(session.id().len(), 32);

        session.send(Message::from("hello")).await.unwrap();
        session.send(Message::from("héllo wörld")).await.unwrap();
        session.send(Message::from("")).await.unwrap();
        let binary = Bytes::from_static(&[0, 1, 2, 0xff, 0xfe]);
        session.send(Message::Binary(binary.clone())).await.unwrap();
        session.send(Message::Binary(Bytes::new())).await.unwrap();

        assert_eq!(
            session.recv().await.unwrap().unwrap(),
            Message::from("hello")
        );
        assert_eq!(
            session.recv().await.unwrap().unwrap(),
            Message::from("héllo wörld")
        );
        assert_eq!(session.recv().await.unwrap().unwrap(), Message::from(""));
        assert_eq!(
            session.recv().await.unwrap().unwrap(),
            Message::Binary(binary)
        );
        assert_eq!(
            session.recv().await.unwrap().unwrap(),
            Message::Binary(Bytes::new())
        );

        session.close(None).await.unwrap();
        assert!(
            session.recv().await.is_none(),
            "our own close ends the stream quietly"
        );
        assert_eq!(
            session.close_reason(),
            Some(&CloseReason::ClientClosed(None))
        );
    })
    .await;
}

#[tokio::test]
async fn a_thousand_messages_arrive_in_order() {
    bounded(async {
        let server = start(echo).await;
        let session = Client::new().connect(&server.base_url()).await.unwrap();
        let (mut tx, mut rx) = session.split();
        let sender = tokio::spawn(async move {
            for i in 0..1000 {
                let message = if i % 2 == 0 {
                    Message::from(format!("message {i}"))
                } else {
                    Message::from(format!("message {i}").into_bytes())
                };
                tx.send(message).await.unwrap();
            }
            tx
        });
        for i in 0..1000 {
            let message = rx.next().await.unwrap().unwrap();
            assert_eq!(
                message.as_bytes().unwrap().as_ref(),
                format!("message {i}").as_bytes(),
                "message {i}"
            );
            assert_eq!(matches!(message, Message::Text(_)), i % 2 == 0);
        }
        let mut tx = sender.await.unwrap();
        tx.send(Message::Close(None)).await.unwrap();
        assert!(rx.next().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn the_largest_message_round_trips_and_a_larger_one_is_refused() {
    bounded(async {
        let server = start(echo).await;
        let mut session = Client::new().connect(&server.base_url()).await.unwrap();

        let binary: Vec<u8> = (0..MAX_MESSAGE).map(|i| (i % 251) as u8).collect();
        session.send(Message::from(binary.clone())).await.unwrap();
        let text = "x".repeat(MAX_MESSAGE);
        session.send(Message::from(text.clone())).await.unwrap();

        let too_large = session
            .send(Message::from(vec![0u8; MAX_MESSAGE + 1]))
            .await;
        assert_eq!(
            too_large,
            Err(Error::TooLarge {
                len: MAX_MESSAGE + 1,
                max: MAX_MESSAGE
            })
        );

        let echoed = session.recv().await.unwrap().unwrap();
        assert_eq!(echoed, Message::from(binary));
        let echoed = session.recv().await.unwrap().unwrap();
        assert_eq!(echoed.as_text(), Some(text.as_str()));
        session.close(None).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_client_close_reaches_the_handler_after_every_message() {
    bounded(async {
        let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
        let server = start(move |mut session: Session| {
            let seen = seen_tx.clone();
            async move {
                while let Some(item) = session.recv().await {
                    let done = matches!(item, Ok(Message::Close(_)) | Err(_));
                    let _ = seen.send(item);
                    if done {
                        break;
                    }
                }
            }
        })
        .await;
        let mut session = Client::new().connect(&server.base_url()).await.unwrap();
        session.send(Message::from("one")).await.unwrap();
        session.send(Message::from("two")).await.unwrap();
        let frame = CloseFrame::new(4001, "bye now");
        session.close(Some(frame.clone())).await.unwrap();
        assert!(session.recv().await.is_none());
        assert_eq!(
            session.close_reason(),
            Some(&CloseReason::ClientClosed(Some(frame.clone())))
        );

        assert_eq!(seen_rx.recv().await, Some(Ok(Message::from("one"))));
        assert_eq!(seen_rx.recv().await, Some(Ok(Message::from("two"))));
        assert_eq!(seen_rx.recv().await, Some(Ok(Message::Close(Some(frame)))));
        // Sending after the close fails.
        assert!(session.send(Message::from("late")).await.is_err());
    })
    .await;
}

#[tokio::test]
async fn dropping_the_session_closes_it() {
    bounded(async {
        let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
        let server = start(move |mut session: Session| {
            let seen = seen_tx.clone();
            async move {
                while let Some(item) = session.recv().await {
                    let _ = seen.send(item);
                }
            }
        })
        .await;
        let mut session = Client::new().connect(&server.base_url()).await.unwrap();
        session.send(Message::from("last words")).await.unwrap();
        drop(session);
        assert_eq!(seen_rx.recv().await, Some(Ok(Message::from("last words"))));
        assert_eq!(seen_rx.recv().await, Some(Ok(Message::Close(None))));
    })
    .await;
}

#[tokio::test]
async fn a_server_close_comes_after_every_queued_message() {
    bounded(async {
        let (reason_tx, mut reason_rx) = mpsc::unbounded_channel();
        let server = start(move |mut session: Session| {
            let reason_tx = reason_tx.clone();
            async move {
                for i in 0..200 {
                    session
                        .send(Message::from(format!("queued {i}")))
                        .await
                        .unwrap();
                }
                let frame = CloseFrame::new(4000, "requested");
                session.close(Some(frame)).await.unwrap();
                // The stream ends once the client has completed the close.
                while session.recv().await.is_some() {}
                let _ = reason_tx.send(session.close_reason().cloned());
            }
        })
        .await;
        let mut session = Client::new().connect(&server.base_url()).await.unwrap();
        for i in 0..200 {
            let message = session.recv().await.unwrap().unwrap();
            assert_eq!(message.as_text(), Some(format!("queued {i}").as_str()));
        }
        let expected = CloseFrame::new(4000, "requested");
        assert_eq!(
            session.recv().await.unwrap().unwrap(),
            Message::Close(Some(expected.clone()))
        );
        assert!(session.recv().await.is_none());
        assert_eq!(
            session.close_reason(),
            Some(&CloseReason::ServerClosed(Some(expected.clone())))
        );
        assert!(session.send(Message::from("late")).await.is_err());

        // The client completes the close with a DELETE, long before the server's idle
        // timeout (35 s) would have.
        let reason = tokio::time::timeout(Duration::from_secs(10), reason_rx.recv())
            .await
            .expect("the server session ended promptly")
            .unwrap();
        assert_eq!(reason, Some(CloseReason::ServerClosed(Some(expected))));
        assert_eq!(server.log.count("DELETE "), 1);
    })
    .await;
}

#[tokio::test]
async fn many_sessions_share_one_client() {
    bounded(async {
        let server = start(echo).await;
        let client = Client::new();
        let mut tasks = Vec::new();
        for n in 0..20 {
            let client = client.clone();
            let url = server.base_url();
            tasks.push(tokio::spawn(async move {
                let mut session = client.connect(&url).await.unwrap();
                for i in 0..20 {
                    session
                        .send(Message::from(format!("{n}:{i}")))
                        .await
                        .unwrap();
                }
                for i in 0..20 {
                    let message = session.recv().await.unwrap().unwrap();
                    assert_eq!(message.as_text(), Some(format!("{n}:{i}").as_str()));
                }
                session.close(None).await.unwrap();
                assert!(session.recv().await.is_none());
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn a_slow_server_application_holds_sends_without_losing_any() {
    bounded(async {
        const COUNT: usize = 10_000;
        let (done_tx, mut done_rx) = mpsc::unbounded_channel();
        let server = start(move |mut session: Session| {
            let done = done_tx.clone();
            async move {
                // Not reading for a while: the server's inbound buffer (4,096 messages)
                // fills, its POSTs are held, and the client's outbound buffer fills too.
                tokio::time::sleep(Duration::from_secs(1)).await;
                for i in 0..COUNT {
                    let message = session.recv().await.unwrap().unwrap();
                    assert_eq!(message.as_text(), Some(format!("{i}").as_str()));
                }
                let _ = done.send(COUNT);
                while session.recv().await.is_some() {}
            }
        })
        .await;
        let mut session = Client::new().connect(&server.base_url()).await.unwrap();
        let started = std::time::Instant::now();
        for i in 0..COUNT {
            session.send(Message::from(format!("{i}"))).await.unwrap();
        }
        // The client's outbound buffer plus the server's inbound buffer (4,096 messages
        // each) cannot take all 10,000 before the server application starts reading, so
        // `send` waited.
        assert!(started.elapsed() >= Duration::from_millis(500));
        assert_eq!(done_rx.recv().await, Some(COUNT));
        session.close(None).await.unwrap();
        assert!(session.recv().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn a_slow_client_application_pauses_polling_without_losing_any() {
    bounded(async {
        const COUNT: usize = 10_000;
        let server = start(|mut session: Session| async move {
            for i in 0..COUNT {
                if session.send(Message::from(format!("{i}"))).await.is_err() {
                    return;
                }
            }
            while session.recv().await.is_some() {}
        })
        .await;
        let mut session = Client::new().connect(&server.base_url()).await.unwrap();
        // Not reading for a while: the client's inbound buffer (4,096 messages) fills and
        // polling pauses; the server keeps the rest unacknowledged.
        tokio::time::sleep(Duration::from_secs(1)).await;
        for i in 0..COUNT {
            let message = session.recv().await.unwrap().unwrap();
            assert_eq!(message.as_text(), Some(format!("{i}").as_str()));
        }
        session.close(None).await.unwrap();
        assert!(session.recv().await.is_none());
    })
    .await;
}
