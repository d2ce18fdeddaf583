//! Answering one request under a mount: the origin check, the core's routing, the body read,
//! and the session's answer. Shared by [`router`](crate::router), [`router_at`](crate::router_at)
//! and [`LongPollLayer`](crate::LongPollLayer).

use crate::response::into_response;
use axum::response::Response;
use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::Either;
use http::{HeaderMap, Request};
use http_body::Body;
use longpoll_core::origin::Headers;
use longpoll_core::{Reply, Route};
use longpoll_http::{BodyRead, BoxError, add_headers, below_base, route_mount_request};
use longpoll_tokio::{Config, Dispatch, Mount};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A mount and the path prefix that [`serve`] strips (empty when axum's `nest` did).
pub(crate) struct Mounted {
    pub(crate) mount: Mount,
    pub(crate) base: Box<str>,
}

impl Mounted {
    /// A mount answering under `base`, checked and without its trailing `/`.
    ///
    /// # Panics
    ///
    /// If `base` is not empty and does not start with `/`, or contains `?`, `#`, `{` or `}`.
    pub(crate) fn at(base: &str, mount: Mount) -> Arc<Self> {
        assert!(
            (base.is_empty() || base.starts_with('/')) && !base.contains(['?', '#', '{', '}']),
            "longpoll mount path {base:?} must be empty or an absolute path without query"
        );
        Arc::new(Mounted {
            mount,
            base: base.trim_end_matches('/').into(),
        })
    }

    /// Whether `path` is the base or below it (`/longpoll`, `/longpoll/…`, not `/longpolls`).
    pub(crate) fn is_under(&self, path: &str) -> bool {
        below_base(&self.base, path).is_some()
    }
}

/// A boxed response future: early answers and sends, so that a held poll's future (the
/// common one, and the one that waits) stays small.
pub(crate) type Boxed = Pin<Box<dyn Future<Output = Response> + Send>>;

/// The answer to one request under a mount: polls, opens and closes are answered without a
/// box.
pub(crate) struct Answer(Either<AtOnce<Dispatch>, Boxed>);

impl Future for Answer {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.poll_unpin(cx).map(Ok)
    }
}

/// Answers `request`, which is under `mounted`'s base. The head is read and dropped here,
/// before any waiting: a held poll keeps only what the session needs (the head would pin the
/// server's read buffer).
pub(crate) fn serve<B>(mounted: &Arc<Mounted>, request: Request<B>) -> Answer
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mount = &mounted.mount;
    let routed = match route_mount_request(mount.config(), &mounted.base, request) {
        Ok(routed) => routed,
        Err((reply, extra)) => return Answer(Either::Right(answered(reply, &extra))),
    };
    let (route, parts, body, extra) = (routed.route, routed.parts, routed.body, routed.extra);
    if !matches!(route, Route::Send { .. }) {
        let exchange = mount.dispatch(route, Bytes::new());
        return Answer(Either::Left(AtOnce { exchange, extra }));
    }
    let read = body_read(body, &parts.headers, mount.config());
    let mounted = Arc::clone(mounted);
    let exchange = move |body| mounted.mount.dispatch(route, body);
    Answer(Either::Right(Box::pin(respond_after_body(
        read, extra, exchange,
    ))))
}

/// The response to a request with no body, once `exchange` has its answer. A named future,
/// so that [`Answer`] holds it unboxed.
pub(crate) struct AtOnce<F> {
    pub(crate) exchange: F,
    pub(crate) extra: Headers,
}

impl<F: Future<Output = Reply> + Unpin> Future for AtOnce<F> {
    type Output = Response;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        let reply = std::task::ready!(Pin::new(&mut self.exchange).poll(cx));
        Poll::Ready(with_headers(into_response(reply), &self.extra))
    }
}

/// The response to a send: `exchange` starts once the body has arrived.
pub(crate) async fn respond_after_body<B, F>(
    read: BodyRead<B>,
    extra: Headers,
    exchange: impl FnOnce(Bytes) -> F,
) -> Response
where
    B: Body,
    B::Error: Into<BoxError>,
    F: Future<Output = Reply>,
{
    with_headers(into_response(read.then_reply(exchange).await), &extra)
}

/// An answer known before any waiting (a refusal, a preflight), boxed like a send's.
pub(crate) fn answered(reply: Reply, extra: &[(&'static str, String)]) -> Boxed {
    Box::pin(std::future::ready(with_headers(
        into_response(reply),
        extra,
    )))
}

/// A `POST` body to read under the session's limits.
pub(crate) fn body_read<B>(body: B, headers: &HeaderMap, config: &Config) -> BodyRead<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let timeout = Some(config.body_read_timeout);
    BodyRead::new(body, headers, config.max_body_bytes, timeout)
}

fn with_headers(mut response: Response, extra: &[(&'static str, String)]) -> Response {
    add_headers(response.headers_mut(), extra);
    response
}
