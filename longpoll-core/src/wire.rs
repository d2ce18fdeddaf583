//! The protocol v1 frame codec.
//!
//! A request or response body is a sequence of frames, each `kind: u8`, `len: u32` big-endian,
//! then `len` payload bytes:
//!
//! | kind | meaning | payload |
//! |---|---|---|
//! | `0x01` | text | UTF-8 text |
//! | `0x02` | binary | any bytes |
//! | `0x03` | close | empty, or `code: u16` big-endian followed by a UTF-8 reason |
//!
//! Decoding never copies payloads (they are slices of the body's [`Bytes`]) and never panics:
//! every malformed input is a typed [`FrameError`].
//!
//! ```
//! use bytes::BytesMut;
//! use longpoll_core::wire::{decode_body, encode_frame, Frame};
//! use longpoll_core::Message;
//!
//! let mut body = BytesMut::new();
//! encode_frame(&Frame::Message(Message::from("hi")), &mut body).unwrap();
//! assert_eq!(&body[..], b"\x01\x00\x00\x00\x02hi");
//!
//! let frames = decode_body(body.freeze(), 1024, 16).unwrap();
//! assert_eq!(frames, vec![Frame::Message(Message::from("hi"))]);
//! ```

use crate::message::{CloseFrame, Message, Utf8Bytes};
use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;

/// Frame kind byte of a text frame.
pub const KIND_TEXT: u8 = 0x01;
/// Frame kind byte of a binary frame.
pub const KIND_BINARY: u8 = 0x02;
/// Frame kind byte of a close frame.
pub const KIND_CLOSE: u8 = 0x03;
/// Bytes of a frame header (kind + length).
pub const FRAME_HEADER_LEN: usize = 5;
/// Largest close frame payload: a `u16` code and a reason of at most
/// [`MAX_CLOSE_REASON_BYTES`](crate::message::MAX_CLOSE_REASON_BYTES). It applies instead of
/// the message size limit, so a close always fits.
pub const MAX_CLOSE_PAYLOAD: usize = 2 + crate::message::MAX_CLOSE_REASON_BYTES;

/// One frame on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text or binary message.
    Message(Message),
    /// The sender closes the session; `None` when the frame carries no code.
    Close(Option<CloseFrame>),
}

impl Frame {
    /// Size of this frame once encoded, header included.
    pub fn encoded_len(&self) -> usize {
        FRAME_HEADER_LEN + self.payload_len()
    }

    fn payload_len(&self) -> usize {
        match self {
            Frame::Message(message) => message.len(),
            Frame::Close(None) => 0,
            Frame::Close(Some(close)) => 2 + close.reason.len(),
        }
    }
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The body ends inside a frame header or payload.
    Truncated {
        /// Offset of the frame that is cut short.
        offset: usize,
    },
    /// The kind byte is not `0x01`, `0x02` or `0x03`.
    UnknownKind {
        /// The kind byte found.
        kind: u8,
        /// Offset of the frame.
        offset: usize,
    },
    /// A frame's declared length is over the message size limit.
    TooLarge {
        /// The declared payload length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The body holds more frames than one request may carry.
    TooManyFrames {
        /// The limit.
        max: usize,
    },
    /// A text payload or a close reason is not UTF-8.
    InvalidUtf8 {
        /// Offset of the frame.
        offset: usize,
    },
    /// A close payload of one byte: too short for a code, too long for none.
    BadClosePayload {
        /// Offset of the frame.
        offset: usize,
    },
    /// A frame follows a close frame; close must be the last frame of a body.
    FrameAfterClose {
        /// Offset of the frame after the close frame.
        offset: usize,
    },
}

impl FrameError {
    /// Whether the error is a size limit (answered `413`) rather than a malformed body (`400`).
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            FrameError::TooLarge { .. } | FrameError::TooManyFrames { .. }
        )
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Truncated { offset } => write!(f, "frame at byte {offset} is truncated"),
            FrameError::UnknownKind { kind, offset } => {
                write!(f, "frame at byte {offset} has unknown kind 0x{kind:02x}")
            }
            FrameError::TooLarge { len, max } => {
                write!(f, "frame length {len} is over the limit of {max} bytes")
            }
            FrameError::TooManyFrames { max } => {
                write!(f, "body holds more than {max} frames")
            }
            FrameError::InvalidUtf8 { offset } => {
                write!(f, "frame at byte {offset} is not valid UTF-8")
            }
            FrameError::BadClosePayload { offset } => {
                write!(f, "close frame at byte {offset} has a 1-byte payload")
            }
            FrameError::FrameAfterClose { offset } => {
                write!(f, "frame at byte {offset} follows a close frame")
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// A payload was too large to encode (its length does not fit in a `u32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadTooLarge {
    /// The payload length.
    pub len: usize,
}

impl fmt::Display for PayloadTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "payload of {} bytes does not fit a frame", self.len)
    }
}

