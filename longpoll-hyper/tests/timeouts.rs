//! Slowloris: a client trickling its request head is cut off by hyper's header read timeout
//! (which needs `TokioTimer` on the builder), and a live session is not disturbed.

mod support;

use longpoll_hyper::LongPollService;
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn a_client_trickling_its_headers_is_cut_off_by_the_header_read_timeout() {
    bounded(Duration::from_secs(20), async {
        let service = LongPollService::new(BASE, echo_mount(quick_config()));
        let address = serve(service, Duration::from_secs(1)).await;

        let head = format!(
            "GET {BASE}/0123456789abcdef0123456789abcdef?ack=0 HTTP/1.1\r\nHost: slow.example\r\n\
             User-Agent: slowloris\r\nAccept: */*\r\n\r\n"
        );
        let stream = TcpStream::connect(address).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let started = Instant::now();
        // One byte every 200 ms: the whole head would take over 20 s.
        let trickle = tokio::spawn(async move {
            let mut sent = 0;
            for byte in head.bytes() {
                if writer.write_all(&[byte]).await.is_err() {
                    break;
                }
                sent += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            (sent, head.len())
        });
        // The server closes the connection (EOF or reset) without answering a request.
        let mut answer = Vec::new();
        let _ = reader.read_to_end(&mut answer).await;
        let closed_after = started.elapsed();
        assert!(
            closed_after < Duration::from_millis(2_500),
            "closed after {closed_after:?}, expected about 1 s"
        );
        assert!(
            closed_after >= Duration::from_millis(800),
            "closed too early: {closed_after:?}"
        );
        assert!(
            !String::from_utf8_lossy(&answer).contains(" 404 "),
            "the request was never completed, so never answered: {answer:?}"
        );
        trickle.abort();
        let _ = trickle.await;

        // The server is fine for everyone else.
        let mut client = h1(address).await;
        let opened = collect(
            client
                .send_request(request("POST", BASE, ""))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(opened.status, 201);
    })
    .await;
}
