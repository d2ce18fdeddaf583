//! Callback sessions (`LongPoll::mount_callback`, `connect_callback`): the callback takes each
//! item in the task of the request that brought it, and sends with a `SessionSender`.
//! Exercised through `SessionHandle::exchange` on a paused clock.

mod support;

use bytes::Bytes;
use longpoll_core::wire::{Frame, decode_body};
use longpoll_core::{CloseReason, Config, Reply, Route, SessionId, SessionParams};
use longpoll_tokio::{
    CloseFrame, Error, LongPoll, Message, Mount, SessionHandle, SessionRequest, SessionSender,
    TrySendError, close_code,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{body, text};

fn config() -> Config {
    let mut config = Config::default();
    config.poll_timeout = Duration::from_secs(5);
    config.inbound_hold_timeout = Duration::from_secs(1);
    config.idle_timeout = Duration::from_secs(10);
    config.outbound_max_messages = 4;
    config.max_message_bytes = 1_000;
    config
}

async fn send(handle: &SessionHandle, seq: u64, frames: &[Frame]) -> Reply {
    let body = body(frames);
    handle
        .exchange(SessionRequest::Send {
            seq,
            ack: None,
            body,
        })
        .await
}

fn frames(reply: Reply) -> Vec<Frame> {
    match reply {
        Reply::Frames { body, .. } => decode_body(body, usize::MAX, usize::MAX).unwrap(),
        other => panic!("expected frames, got {other:?}"),
    }
}

/// What a callback saw, and whether it has been dropped.
#[derive(Default)]
struct Seen {
    items: Mutex<Vec<Result<Message, Error>>>,
    dropped: AtomicBool,
}

impl Seen {
    fn take(&self) -> Vec<Result<Message, Error>> {
        std::mem::take(&mut self.items.lock().unwrap())
    }

    fn dropped(&self) -> bool {
        self.dropped.load(Ordering::SeqCst)
    }
}

struct DropFlag(Arc<Seen>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.dropped.store(true, Ordering::SeqCst);
    }
}

/// A callback session that records what it gets, and hands its sender out.
fn recorded(longpoll: &LongPoll) -> (SessionHandle, SessionSender, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let flag = DropFlag(seen.clone());
    let sender_out = Arc::new(Mutex::new(None));
    let slot = sender_out.clone();
    let handle = longpoll.connect_callback(move |sender| {
        *slot.lock().unwrap() = Some(sender);
        move |item| flag.0.items.lock().unwrap().push(item)
    });
    let sender = sender_out.lock().unwrap().take().unwrap();
    (handle, sender, seen)
}

#[tokio::test(start_paused = true)]
async fn messages_reach_the_callback_before_their_post_is_answered() {
    let longpoll = LongPoll::new(config()).unwrap();
    let (handle, sender, seen) = recorded(&longpoll);
    assert_eq!(sender.id(), handle.id());
    assert_eq!(
        send(&handle, 0, &[text("a"), text("b")]).await,
        Reply::NoContent
    );
    // No other task ran in between: the POST's own task called the callback.
    assert_eq!(
        seen.take(),
        vec![Ok(Message::from("a")), Ok(Message::from("b"))]
    );
    // A repeated POST (a retry) is not delivered twice; the next one is.
    assert_eq!(
        send(&handle, 0, &[text("a"), text("b")]).await,
        Reply::NoContent
    );
    assert_eq!(send(&handle, 2, &[text("c")]).await, Reply::NoContent);
    assert_eq!(seen.take(), vec![Ok(Message::from("c"))]);
    assert!(!seen.dropped());
}

#[tokio::test(start_paused = true)]
async fn a_reply_sent_from_the_callback_goes_out_on_the_held_poll() {
    let longpoll = LongPoll::new(config()).unwrap();
    let handle = longpoll.connect_callback(|sender| {
        move |item: Result<Message, Error>| {
            if let Ok(message @ Message::Text(_)) = item {
                sender.try_send(message).unwrap();
            }
        }
    });
    let poll = tokio::spawn(handle.exchange(SessionRequest::Poll { ack: 0 }));
    tokio::task::yield_now().await;
    assert!(!poll.is_finished(), "the poll is held");
    assert_eq!(send(&handle, 0, &[text("ping")]).await, Reply::NoContent);
    assert_eq!(frames(poll.await.unwrap()), vec![text("ping")]);
}

