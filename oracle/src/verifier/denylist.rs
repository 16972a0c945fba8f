//! Denylisted keys and beaconer-witness edges, each with its reason and an expiry: an entry
//! stops applying at `expires_ms` unless a newer list renews it.

use schemas::PublicKey;
use std::collections::HashMap;

/// One denylist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenyEntry {
    pub reason: String,
    /// Applies to reports received from this time (when the list was applied).
    pub from_ms: u64,
    /// Stops applying at this time.
    pub expires_ms: u64,
}

impl DenyEntry {
    fn applies_at(&self, ms: u64) -> bool {
        self.from_ms <= ms && ms < self.expires_ms
    }
}

/// The denylist in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Denylist {
    keys: HashMap<PublicKey, DenyEntry>,
    edges: HashMap<(PublicKey, PublicKey), DenyEntry>,
}

fn edge(a: PublicKey, b: PublicKey) -> (PublicKey, PublicKey) {
    if a <= b { (a, b) } else { (b, a) }
}

impl Denylist {
    /// Adds (or renews) a key entry; the later expiry wins.
    pub fn deny_key(&mut self, key: PublicKey, entry: DenyEntry) {
        keep_latest(self.keys.entry(key), entry);
    }

    /// Adds (or renews) an undirected edge entry.
    pub fn deny_edge(&mut self, a: PublicKey, b: PublicKey, entry: DenyEntry) {
        keep_latest(self.edges.entry(edge(a, b)), entry);
    }

    /// The entry denying `key` at `ms`.
    pub fn key(&self, key: &PublicKey, ms: u64) -> Option<&DenyEntry> {
        self.keys.get(key).filter(|e| e.applies_at(ms))
    }

    /// The entry denying the pair at `ms` (either direction).
    pub fn edge(&self, a: PublicKey, b: PublicKey, ms: u64) -> Option<&DenyEntry> {
        self.edges.get(&edge(a, b)).filter(|e| e.applies_at(ms))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.keys.len() + self.edges.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn keep_latest<K>(slot: std::collections::hash_map::Entry<'_, K, DenyEntry>, entry: DenyEntry) {
    use std::collections::hash_map::Entry;
    match slot {
        Entry::Occupied(mut o) if o.get().expires_ms < entry.expires_ms => {
            o.insert(entry);
        }
        Entry::Occupied(_) => {}
        Entry::Vacant(v) => {
            v.insert(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> PublicKey {
        PublicKey::from_bytes([n; 32])
    }

    #[test]
    fn entries_apply_between_application_and_expiry() {
        let mut list = Denylist::default();
        list.deny_key(
            key(1),
            DenyEntry {
                reason: "spoofing".into(),
                from_ms: 100,
                expires_ms: 200,
            },
        );
        assert!(list.key(&key(1), 99).is_none());
        assert_eq!(
            list.key(&key(1), 100).map(|e| e.reason.as_str()),
            Some("spoofing")
        );
        assert!(list.key(&key(1), 199).is_some());
        assert!(list.key(&key(1), 200).is_none(), "expired unless renewed");
        list.deny_key(
            key(1),
            DenyEntry {
                reason: "renewed".into(),
                from_ms: 150,
                expires_ms: 400,
            },
        );
        assert_eq!(
            list.key(&key(1), 300).map(|e| e.reason.as_str()),
            Some("renewed")
        );
    }

    #[test]
    fn edges_are_undirected() {
        let mut list = Denylist::default();
        list.deny_edge(
            key(2),
            key(1),
            DenyEntry {
                reason: "ring".into(),
                from_ms: 0,
                expires_ms: 10,
            },
        );
        assert!(list.edge(key(1), key(2), 5).is_some());
        assert!(list.edge(key(2), key(1), 5).is_some());
        assert!(list.edge(key(1), key(3), 5).is_none());
    }
}
