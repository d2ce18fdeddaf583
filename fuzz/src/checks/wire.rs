//! `wire_decode`: the parsers that read untrusted bytes and strings, checked against small
//! reference models written from PROTOCOL.md.
//!
//! The first byte picks what the rest is (modulo 5):
//!
//! | mode | rest of the input |
//! |---|---|
//! | 0 | `max_message_bytes: u8`, `max_frames: u8` (mod 17), then a body for `wire::decode_body` |
//! | 1 | a query string for `query::parse_u64_param` (`ack` and `seq`) |
//! | 2 | a flags byte (bit 0: no query, bit 1: no content type), then `method\npath\nquery\ncontent-type` for `route::route` |
//! | 3 | JSON for `SessionParams::from_json` |
//! | 4 | frames (`Vec<ClientFrame>`, arbitrary-encoded) to encode then decode |
//!
//! Strings are made UTF-8 lossily. Decoding must agree with the model exactly; whatever it
//! accepts must re-encode to the very same bytes.

use super::Outcome;
use super::inputs::{ClientFrame, close_frame};
use arbitrary::{Arbitrary, Unstructured};
use bytes::{Bytes, BytesMut};
use longpoll_core::query::{QueryError, parse_u64_param};
use longpoll_core::route::{Operation, Route, is_frames_content_type, operation, route};
use longpoll_core::wire::{Frame, FrameError, MAX_CLOSE_PAYLOAD, decode_body, encode_frame};
use longpoll_core::{CloseFrame, Message, Reply, SessionId, SessionParams, Utf8Bytes};

/// Runs one input; `Err` names the first broken rule.
pub fn run(data: &[u8]) -> Result<Outcome, String> {
    let mut outcome = Outcome::default();
    let Some((&mode, rest)) = data.split_first() else {
        return Ok(outcome);
    };
    match mode % 5 {
        0 => decode(rest, &mut outcome)?,
        1 => query(&String::from_utf8_lossy(rest), &mut outcome)?,
        2 => route_request(rest, &mut outcome)?,
        3 => params(&String::from_utf8_lossy(rest), &mut outcome)?,
        _ => encode(rest, &mut outcome)?,
    }
    Ok(outcome)
}

fn decode(data: &[u8], outcome: &mut Outcome) -> Result<(), String> {
    let (max_message, max_frames, body) = match data {
        [a, b, body @ ..] => (usize::from(*a), usize::from(*b % 17), body),
        _ => (0, 0, data),
    };
    check_decode(
        Bytes::copy_from_slice(body),
        max_message,
        max_frames,
        outcome,
    )
    .map(drop)
}

/// Decodes `body`, compares with the model, and round-trips what was accepted.
fn check_decode(
    body: Bytes,
    max_message: usize,
    max_frames: usize,
    outcome: &mut Outcome,
) -> Result<Option<Vec<Frame>>, String> {
    let decoded = decode_body(body.clone(), max_message, max_frames);
    let model = model_decode(&body, max_message, max_frames);
    if decoded != model {
        return Err(format!("decode_body gave {decoded:?}, the model {model:?}"));
    }
    let frames = match decoded {
        Ok(frames) => frames,
        Err(error) => {
            let status = Reply::from(error.clone()).status();
            if status != if error.is_limit() { 413 } else { 400 } || error.to_string().is_empty() {
                return Err(format!("{error:?} answered {status}"));
            }
            outcome.saw(&format!("decode error {}", variant(&error)));
            return Ok(None);
        }
    };
    outcome.saw(&format!("decoded {} frames", frames.len().min(3)));
    let mut again = BytesMut::new();
    for frame in &frames {
        encode_frame(frame, &mut again).map_err(|e| e.to_string())?;
    }
    if again != body {
        return Err(format!("{frames:?} re-encodes to {again:?}, not {body:?}"));
    }
    let total: usize = frames.iter().map(Frame::encoded_len).sum();
    if total != body.len() {
        return Err(format!(
            "encoded_len sums to {total}, body is {}",
            body.len()
        ));
    }
    Ok(Some(frames))
}

