//! A protocol answer as an axum response.

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use http::header::CONTENT_LENGTH;
use longpoll_core::Reply;
use longpoll_core::reply::HeaderText;
use longpoll_http::{header_value, reply_headers};

/// Turns a protocol answer into an axum response.
pub fn into_response(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = reply_headers(&reply);
    let body = reply.into_body();
    // Set here, from a table for most lengths: axum would write it into a new allocation.
    // (An empty body gets axum's fixed "0", or none for a 204.)
    if !body.is_empty()
        && let Some(length) = header_value(HeaderText::Number(body.len() as u64))
    {
        headers.insert(CONTENT_LENGTH, length);
    }
    // An empty body boxes nothing (`Body::from` would box a `Full`).
    let body = if body.is_empty() {
        Body::empty()
    } else {
        Body::from(body)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}
