//! The chat server behind real nginx (Debian's `nginx-light`) on 127.0.0.1, with the configs
//! the README recommends (`examples/nginx/*.conf`):
//!
//! - one process: the echo flow through nginx, and a poll held for the server's full
//!   default hold (25 s) answered `204`, not cut by the proxy;
//! - three processes routed by a consistent hash of the session id: 300 sessions spread over
//!   them all deliver; one process is killed; the sessions on the others carry on, and the
//!   lost ones end with "session gone" (a `404` from a survivor) that the client reports.

mod support;

use support::client::{next_message, quick_client};

use futures_util::StreamExt;
use longpoll_core::CloseReason;
use longpoll_examples::nginx_hash::ConsistentHash;
use longpoll_tokio::{CloseFrame, Error, Message, Session};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use support::processes::{Nginx, Process, ScratchDir, free_port, wait_listening};

const SINGLE_SITE: &str = include_str!("../nginx/longpoll.conf");
const CLUSTER_SITE: &str = include_str!("../nginx/longpoll-cluster.conf");

fn chat_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_chat"))
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_behind_the_recommended_config() {
    let scratch = ScratchDir::new("nginx-single");
    let server = loopback(free_port());
    // The default configuration: polls are held the full 25 s.
    let _chat = Process::spawn(
        chat_binary(),
        &["--listen".into(), server.to_string()],
        scratch.0.join("chat.log"),
    );
    wait_listening(server, "chat");
    let listen = loopback(free_port());
    let site = SINGLE_SITE
        .replace("127.0.0.1:3000", &server.to_string())
        .replace("127.0.0.1:8080", &listen.to_string());
    let nginx = Nginx::start(&site, listen);

    // A poll with nothing to deliver, held by the server for its whole hold time, reaches the
    // client as the server's 204 (a proxy timeout below the hold would make it 504).
    let held = tokio::spawn(async move {
        let id = support::open(listen, "/echo").await;
        let started = Instant::now();
        let answer = support::poll(listen, "/echo", &id, 0).await;
        (answer, started.elapsed())
    });

    let mut session = quick_client()
        .connect(&format!("http://{listen}/echo"))
        .await
        .expect("open through nginx");
    session.send(Message::from("through nginx")).await.unwrap();
    let bytes: Vec<u8> = (0..=255).collect();
    session.send(Message::from(bytes.clone())).await.unwrap();
    let large: Vec<u8> = (0..512 * 1024).map(|i| (i % 251) as u8).collect();
    session.send(Message::from(large.clone())).await.unwrap();
    assert_eq!(
        next_message(&mut session).await,
        Message::from("through nginx")
    );
    assert_eq!(next_message(&mut session).await, Message::from(bytes));
    assert_eq!(next_message(&mut session).await, Message::from(large));
    session.send(Message::from("close-me")).await.unwrap();
    assert_eq!(
        next_message(&mut session).await,
        Message::Close(Some(CloseFrame::new(4000, "requested")))
    );

    let (answer, held_for) = held.await.unwrap();
    assert_eq!(
        answer.status,
        204,
        "held poll: {answer:?}\n{}",
        nginx.error_log()
    );
    assert!(
        held_for >= Duration::from_secs(20),
        "the poll was answered after {held_for:?}, before the server's 25 s hold"
    );
    println!("nginx: echo flow passed; a poll held {held_for:?} came back 204");
}

/// How each of the 300 sessions fared in the cluster test.
struct Member {
    session: Session,
    process: usize,
}

async fn echo_round(session: &mut Session, round: usize, count: usize) {
    for i in 0..count {
        session
            .send(Message::from(format!("round {round} message {i}")))
            .await
            .expect("send");
    }
    for i in 0..count {
        assert_eq!(
            next_message(session).await,
            Message::from(format!("round {round} message {i}"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_routed_by_session_id() {
    const SESSIONS: usize = 300;
    const MESSAGES: usize = 5;
    let scratch = ScratchDir::new("nginx-cluster");
    let servers: Vec<SocketAddr> = (0..3).map(|_| loopback(free_port())).collect();
    let peers: Vec<String> = servers.iter().map(SocketAddr::to_string).collect();
    let mut processes: Vec<Process> = servers
        .iter()
        .enumerate()
        .map(|(n, server)| {
            let args = [
                "--listen".to_owned(),
                server.to_string(),
                "--poll-timeout-ms".to_owned(),
                "3000".to_owned(),
                "--idle-timeout-ms".to_owned(),
                "8000".to_owned(),
                "--route-peers".to_owned(),
                peers.join(","),
                "--route-self".to_owned(),
                server.to_string(),
            ];
            Process::spawn(
                chat_binary(),
                &args,
                scratch.0.join(format!("chat-{n}.log")),
            )
        })
        .collect();
    for server in &servers {
        wait_listening(*server, "chat");
    }
    let listen = loopback(free_port());
    let site = CLUSTER_SITE
        .replace("127.0.0.1:3001", &peers[0])
        .replace("127.0.0.1:3002", &peers[1])
        .replace("127.0.0.1:3003", &peers[2])
        .replace("127.0.0.1:8080", &listen.to_string());
    let nginx = Nginx::start(&site, listen);
    let ring = ConsistentHash::new(peers.clone());

    // Open the sessions through nginx; the ring says which process each one lives in.
    let client = quick_client();
    let url = format!("http://{listen}/echo");
    let opened = futures_util::future::join_all((0..SESSIONS).map(|_| client.connect(&url))).await;
    let mut members: Vec<Member> = opened
        .into_iter()
        .map(|session| {
            let session = session.expect("open through nginx");
            let owner = ring.server_for(session.id());
            let process = peers.iter().position(|peer| peer == owner).unwrap();
            Member { session, process }
        })
        .collect();
    let mut per_process = [0usize; 3];
    for member in &members {
        per_process[member.process] += 1;
    }
    assert!(
        per_process.iter().all(|&n| n > 0),
        "sessions spread over every process: {per_process:?}"
    );

    // Every message of every session arrives, whichever process holds it.
    futures_util::future::join_all(
        members
            .iter_mut()
            .map(|member| echo_round(&mut member.session, 0, MESSAGES)),
    )
    .await;

    // Lose one process without warning.
    let lost = 1;
    processes[lost].kill();

    let outcomes = futures_util::future::join_all(members.iter_mut().map(|member| async {
        if member.process == lost {
            // Its session is gone; the client says so instead of retrying forever.
            let end = tokio::time::timeout(Duration::from_secs(60), member.session.next())
                .await
                .expect("the client reports the lost session within 60 s");
            match end {
                Some(Err(Error::Ended(CloseReason::SessionGone))) => "gone",
                other => panic!("a session on the lost process ended with {other:?}"),
            }
        } else {
            echo_round(&mut member.session, 1, MESSAGES).await;
            "carried on"
        }
    }))
    .await;
    let gone = outcomes.iter().filter(|o| **o == "gone").count();
    let carried_on = outcomes.iter().filter(|o| **o == "carried on").count();
    assert_eq!(gone, per_process[lost]);
    assert_eq!(carried_on, SESSIONS - per_process[lost]);
    println!(
        "nginx cluster: sessions={SESSIONS} per_process={per_process:?} echoed={} \
         killed=process {lost}: gone={gone} carried_on={carried_on}",
        (SESSIONS + carried_on) * MESSAGES
    );
    drop(nginx);
}
