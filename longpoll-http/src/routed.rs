//! A request before the session sees it: the origin check, then what it asks for (a route
//! under a mount, or an operation on one session).

use crate::headers::{check_origin, content_type};
use http::Request;
use http::request::Parts;
use longpoll_core::origin::Headers;
use longpoll_core::route::Operation;
use longpoll_core::{Config, Reply, Route};

/// A request that passed the origin check and names what it asks for: a [`Route`] under a
/// mount ([`route_mount_request`]) or an [`Operation`] on one session
/// ([`route_session_request`]).
#[derive(Debug)]
pub struct Routed<R, B> {
    /// What the request asks for.
    pub route: R,
    /// The request's head (a send's body is read under limits its `content-length` informs).
    pub parts: Parts,
    /// The request's body (read only for a send).
    pub body: B,
    /// Headers the origin policy adds to the answer (CORS).
    pub extra: Headers,
}

/// When a request is answered before routing (a refusal, a preflight): the answer and the
/// headers to add to it.
pub type Early = (Reply, Headers);

/// Checks `request` against `config`'s origin policy and routes its path below `base`
/// (`"/longpoll"`, no trailing `/`; see [`below_base`]): `POST {base}` opens, `{base}/{id}`
/// polls, sends and closes. A path outside `base` is the protocol's `404`.
///
/// ```
/// use longpoll_core::{Config, Route};
///
/// let request = http::Request::post("/longpoll").body(()).unwrap();
/// let routed = longpoll_http::route_mount_request(&Config::default(), "/longpoll", request);
/// assert_eq!(routed.unwrap().route, Route::Open);
///
/// let request = http::Request::post("/elsewhere").body(()).unwrap();
/// let routed = longpoll_http::route_mount_request(&Config::default(), "/longpoll", request);
/// assert_eq!(routed.unwrap_err().0.status(), 404);
/// ```
#[allow(clippy::result_large_err)] // an early answer is as common as a routed request
pub fn route_mount_request<B>(
    config: &Config,
    base: &str,
    request: Request<B>,
) -> Result<Routed<Route, B>, Early> {
    route_with(config, request, |parts| {
        let path = below_base(base, parts.uri.path()).ok_or(Reply::NotFound)?;
        longpoll_core::route(
            parts.method.as_str(),
            path,
            parts.uri.query(),
            content_type(&parts.headers),
        )
    })
}

/// Checks `request` against `config`'s origin policy and reads the operation it asks of its
/// session (`GET ?ack=N` polls, `POST ?seq=N` sends, `DELETE` closes): for a request you
/// forward to a session yourself, whatever its path.
///
/// ```
/// use longpoll_core::Config;
/// use longpoll_core::route::Operation;
///
/// let request = http::Request::get("/mine?ack=7").body(()).unwrap();
/// let routed = longpoll_http::route_session_request(&Config::default(), request);
/// assert_eq!(routed.unwrap().route, Operation::Poll { ack: 7 });
///
/// let request = http::Request::put("/mine").body(()).unwrap();
/// let routed = longpoll_http::route_session_request(&Config::default(), request);
/// assert_eq!(routed.unwrap_err().0.status(), 405);
/// ```
#[allow(clippy::result_large_err)] // an early answer is as common as a routed request
pub fn route_session_request<B>(
    config: &Config,
    request: Request<B>,
) -> Result<Routed<Operation, B>, Early> {
    route_with(config, request, |parts| {
        longpoll_core::route::operation(
            parts.method.as_str(),
            parts.uri.query(),
            content_type(&parts.headers),
        )
    })
}

/// The part of `path` below `base`, if `path` is `base` itself or below it (`/longpoll` and
/// `/longpoll/…`, not `/longpolls`). `base` has no trailing `/`; `""` is the root.
///
/// ```
/// assert_eq!(longpoll_http::below_base("/lp", "/lp/abc"), Some("/abc"));
/// assert_eq!(longpoll_http::below_base("/lp", "/lp"), Some(""));
/// assert_eq!(longpoll_http::below_base("/lp", "/lpx"), None);
/// assert_eq!(longpoll_http::below_base("", "/abc"), Some("/abc"));
/// ```
pub fn below_base<'p>(base: &str, path: &'p str) -> Option<&'p str> {
    let rest = path.strip_prefix(base)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

#[allow(clippy::result_large_err)]
fn route_with<R, B>(
    config: &Config,
    request: Request<B>,
    route: impl FnOnce(&Parts) -> Result<R, Reply>,
) -> Result<Routed<R, B>, Early> {
    let decision = check_origin(config, &request);
    if let Some(reply) = decision.early_reply() {
        return Err((reply, decision.into_headers()));
    }
    let extra = decision.into_headers();
    let (parts, body) = request.into_parts();
    match route(&parts) {
        Ok(route) => Ok(Routed {
            route,
            parts,
            body,
            extra,
        }),
        Err(reply) => Err((reply, extra)),
    }
}
