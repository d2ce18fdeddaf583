//! Session ids from the operating system's CSPRNG.

use longpoll_core::SessionId;
use std::hash::{BuildHasherDefault, Hasher};

/// A new session id: 128 bits from the OS random source (`getrandom`). Fails only if the OS
/// cannot provide randomness.
pub fn random_session_id() -> Result<SessionId, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(SessionId::from_bytes(bytes))
}

/// Hashes a [`SessionId`] by taking eight of its bytes. The registry's tables hold only ids
/// drawn from the OS generator, so those bytes are already uniform; a request can name any
/// id, but it cannot place one in a table, so it cannot lengthen anyone's probe. (std's
/// SipHash cost a few hundred instructions per request for no gain.)
#[derive(Default)]
pub(crate) struct RandomIdHasher(u64);

impl Hasher for RandomIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // The derived `Hash` writes the length (16) first, then the bytes.
        if let Some(first) = bytes.first_chunk::<8>() {
            self.0 ^= u64::from_ne_bytes(*first);
        }
    }

    fn write_usize(&mut self, _length: usize) {}

    fn finish(&self) -> u64 {
        self.0
    }
}

/// What the registry's tables hash session ids with.
pub(crate) type RandomIdHash = BuildHasherDefault<RandomIdHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    #[test]
    fn an_id_hashes_to_its_leading_bytes() {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&0x0123_4567_89ab_cdef_u64.to_ne_bytes());
        bytes[8..].fill(0xff);
        let id = SessionId::from_bytes(bytes);
        assert_eq!(RandomIdHash::default().hash_one(id), 0x0123_4567_89ab_cdef);
        let mut other = bytes;
        other[0] ^= 1;
        assert_ne!(
            RandomIdHash::default().hash_one(SessionId::from_bytes(other)),
            RandomIdHash::default().hash_one(id)
        );
        // The length prefix adds nothing.
        let mut hasher = RandomIdHasher::default();
        id.hash(&mut hasher);
        assert_eq!(hasher.finish(), 0x0123_4567_89ab_cdef);
    }
}
