//! nginx's `hash $key consistent` upstream choice, computed ahead of nginx, so that a server
//! process behind it can issue only session ids that nginx routes back to itself.
//!
//! nginx places each upstream server at 160 points (× weight; we support weight 1) on a ring
//! of CRC-32 values: the first point is the CRC-32 of `host`, a zero byte, `port` and four
//! zero bytes; each next point hashes the same prefix followed by the previous point's value
//! as four little-endian bytes. A key goes to the server of the first point at or after the
//! key's CRC-32, wrapping around (ketama, compatible with Cache::Memcached::Fast). The result
//! depends on each `server` line exactly as written in the `upstream` block, so give this
//! module the same strings, in any order.
//!
//! When a server is down nginx moves its keys to the next points on the ring (with
//! `proxy_next_upstream`), and keys of the others stay where they were: the sessions of a
//! lost process are answered `404` by a survivor, and every other session is unaffected.

/// The ring of an `upstream { hash $key consistent; server ...; }` block.
#[derive(Debug, Clone)]
pub struct ConsistentHash {
    /// (point, index into `servers`), sorted by point, one entry per distinct point.
    points: Vec<(u32, usize)>,
    servers: Vec<String>,
}

/// Points per server of weight 1, as nginx places them.
const POINTS_PER_SERVER: u32 = 160;

impl ConsistentHash {
    /// The ring for these `server` addresses (`host:port`, as in the nginx config).
    ///
    /// ```
    /// use longpoll_examples::nginx_hash::ConsistentHash;
    ///
    /// let ring = ConsistentHash::new(["127.0.0.1:8001", "127.0.0.1:8002"]);
    /// let server = ring.server_for("0123456789abcdef0123456789abcdef");
    /// assert!(server == "127.0.0.1:8001" || server == "127.0.0.1:8002");
    /// ```
    ///
    /// # Panics
    ///
    /// If `servers` is empty.
    pub fn new<S: Into<String>>(servers: impl IntoIterator<Item = S>) -> Self {
        let servers: Vec<String> = servers.into_iter().map(Into::into).collect();
        assert!(!servers.is_empty(), "an upstream needs at least one server");
        let mut points = Vec::with_capacity(servers.len() * POINTS_PER_SERVER as usize);
        for (index, server) in servers.iter().enumerate() {
            let (host, port) = server.rsplit_once(':').unwrap_or((server, ""));
            let mut previous = 0u32;
            for _ in 0..POINTS_PER_SERVER {
                let mut hasher = crc32fast::Hasher::new();
                hasher.update(host.as_bytes());
                hasher.update(&[0]);
                hasher.update(port.as_bytes());
                hasher.update(&previous.to_le_bytes());
                previous = hasher.finalize();
                points.push((previous, index));
            }
        }
        // nginx keeps one point per value; a collision between servers is a 1-in-2^32 event
        // whose winner nginx leaves to its sort, so ours may differ there and nowhere else.
        points.sort_by_key(|&(point, _)| point);
        points.dedup_by_key(|&mut (point, _)| point);
        ConsistentHash { points, servers }
    }

    /// The server nginx sends `key` to while every server is up.
    pub fn server_for(&self, key: &str) -> &str {
        let hash = crc32fast::hash(key.as_bytes());
        let at = self.points.partition_point(|&(point, _)| point < hash);
        let (_, index) = self.points[at % self.points.len()];
        &self.servers[index]
    }

    /// The servers, as given.
    pub fn servers(&self) -> &[String] {
        &self.servers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_gets_a_fair_share_of_random_keys() {
        let servers = ["127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"];
        let ring = ConsistentHash::new(servers);
        let mut counts = [0usize; 3];
        for n in 0..30_000u32 {
            let key = format!("{:032x}", u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let server = ring.server_for(&key);
            counts[servers.iter().position(|s| *s == server).unwrap()] += 1;
        }
        // 160 points each: every share lies well within 20-47 % (a third is 33 %).
        for count in counts {
            assert!((6_000..14_000).contains(&count), "{counts:?}");
        }
    }

    #[test]
    fn removing_a_server_moves_only_its_own_keys() {
        let all = ConsistentHash::new(["a:1", "b:2", "c:3"]);
        let without_b = ConsistentHash::new(["a:1", "c:3"]);
        for n in 0..5_000u32 {
            let key = n.to_string();
            let before = all.server_for(&key);
            if before != "b:2" {
                assert_eq!(before, without_b.server_for(&key), "key {key}");
            }
        }
    }
}
