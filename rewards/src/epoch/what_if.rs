//! What-if: recompute past epochs under a proposed parameter set and compare, per hotspot and
//! per res-8 hex, with what the sets in force paid. Nothing is stored.

use super::{EpochError, load_epoch};
use crate::compute::Key;
use schemas::parameters::ParameterSet;
use schemas::proto::RewardManifest;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;

/// Resolution of the hexes the comparison is grouped by.
pub const WHAT_IF_HEX_RESOLUTION: h3o::Resolution = h3o::Resolution::Eight;

/// Why a what-if could not run.
#[derive(Debug, thiserror::Error)]
pub enum WhatIfError {
    /// Loading or computing an epoch failed.
    #[error(transparent)]
    Epoch(#[from] EpochError),
    /// The proposal changes the epoch length, which is fixed at genesis.
    #[error(
        "the proposal's epoch length {proposed:?} differs from the epoch length in force {current:?} (fixed at genesis)"
    )]
    EpochLength {
        /// In force.
        current: std::time::Duration,
        /// Proposed.
        proposed: std::time::Duration,
    },
}

/// One epoch's totals under both sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EpochComparison {
    /// The epoch.
    pub epoch: u64,
    /// Its received-time range.
    pub start_ms: u64,
    /// Its end (excluded).
    pub end_ms: u64,
    /// Version of the set in force.
    pub current_version: u64,
    /// Emission, paid and unallocated under the set in force.
    pub current: Totals,
    /// The same under the proposal.
    pub proposed: Totals,
}

/// Emission, paid and unallocated base units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Emission.
    pub emission: u128,
    /// Paid to hotspots.
    pub paid: u128,
    /// Not paid.
    pub unallocated: u128,
}

impl Totals {
    fn of(manifest: &RewardManifest) -> Self {
        Self {
            emission: manifest.emission.into(),
            paid: manifest.total_paid.into(),
            unallocated: manifest.unallocated.into(),
        }
    }

    fn add(&mut self, other: &Self) {
        self.emission += other.emission;
        self.paid += other.paid;
        self.unallocated += other.unallocated;
    }
}

/// A hotspot's amounts over the epochs compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HotspotComparison {
    /// Hotspot key (base58).
    pub hotspot: String,
    /// Owner wallet (base58).
    pub owner: String,
    /// Its res-8 hex (hex text), from its asserted location.
    pub hex: String,
    /// Base units under the sets in force.
    pub current: u128,
    /// Base units under the proposal.
    pub proposed: u128,
    /// `proposed - current`.
    pub delta: i128,
}

/// A res-8 hex's amounts over the epochs compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HexComparison {
    /// The hex (hex text).
    pub hex: String,
    /// Hotspots in it that were paid under either set.
    pub hotspots: u64,
    /// Base units under the sets in force.
    pub current: u128,
    /// Base units under the proposal.
    pub proposed: u128,
    /// `proposed - current`.
    pub delta: i128,
}

/// The whole comparison. Hotspots and hexes are sorted by delta (largest gain first), then key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhatIfReport {
    /// Per epoch.
    pub epochs: Vec<EpochComparison>,
    /// Sum over the epochs.
    pub current: Totals,
    /// Sum over the epochs.
    pub proposed: Totals,
    /// Per hotspot.
    pub hotspots: Vec<HotspotComparison>,
    /// Per res-8 hex.
    pub hexes: Vec<HexComparison>,
}

#[derive(Default)]
struct Acc {
    owner: Key,
    hex: u64,
    current: u128,
    proposed: u128,
}

