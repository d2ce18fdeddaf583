//! What longpoll's hyper-based adapters (`longpoll-axum`, `longpoll-hyper`) share, written
//! against the `http` and `http-body` crates: a request body read under the session's limits
//! ([`read_body`], [`BodyRead`]), the origin check on a request ([`check_origin`]), a request
//! checked and routed ([`route_mount_request`], [`route_session_request`]), and a core
//! [`Reply`](longpoll_core::Reply)'s headers as an [`http::HeaderMap`] ([`reply_headers`]).
//!
//! Applications use an adapter; this crate is for adapters (yours too, for another
//! framework on `http` types).
//!
//! ```
//! use longpoll_core::Reply;
//!
//! let headers = longpoll_http::reply_headers(&Reply::NoContent);
//! assert_eq!(headers["cache-control"], "no-store");
//! ```

mod body;
mod headers;
mod routed;

pub use body::{BodyRead, read_body};
pub use headers::{add_headers, check_origin, content_type, header_value, reply_headers};
pub use routed::{Early, Routed, below_base, route_mount_request, route_session_request};

/// The error type bodies may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;
    use longpoll_core::Reply;

    #[test]
    fn a_reply_keeps_its_status_and_headers() {
        let headers = reply_headers(&Reply::RequestTimeout);
        assert_eq!(headers["cache-control"], "no-store");
        assert!(headers.contains_key("content-type"));
    }
}
