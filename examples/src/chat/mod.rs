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
use longpoll_axum::{LongPoll, Registry};
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
    /// The room's longpoll sessions.
    pub room_sessions: Registry,
    /// The echo service's longpoll sessions.
    pub echo_sessions: Registry,
    /// The room.
    pub room: Arc<Room>,
}

impl Chat {
    /// Closes every longpoll session with 1001 "going away" (WebSocket connections end when
    /// the server stops).
    pub fn shutdown(&self) {
        self.room_sessions.shutdown();
        self.echo_sessions.shutdown();
    }
}

/// Builds the chat server. `longpoll` carries the session configuration (and an id filter,
/// when processes share a hash-routing proxy); both longpoll mounts use it.
pub fn chat(longpoll: LongPoll) -> Chat {
    let room = Arc::new(Room::default());
    let room_mount = {
        let room = room.clone();
        longpoll
            .clone()
            .mount(move |session| transport::longpoll_member(room.clone(), session))
    };
    let echo_mount = longpoll.mount(crate::echo::echo);
    let room_sessions = room_mount.registry().clone();
    let echo_sessions = echo_mount.registry().clone();
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
        .nest(ROOM_PATH, longpoll_axum::router(room_mount))
        .nest(ECHO_PATH, longpoll_axum::router(echo_mount));
    Chat {
        router,
        room_sessions,
        echo_sessions,
        room,
    }
}

/// Builds the chat server from a session configuration.
pub fn chat_with_config(config: Config) -> Result<Chat, ConfigError> {
    Ok(chat(LongPoll::new(config)?))
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    // Assets are compiled in; `no-cache` makes a browser revalidate after a rebuild.
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
        body,
    )
}
