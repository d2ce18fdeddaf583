//! The Rust client as the tests use it: quick retries, and a bounded wait for each message.

use futures_util::StreamExt;
use longpoll_client::{Client, ClientConfig};
use longpoll_tokio::{Message, Session};
use std::time::Duration;

/// A client with quick retries: fault tests stay short; the schedule is the same.
pub fn quick_client() -> Client {
    let mut config = ClientConfig::default();
    config.backoff_initial = Duration::from_millis(10);
    config.backoff_max = Duration::from_millis(100);
    Client::with_config(config)
}

/// The next message of `session`, within 30 s.
pub async fn next_message(session: &mut Session) -> Message {
    tokio::time::timeout(Duration::from_secs(30), session.next())
        .await
        .expect("a message within 30 s")
        .expect("the session is open")
        .expect("no error")
}