impl std::error::Error for PayloadTooLarge {}

/// Appends one encoded frame to `out`.
///
/// Fails only when the payload is longer than `u32::MAX` bytes; `out` is unchanged then.
pub fn encode_frame(frame: &Frame, out: &mut BytesMut) -> Result<(), PayloadTooLarge> {
    let len = frame.payload_len();
    let wire_len = u32::try_from(len).map_err(|_| PayloadTooLarge { len })?;
    out.reserve(FRAME_HEADER_LEN + len);
    match frame {
        Frame::Message(Message::Text(text)) => {
            out.put_u8(KIND_TEXT);
            out.put_u32(wire_len);
            out.put_slice(text.as_bytes());
        }
        Frame::Message(Message::Binary(bytes)) => {
            out.put_u8(KIND_BINARY);
            out.put_u32(wire_len);
            out.put_slice(bytes);
        }
        Frame::Close(close) => {
            out.put_u8(KIND_CLOSE);
            out.put_u32(wire_len);
            if let Some(close) = close {
                out.put_u16(close.code);
                out.put_slice(close.reason.as_bytes());
            }
        }
    }
    Ok(())
}

/// Decodes a whole body into frames, or refuses it whole.
///
/// `max_message_bytes` bounds each payload; `max_frames` bounds the number of frames. A close
/// frame must be the last one. An empty body decodes to no frames.
pub fn decode_body(
    body: Bytes,
    max_message_bytes: usize,
    max_frames: usize,
) -> Result<Vec<Frame>, FrameError> {
    decode_frames(body, max_message_bytes, max_frames).map(|frames| frames.into_iter().collect())
}

/// The frames of one body, in order. The first is kept inline: a one-frame body (the usual
/// send) costs no allocation.
#[derive(Debug, Default)]
pub(crate) struct Frames {
    first: Option<Frame>,
    rest: Vec<Frame>,
}

impl Frames {
    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    fn last(&self) -> Option<&Frame> {
        self.rest.last().or(self.first.as_ref())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Frame> {
        self.first.iter().chain(&self.rest)
    }

    fn push(&mut self, frame: Frame) {
        if self.first.is_none() {
            self.first = Some(frame);
        } else {
            self.rest.push(frame);
        }
    }

    /// All but the first `count` frames.
    pub(crate) fn skip(self, count: usize) -> Frames {
        let mut kept = Frames::default();
        self.into_iter()
            .skip(count)
            .for_each(|frame| kept.push(frame));
        kept
    }
}

impl IntoIterator for Frames {
    type Item = Frame;
    type IntoIter = std::iter::Chain<std::option::IntoIter<Frame>, std::vec::IntoIter<Frame>>;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.rest)
    }
}

/// [`decode_body`] without a heap allocation for a one-frame body.
pub(crate) fn decode_frames(
    body: Bytes,
    max_message_bytes: usize,
    max_frames: usize,
) -> Result<Frames, FrameError> {
    let mut frames = Frames::default();
    let mut decoder = FrameDecoder::new(body, max_message_bytes);
    while let Some(item) = decoder.next() {
        let frame = item?;
        if frames.len() == max_frames {
            return Err(FrameError::TooManyFrames { max: max_frames });
        }
        if matches!(frames.last(), Some(Frame::Close(_))) {
            return Err(FrameError::FrameAfterClose {
                offset: decoder.offset_of_last,
            });
        }
        frames.push(frame);
    }
    Ok(frames)
}

