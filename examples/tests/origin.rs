//! Origins and CSRF against every echo server (axum, hyper, actix, custom), over raw TCP on
//! 127.0.0.1: no policy, an allow-list (`--allow-origin`), and `*`. Allowed origins get CORS
//! headers (and preflights their answer), other origins `403` on every method, requests without
//! `Origin` are served; cross-site form posts are refused whatever the policy. After every
//! request the same session still carries a message both ways.

mod support;

use std::net::SocketAddr;
use support::servers::{self, Adapter};
use support::session::Probe;
use support::*;

const BASE: &str = "/longpoll";
const APP: &str = "https://app.example";
const LOCAL: &str = "http://localhost:8080";
const EXPOSED: &str = "Longpoll-Seq, Longpoll-Expected-Seq, Retry-After";

/// What a case expects of `Access-Control-Allow-Origin`.
#[derive(Clone, Copy, Debug)]
enum Cors {
    /// No CORS headers at all.
    Absent,
    /// `Access-Control-Allow-Origin` echoes the request's `Origin`, with `Vary: Origin`.
    Echo,
    /// `Access-Control-Allow-Origin: *`.
    Star,
}

/// One request (never one that changes the session) and its expected answer.
struct Case {
    name: &'static str,
    method: &'static str,
    /// Below the mount path; `{id}` is the probe's session.
    target: &'static str,
    origin: Option<&'static str>,
    headers: &'static [(&'static str, &'static str)],
    body: &'static [u8],
    status: u16,
    cors: Cors,
}

const fn case(
    name: &'static str,
    method: &'static str,
    target: &'static str,
    origin: Option<&'static str>,
    status: u16,
    cors: Cors,
) -> Case {
    Case {
        name,
        method,
        target,
        origin,
        headers: &[],
        body: b"",
        status,
        cors,
    }
}

const PREFLIGHT: &[(&str, &str)] = &[
    ("Access-Control-Request-Method", "POST"),
    ("Access-Control-Request-Headers", "content-type"),
];
/// One text frame "a".
const FRAME: &[u8] = b"\x01\x00\x00\x00\x01a";

/// Requests every policy answers the same way: the protocol's own CSRF defence.
fn form_posts(origin: Option<&'static str>, status: u16, cors: Cors) -> Vec<Case> {
    let post = |name, content_type| Case {
        name,
        method: "POST",
        target: "{id}?seq=1000",
        origin,
        headers: content_type,
        body: FRAME,
        status,
        cors,
    };
    vec![
        post("form post as text/plain", &[("Content-Type", "text/plain")]),
        post(
            "form post as urlencoded",
            &[("Content-Type", "application/x-www-form-urlencoded")],
        ),
        post(
            "form post as multipart",
            &[("Content-Type", "multipart/form-data; boundary=x")],
        ),
    ]
}

