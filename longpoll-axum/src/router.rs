//! Protocol v1 as an axum [`Router`], to merge or nest into an app.

use crate::mounted::{Answer, Mounted, serve};
use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::any_service;
use longpoll_tokio::Mount;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A router that answers protocol v1 at its root (`POST /` opens, `/{id}` polls, sends and
/// closes). Nest it at the mount path; any method, path or query it does not expect gets the
/// status `PROTOCOL.md` names.
///
/// Every request first passes the configuration's origin policy
/// ([`Config::origins`](longpoll_core::Config::origins): `403` for a refused origin, CORS
/// headers and preflight answers for allowed ones). A `POST` body must arrive within
/// [`Config::body_read_timeout`](longpoll_core::Config::body_read_timeout) (30 s by default,
/// `408` past it). axum has no header read timeout of its own: serve the router through
/// hyper-util with `http1().header_read_timeout(..)` (as `longpoll-examples` does) or behind a
/// proxy that has one.
pub fn router(mount: Mount) -> Router {
    // A fallback rather than `/{*rest}`: the core routes the path itself, so axum need not
    // match a wildcard and collect it as a path parameter on every request.
    Router::new().fallback_service(MountService(Mounted::at("", mount)))
}

/// [`router`], answering under `base` (`"/longpoll"`) itself: merge it into your app instead
/// of nesting. It does the same and costs less per request, because axum's `nest` rebuilds
/// every request's URI to strip the prefix (measured with `longpoll-bench`'s echo: about 6%
/// less server CPU per message, 17% fewer instructions).
///
/// ```no_run
/// use axum::Router;
/// use longpoll_axum::LongPoll;
///
/// # async fn run() {
/// let longpoll = LongPoll::default().mount(|_session| async {});
/// let app = Router::new().merge(longpoll_axum::router_at("/longpoll", longpoll));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
/// axum::serve(listener, app.into_make_service()).await.unwrap();
/// # }
/// ```
///
/// A trailing `/` is ignored; `""` or `"/"` mounts at the root.
///
/// # Panics
///
/// If `base` is not empty and does not start with `/`, or contains `?`, `#`, `{` or `}`.
pub fn router_at(base: &str, mount: Mount) -> Router {
    let service = MountService(Mounted::at(base, mount));
    let base = service.0.base.clone();
    let below = format!("{base}/{{*{AXUM_NEST_TAIL}}}");
    let router = Router::new()
        .route(&format!("{base}/"), any_service(service.clone()))
        .route(&below, any_service(service.clone()));
    // `{base}/` is the open path too (`PROTOCOL.md` §2.1); the wildcard does not match it.
    if base.is_empty() {
        router
    } else {
        router.route(&base, any_service(service))
    }
}

/// The name of the wildcard below the base. axum percent-decodes every path parameter into
/// the request's extensions (allocations for each; skipping it saves about 5% of the axum echo
/// server's instructions per message under callgrind), except those named like the tail of
/// its own `nest`, which start with this. The mount reads the path itself, so the wildcard's
/// name starts so too: nothing is decoded. `MatchedPath` shows the name:
/// `{base}/{*__private__axum_nest_tail_param_session}`. Should axum rename its tail, this is
/// an ordinary wildcard again: decoded, unused, and still correct.
const AXUM_NEST_TAIL: &str = "__private__axum_nest_tail_param_session";

/// The service behind [`router`] and [`router_at`]. A tower service rather than a handler:
/// axum then runs no extractors and boxes no handler future (about 3% fewer instructions
/// per echoed message under callgrind). Mounted with `any_service`: `route_service` would
/// box and clone it twice more per request.
#[derive(Clone)]
struct MountService(Arc<Mounted>);

impl tower_service::Service<Request> for MountService {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Answer {
        // Routed here, so the prefix is there.
        serve(&self.0, request)
    }
}
