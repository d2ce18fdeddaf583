//! What the session tests share: request bodies and frames.

use bytes::{Bytes, BytesMut};
use longpoll_core::wire::{Frame, encode_frame};

/// A `POST` body carrying `frames`.
pub(crate) fn body(frames: &[Frame]) -> Bytes {
    let mut out = BytesMut::new();
    for frame in frames {
        encode_frame(frame, &mut out).unwrap();
    }
    out.freeze()
}

/// A text message frame.
pub(crate) fn text(s: &str) -> Frame {
    Frame::Message(longpoll_core::Message::from(s))
}