/// The frame format of PROTOCOL.md section 7, read independently of `FrameDecoder`: each
/// frame's checks in the order the protocol gives (kind, limit, length, content), then the
/// body's (frame count, close last).
fn model_decode(
    body: &[u8],
    max_message: usize,
    max_frames: usize,
) -> Result<Vec<Frame>, FrameError> {
    let mut frames: Vec<Frame> = Vec::new();
    let mut offset = 0;
    while offset < body.len() {
        let Some(&[kind, a, b, c, d]) = body.get(offset..offset + 5) else {
            return Err(FrameError::Truncated { offset });
        };
        let len = u32::from_be_bytes([a, b, c, d]);
        if !(1..=3).contains(&kind) {
            return Err(FrameError::UnknownKind { kind, offset });
        }
        let max = if kind == 3 {
            MAX_CLOSE_PAYLOAD
        } else {
            max_message
        };
        if len as usize > max {
            return Err(FrameError::TooLarge {
                len: len.into(),
                max,
            });
        }
        let start = offset + 5;
        let Some(payload) = body.get(start..start + len as usize) else {
            return Err(FrameError::Truncated { offset });
        };
        let text = |bytes: &[u8]| {
            std::str::from_utf8(bytes)
                .map(Utf8Bytes::from)
                .map_err(|_| FrameError::InvalidUtf8 { offset })
        };
        let frame = match (kind, payload) {
            (1, _) => Frame::Message(Message::Text(text(payload)?)),
            (2, _) => Frame::Message(Message::Binary(Bytes::copy_from_slice(payload))),
            (_, []) => Frame::Close(None),
            (_, [_]) => return Err(FrameError::BadClosePayload { offset }),
            (_, [hi, lo, reason @ ..]) => Frame::Close(Some(CloseFrame {
                code: u16::from_be_bytes([*hi, *lo]),
                reason: text(reason)?,
            })),
        };
        if frames.len() == max_frames {
            return Err(FrameError::TooManyFrames { max: max_frames });
        }
        if matches!(frames.last(), Some(Frame::Close(_))) {
            return Err(FrameError::FrameAfterClose { offset });
        }
        frames.push(frame);
        offset = start + len as usize;
    }
    Ok(frames)
}

/// Encodes arbitrary frames and decodes them back: they come back equal unless a close frame
/// is not last or has a reason over 123 bytes, which the model refuses the same way.
fn encode(data: &[u8], outcome: &mut Outcome) -> Result<(), String> {
    let mut u = Unstructured::new(data);
    let Ok(seeds) = Vec::<ClientFrame>::arbitrary(&mut u) else {
        return Ok(());
    };
    let frames: Vec<Frame> = seeds
        .iter()
        .map(|seed| match seed {
            ClientFrame::Message(payload) => Frame::Message(payload.to_message()),
            ClientFrame::Close(close) => Frame::Close(close_frame(close)),
        })
        .collect();
    let mut body = BytesMut::new();
    for frame in &frames {
        encode_frame(frame, &mut body).map_err(|e| e.to_string())?;
    }
    let max_message = frames
        .iter()
        .map(|frame| match frame {
            Frame::Message(message) => message.len(),
            Frame::Close(_) => 0,
        })
        .max()
        .unwrap_or(0);
    let decoded = check_decode(body.freeze(), max_message, frames.len(), outcome)?;
    let close_ok = |(i, frame): (usize, &Frame)| match frame {
        Frame::Message(_) => true,
        Frame::Close(close) => {
            i + 1 == frames.len() && close.as_ref().is_none_or(|c| c.reason.len() <= 123)
        }
    };
    let well_formed = frames.iter().enumerate().all(close_ok);
    if well_formed && decoded.as_ref() != Some(&frames) {
        return Err(format!("{frames:?} came back as {decoded:?}"));
    }
    Ok(())
}

/// The model of `parse_u64_param`: the first `name=value` pair must hold 1 to 20 digits
/// that fit a `u64`, and no second pair may follow.
fn model_query(query: Option<&str>, name: &'static str) -> Result<u64, QueryError> {
    let mut values = query.unwrap_or("").split('&').filter_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    });
    let first = values.next().ok_or(QueryError::Missing(name))?;
    let digits = (1..=20).contains(&first.len()) && first.bytes().all(|b| b.is_ascii_digit());
    let value = digits
        .then(|| first.parse::<u64>().ok())
        .flatten()
        .ok_or(QueryError::Invalid(name))?;
    match values.next() {
        Some(_) => Err(QueryError::Repeated(name)),
        None => Ok(value),
    }
}

