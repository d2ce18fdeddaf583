//! The echo service behind `echo-axum`: every message comes back with the same kind; the
//! text message `close-me` closes the session with code 4000 and reason `requested`.

use crate::cli::EchoArgs;
use axum::Router;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use http::Request;
use hyper::body::Incoming;
use longpoll_axum::{
    CloseFrame, Error, LongPoll, LongPollLayer, LongPollService, Message, Mount, Registry, Session,
    SessionSender,
};
use longpoll_core::Config;
use longpoll_core::config::ConfigError;
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;
use tower_layer::Layer;
use tower_service::Service;

/// The path protocol v1 is mounted at.
pub const MOUNT_PATH: &str = "/longpoll";

/// Close code the echo servers use for `close-me`.
pub const CLOSE_ME_CODE: u16 = 4000;

/// The echo's answer to one item of a session: the same message back, or the close that
/// `close-me` asks for; `None` once the session has ended.
fn reply_to(item: Result<Message, Error>) -> Option<Message> {
    match item {
        Ok(Message::Text(text)) if text.as_str() == "close-me" => Some(Message::Close(Some(
            CloseFrame::new(CLOSE_ME_CODE, "requested"),
        ))),
        Ok(Message::Close(_)) | Err(_) => None,
        Ok(message) => Some(message),
    }
}

/// Echoes one session until it ends.
pub async fn echo(session: Session) {
    let (mut tx, mut rx) = session.split();
    while let Some(reply) = rx.next().await.and_then(reply_to) {
        if tx.send(reply).await.is_err() {
            break;
        }
    }
}

/// The same echo as a callback per session ([`LongPoll::mount_callback`]): each reply is sent
/// from the task of the request that brought the message, with no task per session.
/// `echo-hyper` serves it. A reply the outbound buffer has no room for waits in the session,
/// and so do the client's next messages: nothing is lost.
pub fn echo_callback(sender: SessionSender) -> impl FnMut(Result<Message, Error>) + Send {
    move |item| {
        if let Some(reply) = reply_to(item) {
            // Only one reply can wait for room, and the callback is paused while it does, so
            // this gives nothing back but for a session that is closing.
            let _ = sender.send(reply);
        }
    }
}

/// The echo server's router (protocol v1 at [`MOUNT_PATH`], through `router_at`) and its
/// session registry.
pub fn router(config: Config) -> Result<(Router, Registry), ConfigError> {
    let mount = LongPoll::new(config)?.mount(echo);
    Ok(router_for(mount))
}

/// The echo router around an existing mount (tests use it to pick their own handler).
pub fn router_for(mount: Mount) -> (Router, Registry) {
    let registry = mount.registry().clone();
    let router = Router::new().merge(longpoll_axum::router_at(MOUNT_PATH, mount));
    (router, registry)
}

/// The echo app `echo-axum` serves: an (empty) axum app with protocol v1 answered at
/// [`MOUNT_PATH`] in front of it by [`LongPollLayer`], the cheapest way to serve it on
/// axum; and its session registry.
pub fn app_for(mount: Mount) -> (LongPollService<Router>, Registry) {
    let registry = mount.registry().clone();
    let app = LongPollLayer::new(MOUNT_PATH, mount).layer(Router::new());
    (app, registry)
}

/// The echo mount the flags ask for: their configuration, with `--max-sessions` as the
/// registry's cap.
pub fn mount(args: &EchoArgs) -> Result<Mount, ConfigError> {
    mount_with(args, echo)
}

/// The echo mount the flags ask for, with the echo as a callback ([`echo_callback`]).
pub fn mount_callback(args: &EchoArgs) -> Result<Mount, ConfigError> {
    Ok(Mount::with_callback(registry(args)?, echo_callback))
}

/// Like [`mount`], with another handler (tests use it to watch how sessions end).
pub fn mount_with<H, F>(args: &EchoArgs, handler: H) -> Result<Mount, ConfigError>
where
    H: Fn(Session) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    Ok(Mount::new(registry(args)?, handler))
}

/// An empty registry with the flags' configuration and `--max-sessions` as its cap.
fn registry(args: &EchoArgs) -> Result<Registry, ConfigError> {
    Ok(Registry::new(
        LongPoll::new(args.config()?)?,
        args.max_sessions,
    ))
}

/// Serves an axum app (a `Router`, or one wrapped in layers) on the examples' connection
/// loop, which has the header read timeout `axum::serve` lacks, until `shutdown` completes;
/// then shuts down gracefully as [`serve_service`](crate::hyper_server::serve_service)
/// describes. The app is called as soon as a request arrives
/// ([`CallAtOnce`](crate::tower_to_hyper::CallAtOnce)).
pub async fn serve_app<S>(
    listener: tokio::net::TcpListener,
    app: S,
    registry: Registry,
    header_timeout: Duration,
    shutdown: impl Future,
) where
    S: Service<Request<Incoming>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let service = crate::tower_to_hyper::CallAtOnce(app);
    crate::hyper_server::serve_service(listener, service, registry, header_timeout, shutdown).await;
}
