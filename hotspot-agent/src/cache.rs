//! The cache of beacon payloads the agent must not witness: its own recent beacons and the
//! beacons it already reported (gateway-rs `MessageCache`, PR #331).

use std::collections::VecDeque;

/// Entries kept, as in gateway-rs.
pub const BEACON_CACHE_SIZE: usize = 15;

/// The last [`BEACON_CACHE_SIZE`] beacon payloads seen, oldest first.
#[derive(Debug, Default, Clone)]
pub struct BeaconCache {
    entries: VecDeque<Vec<u8>>,
}

impl BeaconCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `data` is cached.
    pub fn contains(&self, data: &[u8]) -> bool {
        self.entries.iter().any(|e| e.as_slice() == data)
    }

    /// Caches `data`, evicting the oldest entry when full. Returns `false` (and leaves the cache
    /// unchanged) when `data` was already cached.
    pub fn insert(&mut self, data: &[u8]) -> bool {
        if self.contains(data) {
            return false;
        }
        if self.entries.len() == BEACON_CACHE_SIZE {
            self.entries.pop_front();
        }
        self.entries.push_back(data.to_vec());
        true
    }

    /// Number of cached payloads.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_rejects_duplicates() {
        let mut cache = BeaconCache::new();
        assert!(cache.insert(&[1; 51]));
        assert!(cache.contains(&[1; 51]));
        assert!(!cache.insert(&[1; 51]));
        assert_eq!(cache.len(), 1);
        assert!(!cache.contains(&[2; 51]));
    }

    #[test]
    fn keeps_the_last_fifteen() {
        let mut cache = BeaconCache::new();
        for i in 0..=BEACON_CACHE_SIZE as u8 {
            assert!(cache.insert(&[i; 51]));
        }
        assert_eq!(cache.len(), BEACON_CACHE_SIZE);
        assert!(!cache.contains(&[0; 51]), "oldest entry evicted");
        for i in 1..=BEACON_CACHE_SIZE as u8 {
            assert!(cache.contains(&[i; 51]), "entry {i} kept");
        }
    }
}