/// With `--allow-origin https://app.example --allow-origin http://localhost:8080`.
fn allow_list_cases() -> Vec<Case> {
    use Cors::*;
    let mut cases = vec![
        // No Origin: not a browser; served, without CORS headers.
        case(
            "no Origin, poll beyond sent",
            "GET",
            "{id}?ack=1000",
            None,
            400,
            Absent,
        ),
        case("no Origin, PUT", "PUT", "{id}", None, 405, Absent),
        case("no Origin, OPTIONS", "OPTIONS", "{id}", None, 405, Absent),
        // Allowed origins, every method: served, with CORS headers (refusals included, so a
        // script can read the status).
        case(
            "allowed, poll beyond sent",
            "GET",
            "{id}?ack=1000",
            Some(APP),
            400,
            Echo,
        ),
        case(
            "allowed, forged id",
            "DELETE",
            "0123456789abcdef0123456789abcdef",
            Some(APP),
            404,
            Echo,
        ),
        case("allowed, PUT", "PUT", "{id}", Some(APP), 405, Echo),
        case("allowed, PATCH", "PATCH", "{id}", Some(APP), 405, Echo),
        case(
            "allowed, GET on the mount path",
            "GET",
            "",
            Some(APP),
            405,
            Echo,
        ),
        case(
            "allowed, OPTIONS that is no preflight",
            "OPTIONS",
            "{id}",
            Some(APP),
            405,
            Echo,
        ),
        case(
            "allowed in upper case",
            "GET",
            "{id}?ack=1000",
            Some("HTTPS://APP.EXAMPLE"),
            400,
            Echo,
        ),
        case(
            "allowed with its default port",
            "GET",
            "{id}?ack=1000",
            Some("https://app.example:443"),
            400,
            Echo,
        ),
        case(
            "allowed with a port",
            "GET",
            "{id}?ack=1000",
            Some(LOCAL),
            400,
            Echo,
        ),
        // Preflights from allowed origins: 204 with the CORS answer, before routing.
        Case {
            headers: PREFLIGHT,
            ..case(
                "allowed preflight on a session",
                "OPTIONS",
                "{id}",
                Some(APP),
                204,
                Echo,
            )
        },
        Case {
            headers: PREFLIGHT,
            ..case(
                "allowed preflight on the mount path",
                "OPTIONS",
                "",
                Some(LOCAL),
                204,
                Echo,
            )
        },
        // Everything else: 403 on every method, before anything else is looked at.
        case(
            "other origin, open",
            "POST",
            "",
            Some("https://evil.example"),
            403,
            Absent,
        ),
        case(
            "other origin, poll",
            "GET",
            "{id}?ack=0",
            Some("https://evil.example"),
            403,
            Absent,
        ),
        Case {
            headers: &[("Content-Type", "application/octet-stream")],
            body: FRAME,
            ..case(
                "other origin, send",
                "POST",
                "{id}?seq=0",
                Some("https://evil.example"),
                403,
                Absent,
            )
        },
        case(
            "other origin, close",
            "DELETE",
            "{id}",
            Some("https://evil.example"),
            403,
            Absent,
        ),
        case(
            "other origin, PUT",
            "PUT",
            "{id}",
            Some("https://evil.example"),
            403,
            Absent,
        ),
        case(
            "other origin, unknown path",
            "GET",
            "x/y",
            Some("https://evil.example"),
            403,
            Absent,
        ),
        Case {
            headers: PREFLIGHT,
            ..case(
                "other origin, preflight",
                "OPTIONS",
                "{id}",
                Some("https://evil.example"),
                403,
                Absent,
            )
        },
        case(
            "scheme differs",
            "DELETE",
            "{id}",
            Some("http://app.example"),
            403,
            Absent,
        ),
        case(
            "port differs",
            "DELETE",
            "{id}",
            Some("http://localhost:8081"),
            403,
            Absent,
        ),
        case(
            "subdomain",
            "DELETE",
            "{id}",
            Some("https://x.app.example"),
            403,
            Absent,
        ),
        case(
            "suffix",
            "DELETE",
            "{id}",
            Some("https://app.example.evil"),
            403,
            Absent,
        ),
        case("null origin", "DELETE", "{id}", Some("null"), 403, Absent),
        Case {
            headers: PREFLIGHT,
            ..case(
                "null origin, preflight",
                "OPTIONS",
                "{id}",
                Some("null"),
                403,
                Absent,
            )
        },
        case(
            "malformed origin",
            "DELETE",
            "{id}",
            Some("app.example"),
            403,
            Absent,
        ),
        case(
            "origin with a path",
            "DELETE",
            "{id}",
            Some("https://app.example/"),
            403,
            Absent,
        ),
        case("empty origin", "DELETE", "{id}", Some(""), 403, Absent),
    ];
    cases.extend(form_posts(Some(APP), 415, Echo));
    cases.extend(form_posts(None, 415, Absent));
    cases.extend(form_posts(Some("https://evil.example"), 403, Absent));
    cases
}

/// Without `--allow-origin`: nothing is checked and no CORS headers are sent; browsers keep
/// other origins from reading answers (and, without a preflight answer, from sending frames).
fn unchecked_cases() -> Vec<Case> {
    use Cors::*;
    let mut cases = vec![
        case(
            "any origin, poll beyond sent",
            "GET",
            "{id}?ack=1000",
            Some("https://evil.example"),
            400,
            Absent,
        ),
        case("null origin, PUT", "PUT", "{id}", Some("null"), 405, Absent),
        Case {
            headers: PREFLIGHT,
            ..case("preflight", "OPTIONS", "{id}", Some(APP), 405, Absent)
        },
    ];
    cases.extend(form_posts(Some("https://evil.example"), 415, Absent));
    cases
}

/// With `--allow-origin '*'`.
fn any_origin_cases() -> Vec<Case> {
    use Cors::*;
    let mut cases = vec![
        case(
            "any origin, poll beyond sent",
            "GET",
            "{id}?ack=1000",
            Some("https://whoever.example"),
            400,
            Star,
        ),
        Case {
            headers: PREFLIGHT,
            ..case(
                "any origin, preflight",
                "OPTIONS",
                "{id}",
                Some("https://whoever.example"),
                204,
                Star,
            )
        },
        case("no Origin", "PUT", "{id}", None, 405, Absent),
        case("null origin", "DELETE", "{id}", Some("null"), 403, Absent),
        case(
            "malformed origin",
            "DELETE",
            "{id}",
            Some("nope"),
            403,
            Absent,
        ),
    ];
    cases.extend(form_posts(Some("https://whoever.example"), 415, Star));
    cases
}

