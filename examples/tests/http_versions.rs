//! The hyper-based echo servers (axum and hyper) speak HTTP/1.1 and HTTP/2 (prior knowledge)
//! on one port: a connection's version is told from its first bytes, peeked, not read.

mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::time::Duration;
use support::servers::{self, Adapter};
use support::session::Probe;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PATIENCE: Duration = Duration::from_secs(10);
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
const EMPTY_SETTINGS: [u8; 9] = [0, 0, 0, 4, 0, 0, 0, 0, 0];

/// Opens a session over HTTP/2 with prior knowledge; returns the status and body.
async fn open_over_http2(address: SocketAddr) -> (u16, Bytes) {
    let stream = TcpStream::connect(address).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    let request = hyper::Request::post(format!("http://{address}/longpoll"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = sender.send_request(request).await.expect("HTTP/2 answer");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, body)
}

/// Sends HTTP/2's preface in two segments, far enough apart to arrive apart, and reads the
/// first frame the server sends back.
async fn first_frame_after_split_preface(address: SocketAddr) -> [u8; 9] {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream.write_all(&PREFACE[..5]).await.expect("write");
    tokio::time::sleep(Duration::from_millis(50)).await;
    stream.write_all(&PREFACE[5..]).await.expect("write");
    stream.write_all(&EMPTY_SETTINGS).await.expect("write");
    let mut header = [0u8; 9];
    stream.read_exact(&mut header).await.expect("a frame");
    header
}

async fn both_versions_on_one_port(adapter: Adapter) {
    let server = servers::start(adapter, &servers::args(20_000, 60_000)).await;
    let name = adapter.name();

    // HTTP/1.1, raw.
    let probe = tokio::time::timeout(PATIENCE, Probe::open(server.address))
        .await
        .expect("HTTP/1.1 open answered");
    assert!(!probe.id.is_empty(), "{name}");

    // HTTP/2 with prior knowledge.
    let (status, body) = tokio::time::timeout(PATIENCE, open_over_http2(server.address))
        .await
        .expect("HTTP/2 open answered");
    assert_eq!(status, 201, "{name}: {body:?}");
    let opened: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert!(opened["id"].is_string(), "{name}: {opened}");

    // A preface split across segments is still HTTP/2: the server answers with SETTINGS.
    let frame = tokio::time::timeout(PATIENCE, first_frame_after_split_preface(server.address))
        .await
        .expect("the server spoke");
    assert_eq!(
        frame[3], 4,
        "{name}: expected a SETTINGS frame, got {frame:?}"
    );
}

#[tokio::test]
async fn the_hyper_server_speaks_http1_and_http2_on_one_port() {
    both_versions_on_one_port(Adapter::Hyper).await;
}

#[tokio::test]
async fn the_axum_server_speaks_http1_and_http2_on_one_port() {
    both_versions_on_one_port(Adapter::Axum).await;
}

#[tokio::test]
async fn the_axum_layer_speaks_http1_and_http2_on_one_port() {
    both_versions_on_one_port(Adapter::AxumLayer).await;
}
