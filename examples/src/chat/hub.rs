//! The chat room: every text message a member says goes to every member, the speaker included,
//! whatever transport each member uses.

use longpoll_core::Utf8Bytes;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// How many broadcast messages may wait for one member before the room gives up on it. A
/// member that falls this far behind is dropped (its transport closes it with
/// [`TOO_SLOW_CODE`]) rather than have the room buffer without bound or skip messages.
pub const MEMBER_BACKLOG: usize = 4096;

/// Close code for a member dropped for falling [`MEMBER_BACKLOG`] messages behind.
pub const TOO_SLOW_CODE: u16 = 4008;

/// Identifies a member of a [`Room`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberId(u64);

#[derive(Debug)]
struct Member {
    outbox: mpsc::Sender<Utf8Bytes>,
    /// The name from the member's last `{"kind":"hello","name":..}`, for the leave notice.
    name: Option<String>,
}

/// A chat room shared by every transport of the chat server.
#[derive(Debug, Default)]
pub struct Room {
    members: Mutex<HashMap<MemberId, Member>>,
    next_id: AtomicU64,
}

impl Room {
    /// Adds a member; what the room says to it arrives on the receiver, which ends if the
    /// member falls [`MEMBER_BACKLOG`] messages behind. Announces the new head count.
    pub fn join(&self) -> (MemberId, mpsc::Receiver<Utf8Bytes>) {
        let id = MemberId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let (outbox, inbox) = mpsc::channel(MEMBER_BACKLOG);
        let mut members = self.lock();
        members.insert(id, Member { outbox, name: None });
        let notice = serde_json::json!({ "kind": "presence", "online": members.len() });
        broadcast(&mut members, notice.to_string().into());
        (id, inbox)
    }

    /// Broadcasts `text` verbatim to every member. A `hello` message also records the
    /// speaker's name for its leave notice.
    pub fn say(&self, speaker: MemberId, text: Utf8Bytes) {
        let name = hello_name(text.as_str());
        let mut members = self.lock();
        if let (Some(name), Some(member)) = (name, members.get_mut(&speaker)) {
            member.name = Some(name);
        }
        broadcast(&mut members, text);
    }

    /// Removes a member and tells the others who left.
    pub fn leave(&self, id: MemberId) {
        let mut members = self.lock();
        let Some(member) = members.remove(&id) else {
            return;
        };
        let notice = serde_json::json!({
            "kind": "leave",
            "name": member.name,
            "online": members.len(),
        });
        broadcast(&mut members, notice.to_string().into());
    }

    /// How many members the room has.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the room is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<MemberId, Member>> {
        // A panic elsewhere cannot leave the map half-updated: every change is one call.
        self.members
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Queues `text` for every member, dropping those whose backlog is full (their receiver
/// then ends, and their transport closes them).
fn broadcast(members: &mut HashMap<MemberId, Member>, text: Utf8Bytes) {
    members.retain(|_, member| match member.outbox.try_send(text.clone()) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => false,
        // Its transport has ended and will call `leave`; keep it until then.
        Err(mpsc::error::TrySendError::Closed(_)) => true,
    });
}

/// The name in a `{"kind":"hello","name":"..."}` message, if `text` is one.
fn hello_name(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    if value.get("kind")?.as_str()? != "hello" {
        return None;
    }
    let name = value.get("name")?.as_str()?;
    Some(name.chars().take(40).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everyone_hears_every_message_and_who_left() {
        let room = Room::default();
        let (alice, mut alice_inbox) = room.join();
        let (bob, mut bob_inbox) = room.join();
        room.say(alice, r#"{"kind":"hello","name":"alice"}"#.into());
        room.say(bob, "plain text".into());
        room.leave(alice);

        let heard = |inbox: &mut mpsc::Receiver<Utf8Bytes>| {
            std::iter::from_fn(|| inbox.try_recv().ok())
                .map(|text| text.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        let bob_heard = heard(&mut bob_inbox);
        assert_eq!(
            bob_heard,
            [
                r#"{"kind":"presence","online":2}"#,
                r#"{"kind":"hello","name":"alice"}"#,
                "plain text",
                r#"{"kind":"leave","name":"alice","online":1}"#,
            ]
        );
        // The speaker hears itself too, and nothing after it left.
        let alice_heard = heard(&mut alice_inbox);
        assert_eq!(
            alice_heard,
            [
                r#"{"kind":"presence","online":1}"#,
                r#"{"kind":"presence","online":2}"#,
                r#"{"kind":"hello","name":"alice"}"#,
                "plain text",
            ]
        );
        assert_eq!(room.len(), 1);
    }

    #[test]
    fn a_member_that_falls_too_far_behind_is_dropped_not_skipped() {
        let room = Room::default();
        let (slow, mut slow_inbox) = room.join();
        let (fast, mut fast_inbox) = room.join();
        for n in 0..MEMBER_BACKLOG {
            room.say(fast, n.to_string().into());
            while fast_inbox.try_recv().is_ok() {}
        }
        assert_eq!(room.len(), 1, "the slow member is dropped");
        // It keeps what was queued, in order, and then its inbox ends.
        let mut received = 0;
        while let Ok(_text) = slow_inbox.try_recv() {
            received += 1;
        }
        assert_eq!(received, MEMBER_BACKLOG);
        assert!(matches!(
            slow_inbox.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
        room.leave(slow); // harmless after the drop
        assert_eq!(room.len(), 1);
    }
}
