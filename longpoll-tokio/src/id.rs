//! Session ids from the operating system's CSPRNG.

use longpoll_core::SessionId;

/// A new session id: 128 bits from the OS random source (`getrandom`). Fails only if the OS
/// cannot provide randomness.
pub fn random_session_id() -> Result<SessionId, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(SessionId::from_bytes(bytes))
}
