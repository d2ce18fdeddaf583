//! Room members over each transport: a longpoll session or a WebSocket, both reduced to "text
//! in, text out" so the room never knows which one a member uses.

use super::hub::{Room, TOO_SLOW_CODE};
use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use longpoll_axum::{CloseFrame, Message, Session};
use longpoll_core::Utf8Bytes;
use std::sync::Arc;

/// What a member's transport delivers to the room.
enum Heard {
    Text(Utf8Bytes),
    /// Not chat (binary, pings): ignored.
    Other,
}

/// What the room asks a member's transport to do.
enum Tell {
    Text(Utf8Bytes),
    /// The member fell too far behind: close it with [`TOO_SLOW_CODE`].
    CloseTooSlow,
}

const TOO_SLOW_REASON: &str = "too slow to keep up with the room";

/// Runs one member until its transport ends or the room drops it.
async fn member<I, O>(room: Arc<Room>, incoming: I, outgoing: O)
where
    I: Stream<Item = Heard>,
    O: Sink<Tell>,
{
    let (id, mut inbox) = room.join();
    let mut incoming = std::pin::pin!(incoming);
    let mut outgoing = std::pin::pin!(outgoing);
    loop {
        tokio::select! {
            heard = incoming.next() => match heard {
                Some(Heard::Text(text)) => room.say(id, text),
                Some(Heard::Other) => {}
                None => break,
            },
            told = inbox.recv() => {
                let tell = told.map_or(Tell::CloseTooSlow, Tell::Text);
                let dropped = matches!(tell, Tell::CloseTooSlow);
                if outgoing.send(tell).await.is_err() || dropped {
                    break;
                }
            }
        }
    }
    room.leave(id);
}

/// A room member over a longpoll session.
pub(super) async fn longpoll_member(room: Arc<Room>, session: Session) {
    let (tx, rx) = session.split();
    // The stream ends at the peer's close or an error; both end the membership.
    let incoming = rx
        .take_while(|item| {
            std::future::ready(matches!(item, Ok(Message::Text(_) | Message::Binary(_))))
        })
        .map(|item| match item {
            Ok(Message::Text(text)) => Heard::Text(text),
            _ => Heard::Other,
        });
    let outgoing = tx.with(|tell| {
        std::future::ready(Ok::<_, longpoll_axum::Error>(match tell {
            Tell::Text(text) => Message::Text(text),
            Tell::CloseTooSlow => {
                Message::Close(Some(CloseFrame::new(TOO_SLOW_CODE, TOO_SLOW_REASON)))
            }
        }))
    });
    member(room, incoming, outgoing).await;
}

/// A room member over a WebSocket.
pub(super) async fn websocket_member(room: Arc<Room>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket: WebSocket| async move {
        let (tx, rx) = socket.split();
        let incoming = rx
            .take_while(|item| {
                std::future::ready(matches!(item, Ok(m) if !matches!(m, ws::Message::Close(_))))
            })
            .map(|item| match item {
                Ok(ws::Message::Text(text)) => Heard::Text(text.as_str().into()),
                _ => Heard::Other,
            });
        let outgoing = tx.with(|tell| {
            std::future::ready(Ok::<_, axum::Error>(match tell {
                Tell::Text(text) => ws::Message::Text(text.as_str().into()),
                Tell::CloseTooSlow => ws::Message::Close(Some(ws::CloseFrame {
                    code: TOO_SLOW_CODE,
                    reason: TOO_SLOW_REASON.into(),
                })),
            }))
        });
        member(room, incoming, outgoing).await;
    })
}

/// Echoes every WebSocket message back, text as text and binary as binary.
pub(super) async fn websocket_echo(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|mut socket: WebSocket| async move {
        while let Some(Ok(message)) = socket.recv().await {
            let reply = match message {
                ws::Message::Text(_) | ws::Message::Binary(_) => message,
                ws::Message::Close(_) => break,
                ws::Message::Ping(_) | ws::Message::Pong(_) => continue,
            };
            if socket.send(reply).await.is_err() {
                break;
            }
        }
    })
}
