//! A numbered queue of frames kept until the peer acknowledges them; both the server session
//! and the client use one for what they send.

use crate::wire::{Frame, encode_frame};
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;

/// Frames numbered from `base`, retained until acknowledged.
#[derive(Debug, Default)]
pub(crate) struct OutboundQueue {
    frames: VecDeque<Frame>,
    /// Sequence number of `frames[0]`.
    base: u64,
    /// Sum of the message payloads held (close frames count as zero).
    payload_bytes: usize,
    /// Number of message frames held (close frames are not counted).
    messages: usize,
}

/// A run of encoded frames taken from the queue.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) first_seq: u64,
    pub(crate) frames: usize,
    pub(crate) body: Bytes,
}

impl OutboundQueue {
    /// The sequence number the next pushed frame gets.
    pub(crate) fn end(&self) -> u64 {
        self.base + self.frames.len() as u64
    }

    /// Sequence number of the oldest retained frame.
    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    pub(crate) fn payload_bytes(&self) -> usize {
        self.payload_bytes
    }

    pub(crate) fn messages(&self) -> usize {
        self.messages
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Whether a message of `len` bytes fits under the limits. An empty queue takes any
    /// message, so a message no larger than the message limit can never wedge.
    pub(crate) fn has_room(&self, len: usize, max_bytes: usize, max_messages: usize) -> bool {
        self.messages == 0
            || (self.messages < max_messages && self.payload_bytes.saturating_add(len) <= max_bytes)
    }

    pub(crate) fn push(&mut self, frame: Frame) {
        if let Frame::Message(message) = &frame {
            self.payload_bytes += message.len();
            self.messages += 1;
        }
        self.frames.push_back(frame);
    }

    /// Drops every frame numbered below `upto` (clamped to what exists).
    pub(crate) fn ack(&mut self, upto: u64) {
        while self.base < upto {
            let Some(frame) = self.frames.pop_front() else {
                break;
            };
            self.forget(&frame);
            self.base += 1;
        }
    }

    fn forget(&mut self, frame: &Frame) {
        if let Frame::Message(message) = frame {
            self.payload_bytes -= message.len();
            self.messages -= 1;
        }
    }

    /// Drops everything; numbering continues where it was.
    pub(crate) fn clear(&mut self) {
        self.base = self.end();
        self.frames.clear();
        self.frames.shrink_to_fit();
        self.payload_bytes = 0;
        self.messages = 0;
    }

    /// Encodes frames from `from` (clamped to `base`) on: at most `max_frames` and, past the
    /// first frame, at most `max_bytes` of body. `None` when nothing is retained from there.
    pub(crate) fn batch(&self, from: u64, max_frames: usize, max_bytes: usize) -> Option<Batch> {
        let first_seq = from.max(self.base);
        let skip = usize::try_from(first_seq - self.base).ok()?;
        // Sized first, so the body is one allocation of the right size.
        let (mut len, mut count) = (0, 0);
        for frame in self.frames.iter().skip(skip).take(max_frames) {
            if count > 0 && len + frame.encoded_len() > max_bytes {
                break;
            }
            len += frame.encoded_len();
            count += 1;
        }
        let mut body = BytesMut::with_capacity(len);
        let mut frames = 0;
        for frame in self.frames.iter().skip(skip).take(count) {
            // Payloads are bounded by the message limit, which the config keeps below u32::MAX.
            if encode_frame(frame, &mut body).is_err() {
                break;
            }
            frames += 1;
        }
        (frames > 0).then(|| Batch {
            first_seq,
            frames,
            body: body.freeze(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;
    use crate::wire::decode_body;

    fn text(s: &str) -> Frame {
        Frame::Message(Message::from(s))
    }

    #[test]
    fn numbers_acks_and_batches() {
        let mut queue = OutboundQueue::default();
        for s in ["a", "bb", "ccc"] {
            queue.push(text(s));
        }
        assert_eq!(
            (queue.base(), queue.end(), queue.payload_bytes()),
            (0, 3, 6)
        );
        let batch = queue.batch(1, 10, 1000).unwrap();
        assert_eq!((batch.first_seq, batch.frames), (1, 2));
        assert_eq!(
            decode_body(batch.body, 8, 8).unwrap(),
            vec![text("bb"), text("ccc")]
        );
        queue.ack(2);
        assert_eq!(
            (queue.base(), queue.messages(), queue.payload_bytes()),
            (2, 1, 3)
        );
        // A stale position is served from what is retained.
        assert_eq!(queue.batch(0, 10, 1000).unwrap().first_seq, 2);
        assert!(queue.batch(3, 10, 1000).is_none());
        queue.ack(99);
        assert_eq!((queue.base(), queue.end()), (3, 3));
    }

    #[test]
    fn batches_respect_limits_but_always_carry_one_frame() {
        let mut queue = OutboundQueue::default();
        queue.push(text("0123456789"));
        queue.push(text("x"));
        assert_eq!(queue.batch(0, 10, 4).unwrap().frames, 1);
        assert_eq!(queue.batch(0, 1, 1000).unwrap().frames, 1);
        assert_eq!(queue.batch(0, 10, 21).unwrap().frames, 2);
    }

    #[test]
    fn room_is_counted_in_messages_and_bytes() {
        let mut queue = OutboundQueue::default();
        assert!(queue.has_room(100, 10, 1));
        queue.push(text("12345"));
        assert!(!queue.has_room(6, 10, 5));
        assert!(queue.has_room(5, 10, 5));
        assert!(!queue.has_room(0, 10, 1));
        queue.push(Frame::Close(None));
        assert_eq!(queue.messages(), 1);
    }
}