#[tokio::test(start_paused = true)]
async fn the_client_close_is_the_last_item_then_the_callback_is_dropped() {
    let longpoll = LongPoll::new(config()).unwrap();
    let (handle, sender, seen) = recorded(&longpoll);
    let close = Frame::Close(Some(CloseFrame::new(4001, "bye")));
    assert_eq!(
        send(&handle, 0, &[text("a"), close]).await,
        Reply::NoContent
    );
    assert_eq!(
        seen.take(),
        vec![
            Ok(Message::from("a")),
            Ok(Message::Close(Some(CloseFrame::new(4001, "bye"))))
        ]
    );
    assert!(seen.dropped());
    assert!(sender.is_closed());
    assert!(matches!(
        sender.try_send("late"),
        Err(TrySendError::Closed(Message::Text(_)))
    ));
}

#[tokio::test(start_paused = true)]
async fn the_idle_timeout_ends_the_session_with_an_error_item() {
    let longpoll = LongPoll::new(config()).unwrap();
    let (_handle, _sender, seen) = recorded(&longpoll);
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(
        seen.take(),
        vec![Err(Error::Ended(CloseReason::IdleTimeout))]
    );
    assert!(seen.dropped());
}

#[tokio::test(start_paused = true)]
async fn closing_from_the_application_delivers_the_queue_then_the_close_and_stops_the_callback() {
    let longpoll = LongPoll::new(config()).unwrap();
    let (handle, sender, seen) = recorded(&longpoll);
    sender.try_send("last words").unwrap();
    sender.close(Some(CloseFrame::new(close_code::NORMAL, "done")));
    sender.close(None); // a second close does nothing
    let reply = handle.exchange(SessionRequest::Poll { ack: 0 }).await;
    assert_eq!(
        frames(reply),
        vec![
            text("last words"),
            Frame::Close(Some(CloseFrame::new(close_code::NORMAL, "done")))
        ]
    );
    // The client acknowledges the close: the session ends, and the callback is dropped
    // without an item (the application knows why it ended).
    assert_eq!(
        handle.exchange(SessionRequest::Poll { ack: 2 }).await,
        Reply::Gone
    );
    assert!(seen.take().is_empty());
    assert!(seen.dropped());
}

