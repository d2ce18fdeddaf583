//! The custom (no tokio) echo server over real TCP on 127.0.0.1, spoken to in raw HTTP/1.1 from
//! `std::net`. Every test runs within a time bound.

mod support;

use bytes::Bytes;
use longpoll_core::close_code;
use longpoll_example_custom::{Args, RunningServer, SHUTDOWN_REASON, spawn, spawn_with};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};
use support::*;

const LIMIT: Duration = Duration::from_secs(20);

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn quick_server() -> RunningServer {
    spawn_with(loopback(), quick_config(), None).expect("server")
}

#[test]
fn open_answers_201_with_parameters_from_the_flags() {
    bounded(LIMIT, || {
        let args = Args {
            listen: loopback(),
            poll_timeout_ms: Some(1234),
            idle_timeout_ms: Some(5000),
            max_body_bytes: Some(4096),
            ..Args::default()
        };
        let server = spawn(args).expect("server");
        let answer = http(server.local_addr(), "POST", BASE, &[], b"");
        assert_eq!(answer.status, 201);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        let params = longpoll_core::SessionParams::from_json(&answer.text()).unwrap();
        assert!(longpoll_core::SessionId::parse(&params.id).is_some());
        assert_eq!(params.poll_timeout, Duration::from_millis(1234));
        assert_eq!(params.idle_timeout, Duration::from_millis(5000));
        assert_eq!(
            (params.max_body_bytes, params.max_message_bytes),
            (4096, 4091)
        );
        // `{base}/` is the same path; every open gets a new id.
        let again = http(server.local_addr(), "POST", "/longpoll/", &[], b"");
        let again = longpoll_core::SessionParams::from_json(&again.text()).unwrap();
        assert_ne!(again.id, params.id);
        server.shutdown().unwrap();
    });
}

#[test]
fn text_and_binary_are_echoed_with_their_kind_in_order() {
    bounded(LIMIT, || {
        let server = quick_server();
        let address = server.local_addr();
        let id = open(address);
        let sent = vec![text("héllo"), binary(vec![0u8, 255, 7]), text("")];
        let accepted = post_frames(address, &id, 0, &sent);
        assert_eq!(accepted.status, 204, "{accepted:?}");
        assert_eq!(collect(address, &id, 0, 3), sent);
        // A retry of frames already accepted is dropped, not echoed twice.
        assert_eq!(post_frames(address, &id, 0, &sent).status, 204);
        assert_eq!(
            post_frames(address, &id, 3, &[binary(vec![9u8; 100_000])]).status,
            204
        );
        assert_eq!(
            collect(address, &id, 3, 1),
            vec![binary(vec![9u8; 100_000])]
        );
    });
}

#[test]
fn a_poll_with_nothing_to_send_is_held_then_answered_204() {
    bounded(LIMIT, || {
        let server = quick_server();
        let id = open(server.local_addr());
        let started = Instant::now();
        let answer = poll(server.local_addr(), &id, 0);
        let held = started.elapsed();
        assert_eq!(answer.status, 204);
        assert!(answer.body.is_empty() && answer.header("content-length").is_none());
        assert!(
            held >= Duration::from_millis(380),
            "held for the poll timeout: {held:?}"
        );
        assert!(
            held < Duration::from_secs(3),
            "answered soon after it: {held:?}"
        );
    });
}

#[test]
fn a_newer_poll_supersedes_a_held_one_and_gets_the_data() {
    bounded(LIMIT, || {
        let mut config = quick_config();
        config.poll_timeout = Duration::from_secs(5);
        config.idle_timeout = Duration::from_secs(6);
        let server = spawn_with(loopback(), config, None).unwrap();
        let address = server.local_addr();
        let id = open(address);
        let older = thread::spawn({
            let id = id.clone();
            move || poll(address, &id, 0)
        });
        thread::sleep(Duration::from_millis(200));
        let newer = thread::spawn({
            let id = id.clone();
            move || poll(address, &id, 0)
        });
        let older = older.join().unwrap();
        assert_eq!(older.status, 409, "{older:?}");
        assert_eq!(post_frames(address, &id, 0, &[text("kept")]).status, 204);
        assert_eq!(newer.join().unwrap().frames(), (0, vec![text("kept")]));
    });
}

