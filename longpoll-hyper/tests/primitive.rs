//! The primitive: the application keeps session handles itself and forwards each request with
//! `SessionHandleExt::send`, over real TCP (hyper `Incoming` bodies) and directly.

mod support;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use longpoll_hyper::{LongPoll, SessionHandle, SessionHandleExt};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

const BOUND: Duration = Duration::from_secs(20);

type Sessions = Arc<Mutex<HashMap<String, SessionHandle>>>;

/// The seed's shape: `POST /session` creates, `/session/{id}` forwards to the handle.
async fn app(
    longpoll: LongPoll,
    sessions: Sessions,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    if path == "/session" && request.method() == "POST" {
        let handle = longpoll.connect(echo);
        let id = handle.id().to_string();
        sessions.lock().unwrap().insert(id.clone(), handle);
        return Ok(Response::new(Full::new(Bytes::from(id))));
    }
    let found = path
        .strip_prefix("/session/")
        .and_then(|id| sessions.lock().unwrap().get(id).cloned());
    match found {
        Some(mut handle) => handle.send(request).await,
        None => {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = hyper::StatusCode::NOT_FOUND;
            Ok(response)
        }
    }
}

#[tokio::test]
async fn forwarding_incoming_requests_to_a_kept_handle() {
    bounded(BOUND, async {
        let longpoll = LongPoll::new(quick_config()).unwrap();
        let sessions = Sessions::default();
        let service = service_fn(move |request| app(longpoll.clone(), sessions.clone(), request));
        let address = serve(service, Duration::from_secs(5)).await;
        let mut client = h1(address).await;

        let created = collect(
            client
                .send_request(request("POST", "/session", ""))
                .await
                .unwrap(),
        )
        .await;
        let id = String::from_utf8(created.body.to_vec()).unwrap();
        let sent = vec![text("kept by the app"), binary(b"\x00\x01")];
        let uri = format!("/session/{id}?seq=0");
        let accepted = collect(
            client
                .send_request(request("POST", &uri, encode(&sent)))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(accepted.status, 204, "{accepted:?}");
        let uri = format!("/session/{id}?ack=0");
        let polled = collect(client.send_request(request("GET", &uri, "")).await.unwrap()).await;
        let (seq, mut received) = frames(&polled);
        assert_eq!(seq, 0);
        while received.len() < sent.len() {
            let uri = format!("/session/{id}?ack={}", received.len());
            let more = collect(client.send_request(request("GET", &uri, "")).await.unwrap()).await;
            if more.status == 200 {
                received.extend(frames(&more).1);
            }
        }
        assert_eq!(received, sent);

        // Oversize, declared by Content-Length: 413 without reading it.
        let uri = format!("/session/{id}?seq=2");
        let big = Bytes::from(vec![0u8; 2048]);
        let refused = collect(
            client
                .send_request(request("POST", &uri, big))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(refused.status, 413);

        let mut client = h1(address).await;
        let uri = format!("/session/{id}");
        let closed = collect(
            client
                .send_request(request("DELETE", &uri, ""))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(closed.status, 204);
        let uri = format!("/session/{id}?ack=2");
        let gone = collect(client.send_request(request("GET", &uri, "")).await.unwrap()).await;
        assert_eq!(gone.status, 410);
    })
    .await;
}

#[tokio::test]
async fn refusals_come_back_as_responses() {
    bounded(BOUND, async {
        let mut handle = LongPoll::new(quick_config()).unwrap().connect(echo);
        let status = |response: Response<Full<Bytes>>| response.status().as_u16();

        let put = Request::put("/whatever")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let answer = handle.send(put).await.unwrap();
        assert_eq!(answer.headers()["allow"], "GET, POST, DELETE");
        assert_eq!(status(answer), 405);

        let wrong_type = Request::post("/x?seq=0")
            .header("content-type", "text/plain")
            .body(Full::new(encode(&[text("hi")])))
            .unwrap();
        assert_eq!(status(handle.send(wrong_type).await.unwrap()), 415);

        let no_ack = request("GET", "/x", "");
        assert_eq!(status(handle.send(no_ack).await.unwrap()), 400);

        // No Content-Length header: the body's own size says it is too large.
        let too_big = request("POST", "/x?seq=0", vec![0u8; 1025]);
        assert_eq!(status(handle.send(too_big).await.unwrap()), 413);

        let frames_sent = request("POST", "/x?seq=0", encode(&[text("fine")]));
        assert_eq!(status(handle.send(frames_sent).await.unwrap()), 204);
        let polled = handle.send(request("GET", "/x?ack=0", "")).await.unwrap();
        assert_eq!(polled.headers()["longpoll-seq"], "0");
        assert_eq!(status(polled), 200);

        assert_eq!(
            status(handle.send(request("DELETE", "/x", "")).await.unwrap()),
            204
        );
    })
    .await;
}
