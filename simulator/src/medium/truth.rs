//! [`TruthBook`]: who transmitted what, and when, as the medium saw it.
//!
//! The medium records every transmission here. Honest hotspots never read it. Adversaries
//! ([`crate::adversary`]) do: it models a **well-informed attacker** that knows, for every
//! beacon it hears (or is relayed), which hotspot sent it, with what power and at what exact
//! time. A real attacker would have to work this out (from the public asserted locations, the
//! channel plan, its own receptions and its colluders), so forgeries built from the book are
//! at least as convincing as a real attacker's: a verifier that catches them catches those.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use schemas::PublicKey;

/// Transmissions remembered (the oldest are forgotten first).
pub const TRUTH_BOOK_CAPACITY: usize = 4096;

/// One transmission as it really happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmission {
    /// The transmitting hotspot.
    pub transmitter: PublicKey,
    /// True time of transmission, ns since the epoch (the medium's clock).
    pub tx_time_ns: u64,
    /// Conducted power used, dBm x 10.
    pub tx_power_ddbm: i32,
}

#[derive(Debug, Default)]
struct Book {
    by_payload: HashMap<Vec<u8>, Transmission>,
    order: VecDeque<Vec<u8>>,
}

/// A shared, bounded map from a transmitted PHY payload to its [`Transmission`]. Cloning
/// shares the book.
#[derive(Debug, Clone, Default)]
pub struct TruthBook {
    book: Arc<Mutex<Book>>,
}

impl TruthBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `payload` was sent as `transmission` (a repeated payload keeps the latest).
    pub fn record(&self, payload: &[u8], transmission: Transmission) {
        let mut book = self.book.lock().unwrap_or_else(PoisonError::into_inner);
        if book
            .by_payload
            .insert(payload.to_vec(), transmission)
            .is_none()
        {
            book.order.push_back(payload.to_vec());
        }
        while book.order.len() > TRUTH_BOOK_CAPACITY {
            if let Some(oldest) = book.order.pop_front() {
                book.by_payload.remove(&oldest);
            }
        }
    }

    /// Who sent `payload`, if it was transmitted recently.
    pub fn lookup(&self, payload: &[u8]) -> Option<Transmission> {
        let book = self.book.lock().unwrap_or_else(PoisonError::into_inner);
        book.by_payload.get(payload).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_latest_and_forgets_the_oldest() {
        let book = TruthBook::new();
        let t = |ns| Transmission {
            transmitter: schemas::Keypair::from_seed([1; 32]).public(),
            tx_time_ns: ns,
            tx_power_ddbm: 270,
        };
        book.record(b"a", t(1));
        book.record(b"a", t(2));
        assert_eq!(book.lookup(b"a"), Some(t(2)));
        for i in 0..TRUTH_BOOK_CAPACITY {
            book.record(&i.to_le_bytes(), t(3));
        }
        assert_eq!(book.lookup(b"a"), None);
        assert!(book.lookup(&0usize.to_le_bytes()).is_some());
    }
}
