//! `peek_http_version` over loopback TCP: the version a connection's first bytes say, with
//! those bytes left in the socket for hyper.

use longpoll_hyper::{HttpVersion, peek_http_version};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const PAUSE: Duration = Duration::from_millis(30);
const PATIENCE: Duration = Duration::from_secs(10);

/// A connected pair: the client's end, and the server's.
async fn connection() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("address"))
        .await
        .expect("connect");
    client.set_nodelay(true).expect("nodelay");
    let (server, _) = listener.accept().await.expect("accept");
    (client, server)
}

/// The client writes `pieces` with a pause before each but the first; returns what the
/// server side peeked, and then everything it could read (nothing may have been taken).
async fn peeked_after(pieces: &[&[u8]]) -> (Option<HttpVersion>, Vec<u8>) {
    let (mut client, mut server) = connection().await;
    let pieces: Vec<Vec<u8>> = pieces.iter().map(|piece| piece.to_vec()).collect();
    let sent: Vec<u8> = pieces.concat();
    let writer = tokio::spawn(async move {
        for (index, piece) in pieces.iter().enumerate() {
            if index > 0 {
                tokio::time::sleep(PAUSE).await;
            }
            client.write_all(piece).await.expect("write");
        }
        client
    });
    let version = tokio::time::timeout(PATIENCE, peek_http_version(&server))
        .await
        .expect("told in time")
        .expect("peeked");
    let client = writer.await.expect("writer");
    drop(client);
    let mut read = Vec::new();
    server.read_to_end(&mut read).await.expect("read");
    assert_eq!(read, sent, "peeking took bytes off the socket");
    (version, read)
}

#[tokio::test]
async fn an_http1_request_is_http1() {
    let (version, _) = peeked_after(&[b"GET /longpoll HTTP/1.1\r\nhost: a\r\n\r\n"]).await;
    assert_eq!(version, Some(HttpVersion::Http1));
}

#[tokio::test]
async fn a_request_that_starts_like_the_preface_is_http1_once_it_differs() {
    // "P" could begin "PRI * HTTP/2.0" or "POST": the second segment decides.
    let (version, _) = peeked_after(&[b"P", b"OST /longpoll HTTP/1.1\r\n\r\n"]).await;
    assert_eq!(version, Some(HttpVersion::Http1));
}

#[tokio::test]
async fn the_preface_is_http2_even_split_across_segments() {
    let (version, _) = peeked_after(&[PREFACE]).await;
    assert_eq!(version, Some(HttpVersion::Http2));
    let (version, _) = peeked_after(&[&PREFACE[..3], &PREFACE[3..16], &PREFACE[16..]]).await;
    assert_eq!(version, Some(HttpVersion::Http2));
}

#[tokio::test]
async fn a_peer_that_closes_without_a_byte_has_no_version() {
    let (client, server) = connection().await;
    drop(client);
    let version = tokio::time::timeout(PATIENCE, peek_http_version(&server))
        .await
        .expect("told in time")
        .expect("peeked");
    assert_eq!(version, None);
}

#[tokio::test]
async fn a_preface_that_stalls_has_no_version_until_it_goes_on() {
    let (mut client, server) = connection().await;
    client.write_all(&PREFACE[..6]).await.expect("write");
    let stalled =
        tokio::time::timeout(Duration::from_millis(300), peek_http_version(&server)).await;
    assert!(
        stalled.is_err(),
        "told a version from a partial preface: {stalled:?}"
    );
    client.write_all(&PREFACE[6..]).await.expect("write");
    let version = tokio::time::timeout(PATIENCE, peek_http_version(&server))
        .await
        .expect("told in time")
        .expect("peeked");
    assert_eq!(version, Some(HttpVersion::Http2));
}
