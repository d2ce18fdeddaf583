//! The browser chat behind `cargo run -p longpoll-examples --bin chat`: one room, reachable
//! over longpoll and over WebSocket, plus echo services for tests and demos.
//!
//! | path | what |
//! |---|---|
//! | `/` | the chat page (`?transport=websocket` makes the same page use a WebSocket) |
//! | `/chat.js`, `/chat.css` | the page's script and style |
//! | `/longpoll.js` | the browser client, `longpoll-js/longpoll.js` |
//! | `/longpoll` | the room over longpoll (protocol v1) |
//! | `/ws` | the room over WebSocket |
//! | `/echo` | an echo service over longpoll (every message comes back) |
//! | `/echo-ws` | the same over WebSocket |
//!
//! Every text message a member sends is broadcast verbatim to every member, sender included.
//! The room adds its own notices, also JSON text: `{"kind":"presence","online":n}` when
//! someone joins and `{"kind":"leave","name":..,"online":n}` when someone leaves. Binary
//! messages are not part of the chat and are ignored.

pub mod hub;
mod transport;

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use hub::Room;
use longpoll_axum::{LongPoll, Mount, Registry};
use longpoll_core::Config;
use longpoll_core::config::ConfigError;
use std::sync::Arc;

/// Where the room is mounted over longpoll.
pub const ROOM_PATH: &str = "/longpoll";
/// Where the echo service is mounted over longpoll.
pub const ECHO_PATH: &str = "/echo";

const INDEX_HTML: &str = include_str!("../../assets/index.html");
const CHAT_JS: &str = include_str!("../../assets/chat.js");
const CHAT_CSS: &str = include_str!("../../assets/chat.css");
const LONGPOLL_JS: &str = include_str!("../../../longpoll-js/longpoll.js");

/// The chat server's pieces: its router, and what a caller may want to watch or shut down.
#[derive(Debug)]
pub struct Chat {
    /// Every route in the table above.
    pub router: Router,
    /// The longpoll sessions of both the room and the echo service (one registry: ids are
    /// unique across both, and one shutdown closes them all).
    pub sessions: Registry,
    /// The room.
    pub room: Arc<Room>,
}

/// Builds the chat server. `longpoll` carries the session configuration (and an id filter,
/// when processes share a hash-routing proxy); `max_sessions` caps the longpoll sessions.
pub fn chat(longpoll: LongPoll, max_sessions: Option<usize>) -> Chat {
    let room = Arc::new(Room::default());
    let sessions = Registry::new(longpoll, max_sessions);
    let room_mount = {
        let room = room.clone();
        Mount::new(sessions.clone(), move |session| {
            transport::longpoll_member(room.clone(), session)
        })
    };
    let echo_mount = Mount::new(sessions.clone(), crate::echo::echo);
    let ws_room = room.clone();
    let router = Router::new()
        .route("/", get(|| asset("text/html; charset=utf-8", INDEX_HTML)))
        .route(
            "/chat.js",
            get(|| asset("text/javascript; charset=utf-8", CHAT_JS)),
        )
        .route(
            "/chat.css",
            get(|| asset("text/css; charset=utf-8", CHAT_CSS)),
        )
        .route(
            "/longpoll.js",
            get(|| asset("text/javascript; charset=utf-8", LONGPOLL_JS)),
        )
        .route(
            "/ws",
            get(move |upgrade| transport::websocket_member(ws_room.clone(), upgrade)),
        )
        .route("/echo-ws", get(transport::websocket_echo))
        .merge(longpoll_axum::router_at(ROOM_PATH, room_mount))
        .merge(longpoll_axum::router_at(ECHO_PATH, echo_mount));
    Chat {
        router,
        sessions,
        room,
    }
}

/// Builds the chat server from a session configuration, without a session cap.
pub fn chat_with_config(config: Config) -> Result<Chat, ConfigError> {
    Ok(chat(LongPoll::new(config)?, None))
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    // Assets are compiled in; `no-cache` makes a browser revalidate after a rebuild.
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
        body,
    )
}
