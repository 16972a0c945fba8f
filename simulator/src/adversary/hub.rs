//! [`InternetHub`]: the colluders' in-process "internet".
//!
//! Named channels (`ring:NAME` for a collusion ring, `relay:NAME` for a virtual witness and its
//! colluders). A member publishes a [`Heard`] beacon to a channel; every other subscriber of the
//! channel whose [`Subscription`] accepts it gets it in its inbox at once.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use schemas::PublicKey;
use tokio::sync::mpsc;

use super::Heard;

/// One member's interest in a channel.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// The subscribing hotspot (never sent what it published, nor its own beacons).
    pub member: PublicKey,
    /// Only beacons of this transmitter (`None`: all).
    pub only_from: Option<PublicKey>,
    /// Where accepted beacons go.
    pub inbox: mpsc::UnboundedSender<Heard>,
}

/// Channels by name.
#[derive(Debug, Default)]
pub struct InternetHub {
    channels: Mutex<HashMap<String, Vec<Subscription>>>,
}

impl InternetHub {
    /// An empty hub.
    pub fn new() -> Self {
        Self::default()
    }

    /// The channel of collusion ring `ring`.
    pub fn ring_channel(ring: &str) -> String {
        format!("ring:{ring}")
    }

    /// The channel of virtual witness `name` and its colluders.
    pub fn relay_channel(name: &str) -> String {
        format!("relay:{name}")
    }

    /// Adds `subscription` to `channel`.
    pub fn subscribe(&self, channel: &str, subscription: Subscription) {
        self.lock()
            .entry(channel.to_owned())
            .or_default()
            .push(subscription);
    }

    /// Sends `heard`, published by `publisher`, to every other interested member of `channel`.
    /// Returns how many got it.
    pub fn publish(&self, channel: &str, publisher: &PublicKey, heard: &Heard) -> usize {
        let channels = self.lock();
        let Some(subscribers) = channels.get(channel) else {
            return 0;
        };
        subscribers
            .iter()
            .filter(|s| s.member != *publisher && s.member != heard.transmitter)
            .filter(|s| s.only_from.is_none_or(|from| from == heard.transmitter))
            .filter(|s| s.inbox.send(heard.clone()).is_ok())
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Subscription>>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::Keypair;
    use schemas::proto::DataRate;

    fn key(seed: u8) -> PublicKey {
        Keypair::from_seed([seed; 32]).public()
    }

    fn heard(from: PublicKey) -> Heard {
        Heard {
            payload: vec![1],
            frequency_hz: 1,
            datarate: DataRate::Sf10bw125,
            tx_power_ddbm: 0,
            transmitter: from,
            tx_time_ns: 0,
        }
    }

    #[test]
    fn publish_reaches_other_interested_members_only() {
        let hub = InternetHub::new();
        let (a_tx, mut a_rx) = mpsc::unbounded_channel();
        let (b_tx, mut b_rx) = mpsc::unbounded_channel();
        let (c_tx, mut c_rx) = mpsc::unbounded_channel();
        let subscribe = |member, only_from, inbox| Subscription {
            member,
            only_from,
            inbox,
        };
        hub.subscribe("relay:v", subscribe(key(1), None, a_tx));
        hub.subscribe("relay:v", subscribe(key(2), Some(key(1)), b_tx));
        hub.subscribe("relay:v", subscribe(key(3), Some(key(1)), c_tx));
        // Relay 2 publishes a beacon of outsider 9: only the unfiltered member 1 gets it.
        assert_eq!(hub.publish("relay:v", &key(2), &heard(key(9))), 1);
        assert_eq!(a_rx.try_recv().map(|h| h.transmitter), Ok(key(9)));
        // Member 1 publishes its own beacon: the relays filtering on it get it, not 1.
        assert_eq!(hub.publish("relay:v", &key(1), &heard(key(1))), 2);
        assert!(a_rx.try_recv().is_err());
        assert!(b_rx.try_recv().is_ok() && c_rx.try_recv().is_ok());
        assert_eq!(hub.publish("ring:none", &key(1), &heard(key(1))), 0);
    }
}
