//! Opening sessions, and servers that misbehave: each failure has its own `ConnectError`, and
//! a session that goes wrong later ends with a reason instead of hanging or panicking.

mod support;

use longpoll_client::{Client, CloseReason, ConnectError, Error, ParamsError};
use longpoll_tokio::{LongPoll, Registry};
use std::time::Duration;
use support::{bounded, canned, echo, response, start, start_with};

const ID: &str = "0123456789abcdef0123456789abcdef";

fn open_json() -> String {
    format!(
        r#"{{"protocol":1,"id":"{ID}","pollTimeoutMs":25000,"idleTimeoutMs":35000,"maxMessageBytes":524288,"maxBodyBytes":1048576,"maxFramesPerRequest":1024}}"#
    )
}

#[tokio::test]
async fn a_refused_connection_is_an_http_error() {
    bounded(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let error = Client::new()
            .connect(&format!("http://{addr}/longpoll"))
            .await
            .unwrap_err();
        assert!(matches!(error, ConnectError::Http(_)), "{error:?}");
        assert!(std::error::Error::source(&error).is_some());
    })
    .await;
}

#[tokio::test]
async fn a_wrong_path_is_a_404_status() {
    bounded(async {
        let server = start(echo).await;
        let url = format!("http://{}/elsewhere", server.addr);
        let error = Client::new().connect(&url).await.unwrap_err();
        assert_eq!(error.status(), Some(404), "{error:?}");
    })
    .await;
}