/// Decodes frames one at a time from a body, without copying payloads.
///
/// After the first error the decoder yields nothing more.
#[derive(Debug)]
pub struct FrameDecoder {
    body: Bytes,
    offset: usize,
    offset_of_last: usize,
    max_message_bytes: usize,
    failed: bool,
}

impl FrameDecoder {
    /// A decoder over `body` that refuses payloads longer than `max_message_bytes`.
    pub fn new(body: Bytes, max_message_bytes: usize) -> Self {
        FrameDecoder {
            body,
            offset: 0,
            offset_of_last: 0,
            max_message_bytes,
            failed: false,
        }
    }

    fn decode_next(&mut self) -> Result<Frame, FrameError> {
        let offset = self.offset;
        self.offset_of_last = offset;
        let rest = &self.body[offset..];
        let Some(header) = rest.get(..FRAME_HEADER_LEN) else {
            return Err(FrameError::Truncated { offset });
        };
        let kind = header[0];
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        if !matches!(kind, KIND_TEXT | KIND_BINARY | KIND_CLOSE) {
            return Err(FrameError::UnknownKind { kind, offset });
        }
        // Check the limit before the length so an oversized claim is a 413, not a 400.
        let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
        let max = if kind == KIND_CLOSE {
            MAX_CLOSE_PAYLOAD
        } else {
            self.max_message_bytes
        };
        if len_usize > max {
            return Err(FrameError::TooLarge {
                len: u64::from(len),
                max,
            });
        }
        let start = offset + FRAME_HEADER_LEN;
        if self.body.len() - start < len_usize {
            return Err(FrameError::Truncated { offset });
        }
        let payload = self.body.slice(start..start + len_usize);
        self.offset = start + len_usize;
        match kind {
            KIND_TEXT => Utf8Bytes::try_from(payload)
                .map(|text| Frame::Message(Message::Text(text)))
                .map_err(|_| FrameError::InvalidUtf8 { offset }),
            KIND_BINARY => Ok(Frame::Message(Message::Binary(payload))),
            _ => decode_close(payload, offset),
        }
    }
}

fn decode_close(payload: Bytes, offset: usize) -> Result<Frame, FrameError> {
    match payload.len() {
        0 => Ok(Frame::Close(None)),
        1 => Err(FrameError::BadClosePayload { offset }),
        _ => {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            let reason = Utf8Bytes::try_from(payload.slice(2..))
                .map_err(|_| FrameError::InvalidUtf8 { offset })?;
            Ok(Frame::Close(Some(CloseFrame { code, reason })))
        }
    }
}

impl Iterator for FrameDecoder {
    type Item = Result<Frame, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.body.len() {
            return None;
        }
        let result = self.decode_next();
        self.failed = result.is_err();
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_all(frames: &[Frame]) -> Bytes {
        let mut out = BytesMut::new();
        for frame in frames {
            encode_frame(frame, &mut out).unwrap();
        }
        out.freeze()
    }

    #[test]
    fn round_trips_every_kind() {
        let frames = vec![
            Frame::Message(Message::from("héllo")),
            Frame::Message(Message::Binary(Bytes::from_static(&[0, 1, 255]))),
            Frame::Message(Message::from("")),
            Frame::Close(Some(CloseFrame::new(4000, "requested"))),
        ];
        let body = encode_all(&frames);
        assert_eq!(
            body.len(),
            frames.iter().map(Frame::encoded_len).sum::<usize>()
        );
        assert_eq!(decode_body(body, 64, 16).unwrap(), frames);
    }

    #[test]
    fn close_frame_bytes_match_the_spec() {
        let body = encode_all(&[Frame::Close(Some(CloseFrame::new(1000, "bye")))]);
        assert_eq!(&body[..], b"\x03\x00\x00\x00\x05\x03\xe8bye");
        let empty = encode_all(&[Frame::Close(None)]);
        assert_eq!(&empty[..], b"\x03\x00\x00\x00\x00");
        assert_eq!(decode_body(empty, 8, 8).unwrap(), vec![Frame::Close(None)]);
    }

