//! A held poll keeps only what its session needs: the request it came with (whose head
//! points into hyper's read buffer, so keeping it makes hyper allocate a second buffer for
//! the connection) is dropped before the poll waits, on both mounting paths.

mod support;

use http_body_util::BodyExt;
use hyper::service::Service;
use longpoll_hyper::{LongPoll, LongPollService, Session, SessionHandleExt};
use std::sync::{Arc, Weak};
use std::time::Duration;
use support::*;

const BOUND: Duration = Duration::from_secs(10);

/// Rides in a request's extensions; the test keeps only a weak reference, so the token is
/// gone exactly when the request is.
#[derive(Clone)]
struct Token(Arc<()>);

/// A poll request and a weak reference to the token it carries.
fn flagged_poll(uri: &str) -> (hyper::Request<http_body_util::Full<bytes::Bytes>>, Weak<()>) {
    let token = Token(Arc::new(()));
    let watch = Arc::downgrade(&token.0);
    let mut poll = request("GET", uri, "");
    poll.extensions_mut().insert(token);
    (poll, watch)
}

async fn until_dropped(watch: &Weak<()>) {
    while watch.strong_count() > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls held long enough for the test to look at them.
fn long_hold() -> LongPoll {
    let mut config = quick_config();
    config.poll_timeout = Duration::from_secs(5);
    config.idle_timeout = Duration::from_secs(20);
    LongPoll::new(config).unwrap()
}

/// A handler that keeps its session open and sends nothing.
async fn quiet(session: Session) {
    let _session = session;
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn the_service_drops_a_held_polls_request_while_it_waits() {
    bounded(BOUND, async {
        let mount = long_hold().mount(quiet);
        let service = LongPollService::new("/longpoll", mount);
        let opened = service
            .call(request("POST", "/longpoll", ""))
            .await
            .unwrap();
        let params = opened.into_body().collect().await.unwrap().to_bytes();
        let params = longpoll_core::SessionParams::from_json(&String::from_utf8_lossy(&params));
        let id = params.expect("session parameters").id;

        let (poll, flag) = flagged_poll(&format!("/longpoll/{id}?ack=0"));
        let held = tokio::spawn(service.call(poll));
        until_dropped(&flag).await;
        assert!(!held.is_finished(), "the poll is still held");
        held.abort();
    })
    .await;
}

#[tokio::test]
async fn the_primitive_drops_a_held_polls_request_while_it_waits() {
    bounded(BOUND, async {
        let mut handle = long_hold().connect(quiet);
        let (poll, flag) = flagged_poll("/session/x?ack=0");
        let held = tokio::spawn(async move { handle.send(poll).await });
        until_dropped(&flag).await;
        assert!(!held.is_finished(), "the poll is still held");
        held.abort();
    })
    .await;
}
