//! The tokio driver and the `Session` API, exercised through `SessionHandle::exchange` on a
//! paused clock (timeouts pass instantly, deterministically).

mod support;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use longpoll_core::wire::{Frame, decode_body};
use longpoll_core::{CloseReason, Config, Reply};
use longpoll_tokio::{
    CloseFrame, Error, LongPoll, Message, Registry, Session, SessionHandle, SessionRequest,
    close_code,
};
use std::time::Duration;
use support::{body, text};
use tokio::sync::mpsc;

fn config() -> Config {
    let mut config = Config::default();
    config.poll_timeout = Duration::from_secs(5);
    config.inbound_hold_timeout = Duration::from_secs(1);
    config.idle_timeout = Duration::from_secs(10);
    config.gone_timeout = Duration::from_secs(3);
    config
}

async fn poll(handle: &SessionHandle, ack: u64) -> Reply {
    handle.exchange(SessionRequest::Poll { ack }).await
}

fn frames(reply: Reply) -> (u64, Vec<Frame>) {
    match reply {
        Reply::Frames { first_seq, body } => (
            first_seq,
            decode_body(body, usize::MAX, usize::MAX).unwrap(),
        ),
        other => panic!("expected frames, got {other:?}"),
    }
}

/// Starts a session whose handler forwards everything it receives to the test.
fn observed(
    longpoll: &LongPoll,
) -> (
    SessionHandle,
    mpsc::UnboundedReceiver<Result<Message, Error>>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = longpoll.connect(move |mut session: Session| async move {
        while let Some(item) = session.recv().await {
            let _ = tx.send(item);
        }
    });
    (handle, rx)
}

#[tokio::test(start_paused = true)]
async fn messages_flow_both_ways_and_a_client_close_ends_the_stream_with_its_frame() {
    let longpoll = LongPoll::new(config()).unwrap();
    let (handle, mut received) = observed(&longpoll);
    let close = Frame::Close(Some(CloseFrame::new(4001, "bye")));
    let reply = handle
        .exchange(SessionRequest::Send {
            ack: None,
            seq: 0,
            body: body(&[text("a"), text("b"), close]),
        })
        .await;
    assert_eq!(reply, Reply::NoContent);
    assert_eq!(received.recv().await.unwrap(), Ok(Message::from("a")));
    assert_eq!(received.recv().await.unwrap(), Ok(Message::from("b")));
    assert_eq!(
        received.recv().await.unwrap(),
        Ok(Message::Close(Some(CloseFrame::new(4001, "bye"))))
    );
    assert!(
        received.recv().await.is_none(),
        "the stream ends after the close"
    );
}