/// Compares `epochs` under the sets in force and under `proposed` (its `effective_epoch` is
/// ignored: the point is to see its effect on the past).
pub async fn what_if(
    db: &db::Db,
    proposed: &ParameterSet,
    epochs: RangeInclusive<u64>,
    now_ms: u64,
) -> Result<WhatIfReport, WhatIfError> {
    let mut per_hotspot: HashMap<Key, Acc> = HashMap::new();
    let mut comparisons = Vec::new();
    let (mut current_total, mut proposed_total) = (Totals::default(), Totals::default());
    for epoch in epochs {
        let loaded = load_epoch(db, epoch, now_ms).await?;
        if loaded.parameters.epoch != proposed.epoch {
            return Err(WhatIfError::EpochLength {
                current: loaded.parameters.epoch,
                proposed: proposed.epoch,
            });
        }
        let current = loaded.manifest(&loaded.parameters)?;
        let under_proposal = loaded.manifest(proposed)?;
        for (manifest, is_current) in [(&current, true), (&under_proposal, false)] {
            for row in &manifest.hotspots {
                let Ok(key) = Key::try_from(row.hotspot_key.as_slice()) else {
                    continue;
                };
                let acc = per_hotspot.entry(key).or_default();
                acc.owner = Key::try_from(row.owner_key.as_slice()).unwrap_or_default();
                acc.hex = loaded.locations.get(&key).copied().unwrap_or_default();
                let amount = u128::from(row.beacon_amount) + u128::from(row.witness_amount);
                if is_current {
                    acc.current += amount;
                } else {
                    acc.proposed += amount;
                }
            }
        }
        let comparison = EpochComparison {
            epoch,
            start_ms: current.start_ms,
            end_ms: current.end_ms,
            current_version: loaded.parameters.version,
            current: Totals::of(&current),
            proposed: Totals::of(&under_proposal),
        };
        current_total.add(&comparison.current);
        proposed_total.add(&comparison.proposed);
        comparisons.push(comparison);
    }
    let (hotspots, hexes) = group(per_hotspot);
    Ok(WhatIfReport {
        epochs: comparisons,
        current: current_total,
        proposed: proposed_total,
        hotspots,
        hexes,
    })
}

fn group(per_hotspot: HashMap<Key, Acc>) -> (Vec<HotspotComparison>, Vec<HexComparison>) {
    let mut hexes: BTreeMap<String, HexComparison> = BTreeMap::new();
    let mut hotspots: Vec<HotspotComparison> = per_hotspot
        .into_iter()
        .map(|(key, acc)| {
            let hex = res8(acc.hex);
            let entry = hexes.entry(hex.clone()).or_insert_with(|| HexComparison {
                hex: hex.clone(),
                hotspots: 0,
                current: 0,
                proposed: 0,
                delta: 0,
            });
            entry.hotspots += 1;
            entry.current += acc.current;
            entry.proposed += acc.proposed;
            entry.delta = delta(entry.proposed, entry.current);
            HotspotComparison {
                hotspot: schemas::PublicKey::from_bytes(key).to_string(),
                owner: schemas::PublicKey::from_bytes(acc.owner).to_string(),
                hex,
                current: acc.current,
                proposed: acc.proposed,
                delta: delta(acc.proposed, acc.current),
            }
        })
        .collect();
    hotspots.sort_by(|a, b| {
        b.delta
            .cmp(&a.delta)
            .then_with(|| a.hotspot.cmp(&b.hotspot))
    });
    let mut hexes: Vec<HexComparison> = hexes.into_values().collect();
    hexes.sort_by(|a, b| b.delta.cmp(&a.delta).then_with(|| a.hex.cmp(&b.hex)));
    (hotspots, hexes)
}

/// `a - b` for amounts below 2^127 (sums of u64 amounts over a range of epochs).
fn delta(a: u128, b: u128) -> i128 {
    let (a, b) = (
        a.min(i128::MAX as u128) as i128,
        b.min(i128::MAX as u128) as i128,
    );
    a - b
}

/// The res-8 parent of a res-12 location as hex text (`"-"` when it is not a cell).
pub fn res8(location: u64) -> String {
    h3o::CellIndex::try_from(location)
        .ok()
        .and_then(|cell| cell.parent(WHAT_IF_HEX_RESOLUTION))
        .map_or_else(|| "-".into(), |parent| format!("{:x}", u64::from(parent)))
}
