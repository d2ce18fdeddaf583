//! The program from the post that started the project ("New Project: HTTP Longpoll"), ported
//! with renames only: `HTTPLongPoll` is now `LongPoll`, the address comes from the first
//! argument (default `127.0.0.1:3000`) instead of `0.0.0.0:3000`, and the session route also
//! takes `POST` and `DELETE` (protocol v1 sends and closes on the same URL as polls).
//!
//! `cargo run -p longpoll-examples --bin seed`, then point a longpoll client at
//! `http://127.0.0.1:3000/session`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use longpoll_axum::{LongPoll, Session, SessionHandle, SessionHandleExt};
use uuid::Uuid;

#[derive(Clone, Default)]
struct LongPollState {
    sessions: Arc<RwLock<HashMap<Uuid, SessionHandle>>>,
}

impl LongPollState {
    fn new() -> Self {
        Self::default()
    }
}

enum Error {
    SessionNotFound,
    SessionError,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::SessionNotFound => StatusCode::NOT_FOUND.into_response(),
            Error::SessionError => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

fn uuid7() -> Uuid {
    Uuid::now_v7()
}

#[tokio::main]
async fn main() {
    // 1
    let app = Router::new()
        .route("/session", post(session_new))
        .route(
            "/session/{id}",
            axum::routing::get(session_poll)
                .post(session_poll)
                .delete(session_poll),
        )
        .with_state(LongPollState::new());

    let address = std::env::args().nth(1).unwrap_or("127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}

// 2a
async fn session_new(State(state): State<LongPollState>) -> impl IntoResponse {
    let id = uuid7();
    let cleanup = (id, state.clone());

    let sender = LongPoll::default().connect(move |s| async move {
        session_handler(s).await;
        cleanup.1.sessions.write().unwrap().remove(&cleanup.0);
    });
    state.sessions.write().unwrap().insert(id, sender);
    Json(id)
}

// 2b
async fn session_poll(
    State(state): State<LongPollState>,
    Path(session_id): Path<Uuid>,
    req: Request,
) -> Result<Response, Error> {
    let mut session = state
        .sessions
        .read()
        .unwrap()
        .get(&session_id)
        .cloned()
        .ok_or(Error::SessionNotFound)?;

    session.send(req).await.map_err(|_| Error::SessionError)
}

// 3
async fn session_handler(s: Session) {
    let (mut tx, mut rx) = s.split();
    loop {
        tokio::select! {
            Some(m) = rx.next() => {
                match m {
                    // task will be informed why connection closed
                    Err(_reason) => {
                        break
                    }
                    Ok(bytes) => {
                        // echo
                       let Ok(_) = tx.send(bytes).await else { break };
                    }
                }
            }
            else => {
                //
                break
            }
        }
    }
}
