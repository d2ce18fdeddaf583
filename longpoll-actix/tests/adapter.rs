//! actix-specific behaviour over real TCP on 127.0.0.1: the body limit enforced while a raw
//! `Payload` streams, the primitive (`respond`) for applications that keep handles, and a
//! session whose requests land on different single-threaded workers.

use actix_web::{App, HttpRequest, HttpServer, web};
use futures_util::{SinkExt, StreamExt};
use longpoll_actix::{LongPoll, Message, Session, SessionHandle};
use longpoll_core::wire::{Frame, decode_body};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn echo(session: Session) {
    let (mut tx, mut rx) = session.split();
    while let Some(Ok(message)) = rx.next().await {
        if matches!(message, Message::Close(_)) || tx.send(message).await.is_err() {
            break;
        }
    }
}

/// One raw HTTP/1.1 exchange on a fresh connection (so actix may hand it to any worker).
fn http(address: SocketAddr, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!("{head}\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |i| i + 4);
    (status, raw[split..].to_vec())
}

fn frame(text: &str) -> Vec<u8> {
    let mut body = vec![1u8];
    body.extend_from_slice(&(text.len() as u32).to_be_bytes());
    body.extend_from_slice(text.as_bytes());
    body
}

/// Serves the app built by `$app` with two workers on 127.0.0.1 (a macro: actix's app type
/// cannot be named).
macro_rules! start {
    ($app:expr) => {{
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let app = $app;
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                HttpServer::new(app)
                    .workers(2)
                    .disable_signals()
                    .listen(listener)
                    .unwrap()
                    .run()
                    .await
            })
        });
        std::thread::sleep(Duration::from_millis(200));
        address
    }};
}

#[test]
fn a_session_is_served_whichever_worker_takes_its_requests() {
    let mount = LongPoll::default().mount(echo);
    let address = start!(move || App::new().service(longpoll_actix::scope("/lp", mount.clone())));
    let (status, body) = http(address, "POST /lp HTTP/1.1\r\nContent-Length: 0", b"");
    assert_eq!(status, 201);
    let params =
        longpoll_core::SessionParams::from_json(std::str::from_utf8(&body).unwrap()).unwrap();
    // Forty requests on forty connections: actix spreads connections over its two workers,
    // so the session task (on the worker that opened it) serves requests from both.
    let mut received = Vec::new();
    for i in 0..20u64 {
        let body = frame(&format!("m{i}"));
        let head = format!(
            "POST /lp/{}?seq={i} HTTP/1.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {}",
            params.id,
            body.len()
        );
        assert_eq!(http(address, &head, &body).0, 204);
        let (status, answer) = http(
            address,
            &format!("GET /lp/{}?ack={i} HTTP/1.1", params.id),
            b"",
        );
        assert_eq!(status, 200);
        received.extend(decode_body(answer.into(), usize::MAX, usize::MAX).unwrap());
    }
    let expected: Vec<Frame> = (0..20)
        .map(|i| Frame::Message(longpoll_core::Message::from(format!("m{i}"))))
        .collect();
    assert_eq!(received, expected);
}

#[test]
fn a_streamed_body_over_the_limit_is_413_before_it_ends() {
    let mut config = longpoll_core::Config::default();
    config.max_body_bytes = 2048;
    config.max_message_bytes = 2000;
    let mount = LongPoll::new(config).unwrap().mount(echo);
    let address = start!(move || App::new().service(longpoll_actix::scope("/lp", mount.clone())));
    let (_, body) = http(address, "POST /lp HTTP/1.1\r\nContent-Length: 0", b"");
    let id = longpoll_core::SessionParams::from_json(std::str::from_utf8(&body).unwrap())
        .unwrap()
        .id;
    // Chunked, no length: refused as soon as the chunks pass 2048 bytes.
    let mut chunked = Vec::new();
    for _ in 0..4 {
        chunked.extend_from_slice(b"400\r\n");
        chunked.extend_from_slice(&[2u8; 0x400]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST /lp/{id}?seq=0 HTTP/1.1\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked"
    );
    assert_eq!(http(address, &head, &chunked).0, 413);
    let ok = frame("fine");
    let head = format!(
        "POST /lp/{id}?seq=0 HTTP/1.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {}",
        ok.len()
    );
    assert_eq!(http(address, &head, &ok).0, 204, "the session is unharmed");
}

#[test]
fn the_primitive_answers_a_session_the_application_keeps() {
    type Sessions = Arc<Mutex<Option<SessionHandle>>>;
    let sessions: Sessions = Arc::default();
    async fn open(sessions: web::Data<Sessions>) -> String {
        let handle = LongPoll::default().connect(echo);
        *sessions.lock().unwrap() = Some(handle);
        "opened".into()
    }
    async fn session(
        request: HttpRequest,
        payload: web::Payload,
        sessions: web::Data<Sessions>,
    ) -> actix_web::HttpResponse {
        let handle = sessions.lock().unwrap().clone().expect("opened first");
        longpoll_actix::respond(&handle, &request, payload).await
    }
    let app = move || {
        App::new()
            .app_data(web::Data::new(sessions.clone()))
            .route("/open", web::post().to(open))
            .route("/mine", web::to(session))
    };
    let address = start!(app);
    assert_eq!(
        http(address, "POST /open HTTP/1.1\r\nContent-Length: 0", b"").0,
        200
    );
    let body = frame("hi");
    let head = format!(
        "POST /mine?seq=0 HTTP/1.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {}",
        body.len()
    );
    assert_eq!(http(address, &head, &body).0, 204);
    let (status, answer) = http(address, "GET /mine?ack=0 HTTP/1.1", b"");
    assert_eq!(status, 200);
    assert_eq!(answer, frame("hi"));
    assert_eq!(
        http(address, "PUT /mine HTTP/1.1\r\nContent-Length: 0", b"").0,
        405
    );
    assert_eq!(http(address, "DELETE /mine HTTP/1.1", b"").0, 204);
    assert_eq!(http(address, "GET /mine?ack=1 HTTP/1.1", b"").0, 410);
}