#[test]
fn close_me_delivers_what_came_before_then_the_close_frame() {
    bounded(LIMIT, || {
        let server = quick_server();
        let address = server.local_addr();
        let id = open(address);
        let sent = [
            text("one"),
            binary(Bytes::from_static(b"two")),
            text("close-me"),
        ];
        assert_eq!(post_frames(address, &id, 0, &sent).status, 204);
        let expected = vec![
            text("one"),
            binary(Bytes::from_static(b"two")),
            close(4000, "requested"),
        ];
        assert_eq!(collect(address, &id, 0, 3), expected);
        // The server is closing: no more client frames.
        assert_eq!(post_frames(address, &id, 3, &[text("late")]).status, 410);
        // Acknowledging the close frame completes the close.
        assert_eq!(poll(address, &id, 3).status, 410);
        assert_eq!(poll(address, &id, 0).status, 410);
    });
}

#[test]
fn delete_closes_then_410_for_the_gone_timeout_then_404() {
    bounded(LIMIT, || {
        let mut config = quick_config();
        config.gone_timeout = Duration::from_millis(600);
        let server = spawn_with(loopback(), config, None).unwrap();
        let address = server.local_addr();
        let id = open(address);
        let session = format!("{BASE}/{id}");
        // A held poll is answered 410 by the DELETE.
        let held = thread::spawn({
            let id = id.clone();
            move || poll(address, &id, 0)
        });
        thread::sleep(Duration::from_millis(100));
        assert_eq!(http(address, "DELETE", &session, &[], b"").status, 204);
        assert_eq!(held.join().unwrap().status, 410);
        assert_eq!(poll(address, &id, 0).status, 410);
        assert_eq!(post_frames(address, &id, 0, &[text("late")]).status, 410);
        assert_eq!(
            http(address, "DELETE", &session, &[], b"").status,
            204,
            "DELETE is idempotent"
        );
        thread::sleep(Duration::from_millis(800));
        assert_eq!(poll(address, &id, 0).status, 404, "forgotten");
        assert_eq!(http(address, "DELETE", &session, &[], b"").status, 404);
    });
}

#[test]
fn unknown_and_malformed_ids_are_404() {
    bounded(LIMIT, || {
        let server = quick_server();
        let address = server.local_addr();
        let id = open(address);
        for target in [
            format!("{BASE}/0123456789abcdef0123456789abcdef?ack=0"),
            format!("{BASE}/{}?ack=0", id.to_uppercase()),
            format!("{BASE}/not-an-id?ack=0"),
            format!("{BASE}/{id}/extra?ack=0"),
            format!("{BASE}x/{id}?ack=0"),
            "/elsewhere".to_string(),
        ] {
            let answer = http(address, "GET", &target, &[], b"");
            assert_eq!(answer.status, 404, "{target}");
            assert_eq!(answer.header("cache-control"), Some("no-store"));
        }
    });
}

