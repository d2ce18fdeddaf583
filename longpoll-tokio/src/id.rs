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

/// Hashes a [`SessionId`] with one folded multiply of its two halves, not std's SipHash (a
/// few hundred instructions per request). No key is needed: the registry's tables hold only
/// ids drawn from the OS generator, and a request can name any id but cannot place one in a
/// table, so it cannot lengthen anyone's probe. Both halves are mixed because an
/// [id filter](crate::LongPoll::with_id_filter) may fix some of an id's bits: those then
/// carry no spread, and the multiply spreads the others over every bit of the hash.
#[derive(Default)]
pub(crate) struct RandomIdHasher(u64);

impl Hasher for RandomIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // The derived `Hash` writes the 16 bytes at once (and the length to `write_usize`).
        if let (Some(low), Some(high)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
            // Odd constants (the fractional digits of pi), so that no half multiplies to 0
            // unless it equals one of them.
            let low = u64::from_ne_bytes(*low) ^ 0x243f_6a88_85a3_08d3;
            let high = u64::from_ne_bytes(*high) ^ 0x1319_8a2e_0370_7345;
            let product = u128::from(low) * u128::from(high);
            self.0 ^= (product as u64) ^ ((product >> 64) as u64);
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
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    /// Distinct ids from a counter (splitmix64), the first `fixed` bytes zero, as a filter
    /// that keeps only such ids would leave them.
    fn ids(count: u64, fixed: usize) -> impl Iterator<Item = SessionId> {
        (0..count).map(move |n| {
            let next = |k: u64| {
                let mut z = n
                    .wrapping_mul(2)
                    .wrapping_add(k)
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15);
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^ (z >> 31)
            };
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&next(0).to_le_bytes());
            bytes[8..].copy_from_slice(&next(1).to_le_bytes());
            bytes[..fixed].fill(0);
            SessionId::from_bytes(bytes)
        })
    }

    #[test]
    fn every_byte_of_an_id_changes_its_hash() {
        let id = ids(1, 0).next().unwrap();
        let hash = RandomIdHash::default().hash_one(id);
        for position in 0..16 {
            let mut other = *id.as_bytes();
            other[position] ^= 1;
            let other = RandomIdHash::default().hash_one(SessionId::from_bytes(other));
            assert_ne!(other, hash, "byte {position}");
        }
    }

    #[test]
    fn ids_with_fixed_bytes_still_spread_over_the_low_bits() {
        // hashbrown picks a bucket from a hash's low bits and a tag from its top 7.
        for fixed in [0, 1, 4, 8, 12] {
            let hashes: Vec<u64> = ids(4096, fixed)
                .map(|id| RandomIdHash::default().hash_one(id))
                .collect();
            let buckets: HashSet<u64> = hashes.iter().map(|hash| hash & 0x3ff).collect();
            let tags: HashSet<u64> = hashes.iter().map(|hash| hash >> 57).collect();
            // 4,096 uniform draws from 1,024 buckets leave about 19 empty.
            assert!(
                buckets.len() > 960,
                "{fixed} fixed bytes: {} buckets",
                buckets.len()
            );
            assert_eq!(tags.len(), 128, "{fixed} fixed bytes");
        }
    }
}