async fn run_case(probe: &Probe, case: &Case) {
    let target = match case.target {
        "" => BASE.to_string(),
        target => probe.fill(&format!("{BASE}/{target}")),
    };
    let mut headers: Vec<(&str, &str)> = case.headers.to_vec();
    if let Some(origin) = case.origin {
        headers.push(("Origin", origin));
    }
    let answer = http(probe.address, case.method, &target, &headers, case.body).await;
    let what = format!("{}: {answer:?}", case.name);
    assert_eq!(answer.status, case.status, "{what}");
    let allow_origin = answer.header("Access-Control-Allow-Origin");
    let allow_credentials = answer.header("Access-Control-Allow-Credentials");
    assert_eq!(allow_credentials, None, "{what}: never credentials");
    match case.cors {
        Cors::Absent => {
            assert_eq!(allow_origin, None, "{what}");
            assert_eq!(
                answer.header("Access-Control-Expose-Headers"),
                None,
                "{what}"
            );
        }
        Cors::Echo => {
            assert_eq!(allow_origin, case.origin, "{what}: the origin echoed");
            assert_eq!(answer.header("Vary"), Some("Origin"), "{what}");
        }
        Cors::Star => assert_eq!(allow_origin, Some("*"), "{what}"),
    }
    if !matches!(case.cors, Cors::Absent) {
        if answer.status == 204 && case.method == "OPTIONS" {
            let methods = answer.header("Access-Control-Allow-Methods").unwrap_or("");
            for method in ["GET", "POST", "DELETE"] {
                assert!(methods.contains(method), "{what}: allows {method}");
            }
            let allowed = answer.header("Access-Control-Allow-Headers").unwrap_or("");
            assert!(allowed.eq_ignore_ascii_case("content-type"), "{what}");
            assert!(answer.body.is_empty(), "{what}: no body");
        } else {
            let exposed = answer.header("Access-Control-Expose-Headers");
            assert_eq!(exposed, Some(EXPOSED), "{what}");
        }
    }
}

/// The whole life of a session from an allowed origin: open, send, poll, close, each
/// answered with the origin echoed and the protocol's headers exposed.
async fn allowed_session(address: SocketAddr, origin: &str) {
    let headers = [("Origin", origin)];
    let check = |answer: &Raw, status: u16, what: &str| {
        assert_eq!(answer.status, status, "{what}: {answer:?}");
        assert_eq!(
            answer.header("Access-Control-Allow-Origin"),
            Some(origin),
            "{what}"
        );
        assert_eq!(
            answer.header("Access-Control-Expose-Headers"),
            Some(EXPOSED),
            "{what}"
        );
        assert_eq!(answer.header("Vary"), Some("Origin"), "{what}");
    };
    let opened = http(address, "POST", BASE, &headers, b"").await;
    check(&opened, 201, "open");
    let id = longpoll_core::SessionParams::from_json(&opened.text())
        .expect("params")
        .id;
    let session = format!("{BASE}/{id}");
    let sent = http(
        address,
        "POST",
        &format!("{session}?seq=0"),
        &[
            ("Origin", origin),
            ("Content-Type", "application/octet-stream"),
        ],
        &encode(&[text("from the browser")]),
    )
    .await;
    check(&sent, 204, "send");
    let polled = http(address, "GET", &format!("{session}?ack=0"), &headers, b"").await;
    check(&polled, 200, "poll");
    assert_eq!(polled.frames(), (0, vec![text("from the browser")]));
    let closed = http(address, "DELETE", &session, &headers, b"").await;
    check(&closed, 204, "close");
}

async fn run_matrix(flags: &[&str], cases: &[Case], allowed: Option<&str>) -> usize {
    let mut args = servers::args(20_000, 60_000);
    args.allow_origins = flags.iter().map(|s| s.to_string()).collect();
    let mut running = Vec::new();
    for adapter in Adapter::ALL {
        running.push(servers::start(adapter, &args).await);
    }
    let runs = running.iter().map(|server| async move {
        let mut probe = Probe::open(server.address).await;
        for case in cases {
            run_case(&probe, case).await;
            probe
                .round_trip(&format!("{}: {}", server.adapter.name(), case.name))
                .await;
        }
        if let Some(origin) = allowed {
            allowed_session(server.address, origin).await;
        }
    });
    futures_util::future::join_all(runs).await;
    // Each waits for its sessions' clients (up to its grace period): stop them together.
    futures_util::future::join_all(running.into_iter().map(|server| server.stop())).await;
    cases.len() + usize::from(allowed.is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_are_checked_and_allowed_ones_get_cors_headers() {
    let listed = run_matrix(&[APP, LOCAL], &allow_list_cases(), Some(APP)).await;
    let unchecked = run_matrix(&[], &unchecked_cases(), None).await;
    let any = run_matrix(&["*"], &any_origin_cases(), None).await;
    println!(
        "origin: {} cases passed against {} servers (allow-list {listed}, no policy {unchecked}, any origin {any})",
        listed + unchecked + any,
        Adapter::ALL.len()
    );
}
