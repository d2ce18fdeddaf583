//! `LongPollLayer` answers the protocol under its base in front of an app, exactly as
//! `router_at` does, hands every other request to the app, and takes any request body type.

use axum::Router;
use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use longpoll_axum::{LongPoll, LongPollLayer, Session};
use longpoll_core::wire::{Frame, decode_body, encode_frame};
use std::convert::Infallible;
use tower::{Service, ServiceExt};
use tower_layer::Layer;

async fn echo(session: Session) {
    let (mut tx, mut rx) = session.split();
    while let Some(Ok(message)) = rx.next().await {
        if tx.send(message).await.is_err() {
            break;
        }
    }
}

/// The app behind the layer in these tests: one route of its own.
fn app() -> Router {
    Router::new().route("/other", axum::routing::get(|| async { "mine" }))
}

/// A response with its body read, and the headers a comparison should ignore removed.
async fn call<S, B>(service: &S, request: Request<B>) -> Response<Bytes>
where
    S: Service<Request<B>, Response = axum::response::Response, Error = Infallible> + Clone,
{
    let (parts, body) = service.clone().oneshot(request).await.unwrap().into_parts();
    Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

fn request(method: &str, uri: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/octet-stream")
        .body(Body::empty())
        .unwrap()
}

fn opened_id(response: &Response<Bytes>) -> String {
    assert_eq!(response.status(), StatusCode::CREATED, "{response:?}");
    let json = String::from_utf8_lossy(response.body());
    longpoll_core::SessionParams::from_json(&json)
        .unwrap()
        .id
        .to_string()
}

#[tokio::test]
async fn the_layer_serves_under_its_base_and_leaves_the_rest_to_the_app() {
    let layered = LongPollLayer::new("/longpoll/", LongPoll::default().mount(echo)).layer(app());
    let id = opened_id(&call(&layered, request("POST", "/longpoll")).await);
    let closed = call(&layered, request("DELETE", &format!("/longpoll/{id}"))).await;
    assert_eq!(closed.status(), StatusCode::NO_CONTENT);
    let unknown = format!("/longpoll/{}?ack=0", "0".repeat(32));
    let gone = call(&layered, request("GET", &unknown)).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(gone.headers()["cache-control"], "no-store");

    let other = call(&layered, request("GET", "/other")).await;
    assert_eq!(other.body().as_ref(), b"mine");
    // Paths that only start like the base are the app's: axum's 404, without the protocol's
    // `no-store`.
    for path in ["/longpollx", "/longpolls/x", "/", "/long"] {
        let response = call(&layered, request("POST", path)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!response.headers().contains_key("cache-control"), "{path}");
    }
}

/// Every answer of `router_at` for these requests, status, headers and body, comes from the
/// layer too: they share one implementation behind different routing, and the routing must
/// not change what the protocol says.
#[tokio::test]
async fn the_layer_answers_like_router_at() {
    let routed = Router::new()
        .merge(longpoll_axum::router_at(
            "/longpoll",
            LongPoll::default().mount(echo),
        ))
        .merge(app());
    let layered = LongPollLayer::new("/longpoll", LongPoll::default().mount(echo)).layer(app());
    let unknown = "0".repeat(32);
    let cases = [
        ("GET", "/longpoll".to_string()),
        ("PUT", "/longpoll".to_string()),
        ("GET", "/longpoll/".to_string()),
        ("GET", "/longpoll//".to_string()),
        ("GET", format!("/longpoll/{unknown}?ack=0")),
        ("GET", format!("/longpoll/{unknown}")),
        ("GET", format!("/longpoll/{unknown}?ack=x")),
        ("POST", format!("/longpoll/{unknown}?seq=0")),
        ("DELETE", format!("/longpoll/{unknown}")),
        ("PATCH", format!("/longpoll/{unknown}")),
        ("GET", "/longpoll/not-an-id?ack=0".to_string()),
        ("GET", format!("/longpoll/{unknown}/more?ack=0")),
        ("OPTIONS", format!("/longpoll/{unknown}")),
        ("GET", "/other".to_string()),
        ("GET", "/missing".to_string()),
    ];
    for (method, uri) in cases {
        let by_router = call(&routed, request(method, &uri)).await;
        let by_layer = call(&layered, request(method, &uri)).await;
        assert_eq!(by_layer.status(), by_router.status(), "{method} {uri}");
        assert_eq!(by_layer.headers(), by_router.headers(), "{method} {uri}");
        assert_eq!(by_layer.body(), by_router.body(), "{method} {uri}");
    }
}

/// The layer reads the server's own body type (here `http-body-util`'s, in pieces that cut
/// frames in the middle), without axum's boxing in between.
#[tokio::test]
async fn the_layer_takes_any_body_type() {
    let layered = LongPollLayer::new("/lp", LongPoll::default().mount(echo)).layer(app());
    let open = Request::post("/lp").body(Full::new(Bytes::new())).unwrap();
    let (parts, body) = layered.clone().oneshot(open).await.unwrap().into_parts();
    let opened = Response::from_parts(parts, body.collect().await.unwrap().to_bytes());
    let id = opened_id(&opened);

    let sent: Vec<Frame> = ["hello", "wide", "world"]
        .into_iter()
        .map(|text| Frame::Message(text.into()))
        .collect();
    let mut encoded = BytesMut::new();
    for frame in &sent {
        encode_frame(frame, &mut encoded).unwrap();
    }
    let pieces: Vec<Result<http_body::Frame<Bytes>, Infallible>> = encoded
        .chunks(7)
        .map(|piece| Ok(http_body::Frame::data(Bytes::copy_from_slice(piece))))
        .collect();
    let streamed = StreamBody::new(futures_util::stream::iter(pieces));
    let send = Request::post(format!("/lp/{id}?seq=0"))
        .header("content-type", "application/octet-stream")
        .body(streamed)
        .unwrap();
    let accepted = layered.clone().oneshot(send).await.unwrap();
    assert_eq!(accepted.status(), StatusCode::NO_CONTENT);

    let mut echoed = Vec::new();
    while echoed.len() < sent.len() {
        let uri = format!("/lp/{id}?ack={}", echoed.len());
        let polled = call(&layered, request("GET", &uri)).await;
        assert_eq!(polled.status(), StatusCode::OK);
        echoed.extend(decode_body(polled.body().clone(), usize::MAX, usize::MAX).unwrap());
    }
    assert_eq!(echoed, sent);
}

#[test]
#[should_panic(expected = "must be empty or an absolute path")]
fn a_base_without_a_leading_slash_is_refused() {
    let _ = LongPollLayer::new("longpoll", LongPoll::default().mount(echo));
}