#[tokio::test(start_paused = true)]
async fn try_send_gives_the_message_back_when_it_cannot_be_queued() {
    let longpoll = LongPoll::new(config()).unwrap();
    let (handle, sender, _seen) = recorded(&longpoll);
    for n in 0..4 {
        sender.try_send(format!("m{n}")).unwrap();
    }
    assert_eq!(
        sender.try_send("one too many"),
        Err(TrySendError::Full(Message::from("one too many")))
    );
    let big = Message::Binary(Bytes::from(vec![0; 1_001]));
    assert_eq!(
        sender.try_send(big.clone()),
        Err(TrySendError::TooLarge(big))
    );
    // Acknowledged messages make room again.
    assert_eq!(
        frames(handle.exchange(SessionRequest::Poll { ack: 0 }).await).len(),
        4
    );
    let _held = tokio::spawn(handle.exchange(SessionRequest::Poll { ack: 4 }));
    tokio::task::yield_now().await;
    sender.try_send("room again").unwrap();
    let error = sender
        .try_send(Message::Close(None))
        .map(|()| sender.try_send("after"));
    assert!(matches!(error, Ok(Err(TrySendError::Closed(_)))));
    assert_eq!(
        TrySendError::Full(Message::from("x")).to_string(),
        "the session's outbound buffer is full"
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_callback_closes_its_session_with_1011_and_others_go_on() {
    let longpoll = LongPoll::new(config()).unwrap();
    let panicky = longpoll.connect_callback(|_sender| {
        |item: Result<Message, Error>| {
            if item == Ok(Message::from("boom")) {
                panic!("the application's bug");
            }
        }
    });
    let (healthy, _sender, seen) = recorded(&longpoll);
    assert_eq!(send(&panicky, 0, &[text("boom")]).await, Reply::NoContent);
    let reply = panicky.exchange(SessionRequest::Poll { ack: 0 }).await;
    match frames(reply).as_slice() {
        [Frame::Close(Some(frame))] => assert_eq!(frame.code, close_code::INTERNAL_ERROR),
        other => panic!("expected a 1011 close, got {other:?}"),
    }
    assert_eq!(send(&healthy, 0, &[text("fine")]).await, Reply::NoContent);
    assert_eq!(seen.take(), vec![Ok(Message::from("fine"))]);
}

/// A mount whose callback echoes text, and a session opened through it.
async fn echo_mount_with_a_session() -> (Mount, SessionId) {
    let mount = LongPoll::new(config()).unwrap().mount_callback(|sender| {
        move |item: Result<Message, Error>| {
            if let Ok(message @ Message::Text(_)) = item {
                let _ = sender.try_send(message);
            }
        }
    });
    let Reply::Opened(json) = mount.dispatch(Route::Open, Bytes::new()).await else {
        panic!("expected the open reply");
    };
    let params = SessionParams::from_json(std::str::from_utf8(&json).unwrap()).unwrap();
    let id = SessionId::parse(&params.id).unwrap();
    (mount, id)
}

#[tokio::test(start_paused = true)]
async fn a_mount_opens_callback_sessions() {
    let (mount, id) = echo_mount_with_a_session().await;
    assert!(mount.registry().get(&id).is_some());
    let poll = tokio::spawn(mount.dispatch(Route::Poll { id, ack: 0 }, Bytes::new()));
    let sent = mount.dispatch(
        Route::Send {
            id,
            seq: 0,
            ack: None,
        },
        body(&[text("echo me")]),
    );
    assert_eq!(sent.await, Reply::NoContent);
    assert_eq!(frames(poll.await.unwrap()), vec![text("echo me")]);
}

#[tokio::test(start_paused = true)]
async fn a_send_carrying_ack_is_answered_with_the_callbacks_reply_and_the_poll_stays_held() {
    let (mount, id) = echo_mount_with_a_session().await;
    let poll = tokio::spawn(mount.dispatch(Route::Poll { id, ack: 0 }, Bytes::new()));
    tokio::task::yield_now().await;
    for (seq, word) in ["one", "two", "three"].into_iter().enumerate() {
        let seq = seq as u64;
        let route = Route::Send {
            id,
            seq,
            ack: Some(seq),
        };
        let reply = mount.dispatch(route, body(&[text(word)])).await;
        let Reply::Frames { first_seq, .. } = &reply else {
            panic!("expected the echo in the send's answer, got {reply:?}");
        };
        assert_eq!(*first_seq, seq);
        assert_eq!(frames(reply), vec![text(word)]);
    }
    // The poll was never needed; it is answered at its timeout with what is unacknowledged.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!poll.is_finished());
    assert_eq!(frames(poll.await.unwrap()), vec![text("three")]);
    // A send without `ack` is answered `204` as before, and the reply goes to the poll.
    let poll = tokio::spawn(mount.dispatch(Route::Poll { id, ack: 3 }, Bytes::new()));
    let route = Route::Send {
        id,
        seq: 3,
        ack: None,
    };
    assert_eq!(
        mount.dispatch(route, body(&[text("four")])).await,
        Reply::NoContent
    );
    assert_eq!(frames(poll.await.unwrap()), vec![text("four")]);
}

#[tokio::test(start_paused = true)]
async fn send_lets_one_message_wait_for_room_and_pauses_the_callback_meanwhile() {
    let longpoll = LongPoll::new(config()).unwrap();
    let (handle, sender, seen) = recorded(&longpoll);
    for n in 0..4 {
        sender.send(format!("m{n}")).unwrap();
    }
    sender.send("waits").unwrap();
    assert_eq!(
        sender.send("one too many"),
        Err(TrySendError::Full(Message::from("one too many")))
    );
    assert_eq!(
        sender.try_send("no overtaking"),
        Err(TrySendError::Full(Message::from("no overtaking")))
    );
    // The client's messages wait in the session while the reply waits for room.
    assert_eq!(
        send(&handle, 0, &[text("a"), text("b")]).await,
        Reply::NoContent
    );
    assert!(seen.take().is_empty(), "the callback is paused");
    // The client acknowledges: the waiting message goes in, and the callback gets what came.
    let reply = handle.exchange(SessionRequest::Poll { ack: 0 }).await;
    assert_eq!(frames(reply).len(), 4);
    let reply = handle.exchange(SessionRequest::Poll { ack: 4 }).await;
    assert_eq!(frames(reply), vec![text("waits")]);
    assert_eq!(
        seen.take(),
        vec![Ok(Message::from("a")), Ok(Message::from("b"))]
    );
}

#[tokio::test(start_paused = true)]
async fn a_close_follows_the_message_waiting_for_room() {
    let longpoll = LongPoll::new(config()).unwrap();
    let (handle, sender, seen) = recorded(&longpoll);
    for n in 0..5 {
        sender.send(format!("m{n}")).unwrap();
    }
    sender.close(Some(CloseFrame::new(close_code::NORMAL, "after m4")));
    assert!(!sender.is_closed());
    assert_eq!(
        frames(handle.exchange(SessionRequest::Poll { ack: 0 }).await).len(),
        4
    );
    let reply = handle.exchange(SessionRequest::Poll { ack: 4 }).await;
    assert_eq!(frames(reply), vec![text("m4")]);
    let reply = handle.exchange(SessionRequest::Poll { ack: 5 }).await;
    assert_eq!(
        frames(reply),
        vec![Frame::Close(Some(CloseFrame::new(
            close_code::NORMAL,
            "after m4"
        )))]
    );
    assert_eq!(
        handle.exchange(SessionRequest::Poll { ack: 6 }).await,
        Reply::Gone
    );
    assert!(seen.take().is_empty());
    assert!(seen.dropped());
}
