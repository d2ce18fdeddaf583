//! Classifying an HTTP request into a protocol v1 operation, before any session is looked up.
//!
//! Adapters call [`route`] with the method, the path below the mount point, the raw query and
//! the `Content-Type`, so every framework refuses the same requests with the same status.

use crate::query::{QueryError, parse_optional_u64_param, parse_u64_param};
use crate::reply::{BadRequest, FRAMES_CONTENT_TYPE, Reply};
use crate::session_id::SessionId;

/// `Allow` value for the mount path itself.
pub const ALLOW_COLLECTION: &str = "POST";
/// `Allow` value for a session's path.
pub const ALLOW_SESSION: &str = "GET, POST, DELETE";

/// A protocol v1 operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST {base}`: open a session.
    Open,
    /// `GET {base}/{id}?ack=N`: long poll, acknowledging server messages below `ack`.
    Poll {
        /// The session.
        id: SessionId,
        /// How many server messages the client has received.
        ack: u64,
    },
    /// `POST {base}/{id}?seq=N`: client messages, the first one numbered `seq`; with
    /// `&ack=M`, the answer may carry server messages (`PROTOCOL.md` section 5.3).
    Send {
        /// The session.
        id: SessionId,
        /// Sequence number of the first frame in the body.
        seq: u64,
        /// How many server messages the client has received, if it said.
        ack: Option<u64>,
    },
    /// `DELETE {base}/{id}`: the client closes the session.
    Close {
        /// The session.
        id: SessionId,
    },
}

/// Classifies a request, or returns the reply that refuses it.
///
/// `path` is the part of the path below the mount point: `""` or `"/"` for the mount point
/// itself, `"/{id}"` for a session. Checks run in this order, the first failure answering:
/// unknown path or malformed id `404`; method `405`; content type `415`; query `400`.
///
/// ```
/// use longpoll_core::route::{route, Route};
///
/// assert_eq!(route("POST", "", None, None), Ok(Route::Open));
/// let id = "0123456789abcdef0123456789abcdef";
/// let poll = route("GET", &format!("/{id}"), Some("ack=3"), None).unwrap();
/// assert!(matches!(poll, Route::Poll { ack: 3, .. }));
/// assert_eq!(route("PUT", &format!("/{id}"), None, None).unwrap_err().status(), 405);
/// assert_eq!(route("POST", &format!("/{id}"), Some("seq=0"), Some("text/plain")).unwrap_err().status(), 415);
/// ```
pub fn route(
    method: &str,
    path: &str,
    query: Option<&str>,
    content_type: Option<&str>,
) -> Result<Route, Reply> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    if rest.is_empty() {
        return match method {
            "POST" => Ok(Route::Open),
            _ => Err(Reply::MethodNotAllowed {
                allow: ALLOW_COLLECTION,
            }),
        };
    }
    let id = SessionId::parse(rest).ok_or(Reply::NotFound)?;
    Ok(match operation(method, query, content_type)? {
        Operation::Poll { ack } => Route::Poll { id, ack },
        Operation::Send { seq, ack } => Route::Send { id, seq, ack },
        Operation::Close => Route::Close { id },
    })
}

/// A request on a session whose id the application has already resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `GET ...?ack=N`.
    Poll {
        /// Server messages the client has received.
        ack: u64,
    },
    /// `POST ...?seq=N`, with `&ack=M` if the client acknowledges on sends.
    Send {
        /// Sequence number of the first frame in the body.
        seq: u64,
        /// Server messages the client has received, if it said.
        ack: Option<u64>,
    },
    /// `DELETE`.
    Close,
}

/// Classifies a request on a session, for applications that route session URLs themselves
/// (the primitive path): method `405`, content type `415`, query `400`, in that order.
///
/// ```
/// use longpoll_core::route::{operation, Operation};
///
/// assert_eq!(operation("GET", Some("ack=2"), None), Ok(Operation::Poll { ack: 2 }));
/// assert_eq!(operation("PUT", None, None).unwrap_err().status(), 405);
/// ```
pub fn operation(
    method: &str,
    query: Option<&str>,
    content_type: Option<&str>,
) -> Result<Operation, Reply> {
    match method {
        "GET" => Ok(Operation::Poll {
            ack: parse_u64_param(query, "ack").map_err(bad_query)?,
        }),
        "POST" => {
            if !is_frames_content_type(content_type) {
                return Err(Reply::UnsupportedMediaType);
            }
            Ok(Operation::Send {
                seq: parse_u64_param(query, "seq").map_err(bad_query)?,
                ack: parse_optional_u64_param(query, "ack").map_err(bad_query)?,
            })
        }
        "DELETE" => Ok(Operation::Close),
        _ => Err(Reply::MethodNotAllowed {
            allow: ALLOW_SESSION,
        }),
    }
}

fn bad_query(error: QueryError) -> Reply {
    Reply::BadRequest(BadRequest::Query(error))
}

/// Whether a `Content-Type` value is `application/octet-stream` (any case, parameters allowed).
pub fn is_frames_content_type(content_type: Option<&str>) -> bool {
    let Some(value) = content_type else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case(FRAMES_CONTENT_TYPE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "/0123456789abcdef0123456789abcdef";

    #[test]
    fn every_operation_is_recognised() {
        assert_eq!(route("POST", "/", None, None), Ok(Route::Open));
        let id = SessionId::parse(&ID[1..]).unwrap();
        assert_eq!(
            route("GET", ID, Some("ack=0"), None),
            Ok(Route::Poll { id, ack: 0 })
        );
        assert_eq!(
            route(
                "POST",
                ID,
                Some("seq=5"),
                Some("Application/Octet-Stream; x=y")
            ),
            Ok(Route::Send {
                id,
                seq: 5,
                ack: None
            })
        );
        assert_eq!(
            route("POST", ID, Some("ack=2&seq=5"), Some(FRAMES_CONTENT_TYPE)),
            Ok(Route::Send {
                id,
                seq: 5,
                ack: Some(2)
            })
        );
        assert_eq!(route("DELETE", ID, None, None), Ok(Route::Close { id }));
    }

    #[test]
    fn refusals_have_the_documented_status() {
        let status = |r: Result<Route, Reply>| r.unwrap_err().status();
        assert_eq!(status(route("GET", "", None, None)), 405);
        assert_eq!(status(route("GET", "/nope", Some("ack=0"), None)), 404);
        assert_eq!(
            status(route("GET", &format!("{ID}/x"), Some("ack=0"), None)),
            404
        );
        assert_eq!(status(route("PATCH", ID, None, None)), 405);
        assert_eq!(status(route("GET", ID, None, None)), 400);
        assert_eq!(status(route("GET", ID, Some("ack=x"), None)), 400);
        assert_eq!(status(route("POST", ID, Some("seq=0"), None)), 415);
        assert_eq!(
            status(route(
                "POST",
                ID,
                Some("seq=0"),
                Some("application/x-www-form-urlencoded")
            )),
            415
        );
        // Content type is checked before the query.
        assert_eq!(status(route("POST", ID, None, Some("text/plain"))), 415);
        assert_eq!(
            status(route("POST", ID, None, Some(FRAMES_CONTENT_TYPE))),
            400
        );
        // A send's `ack` is optional, but when present it must be valid and appear once.
        for query in ["seq=0&ack=x", "seq=0&ack=1&ack=1", "seq=0&ack="] {
            let refused = route("POST", ID, Some(query), Some(FRAMES_CONTENT_TYPE));
            assert_eq!(status(refused), 400, "{query}");
        }
    }
}
