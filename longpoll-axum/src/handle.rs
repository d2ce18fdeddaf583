//! The primitive path: forwarding requests to a session you keep yourself.

use crate::mounted::{AtOnce, Boxed, answered, body_read, respond_after_body};
use axum::extract::Request;
use axum::response::Response;
use futures_util::FutureExt;
use futures_util::future::Either;
use longpoll_core::route::Operation;
use longpoll_http::route_session_request;
use longpoll_tokio::{SessionHandle, SessionRequest};
use std::convert::Infallible;
use std::future::Future;

/// Forwarding requests to a session you keep yourself (the primitive path).
pub trait SessionHandleExt {
    /// Answers one HTTP request of this session: `GET ?ack=N` polls, `POST ?seq=N` sends,
    /// `DELETE` closes; anything else gets its refusal status. The session's origin policy is
    /// applied first (`403`, or a preflight answered `204`). The body of a `POST` is read
    /// under the session's body limit (`413` past it) within its body read timeout (`408`
    /// past it). Never fails: every outcome, including "this session has ended" (`410`), is
    /// a response.
    fn send(
        &mut self,
        request: Request,
    ) -> impl Future<Output = Result<Response, Infallible>> + Send;
}

impl SessionHandleExt for SessionHandle {
    fn send(
        &mut self,
        request: Request,
    ) -> impl Future<Output = Result<Response, Infallible>> + Send {
        let routed = match route_session_request(self.config(), request) {
            Ok(routed) => routed,
            Err((reply, extra)) => return Either::Right(answered(reply, &extra)).map(Ok),
        };
        let (route, parts, body, extra) = (routed.route, routed.parts, routed.body, routed.extra);
        let request = match route {
            Operation::Poll { ack } => SessionRequest::Poll { ack },
            Operation::Close => SessionRequest::Close,
            Operation::Send { seq, ack } => {
                let read = body_read(body, &parts.headers, self.config());
                let handle = self.clone();
                let exchange = move |body| handle.exchange(SessionRequest::Send { seq, ack, body });
                let respond: Boxed = Box::pin(respond_after_body(read, extra, exchange));
                return Either::Right(respond).map(Ok);
            }
        };
        Either::Left(AtOnce {
            exchange: self.exchange(request),
            extra,
        })
        .map(Ok)
    }
}