#[test]
fn every_refusal_has_its_status_and_harms_nothing() {
    bounded(LIMIT, || {
        let server = quick_server();
        let address = server.local_addr();
        let id = open(address);
        let session = format!("{BASE}/{id}");
        let ct = ("Content-Type", "application/octet-stream");
        let x = encode(&[text("x")]);
        // (method, target, headers, body, expected status)
        type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, Vec<u8>, u16);
        let cases: Vec<Case> = vec![
            (
                "POST",
                format!("{session}?seq=0"),
                vec![("Content-Type", "text/plain")],
                x.clone(),
                415,
            ),
            ("POST", format!("{session}?seq=0"), vec![], x.clone(), 415),
            ("POST", session.clone(), vec![ct], x.clone(), 400),
            (
                "POST",
                format!("{session}?seq=0"),
                vec![ct],
                b"\x01\x00\x00\x00\x05hi".to_vec(),
                400,
            ),
            (
                "POST",
                format!("{session}?seq=0"),
                vec![ct],
                b"\x01\x00\x00\x00\x01\xff".to_vec(),
                400,
            ),
            ("POST", format!("{session}?seq=5"), vec![ct], x.clone(), 409),
            ("GET", session.clone(), vec![], vec![], 400),
            ("GET", format!("{session}?ack=1"), vec![], vec![], 400),
            (
                "GET",
                format!("{session}?ack=18446744073709551616"),
                vec![],
                vec![],
                400,
            ),
            ("PUT", session.clone(), vec![], vec![], 405),
            ("GET", BASE.to_string(), vec![], vec![], 405),
        ];
        for (method, target, headers, body, status) in cases {
            let answer = http(address, method, &target, &headers, &body);
            assert_eq!(
                answer.status,
                status,
                "{method} {target}: {}",
                answer.text()
            );
            assert_eq!(answer.header("cache-control"), Some("no-store"));
            assert!(answer.text().ends_with('\n'));
            if status == 405 {
                assert!(answer.header("allow").is_some());
            }
            if status == 409 {
                assert_eq!(answer.header("longpoll-expected-seq"), Some("0"));
            }
        }
        // `HEAD` gets the headers of the refusal and no body.
        let mut stream = connect(address);
        let head = format!("HEAD {session} HTTP/1.1\r\nHost: t\r\n\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 405 "), "{answer}");
        assert!(answer.ends_with("\r\n\r\n"), "{answer}");
        assert_eq!(post_frames(address, &id, 0, &[text("ok")]).status, 204);
        assert_eq!(collect(address, &id, 0, 1), vec![text("ok")]);
    });
}

