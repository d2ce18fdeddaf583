//! The echo service behind `echo-axum`: every message comes back with the same kind; the
//! text message `close-me` closes the session with code 4000 and reason `requested`.

use axum::Router;
use futures_util::{SinkExt, StreamExt};
use longpoll_axum::{CloseFrame, LongPoll, Message, Mount, Registry, Session};
use longpoll_core::Config;
use longpoll_core::config::ConfigError;

/// The path protocol v1 is mounted at.
pub const MOUNT_PATH: &str = "/longpoll";

/// Close code the echo servers use for `close-me`.
pub const CLOSE_ME_CODE: u16 = 4000;

/// Echoes one session until it ends.
pub async fn echo(session: Session) {
    let (mut tx, mut rx) = session.split();
    while let Some(item) = rx.next().await {
        let reply = match item {
            Ok(Message::Text(text)) if text.as_str() == "close-me" => {
                Message::Close(Some(CloseFrame::new(CLOSE_ME_CODE, "requested")))
            }
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(message) => message,
        };
        if tx.send(reply).await.is_err() {
            break;
        }
    }
}

/// The echo server's router (protocol v1 at [`MOUNT_PATH`]) and its session registry.
pub fn router(config: Config) -> Result<(Router, Registry), ConfigError> {
    let mount = LongPoll::new(config)?.mount(echo);
    Ok(router_for(mount))
}

/// The echo router around an existing mount (tests use it to pick their own handler).
pub fn router_for(mount: Mount) -> (Router, Registry) {
    let registry = mount.registry().clone();
    let router = Router::new().nest(MOUNT_PATH, longpoll_axum::router(mount));
    (router, registry)
}
