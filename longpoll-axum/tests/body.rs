//! A `POST` body that arrives in pieces is joined in order, and a poll's answer carries its
//! length and first sequence number.

use axum::Router;
use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use longpoll_axum::{LongPoll, Session};
use longpoll_core::wire::{Frame, decode_body, encode_frame};
use std::convert::Infallible;
use tower::ServiceExt;

async fn echo(session: Session) {
    let (mut tx, mut rx) = session.split();
    while let Some(Ok(message)) = rx.next().await {
        if tx.send(message).await.is_err() {
            break;
        }
    }
}

async fn call(app: &Router, method: &str, uri: &str, body: Body) -> Response<Bytes> {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/octet-stream")
        .body(body)
        .unwrap();
    let (parts, body) = app.clone().oneshot(request).await.unwrap().into_parts();
    Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

fn header<'a>(response: &'a Response<Bytes>, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn a_body_in_several_chunks_arrives_whole_and_comes_back_with_its_length() {
    let app = longpoll_axum::router_at("/lp", LongPoll::default().mount(echo));
    let opened = call(&app, "POST", "/lp", Body::empty()).await;
    assert_eq!(opened.status(), StatusCode::CREATED);
    let json = String::from_utf8_lossy(opened.body());
    let id = longpoll_core::SessionParams::from_json(&json).unwrap().id;

    let sent: Vec<Frame> = ["hello", "wide", "world"]
        .into_iter()
        .map(|text| Frame::Message(text.into()))
        .collect();
    let mut body = BytesMut::new();
    for frame in &sent {
        encode_frame(frame, &mut body).unwrap();
    }
    let body = body.freeze();
    // Pieces that cut frames in the middle.
    let pieces: Vec<Result<Bytes, Infallible>> = body
        .chunks(7)
        .map(|piece| Ok(Bytes::copy_from_slice(piece)))
        .collect();
    assert!(pieces.len() > 2);
    let streamed = Body::from_stream(futures_util::stream::iter(pieces));
    let accepted = call(&app, "POST", &format!("/lp/{id}?seq=0"), streamed).await;
    assert_eq!(accepted.status(), StatusCode::NO_CONTENT);

    // The echo may come back over several polls.
    let mut echoed = Vec::new();
    while echoed.len() < sent.len() {
        let uri = format!("/lp/{id}?ack={}", echoed.len());
        let polled = call(&app, "GET", &uri, Body::empty()).await;
        assert_eq!(polled.status(), StatusCode::OK);
        let first_seq = echoed.len().to_string();
        assert_eq!(header(&polled, "longpoll-seq"), Some(first_seq.as_str()));
        let length = polled.body().len().to_string();
        assert_eq!(header(&polled, "content-length"), Some(length.as_str()));
        echoed.extend(decode_body(polled.body().clone(), usize::MAX, usize::MAX).unwrap());
    }
    assert_eq!(echoed, sent);
}
