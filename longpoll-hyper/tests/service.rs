//! `LongPollService` over real TCP on 127.0.0.1: the protocol round trip on HTTP/1.1 and
//! HTTP/2, body limits, content type, paths outside the mount, and the body read timeout.

mod support;

use longpoll_core::wire::Frame;
use longpoll_hyper::{Config, LongPollService};
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BOUND: Duration = Duration::from_secs(20);

async fn echo_server(config: Config) -> std::net::SocketAddr {
    let service = LongPollService::new(BASE, echo_mount(config));
    serve(service, Duration::from_secs(5)).await
}

/// Opens a session on a fresh connection and returns its id.
async fn open(address: std::net::SocketAddr) -> String {
    let mut client = h1(address).await;
    let answer = collect(
        client
            .send_request(request("POST", BASE, ""))
            .await
            .unwrap(),
    )
    .await;
    session_id(&answer)
}

/// `POST {BASE}/{id}?seq=0` of valid frames, then a poll: the session echoes them.
async fn assert_session_works(address: std::net::SocketAddr, id: &str) {
    let mut client = h1(address).await;
    let sent = vec![text("still fine")];
    let uri = format!("{BASE}/{id}?seq=0");
    let accepted = collect(
        client
            .send_request(request("POST", &uri, encode(&sent)))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(accepted.status, 204, "{accepted:?}");
    let uri = format!("{BASE}/{id}?ack=0");
    let polled = collect(client.send_request(request("GET", &uri, "")).await.unwrap()).await;
    assert_eq!(frames(&polled), (0, sent));
}

#[tokio::test]
async fn open_poll_send_close_round_trip_on_one_keep_alive_connection() {
    bounded(BOUND, async {
        let address = echo_server(quick_config()).await;
        let mut client = h1(address).await;

        let opened = collect(
            client
                .send_request(request("POST", BASE, ""))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(opened.header("content-type"), Some("application/json"));
        assert_eq!(opened.header("cache-control"), Some("no-store"));
        let id = session_id(&opened);

        let sent = vec![text("héllo"), binary(&[0, 255, 7])];
        let uri = format!("{BASE}/{id}?seq=0");
        let accepted = collect(
            client
                .send_request(request("POST", &uri, encode(&sent)))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(accepted.status, 204, "{accepted:?}");
        assert!(accepted.body.is_empty());

        let mut received: Vec<Frame> = Vec::new();
        while received.len() < 2 {
            let uri = format!("{BASE}/{id}?ack={}", received.len());
            let polled =
                collect(client.send_request(request("GET", &uri, "")).await.unwrap()).await;
            if polled.status == 204 {
                continue;
            }
            let (seq, batch) = frames(&polled);
            assert_eq!(seq, received.len() as u64);
            assert_eq!(polled.header("content-type"), Some(FRAMES));
            received.extend(batch);
        }
        assert_eq!(received, sent);

        // Nothing more to send: the poll is held, then answered 204.
        let started = Instant::now();
        let uri = format!("{BASE}/{id}?ack=2");
        let idle = collect(client.send_request(request("GET", &uri, "")).await.unwrap()).await;
        assert_eq!(idle.status, 204);
        assert!(
            started.elapsed() >= Duration::from_millis(350),
            "held for the poll timeout"
        );

        // `close-me`: the server closes with 4000 "requested".
        let uri = format!("{BASE}/{id}?seq=2");
        let body = encode(&[text("close-me")]);
        let accepted = collect(
            client
                .send_request(request("POST", &uri, body))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(accepted.status, 204);
        let uri = format!("{BASE}/{id}?ack=2");
        let polled = collect(client.send_request(request("GET", &uri, "")).await.unwrap()).await;
        assert_eq!(frames(&polled), (2, vec![close(4000, "requested")]));

        let uri = format!("{BASE}/{id}");
        let closed = collect(
            client
                .send_request(request("DELETE", &uri, ""))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(closed.status, 204);
    })
    .await;
}

#[tokio::test]
async fn client_delete_closes_and_later_requests_get_410() {
    bounded(BOUND, async {
        let address = echo_server(quick_config()).await;
        let id = open(address).await;
        let mut client = h1(address).await;
        let uri = format!("{BASE}/{id}");
        let closed = collect(
            client
                .send_request(request("DELETE", &uri, ""))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(closed.status, 204);
        let uri = format!("{BASE}/{id}?ack=0");
        let gone = collect(client.send_request(request("GET", &uri, "")).await.unwrap()).await;
        assert_eq!(gone.status, 410, "{gone:?}");
    })
    .await;
}

#[tokio::test]
async fn declared_oversize_body_is_413_before_it_is_sent_and_the_session_is_fine() {
    bounded(BOUND, async {
        let address = echo_server(quick_config()).await;
        let id = open(address).await;
        // Only the head: the answer must not wait for a body it refuses.
        let head = format!(
            "POST {BASE}/{id}?seq=0 HTTP/1.1\r\nHost: test\r\nContent-Type: {FRAMES}\r\n\
             Content-Length: 1025\r\n\r\n"
        );
        let answer = raw_exchange(address, head.as_bytes()).await;
        assert_eq!(answer.status, 413, "{answer:?}");
        assert!(String::from_utf8_lossy(&answer.body).contains("1024"));
        assert_session_works(address, &id).await;
    })
    .await;
}

/// Starts `POST ?seq=0` with a chunked body and sends `body` in chunks of `size`, a pause
/// after each (so each is its own segment), without the last chunk; the server closes the
/// connection after its answer.
async fn post_in_chunks(
    address: std::net::SocketAddr,
    id: &str,
    body: &[u8],
    size: usize,
) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST {BASE}/{id}?seq=0 HTTP/1.1\r\nHost: test\r\nContent-Type: {FRAMES}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(size) {
        let piece = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        stream.write_all(&piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    stream
}

#[tokio::test]
async fn streamed_oversize_chunked_body_is_413_and_the_session_is_fine() {
    bounded(BOUND, async {
        let address = echo_server(quick_config()).await;
        let id = open(address).await;
        // Two 600-byte chunks (a valid text frame's worth of bytes, 1200 > 1024), no last chunk:
        // the server must refuse on the count, not wait for the end.
        let mut body = encode(&[text(&"x".repeat(595))]).to_vec();
        body.extend_from_slice(&body.clone());
        let mut stream = post_in_chunks(address, &id, &body, 600).await;
        let answer = read_to_close(&mut stream).await;
        assert_eq!(answer.status, 413, "{answer:?}");
        assert_session_works(address, &id).await;
    })
    .await;
}

#[tokio::test]
async fn a_body_in_several_chunks_arrives_whole() {
    bounded(BOUND, async {
        let address = echo_server(quick_config()).await;
        let id = open(address).await;
        // Chunks that cut frames in the middle, each its own segment: the body is read as
        // several pieces and must be joined in order.
        let sent = vec![text("hello"), text("wide"), binary(&[0, 1, 2])];
        let mut stream = post_in_chunks(address, &id, &encode(&sent), 7).await;
        stream.write_all(b"0\r\n\r\n").await.unwrap();
        let answer = read_to_close(&mut stream).await;
        assert_eq!(answer.status, 204, "{answer:?}");
        let mut client = h1(address).await;
        let uri = format!("{BASE}/{id}?ack=0");
        let polled = collect(client.send_request(request("GET", &uri, "")).await.unwrap()).await;
        assert_eq!(frames(&polled), (0, sent));
    })
    .await;
}

#[tokio::test]
async fn body_at_the_limit_is_accepted() {
    bounded(BOUND, async {
        let address = echo_server(quick_config()).await;
        let id = open(address).await;
        let body = encode(&[text(&"y".repeat(1000)), text(&"z".repeat(14))]);
        assert_eq!(body.len(), 1024);
        let mut client = h1(address).await;
        let uri = format!("{BASE}/{id}?seq=0");
        let accepted = collect(
            client
                .send_request(request("POST", &uri, body))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(accepted.status, 204, "{accepted:?}");
    })
    .await;
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    bounded(BOUND, async {
        let address = echo_server(quick_config()).await;
        let id = open(address).await;
        let mut client = h1(address).await;
        let uri = format!("{BASE}/{id}?seq=0");
        let wrong = hyper::Request::post(&uri)
            .header("content-type", "text/plain")
            .body(http_body_util::Full::new(encode(&[text("hi")])))
            .unwrap();
        let answer = collect(client.send_request(wrong).await.unwrap()).await;
        assert_eq!(answer.status, 415, "{answer:?}");
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        assert_session_works(address, &id).await;
    })
    .await;
}

#[tokio::test]
async fn paths_outside_the_mount_are_404_and_the_protocol_statuses_hold_inside() {
    bounded(BOUND, async {
        let address = echo_server(quick_config()).await;
        let mut client = h1(address).await;
        for path in ["/", "/index.html", "/longpollx", "/other/longpoll"] {
            let answer =
                collect(client.send_request(request("GET", path, "")).await.unwrap()).await;
            assert_eq!(answer.status, 404, "{path}: {answer:?}");
            let answer = collect(
                client
                    .send_request(request("POST", path, ""))
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(answer.status, 404, "{path}: {answer:?}");
        }
        let unknown = format!("{BASE}/0123456789abcdef0123456789abcdef?ack=0");
        let answer = collect(
            client
                .send_request(request("GET", &unknown, ""))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(answer.status, 404);
        let answer = collect(client.send_request(request("GET", BASE, "")).await.unwrap()).await;
        assert_eq!((answer.status, answer.header("allow")), (405, Some("POST")));
        // A trailing slash on the mount path is the mount path.
        let answer = collect(
            client
                .send_request(request("POST", "/longpoll/", ""))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(answer.status, 201);
    })
    .await;
}

#[tokio::test]
async fn http2_with_prior_knowledge_works() {
    bounded(BOUND, async {
        let address = echo_server(quick_config()).await;
        let mut client = h2(address).await;
        let opened = collect(
            client
                .send_request(request("POST", BASE, ""))
                .await
                .unwrap(),
        )
        .await;
        let id = session_id(&opened);
        // A poll held on one stream while a send arrives on another of the same connection.
        let uri = format!("{BASE}/{id}?ack=0");
        let held = tokio::spawn(client.send_request(request("GET", &uri, "")));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut sender = client.clone();
        let sent = vec![text("over h2")];
        let uri = format!("{BASE}/{id}?seq=0");
        let response = sender
            .send_request(request("POST", &uri, encode(&sent)))
            .await
            .unwrap();
        assert_eq!(response.version(), hyper::Version::HTTP_2);
        assert_eq!(collect(response).await.status, 204);
        let polled = collect(held.await.unwrap().unwrap()).await;
        assert_eq!(frames(&polled), (0, sent));
    })
    .await;
}

#[tokio::test]
async fn a_body_that_stalls_is_408_and_its_connection_closed() {
    bounded(BOUND, async {
        let mount = echo_mount(quick_config());
        let service = LongPollService::new(BASE, mount).body_timeout(Duration::from_millis(500));
        let address = serve(service, Duration::from_secs(5)).await;
        let id = open(address).await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        let head = format!(
            "POST {BASE}/{id}?seq=0 HTTP/1.1\r\nHost: test\r\nContent-Type: {FRAMES}\r\n\
             Content-Length: 100\r\n\r\n\x01\x00"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let started = Instant::now();
        let answer = read_to_close(&mut stream).await;
        assert_eq!(answer.status, 408, "{answer:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
        // The read ended: the server closed the connection.
        let mut rest = [0u8; 1];
        assert_eq!(stream.read(&mut rest).await.unwrap_or(0), 0);
        assert_session_works(address, &id).await;
    })
    .await;
}

#[test]
fn handles_the_mount_path_and_below_only() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let service = LongPollService::new("/longpoll/", echo_mount(Config::default()));
        assert_eq!(service.base(), "/longpoll");
        assert!(service.handles("/longpoll"));
        assert!(service.handles("/longpoll/"));
        assert!(service.handles("/longpoll/abc"));
        assert!(!service.handles("/longpollx"));
        assert!(!service.handles("/"));
        let root = LongPollService::new("/", echo_mount(Config::default()));
        assert!(root.handles("/") && root.handles("/abc"));
    });
}
