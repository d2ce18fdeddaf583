//! A session a test keeps healthy while it throws other requests at the server.

use super::{collect, open, post_frames, text};
use std::net::SocketAddr;
use std::time::Duration;

const BASE: &str = "/longpoll";

/// A session and what the test has sent and received on it so far.
pub struct Probe {
    pub address: SocketAddr,
    pub id: String,
    /// The seq of the next client frame.
    pub seq: u64,
    /// Server frames received.
    pub ack: u64,
    pings: u64,
}

impl Probe {
    /// Opens a session at `/longpoll` and checks it with one round trip.
    pub async fn open(address: SocketAddr) -> Probe {
        let id = open(address, BASE).await;
        let mut probe = Probe {
            address,
            id,
            seq: 0,
            ack: 0,
            pings: 0,
        };
        probe.round_trip("opening").await;
        probe
    }

    /// One message each way, exactly once: the session is healthy. `after` names what the
    /// test did before, for the failure message.
    pub async fn round_trip(&mut self, after: &str) {
        self.pings += 1;
        let ping = format!("ping {}", self.pings);
        let sent = post_frames(self.address, BASE, &self.id, self.seq, &[text(&ping)]).await;
        assert_eq!(sent.status, 204, "after {after}: send {sent:?}");
        self.seq += 1;
        let frames = tokio::time::timeout(
            Duration::from_secs(60),
            collect(self.address, BASE, &self.id, self.ack, 1),
        )
        .await
        .unwrap_or_else(|_| panic!("after {after}: no echo"));
        assert_eq!(frames, vec![text(&ping)], "after {after}: the echo");
        self.ack += 1;
    }

    /// `template` with `{id}`, `{ID}` (upper case), `{id31}` (cut), `{seq}`, `{seq-1}`,
    /// `{seq+5}`, `{ack}` and `{ack+1}` filled in.
    pub fn fill(&self, template: &str) -> String {
        template
            .replace("{id}", &self.id)
            .replace("{ID}", &self.id.to_uppercase())
            .replace("{id31}", &self.id[..31])
            .replace("{seq}", &self.seq.to_string())
            .replace("{seq-1}", &self.seq.saturating_sub(1).to_string())
            .replace("{seq+5}", &(self.seq + 5).to_string())
            .replace("{ack}", &self.ack.to_string())
            .replace("{ack+1}", &(self.ack + 1).to_string())
    }
}