#[test]
fn oversize_posts_are_413_and_the_session_stays_fine() {
    bounded(LIMIT, || {
        let mut config = quick_config();
        config.max_body_bytes = 4096;
        config.max_message_bytes = 4000;
        let server = spawn_with(loopback(), config, None).unwrap();
        let address = server.local_addr();
        let id = open(address);
        let target = format!("{BASE}/{id}?seq=0");
        let ct = ("Content-Type", "application/octet-stream");
        let big = encode(&[binary(vec![1u8; 5000])]);
        // Declared too long: refused from the Content-Length, before the body.
        assert_eq!(http(address, "POST", &target, &[ct], &big).status, 413);
        let mut stream = connect(address);
        let head = format!(
            "POST {target} HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n\
             Content-Length: 1000000000\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).unwrap();
        assert_eq!(
            read_response(&mut stream).status,
            413,
            "answered without the body"
        );
        // Chunked: refused once the chunk sizes pass the limit.
        let te = ("Transfer-Encoding", "chunked");
        let answer = raw(
            address,
            &chunked_request(&target, &[ct, te], &chunked(&big)),
        );
        assert_eq!(answer.status, 413, "{answer:?}");
        // A frame claiming more than the message limit, in a small body.
        let mut claim = encode(&[binary(vec![1u8; 10])]);
        claim[1..5].copy_from_slice(&5000u32.to_be_bytes());
        assert_eq!(http(address, "POST", &target, &[ct], &claim).status, 413);
        // The session is untouched, and a chunked body within the limit is fine.
        let ok = encode(&[text("still here"), binary(vec![2u8; 3000])]);
        let answer = raw(address, &chunked_request(&target, &[ct, te], &chunked(&ok)));
        assert_eq!(answer.status, 204, "{answer:?}");
        assert_eq!(
            collect(address, &id, 0, 2),
            vec![text("still here"), binary(vec![2u8; 3000])]
        );
    });
}

fn chunked_request(target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("POST {target} HTTP/1.1\r\nHost: t\r\n").into_bytes();
    for (name, value) in headers {
        bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    bytes
}

#[test]
fn malformed_and_huge_requests_are_refused_and_the_server_carries_on() {
    bounded(LIMIT, || {
        let server = quick_server();
        let address = server.local_addr();
        let huge_header = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000));
        let cases: Vec<(Vec<u8>, u16)> = vec![
            (b"GARBAGE\r\n\r\n".to_vec(), 400),
            (b"GET /longpoll\r\n\r\n".to_vec(), 400),
            (b"\xff\xfe / HTTP/1.1\r\n\r\n".to_vec(), 400),
            (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n".to_vec(), 400),
            (
                b"POST /longpoll HTTP/1.1\r\nContent-Length: x\r\n\r\n".to_vec(),
                400,
            ),
            (
                b"POST /longpoll HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
                501,
            ),
            (huge_header.into_bytes(), 431),
            ("GET / HTTP/1.1\r\n".repeat(2_000).into_bytes(), 431),
        ];
        for (request, status) in cases {
            let answer = raw(address, &request);
            assert_eq!(
                answer.status,
                status,
                "{:?}",
                String::from_utf8_lossy(&request[..20])
            );
        }
        // A bad chunk size in a send is 400 too.
        let id = open(address);
        let target = format!("{BASE}/{id}?seq=0");
        let headers = [
            ("Content-Type", "application/octet-stream"),
            ("Transfer-Encoding", "chunked"),
        ];
        let answer = raw(address, &chunked_request(&target, &headers, b"zz\r\n"));
        assert_eq!(answer.status, 400);
        // A client that connects and leaves without a word changes nothing.
        drop(TcpStream::connect(address).unwrap());
        assert_eq!(post_frames(address, &id, 0, &[text("fine")]).status, 204);
        assert_eq!(collect(address, &id, 0, 1), vec![text("fine")]);
    });
}

#[test]
fn idle_sessions_are_reaped_and_then_answered_410() {
    bounded(LIMIT, || {
        let mut config = quick_config();
        config.poll_timeout = Duration::from_millis(200);
        config.inbound_hold_timeout = Duration::from_millis(100);
        config.idle_timeout = Duration::from_millis(400);
        let server = spawn_with(loopback(), config, None).unwrap();
        let address = server.local_addr();
        let idle = open(address);
        let opened = Instant::now();
        // A session whose client keeps polling is not reaped.
        let busy = open(address);
        while opened.elapsed() < Duration::from_millis(900) {
            assert_eq!(poll(address, &busy, 0).status, 204);
        }
        assert_eq!(poll(address, &idle, 0).status, 410, "reaped");
        assert_eq!(post_frames(address, &busy, 0, &[text("alive")]).status, 204);
        assert_eq!(collect(address, &busy, 0, 1), vec![text("alive")]);
    });
}

#[test]
fn a_client_that_disconnects_from_a_held_poll_is_an_abort() {
    // The abort restarts the idle clock at once. Undetected, the poll would be held to its
    // timeout (1 s) and the session would end 2 s after that: at 3 s instead of 2 s.
    bounded(LIMIT, || {
        let mut config = quick_config();
        config.poll_timeout = Duration::from_secs(1);
        config.inbound_hold_timeout = Duration::from_millis(500);
        config.idle_timeout = Duration::from_secs(2);
        let server = spawn_with(loopback(), config, None).unwrap();
        let address = server.local_addr();
        let id = open(address);
        let mut stream = connect(address);
        let target = format!("{BASE}/{id}?ack=0");
        stream
            .write_all(&request_bytes("GET", &target, &[], b""))
            .unwrap();
        thread::sleep(Duration::from_millis(200)); // held by now
        let left = Instant::now();
        drop(stream);
        thread::sleep(Duration::from_millis(2_500).saturating_sub(left.elapsed()));
        // An empty send: 204 if the session were alive, 410 as it was reaped.
        assert_eq!(post_frames(address, &id, 0, &[]).status, 410);
    });
}

#[test]
fn a_half_closed_client_still_gets_an_immediate_answer() {
    bounded(LIMIT, || {
        let server = quick_server();
        let address = server.local_addr();
        let id = open(address);
        let mut stream = connect(address);
        let body = encode(&[text("half")]);
        let target = format!("{BASE}/{id}?seq=0");
        let ct = [("Content-Type", "application/octet-stream")];
        stream
            .write_all(&request_bytes("POST", &target, &ct, &body))
            .unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        assert_eq!(read_response(&mut stream).status, 204);
        assert_eq!(collect(address, &id, 0, 1), vec![text("half")]);
    });
}

#[test]
fn shutdown_answers_held_polls_with_the_close_frame_then_exits() {
    bounded(LIMIT, || {
        let mut config = quick_config();
        config.poll_timeout = Duration::from_secs(10);
        config.idle_timeout = Duration::from_secs(11);
        let server = spawn_with(loopback(), config, None).unwrap();
        let address = server.local_addr();
        let id = open(address);
        assert_eq!(post_frames(address, &id, 0, &[text("before")]).status, 204);
        assert_eq!(collect(address, &id, 0, 1), vec![text("before")]);
        let held = {
            let id = id.clone();
            thread::spawn(move || poll(address, &id, 1))
        };
        thread::sleep(Duration::from_millis(200));
        let stopping = thread::spawn(move || server.shutdown());
        let frames = held.join().unwrap().frames();
        let expected = close(close_code::GOING_AWAY, SHUTDOWN_REASON);
        assert_eq!(frames, (1, vec![expected]));
        // The server keeps serving (opening nothing new) until the client has completed the
        // close, then exits.
        assert_eq!(http(address, "POST", BASE, &[], b"").status, 503);
        assert_eq!(poll(address, &id, 2).status, 410);
        stopping.join().unwrap().unwrap();
        assert!(TcpStream::connect(address).is_err(), "no longer listening");
    });
}

#[test]
fn opening_past_the_session_cap_is_503() {
    bounded(LIMIT, || {
        let server = spawn_with(loopback(), quick_config(), Some(1)).unwrap();
        let address = server.local_addr();
        let id = open(address);
        let refused = http(address, "POST", BASE, &[], b"");
        assert_eq!(refused.status, 503);
        assert_eq!(refused.header("retry-after"), Some("1"));
        // Once the session is over, there is room again.
        assert_eq!(
            http(address, "DELETE", &format!("{BASE}/{id}"), &[], b"").status,
            204
        );
        open(address);
    });
}

#[test]
fn a_thousand_messages_and_a_512_kib_one_arrive_in_order() {
    bounded(LIMIT, || {
        let server = spawn_with(loopback(), longpoll_core::Config::default(), None).unwrap();
        let address = server.local_addr();
        let id = open(address);
        let mut frames: Vec<_> = (0..1000).map(|i| text(&format!("message {i}"))).collect();
        for (chunk, batch) in frames.chunks(100).enumerate() {
            let seq = (chunk * 100) as u64;
            assert_eq!(post_frames(address, &id, seq, batch).status, 204);
        }
        let big = binary(
            (0..512 * 1024)
                .map(|i| (i % 251) as u8)
                .collect::<Vec<u8>>(),
        );
        let sent = post_frames(address, &id, 1000, std::slice::from_ref(&big));
        assert_eq!(sent.status, 204);
        frames.push(big);
        assert_eq!(collect(address, &id, 0, 1001), frames);
    });
}

#[test]
fn a_thousand_abandoned_sessions_are_reaped_within_the_idle_timeout() {
    bounded(LIMIT, || {
        let config = quick_config();
        let idle = config.idle_timeout;
        let server = spawn_with(loopback(), config, None).unwrap();
        let address = server.local_addr();
        let ids: Vec<String> = (0..1000).map(|_| open(address)).collect();
        let opened = Instant::now();
        thread::sleep(idle + Duration::from_millis(300));
        for id in [&ids[0], &ids[499], &ids[999]] {
            assert_eq!(poll(address, id, 0).status, 410, "reaped");
        }
        println!("1000 sessions opened, reaped {:?} later", opened.elapsed());
    });
}

/// The binary: Ctrl-C (SIGINT) answers the held poll with the close frame and exits with 0.
#[cfg(unix)]
#[test]
fn the_binary_exits_cleanly_on_ctrl_c() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    bounded(LIMIT, || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_longpoll-example-custom"))
            .args(["--listen", "127.0.0.1:0", "--poll-timeout-ms", "8000"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let address: SocketAddr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.trim().strip_suffix(BASE))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .parse()
            .unwrap();
        let id = open(address);
        let held = thread::spawn(move || poll(address, &id, 0));
        thread::sleep(Duration::from_millis(300));
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let expected = close(close_code::GOING_AWAY, SHUTDOWN_REASON);
        assert_eq!(held.join().unwrap().frames(), (0, vec![expected]));
        assert!(child.wait().unwrap().success(), "exit status 0");
        let mut rest = String::new();
        stderr.read_to_string(&mut rest).unwrap();
        assert!(rest.contains("bye"), "{rest}");
    });
}