#[tokio::test]
async fn a_full_registry_is_a_503_with_retry_after() {
    bounded(async {
        let server = start_with(Registry::new(LongPoll::default(), Some(0)), echo).await;
        let error = Client::new().connect(&server.base_url()).await.unwrap_err();
        assert!(
            matches!(
                error,
                ConnectError::Status {
                    status: 503,
                    retry_after: Some(after),
                } if after == Duration::from_secs(1)
            ),
            "{error:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_bad_open_body_is_an_invalid_response() {
    bounded(async {
        let server = canned(|_, _| async { response(201, &[], "not json") }).await;
        let error = Client::new().connect(&server.base_url()).await.unwrap_err();
        assert!(
            matches!(error, ConnectError::InvalidResponse(ParamsError::Syntax)),
            "{error:?}"
        );

        let server = canned(|_, _| async {
            response(
                200,
                &[],
                r#"{"protocol":2,"id":"0123456789abcdef0123456789abcdef"}"#,
            )
        })
        .await;
        let error = Client::new().connect(&server.base_url()).await.unwrap_err();
        assert!(
            matches!(error, ConnectError::InvalidResponse(_)),
            "{error:?}"
        );

        let big = "x".repeat(100 * 1024);
        let server = canned(move |_, _| {
            let big = big.clone();
            async move { response(201, &[], &big) }
        })
        .await;
        let error = Client::new().connect(&server.base_url()).await.unwrap_err();
        assert!(
            matches!(error, ConnectError::ResponseTooLarge { .. }),
            "{error:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn an_invalid_url_is_refused_before_any_request() {
    for url in [
        "https://127.0.0.1:1/longpoll",
        "127.0.0.1:1/longpoll",
        "http://127.0.0.1:1/longpoll?x=1",
    ] {
        let error = Client::new().connect(url).await.unwrap_err();
        assert!(
            matches!(error, ConnectError::InvalidUrl { .. }),
            "{url}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_silent_server_times_out() {
    bounded(async {
        let server = canned(|_, _| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            response(201, &[], "")
        })
        .await;
        let client = Client::new().with_open_timeout(Duration::from_millis(200));
        let error = client.connect(&server.base_url()).await.unwrap_err();
        assert!(matches!(error, ConnectError::TimedOut(_)), "{error:?}");
    })
    .await;
}

#[tokio::test]
async fn a_bare_json_string_id_opens_a_session() {
    bounded(async {
        let server = canned(|method, target| async move {
            match (method.as_str(), target.as_str()) {
                ("POST", "/longpoll") => response(
                    201,
                    &[("content-type", "application/json")],
                    &format!("\"{ID}\""),
                ),
                // Then the session is gone.
                _ => response(404, &[], "no such session\n"),
            }
        })
        .await;
        let mut session = Client::new().connect(&server.base_url()).await.unwrap();
        assert_eq!(session.id(), ID);
        let end = session.recv().await.unwrap();
        assert_eq!(end, Err(Error::Ended(CloseReason::SessionGone)));
        assert!(session.recv().await.is_none());
        assert_eq!(
            server.log.lines(),
            [
                "POST /longpoll".to_string(),
                format!("GET /longpoll/{ID}?ack=0")
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn a_protocol_error_ends_the_session_and_sends_delete() {
    bounded(async {
        let server = canned(|method, _| async move {
            match method.as_str() {
                "POST" => response(201, &[], &open_json()),
                // A 200 without Longpoll-Seq is impossible.
                "GET" => response(
                    200,
                    &[("content-type", "application/octet-stream")],
                    "\x01\0\0\0\x01a",
                ),
                _ => response(204, &[], ""),
            }
        })
        .await;
        let mut session = Client::new().connect(&server.base_url()).await.unwrap();
        let end = session.recv().await.unwrap();
        assert!(
            matches!(end, Err(Error::Ended(CloseReason::ProtocolError(_)))),
            "{end:?}"
        );
        assert!(session.recv().await.is_none());
        // The DELETE is fire-and-forget; give it a moment, then check nothing else follows.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let lines = server.log.lines();
        assert_eq!(
            lines,
            [
                "POST /longpoll".to_string(),
                format!("GET /longpoll/{ID}?ack=0"),
                format!("DELETE /longpoll/{ID}"),
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn server_errors_are_retried_until_the_server_answers() {
    bounded(async {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let polls = Arc::new(AtomicUsize::new(0));
        let counter = polls.clone();
        let server = canned(move |method, _| {
            let polls = counter.clone();
            async move {
                match method.as_str() {
                    "POST" => response(201, &[], &open_json()),
                    "GET" => match polls.fetch_add(1, Ordering::SeqCst) {
                        // Two proxy errors, then the session turns out to be gone.
                        0 | 1 => response(502, &[], "bad gateway\n"),
                        _ => response(410, &[], "session closed\n"),
                    },
                    _ => response(204, &[], ""),
                }
            }
        })
        .await;
        let mut session = Client::new().connect(&server.base_url()).await.unwrap();
        let end = session.recv().await.unwrap();
        assert_eq!(end, Err(Error::Ended(CloseReason::SessionGone)));
        assert_eq!(polls.load(Ordering::SeqCst), 3);
        // Gone needs no DELETE.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(server.log.count("DELETE "), 0);
    })
    .await;
}

/// An open response with short timeouts: requests are abandoned 300 ms after they are
/// issued, and the client gives up after 600 ms without a protocol answer.
fn short_open_json() -> String {
    format!(
        r#"{{"protocol":1,"id":"{ID}","pollTimeoutMs":200,"idleTimeoutMs":400,"maxMessageBytes":1024,"maxBodyBytes":2048,"maxFramesPerRequest":16}}"#
    )
}

#[tokio::test]
async fn a_server_that_never_answers_is_given_up() {
    bounded(async {
        let server = canned(|method, _| async move {
            match method.as_str() {
                "POST" => response(201, &[], &short_open_json()),
                "GET" => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    response(204, &[], "")
                }
                _ => response(204, &[], ""),
            }
        })
        .await;
        let started = std::time::Instant::now();
        let mut session = Client::new().connect(&server.base_url()).await.unwrap();
        let end = session.recv().await.unwrap();
        assert_eq!(end, Err(Error::Ended(CloseReason::IdleTimeout)));
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(550) && took < Duration::from_secs(5),
            "gave up after {took:?}"
        );
        assert!(session.recv().await.is_none());
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Polls abandoned at their deadline were retried at once; then a DELETE.
        let lines = server.log.lines();
        assert!(lines.len() >= 3, "{lines:?}");
        assert_eq!(lines.last().unwrap(), &format!("DELETE /longpoll/{ID}"));
        assert!(
            lines[1..lines.len() - 1]
                .iter()
                .all(|line| line == &format!("GET /longpoll/{ID}?ack=0")),
            "{lines:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn retry_after_is_honoured_and_absurd_values_do_not_panic() {
    bounded(async {
        let server = canned(|method, _| async move {
            match method.as_str() {
                "POST" => response(201, &[], &open_json()),
                "GET" => response(503, &[("retry-after", "1")], "busy\n"),
                _ => response(204, &[], ""),
            }
        })
        .await;
        let mut session = Client::new().connect(&server.base_url()).await.unwrap();
        let pending = tokio::time::timeout(Duration::from_millis(1500), session.recv()).await;
        assert!(pending.is_err(), "{pending:?}");
        // The first poll at once, the second no sooner than a second later.
        assert_eq!(server.log.count("GET "), 2);
        drop(session);

        let server = canned(|method, _| async move {
            match method.as_str() {
                "POST" => response(201, &[], &open_json()),
                "GET" => response(503, &[("retry-after", "18446744073709551615")], "busy\n"),
                _ => response(204, &[], ""),
            }
        })
        .await;
        let mut session = Client::new().connect(&server.base_url()).await.unwrap();
        // The driver is alive (a panic would end the stream) and waits as told.
        let pending = tokio::time::timeout(Duration::from_millis(300), session.recv()).await;
        assert!(pending.is_err(), "{pending:?}");
        assert_eq!(server.log.count("GET "), 1);
        session.close(None).await.unwrap();
    })
    .await;
}
