//! Bookkeeping of a server session's requests: which ids it returned, which it answered and
//! which the harness aborted, so every answer can be checked against the rules.

use longpoll_core::RequestId;
use std::collections::HashMap;
use std::time::Instant;

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Held: neither answered nor aborted yet.
    Pending,
    /// Answered once.
    Answered,
    /// Its HTTP client went away before an answer.
    Aborted,
}

/// Every request a server session returned an id for.
#[derive(Debug, Default)]
pub struct Book {
    fates: HashMap<RequestId, (Fate, Instant)>,
    /// Ids in the order they were returned.
    pub order: Vec<RequestId>,
}

impl Book {
    /// A `handle_*` call returned `id` at `now`.
    pub fn issued(&mut self, id: RequestId, now: Instant) -> Result<(), String> {
        if self.fates.insert(id, (Fate::Pending, now)).is_some() {
            return Err(format!("request id {id:?} returned twice"));
        }
        self.order.push(id);
        Ok(())
    }

    /// The session answered `id`.
    pub fn answered(&mut self, id: RequestId) -> Result<(), String> {
        match self.fates.get_mut(&id) {
            None => Err(format!(
                "answer to {id:?}, an id the session never returned"
            )),
            Some((Fate::Answered, _)) => Err(format!("second answer to {id:?}")),
            Some((Fate::Aborted, _)) => Err(format!("answer to {id:?} after it was aborted")),
            Some((fate, _)) => {
                *fate = Fate::Answered;
                Ok(())
            }
        }
    }

    /// The harness aborts `id`; true when it was held (an abort of anything else is a no-op).
    pub fn abort(&mut self, id: RequestId) -> bool {
        match self.fates.get_mut(&id) {
            Some((fate @ Fate::Pending, _)) => {
                *fate = Fate::Aborted;
                true
            }
            _ => false,
        }
    }

    /// What became of `id`, if it was returned.
    pub fn fate(&self, id: RequestId) -> Option<Fate> {
        self.fates.get(&id).map(|(fate, _)| *fate)
    }

    /// The held requests and when each arrived.
    pub fn pending(&self) -> impl Iterator<Item = (RequestId, Instant)> + '_ {
        self.fates
            .iter()
            .filter(|(_, (fate, _))| *fate == Fate::Pending)
            .map(|(id, (_, at))| (*id, *at))
    }
}
