//! The onboarded hotspots, shared by ingest (which adds them) and the verifier (which reads
//! them). Loaded from the database at start; every change is stored before it is applied here.

use crate::store::{Store, StoreError};
use crate::verifier::poc::HotspotInfo;
use schemas::PublicKey;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Shared, cheaply clonable map of hotspots.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    inner: Arc<RwLock<HashMap<PublicKey, HotspotInfo>>>,
}

impl Registry {
    /// Loads every hotspot from the database.
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        let map = store
            .hotspots()
            .await?
            .iter()
            .filter_map(|record| HotspotInfo::from_record(record).map(|info| (record.key, info)))
            .collect();
        Ok(Self {
            inner: Arc::new(RwLock::new(map)),
        })
    }

    /// Runs `f` over the map under a read lock (keep `f` short and synchronous).
    pub fn with<R>(&self, f: impl FnOnce(&HashMap<PublicKey, HotspotInfo>) -> R) -> R {
        match self.inner.read() {
            Ok(guard) => f(&guard),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    /// One hotspot.
    pub fn get(&self, key: &PublicKey) -> Option<HotspotInfo> {
        self.with(|map| map.get(key).cloned())
    }

    /// Number of hotspots.
    pub fn len(&self) -> usize {
        self.with(HashMap::len)
    }

    /// Whether no hotspot is onboarded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds or replaces a hotspot (after it was stored).
    pub fn insert(&self, key: PublicKey, info: HotspotInfo) {
        match self.inner.write() {
            Ok(mut guard) => guard.insert(key, info),
            Err(poisoned) => poisoned.into_inner().insert(key, info),
        };
    }
}