/// A send's optional `ack`: absent is `None`, anything else as [`model_query`].
fn model_optional_query(
    query: Option<&str>,
    name: &'static str,
) -> Result<Option<u64>, QueryError> {
    match model_query(query, name) {
        Err(QueryError::Missing(_)) => Ok(None),
        other => other.map(Some),
    }
}

fn query(text: &str, outcome: &mut Outcome) -> Result<(), String> {
    for name in ["ack", "seq"] {
        for query in [Some(text), None] {
            let got = parse_u64_param(query, name);
            let model = model_query(query, name);
            if got != model {
                return Err(format!(
                    "parse_u64_param({query:?}, {name}) = {got:?}, model {model:?}"
                ));
            }
            if let Err(error) = &got {
                let _ = error.to_string();
            }
        }
    }
    let ack = parse_u64_param(Some(text), "ack");
    outcome.saw(&format!("query {}", variant(&ack)));
    Ok(())
}

fn route_request(data: &[u8], outcome: &mut Outcome) -> Result<(), String> {
    let Some((&flags, rest)) = data.split_first() else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(rest);
    let mut fields = text.splitn(4, '\n');
    let method = fields.next().unwrap_or("");
    let path = fields.next().unwrap_or("");
    let query = fields.next().filter(|_| flags & 1 == 0);
    let content_type = fields.next().filter(|_| flags & 2 == 0);
    let got = route(method, path, query, content_type);
    let what = || format!("route({method:?}, {path:?}, {query:?}, {content_type:?}) = {got:?}");
    // The model: the path decides between the collection, a session and 404; a session's
    // request is then exactly `operation`'s verdict.
    let rest = path.strip_prefix('/').unwrap_or(path);
    let model = if rest.is_empty() {
        match method {
            "POST" => Ok(Route::Open),
            _ => Err(Reply::MethodNotAllowed { allow: "POST" }),
        }
    } else if let Some(id) = SessionId::parse(rest) {
        operation(method, query, content_type).map(|op| match op {
            Operation::Poll { ack } => Route::Poll { id, ack },
            Operation::Send { seq, ack } => Route::Send { id, seq, ack },
            Operation::Close => Route::Close { id },
        })
    } else {
        Err(Reply::NotFound)
    };
    if got != model {
        return Err(format!("{}, the model {model:?}", what()));
    }
    // Whatever is accepted is consistent with the request, read independently.
    let same_id = |id: &SessionId| id.to_string() == rest;
    let consistent = match &got {
        Ok(Route::Open) => method == "POST" && rest.is_empty(),
        Ok(Route::Poll { id, ack }) => {
            method == "GET" && same_id(id) && model_query(query, "ack") == Ok(*ack)
        }
        Ok(Route::Send { id, seq, ack }) => {
            let essence = content_type.map(|ct| ct.split(';').next().unwrap_or("").trim());
            method == "POST"
                && same_id(id)
                && essence.is_some_and(|e| e.eq_ignore_ascii_case("application/octet-stream"))
                && is_frames_content_type(content_type)
                && model_query(query, "seq") == Ok(*seq)
                && model_optional_query(query, "ack") == Ok(*ack)
        }
        Ok(Route::Close { id }) => method == "DELETE" && same_id(id),
        Err(reply) => matches!(reply.status(), 400 | 404 | 405 | 415),
    };
    if !consistent {
        return Err(format!("{} is not consistent with the request", what()));
    }
    let label = match &got {
        Ok(route) => variant(route),
        Err(reply) => reply.status().to_string(),
    };
    outcome.saw(&format!("route {label}"));
    Ok(())
}

fn params(text: &str, outcome: &mut Outcome) -> Result<(), String> {
    match SessionParams::from_json(text) {
        Ok(params) => {
            params
                .validate()
                .map_err(|e| format!("from_json accepted invalid params {params:?}: {e}"))?;
            let again = SessionParams::from_json(&params.to_json());
            if again.as_ref() != Ok(&params) {
                return Err(format!("{params:?} round-trips to {again:?}"));
            }
            outcome.saw("params ok");
        }
        Err(error) => outcome.saw(&format!("params error {error}")),
    }
    Ok(())
}

/// The variant name of a value's `Debug` form.
fn variant(value: &impl std::fmt::Debug) -> String {
    let text = format!("{value:?}");
    let end = text.find(['(', ' ', '{']).unwrap_or(text.len());
    text[..end].to_string()
}