    #[test]
    fn empty_body_is_no_frames() {
        assert_eq!(decode_body(Bytes::new(), 8, 8).unwrap(), vec![]);
    }

    #[test]
    fn truncated_header_and_payload_are_refused() {
        assert_eq!(
            decode_body(Bytes::from_static(b"\x02\x00\x00"), 8, 8),
            Err(FrameError::Truncated { offset: 0 })
        );
        assert_eq!(
            decode_body(
                Bytes::from_static(b"\x02\x00\x00\x00\x01a\x02\x00\x00\x00\x03ab"),
                8,
                8
            ),
            Err(FrameError::Truncated { offset: 6 })
        );
    }

    #[test]
    fn length_over_the_limit_is_a_limit_error_even_when_truncated() {
        let err = decode_body(Bytes::from_static(b"\x02\xff\xff\xff\xff"), 1024, 8).unwrap_err();
        assert_eq!(
            err,
            FrameError::TooLarge {
                len: u64::from(u32::MAX),
                max: 1024
            }
        );
        assert!(err.is_limit());
    }

    #[test]
    fn invalid_utf8_in_text_and_close_reason_is_refused() {
        assert_eq!(
            decode_body(Bytes::from_static(b"\x01\x00\x00\x00\x01\xff"), 8, 8),
            Err(FrameError::InvalidUtf8 { offset: 0 })
        );
        assert_eq!(
            decode_body(
                Bytes::from_static(b"\x03\x00\x00\x00\x03\x03\xe8\xc3"),
                8,
                8
            ),
            Err(FrameError::InvalidUtf8 { offset: 0 })
        );
        // The same bytes are a fine binary frame.
        assert!(decode_body(Bytes::from_static(b"\x02\x00\x00\x00\x01\xff"), 8, 8).is_ok());
    }

    #[test]
    fn unknown_kind_and_bad_close_are_refused() {
        assert_eq!(
            decode_body(Bytes::from_static(b"\x00\x00\x00\x00\x00"), 8, 8),
            Err(FrameError::UnknownKind { kind: 0, offset: 0 })
        );
        assert_eq!(
            decode_body(Bytes::from_static(b"\x03\x00\x00\x00\x01\x03"), 8, 8),
            Err(FrameError::BadClosePayload { offset: 0 })
        );
    }

    #[test]
    fn too_many_frames_and_frames_after_close_are_refused() {
        let three = encode_all(&[
            Frame::Message(Message::from("a")),
            Frame::Message(Message::from("b")),
            Frame::Message(Message::from("c")),
        ]);
        assert_eq!(
            decode_body(three.clone(), 8, 2),
            Err(FrameError::TooManyFrames { max: 2 })
        );
        assert_eq!(decode_body(three, 8, 3).unwrap().len(), 3);
        let after_close = encode_all(&[Frame::Close(None), Frame::Message(Message::from("a"))]);
        assert_eq!(
            decode_body(after_close, 8, 8),
            Err(FrameError::FrameAfterClose { offset: 5 })
        );
    }

    #[test]
    fn decoder_stops_after_an_error() {
        let mut decoder = FrameDecoder::new(Bytes::from_static(b"\x09\x00\x00\x00\x00"), 8);
        assert!(matches!(decoder.next(), Some(Err(_))));
        assert!(decoder.next().is_none());
    }

    #[test]
    fn payloads_are_not_copied() {
        let body = encode_all(&[Frame::Message(Message::Binary(Bytes::from_static(b"xyz")))]);
        let base = body.as_ptr() as usize;
        let frames = decode_body(body, 8, 8).unwrap();
        let Frame::Message(Message::Binary(payload)) = &frames[0] else {
            panic!("expected binary");
        };
        assert_eq!(payload.as_ptr() as usize, base + FRAME_HEADER_LEN);
    }
}