#[tokio::test(start_paused = true)]
async fn send_waits_while_the_outbound_buffer_is_full_and_nothing_is_dropped() {
    let mut config = config();
    config.outbound_max_messages = 2;
    // Two fit the outbound buffer, the channel holds a few more and the driver one in its
    // hand; the rest of the `send` calls wait.
    const TOTAL: usize = 2 + longpoll_tokio::session::CHANNEL_CAPACITY + 1 + 5;
    let longpoll = LongPoll::new(config).unwrap();
    let (sent_tx, mut sent_rx) = mpsc::unbounded_channel();
    let handle = longpoll.connect(move |mut session: Session| async move {
        for i in 0..TOTAL {
            session.send(Message::from(format!("m{i}"))).await.unwrap();
            let _ = sent_tx.send(i);
        }
        while session.recv().await.is_some() {}
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let mut done = Vec::new();
    while let Ok(i) = sent_rx.try_recv() {
        done.push(i);
    }
    assert!(
        done.len() < TOTAL,
        "send must wait for room, {done:?} returned"
    );
    let mut ack = 0;
    let mut got = Vec::new();
    while got.len() < TOTAL {
        let (first, batch) = frames(poll(&handle, ack).await);
        assert_eq!(first, ack);
        ack += batch.len() as u64;
        got.extend(batch);
    }
    let expected: Vec<Frame> = (0..TOTAL).map(|i| text(&format!("m{i}"))).collect();
    assert_eq!(got, expected);
}

#[tokio::test(start_paused = true)]
async fn an_oversized_send_fails_at_once_and_the_session_goes_on() {
    let mut config = config();
    config.max_message_bytes = 10;
    let longpoll = LongPoll::new(config).unwrap();
    let (result_tx, mut result_rx) = mpsc::unbounded_channel();
    let handle = longpoll.connect(move |mut session: Session| async move {
        let _ = result_tx.send(session.send(Message::from("x".repeat(11))).await);
        let _ = result_tx.send(session.send(Message::from("small")).await);
        while session.recv().await.is_some() {}
    });
    assert_eq!(
        result_rx.recv().await.unwrap(),
        Err(Error::TooLarge { len: 11, max: 10 })
    );
    assert_eq!(result_rx.recv().await.unwrap(), Ok(()));
    assert_eq!(frames(poll(&handle, 0).await), (0, vec![text("small")]));
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_ends_the_stream_with_the_reason() {
    let longpoll = LongPoll::new(config()).unwrap();
    let (_handle, mut received) = observed(&longpoll);
    let item = received.recv().await.unwrap();
    assert_eq!(item, Err(Error::Ended(CloseReason::IdleTimeout)));
    assert!(received.recv().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_held_poll_is_answered_at_its_own_deadline_before_the_idle_one() {
    let longpoll = LongPoll::new(config()).unwrap();
    let (handle, _received) = observed(&longpoll);
    // The session's watchdog has armed the idle deadline (10 s) and sleeps; a poll held at
    // 3 s brings an earlier one (8 s), which must wake it to re-arm.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held_at = tokio::time::Instant::now();
    assert_eq!(poll(&handle, 0).await, Reply::NoContent);
    let waited = held_at.elapsed();
    assert!(
        waited >= config().poll_timeout
            && waited < config().poll_timeout + Duration::from_millis(50),
        "the poll was answered after {waited:?}"
    );
    // The session lives on: the next poll is held again, for its own full timeout.
    let held_at = tokio::time::Instant::now();
    assert_eq!(poll(&handle, 0).await, Reply::NoContent);
    assert!(held_at.elapsed() >= config().poll_timeout);
}

#[tokio::test(start_paused = true)]
async fn a_held_poll_whose_client_went_away_is_forgotten() {
    let longpoll = LongPoll::new(config()).unwrap();
    let (handle, mut received) = observed(&longpoll);
    let started = tokio::time::Instant::now();
    // The client gives up on its poll after 1 s (the HTTP connection dropped).
    let abandoned = tokio::time::timeout(Duration::from_secs(1), poll(&handle, 0)).await;
    assert!(abandoned.is_err(), "the poll was still held");
    // The session then idles out from the abort, not from the poll's end 4 s later.
    assert_eq!(
        received.recv().await.unwrap(),
        Err(Error::Ended(CloseReason::IdleTimeout))
    );
    let closed_after = started.elapsed();
    assert!(
        closed_after < Duration::from_secs(1) + config().idle_timeout + Duration::from_millis(100),
        "closed {closed_after:?} after the start"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_session_closes_it_normally() {
    let longpoll = LongPoll::new(config()).unwrap();
    let handle = longpoll.connect(|session: Session| async move { drop(session) });
    let (_, batch) = frames(poll(&handle, 0).await);
    assert_eq!(
        batch,
        vec![Frame::Close(Some(CloseFrame::new(close_code::NORMAL, "")))]
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_handler_closes_with_1011() {
    let longpoll = LongPoll::new(config()).unwrap();
    let handle = longpoll.connect(|_session: Session| async move { panic!("on purpose") });
    let (_, batch) = frames(poll(&handle, 0).await);
    assert_eq!(
        batch,
        vec![Frame::Close(Some(CloseFrame::new(
            close_code::INTERNAL_ERROR,
            "handler panicked"
        )))]
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_answers_held_polls_with_what_is_queued_and_a_going_away_close() {
    let registry = Registry::new(LongPoll::new(config()).unwrap(), None);
    let handle = registry
        .open(|mut session: Session| async move { while session.recv().await.is_some() {} })
        .unwrap();
    let held = tokio::spawn({
        let handle = handle.clone();
        async move { poll(&handle, 0).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    registry.shutdown();
    let (_, batch) = frames(held.await.unwrap());
    assert_eq!(
        batch,
        vec![Frame::Close(Some(CloseFrame::new(
            close_code::GOING_AWAY,
            "server shutting down"
        )))]
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_application_holds_the_post_then_gets_503() {
    let mut config = config();
    config.inbound_max_messages = 2;
    config.max_frames_per_request = 2;
    let longpoll = LongPoll::new(config).unwrap();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let handle = longpoll.connect(move |mut session: Session| async move {
        let _ = go_rx.await; // does not read until told
        while session.recv().await.is_some() {}
    });
    // The application's channel and the core's inbound buffer fill up, then a POST waits.
    let mut seq = 0;
    let mut refused = None;
    for _ in 0..20 {
        let reply = handle
            .exchange(SessionRequest::Send {
                ack: None,
                seq,
                body: body(&[text("x"), text("y")]),
            })
            .await;
        match reply {
            Reply::NoContent => seq += 2,
            other => {
                refused = Some(other);
                break;
            }
        }
    }
    let refused = refused.expect("the inbound buffer must fill up");
    assert!(matches!(refused, Reply::Unavailable { .. }), "{refused:?}");
    let _ = go_tx.send(());
    let retry = handle
        .exchange(SessionRequest::Send {
            ack: None,
            seq,
            body: body(&[text("x"), text("y")]),
        })
        .await;
    assert_eq!(
        retry,
        Reply::NoContent,
        "accepted once the application reads"
    );
}

#[tokio::test(start_paused = true)]
async fn a_registry_forgets_closed_sessions_and_answers_410_then_404() {
    let registry = Registry::new(LongPoll::new(config()).unwrap(), Some(1));
    let mount = longpoll_tokio::Mount::new(registry.clone(), |mut session: Session| async move {
        while session.recv().await.is_some() {}
    });
    let opened = mount
        .dispatch(longpoll_core::Route::Open, Bytes::new())
        .await;
    let Reply::Opened(json) = opened else {
        panic!("{opened:?}")
    };
    let params =
        longpoll_core::SessionParams::from_json(std::str::from_utf8(&json).unwrap()).unwrap();
    let id = longpoll_core::SessionId::parse(&params.id).unwrap();
    // The cap is one session.
    let refused = mount
        .dispatch(longpoll_core::Route::Open, Bytes::new())
        .await;
    assert!(matches!(refused, Reply::Unavailable { .. }), "{refused:?}");
    assert_eq!(
        mount
            .dispatch(longpoll_core::Route::Close { id }, Bytes::new())
            .await,
        Reply::NoContent
    );
    while !registry.is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(registry.gone_len(), 1);
    let poll = longpoll_core::Route::Poll { id, ack: 0 };
    assert_eq!(mount.dispatch(poll, Bytes::new()).await, Reply::Gone);
    tokio::time::sleep(config().gone_timeout).await;
    assert_eq!(mount.dispatch(poll, Bytes::new()).await, Reply::NotFound);
    assert_eq!(registry.gone_len(), 0);
    // With the first one gone, the cap admits a new session.
    assert!(matches!(
        mount
            .dispatch(longpoll_core::Route::Open, Bytes::new())
            .await,
        Reply::Opened(_)
    ));
}

#[tokio::test(start_paused = true)]
async fn split_halves_work_from_different_tasks() {
    let longpoll = LongPoll::new(config()).unwrap();
    let handle = longpoll.connect(|session: Session| async move {
        let (tx, rx) = session.split();
        // Echo through a forwarding task: the halves live on different tasks.
        let forward = tokio::spawn(rx.filter_map(|m| async move { m.ok() }).map(Ok).forward(tx));
        let _ = forward.await;
    });
    let reply = handle
        .exchange(SessionRequest::Send {
            ack: None,
            seq: 0,
            body: body(&[text("ping")]),
        })
        .await;
    assert_eq!(reply, Reply::NoContent);
    assert_eq!(frames(poll(&handle, 0).await), (0, vec![text("ping")]));
}

#[tokio::test(start_paused = true)]
async fn a_registry_issues_only_ids_its_filter_accepts() {
    let longpoll = LongPoll::new(config())
        .unwrap()
        .with_id_filter(|id| id.to_string().starts_with('a'));
    let registry = Registry::new(longpoll, None);
    for _ in 0..32 {
        let handle = registry.open(|_session| async {}).unwrap();
        assert!(handle.id().to_string().starts_with('a'), "{}", handle.id());
    }

    let refusing = LongPoll::new(config()).unwrap().with_id_filter(|_| false);
    let registry = Registry::new(refusing, None);
    let error = registry.open(|_session| async {}).unwrap_err();
    assert_eq!(error, longpoll_tokio::OpenError::NoAcceptableId);
    assert!(registry.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_sends_reaches_a_held_poll_as_one_batch() {
    let longpoll = LongPoll::new(config()).unwrap();
    let (go, wait_for_go) = tokio::sync::oneshot::channel::<()>();
    let handle = longpoll.connect(move |mut session: Session| async move {
        let _ = wait_for_go.await;
        // No await point between the sends lets the poll's handler run in between (the
        // runtime is single-threaded): the batch is decided by the core, not by timing.
        for i in 0..20 {
            session.send(Message::from(format!("m{i}"))).await.unwrap();
        }
        std::future::pending::<()>().await;
    });
    let held = tokio::spawn({
        let handle = handle.clone();
        async move { poll(&handle, 0).await }
    });
    tokio::task::yield_now().await;
    assert!(
        !held.is_finished(),
        "nothing was sent yet: the poll is held"
    );
    go.send(()).unwrap();
    let (first, batch) = frames(held.await.unwrap());
    assert_eq!(first, 0);
    let expected: Vec<Frame> = (0..20).map(|i| text(&format!("m{i}"))).collect();
    assert_eq!(batch, expected, "every message of the burst in one answer");
}

#[tokio::test(start_paused = true)]
async fn a_task_that_replies_gets_its_reply_into_the_sends_answer_and_the_poll_stays_held() {
    let longpoll = LongPoll::new(config()).unwrap();
    let handle = longpoll.connect(|session: Session| async move {
        let (mut tx, mut rx) = session.split();
        while let Some(Ok(message)) = rx.next().await {
            if tx.send(message).await.is_err() {
                break;
            }
        }
    });
    let held = tokio::spawn(handle.exchange(SessionRequest::Poll { ack: 0 }));
    tokio::task::yield_now().await;
    let started = tokio::time::Instant::now();
    for (seq, word) in ["one", "two", "three"].into_iter().enumerate() {
        let seq = seq as u64;
        let reply = handle
            .exchange(SessionRequest::Send {
                seq,
                ack: Some(seq),
                body: body(&[text(word)]),
            })
            .await;
        assert_eq!(frames(reply), (seq, vec![text(word)]));
    }
    // Each answer came as soon as the task asked for more, not at the reply wait.
    assert_eq!(started.elapsed(), Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!held.is_finished(), "the poll was never needed");
    // Without `ack`, `204` at once and the echo goes to the poll.
    let held = tokio::spawn(handle.exchange(SessionRequest::Poll { ack: 3 }));
    let reply = handle
        .exchange(SessionRequest::Send {
            seq: 3,
            ack: None,
            body: body(&[text("four")]),
        })
        .await;
    assert_eq!(reply, Reply::NoContent);
    assert_eq!(frames(held.await.unwrap()), (3, vec![text("four")]));
}

#[tokio::test(start_paused = true)]
async fn a_send_waits_for_a_task_that_does_not_read_no_longer_than_the_reply_wait() {
    let mut config = config();
    config.reply_wait = Duration::from_millis(30);
    let longpoll = LongPoll::new(config).unwrap();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let (got_tx, mut got) = mpsc::unbounded_channel();
    let handle = longpoll.connect(move |session: Session| async move {
        let _ = go_rx.await; // does not read until told
        let (mut tx, mut rx) = session.split();
        while let Some(Ok(message)) = rx.next().await {
            let _ = got_tx.send(message.clone());
            if tx.send(message).await.is_err() {
                break;
            }
        }
    });
    let held = tokio::spawn(handle.exchange(SessionRequest::Poll { ack: 0 }));
    tokio::task::yield_now().await;
    let started = tokio::time::Instant::now();
    let reply = handle
        .exchange(SessionRequest::Send {
            seq: 0,
            ack: Some(0),
            body: body(&[text("late")]),
        })
        .await;
    assert_eq!(reply, Reply::NoContent);
    assert_eq!(started.elapsed(), Duration::from_millis(30));
    // The message was accepted; the task reads it when it gets to it, and its reply goes to
    // the held poll.
    let _ = go_tx.send(());
    assert_eq!(got.recv().await, Some(Message::from("late")));
    assert_eq!(frames(held.await.unwrap()), (0, vec![text("late")]));
}
