//! The reward computation: an epoch's verified activity + the parameter set in force -> the
//! epoch's [`RewardManifest`]. Pure: no I/O, no clock, no floating point, no hash-map order in
//! the output, so the same inputs give the same bytes on any machine.
//!
//! # Rules (documented for anyone recomputing; see also `docs/rewards.md`)
//! - `emission = ParameterSet::emission_for(epoch)` (base units).
//! - `beacon_pool = floor(emission x split.beacon_bps / 10000)`, `witness_pool` likewise.
//! - Every valid beacon earns its beaconer `share = hex_scale_e4 x reward_units_e4 x boost_e4`
//!   (units of 1e-12); every valid *selected* witness earns the witness
//!   `share = beaconer_hex_scale_e4 x reward_units_e4 x boost_e4` (HIP 17: the witness is paid at
//!   the beaconer's transmit scale).
//! - Boosts: a beacon is boosted by the cell it was verified at (the beaconer's location stored
//!   with the verdict), a witness by its own asserted location (where the coverage it proves is
//!   received). A location is boosted by every governance hex boost active in the epoch
//!   (`start_epoch <= epoch <= end_epoch`) whose cell contains it (the location's parent at the
//!   boost cell's resolution is the boost cell); when several match, the largest multiplier
//!   applies. Without a match the multiplier is `1.0` (`10000`).
//! - A hotspot's beacon (witness) shares are the sum of its beacon (witness) shares.
//! - **Rounding rule**: `amount = floor(pool x hotspot_shares / total_shares)`, computed exactly
//!   in 128-bit integers, separately for each pool. An owner's amount is the sum of its
//!   hotspots' amounts. Everything not paid is `unallocated = emission - total_paid`: rounding
//!   dust (less than one base unit per paid hotspot and pool), any pool without shares (wholly
//!   unallocated), and the part of the emission outside the split. So
//!   `total_paid + unallocated == emission` exactly, every epoch.
//! - Hotspots and owners are listed sorted by key; those paid nothing are left out.
//!
//! Per-hotspot shares are carried in the manifest as `u64`; an epoch in which a single
//! hotspot's shares exceed `u64::MAX` (about 900,000 beacons at full scale, 2 units and a 10x
//! boost) is refused with [`ComputeError::SharesOverflow`] rather than rounded.

use prost::Message;
use schemas::parameters::{BPS, ParameterSet};
use schemas::proto::{HotspotReward, OwnerReward, RewardManifest};
use sha2::{Digest, Sha256};
use smallvec::SmallVec;
use std::collections::{BTreeMap, HashMap};

/// A 32-byte ed25519 public key (hotspot or owner wallet).
pub type Key = [u8; 32];

/// Boost multiplier meaning "no boost" (1.0 in units of 1e-4).
pub const NO_BOOST_E4: u32 = 10_000;

/// Why an epoch's manifest could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComputeError {
    /// The parameter set does not validate.
    #[error("parameter set version {version} is invalid: {message}")]
    Parameters {
        /// The set's version.
        version: u64,
        /// What is wrong.
        message: String,
    },
    /// The inputs name two owners for one hotspot.
    #[error("hotspot {hotspot} is given two owners in one epoch ({first} and {second})")]
    OwnerConflict {
        /// Hotspot key (base58).
        hotspot: String,
        /// The owner seen first (base58).
        first: String,
        /// The other owner (base58).
        second: String,
    },
    /// [`EpochInputs::with_hotspots`] was given a hotspot twice.
    #[error("hotspot {hotspot} is given two slots")]
    DuplicateHotspot {
        /// Hotspot key (base58).
        hotspot: String,
    },
    /// An event was added to a slot that does not exist.
    #[error("slot {slot} does not exist (there are {slots})")]
    NoSuchSlot {
        /// The slot given.
        slot: usize,
        /// Slots there are.
        slots: usize,
    },
    /// More than 2^32 hotspots in one epoch.
    #[error("more than 2^32 hotspots in one epoch")]
    TooManyHotspots,
    /// A hotspot's shares do not fit the manifest's 64-bit field.
    #[error("hotspot {hotspot} earned more than 2^64 shares in one epoch; refusing to round")]
    SharesOverflow {
        /// Hotspot key (base58).
        hotspot: String,
    },
    /// More shares than 128-bit arithmetic holds (an impossible epoch).
    #[error("total shares of the epoch overflow 128 bits")]
    TotalOverflow,
}

/// A valid beacon: what its beaconer earns from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeaconEvent {
    /// The beaconer.
    pub beaconer: Key,
    /// The beaconer's owner wallet.
    pub owner: Key,
    /// The res-12 H3 cell the beacon was verified at (the boost applies here).
    pub location: u64,
    /// The beaconer's HIP 17 transmit scale, 1e-4.
    pub hex_scale_e4: u32,
    /// HIP 15 beaconer reward units, 1e-4.
    pub reward_units_e4: u32,
}

/// A valid, selected witness: what the witness earns from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WitnessEvent {
    /// The witness.
    pub witness: Key,
    /// The witness's owner wallet.
    pub owner: Key,
    /// The witness's res-12 asserted location (the boost applies here).
    pub location: u64,
    /// The *beaconer's* HIP 17 transmit scale, 1e-4.
    pub beaconer_scale_e4: u32,
    /// HIP 15 witness reward units, 1e-4.
    pub reward_units_e4: u32,
}

/// One hotspot's activity in an epoch, aggregated: per location, the sum of
/// `scale_e4 x units_e4` (1e-8). Boosts multiply these sums exactly (integers distribute).
/// A hotspot is almost always seen at one location, held inline: no allocation per hotspot.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Activity {
    owner: Key,
    beacon_units_e8: UnitsByLocation,
    witness_units_e8: UnitsByLocation,
}

/// Per location, the sum of `scale_e4 x units_e4` (1e-8), in order of first appearance
/// (nothing depends on that order: the sums are added up).
type UnitsByLocation = SmallVec<[(u64, u128); 1]>;

/// A hotspot's place in [`EpochInputs`], with its activity if it has any yet.
#[derive(Debug, Clone)]
struct Slot {
    hotspot: Key,
    /// Set with the hotspot's first event.
    active: bool,
    activity: Activity,
}

/// An epoch's verified activity, aggregated per hotspot as events are added (memory grows
/// with hotspots, not with reports).
///
/// Each hotspot has a slot, an index into one array. Callers that know the epoch's hotspots
/// beforehand ([`Self::with_hotspots`]) add events by slot ([`Self::add_beacon_at`]): one
/// array access per event, and none at all into a hash map. A caller that adds events in slot
/// order touches memory in order, which matters at a million hotspots: adding a Helium-peak
/// epoch's 28 M reports through a hash map in the order they were received cost the rewards
/// job two cache misses per report, most of its main task's time (`docs/benchmarks.md`).
/// Events added by key ([`Self::add_beacon`]) find their slot through a foldhash map (seeded
/// per process, so keys chosen to collide cannot be precomputed), appending one for a new
/// hotspot. Nothing depends on the slots' order.
#[derive(Debug, Clone, Default)]
pub struct EpochInputs {
    slots: Vec<Slot>,
    index: foldhash::HashMap<Key, u32>,
    active: usize,
    reports: u64,
}

impl EpochInputs {
    /// No activity.
    pub fn new() -> Self {
        Self::default()
    }

    /// No activity yet; `hotspots` (hotspot, owner) take slots `0, 1, ...` in the order given.
    /// A hotspot given twice is [`ComputeError::DuplicateHotspot`]. Slots without events are
    /// not part of the epoch (not counted, listed or paid).
    pub fn with_hotspots(
        hotspots: impl IntoIterator<Item = (Key, Key)>,
    ) -> Result<Self, ComputeError> {
        let mut inputs = Self::default();
        for (hotspot, owner) in hotspots {
            if inputs.index.contains_key(&hotspot) {
                return Err(ComputeError::DuplicateHotspot {
                    hotspot: base58(&hotspot),
                });
            }
            inputs.push(hotspot, owner)?;
        }
        Ok(inputs)
    }

    /// Adds a valid beacon.
    pub fn add_beacon(&mut self, event: &BeaconEvent) -> Result<(), ComputeError> {
        let slot = self.slot_of(&event.beaconer, &event.owner)?;
        self.add_beacon_at(
            slot,
            event.location,
            event.hex_scale_e4,
            event.reward_units_e4,
        )
    }

    /// Adds a valid, selected witness.
    pub fn add_witness(&mut self, event: &WitnessEvent) -> Result<(), ComputeError> {
        let slot = self.slot_of(&event.witness, &event.owner)?;
        self.add_witness_at(
            slot,
            event.location,
            event.beaconer_scale_e4,
            event.reward_units_e4,
        )
    }

    /// Adds a valid beacon of the hotspot in `slot` (owned by the owner its slot was given):
    /// what [`Self::add_beacon`] adds for a [`BeaconEvent`] with these fields.
    pub fn add_beacon_at(
        &mut self,
        slot: usize,
        location: u64,
        hex_scale_e4: u32,
        reward_units_e4: u32,
    ) -> Result<(), ComputeError> {
        let units = u128::from(hex_scale_e4) * u128::from(reward_units_e4);
        let activity = self.activity_at(slot)?;
        add_at(&mut activity.beacon_units_e8, location, units)?;
        self.reports += 1;
        Ok(())
    }

    /// Adds a valid, selected witness of the hotspot in `slot`: what [`Self::add_witness`]
    /// adds for a [`WitnessEvent`] with these fields.
    pub fn add_witness_at(
        &mut self,
        slot: usize,
        location: u64,
        beaconer_scale_e4: u32,
        reward_units_e4: u32,
    ) -> Result<(), ComputeError> {
        let units = u128::from(beaconer_scale_e4) * u128::from(reward_units_e4);
        let activity = self.activity_at(slot)?;
        add_at(&mut activity.witness_units_e8, location, units)?;
        self.reports += 1;
        Ok(())
    }

    /// Reports (beacons + witnesses) added.
    pub fn reports(&self) -> u64 {
        self.reports
    }

    /// Hotspots with activity.
    pub fn hotspot_count(&self) -> usize {
        self.active
    }

    /// The hotspots with activity and their slots, in slot order.
    pub fn hotspots(&self) -> impl Iterator<Item = (usize, &Key)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.active)
            .map(|(i, slot)| (i, &slot.hotspot))
    }

    /// The hotspots with activity, in slot order.
    pub fn hotspot_keys(&self) -> impl Iterator<Item = &Key> {
        self.hotspots().map(|(_, key)| key)
    }

    /// The slot of `hotspot` (a new one if it has none), refusing a second owner.
    fn slot_of(&mut self, hotspot: &Key, owner: &Key) -> Result<usize, ComputeError> {
        let slot = match self.index.get(hotspot) {
            Some(slot) => *slot as usize,
            None => self.push(*hotspot, *owner)?,
        };
        let first = &self.slots[slot].activity.owner;
        if first != owner {
            return Err(ComputeError::OwnerConflict {
                hotspot: base58(hotspot),
                first: base58(first),
                second: base58(owner),
            });
        }
        Ok(slot)
    }

    fn push(&mut self, hotspot: Key, owner: Key) -> Result<usize, ComputeError> {
        let slot = self.slots.len();
        let index = u32::try_from(slot).map_err(|_| ComputeError::TooManyHotspots)?;
        self.index.insert(hotspot, index);
        self.slots.push(Slot {
            hotspot,
            active: false,
            activity: Activity {
                owner,
                beacon_units_e8: SmallVec::new(),
                witness_units_e8: SmallVec::new(),
            },
        });
        Ok(slot)
    }

    fn activity_at(&mut self, slot: usize) -> Result<&mut Activity, ComputeError> {
        let slots = self.slots.len();
        let entry = self
            .slots
            .get_mut(slot)
            .ok_or(ComputeError::NoSuchSlot { slot, slots })?;
        if !entry.active {
            entry.active = true;
            self.active += 1;
        }
        Ok(&mut entry.activity)
    }
}

fn add_at(sums: &mut UnitsByLocation, location: u64, units: u128) -> Result<(), ComputeError> {
    match sums.iter_mut().find(|(l, _)| *l == location) {
        Some((_, sum)) => *sum = sum.checked_add(units).ok_or(ComputeError::TotalOverflow)?,
        None => sums.push((location, units)),
    }
    Ok(())
}

fn base58(key: &Key) -> String {
    schemas::PublicKey::from_bytes(*key).to_string()
}

/// The hex boosts active in one epoch, indexed by resolution for constant-time lookups.
#[derive(Debug, Clone, Default)]
pub struct Boosts {
    /// (resolution, cell) -> largest multiplier (1e-4).
    by_cell: HashMap<(u8, u64), u32>,
    resolutions: Vec<h3o::Resolution>,
}

impl Boosts {
    /// The boosts of `params` active in `epoch`. Cells that are not H3 cells are refused by
    /// [`ParameterSet::validate`]; here they are ignored.
    pub fn active(params: &ParameterSet, epoch: u64) -> Self {
        let mut boosts = Self::default();
        for boost in &params.hex_boosts {
            if epoch < boost.start_epoch || epoch > boost.end_epoch {
                continue;
            }
            let Some(cell) = u64::from_str_radix(&boost.cell, 16)
                .ok()
                .and_then(|raw| h3o::CellIndex::try_from(raw).ok())
            else {
                continue;
            };
            let resolution = cell.resolution();
            let slot = boosts
                .by_cell
                .entry((u8::from(resolution), u64::from(cell)))
                .or_insert(boost.multiplier_e4);
            *slot = (*slot).max(boost.multiplier_e4);
            if !boosts.resolutions.contains(&resolution) {
                boosts.resolutions.push(resolution);
            }
        }
        boosts.resolutions.sort();
        boosts
    }

    /// The multiplier (1e-4) for `location`: the largest active boost containing it, or
    /// [`NO_BOOST_E4`]. A location that is not an H3 cell is never boosted.
    pub fn multiplier_e4(&self, location: u64) -> u32 {
        if self.by_cell.is_empty() {
            return NO_BOOST_E4;
        }
        let Ok(cell) = h3o::CellIndex::try_from(location) else {
            return NO_BOOST_E4;
        };
        self.resolutions
            .iter()
            .filter_map(|res| cell.parent(*res))
            .filter_map(|parent| {
                self.by_cell
                    .get(&(u8::from(parent.resolution()), u64::from(parent)))
                    .copied()
            })
            .max()
            .unwrap_or(NO_BOOST_E4)
    }
}

/// What a manifest is computed for, besides the activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochHeader {
    /// The epoch.
    pub epoch: u64,
    /// SHA-256 over the verified reports (see `epoch::reports_digest` in `docs/rewards.md`).
    pub reports_digest: [u8; 32],
}

/// Computes the manifest of `header.epoch` from `inputs` under `params`.
pub fn manifest(
    inputs: &EpochInputs,
    params: &ParameterSet,
    header: &EpochHeader,
) -> Result<RewardManifest, ComputeError> {
    params.validate().map_err(|e| ComputeError::Parameters {
        version: params.version,
        message: e.to_string(),
    })?;
    let epoch = header.epoch;
    let emission = params.emission_for(epoch);
    let beacon_pool = pool_of(emission, params.split.beacon_bps);
    let witness_pool = pool_of(emission, params.split.witness_bps);
    let boosts = Boosts::active(params, epoch);
    let shares = hotspot_shares(inputs, &boosts)?;
    let total_beacon = total(shares.iter().map(|s| s.beacon))?;
    let total_witness = total(shares.iter().map(|s| s.witness))?;

    let mut hotspots = Vec::new();
    let mut owners: BTreeMap<Key, u64> = BTreeMap::new();
    for share in &shares {
        let beacon_amount = allot(beacon_pool, share.beacon, total_beacon);
        let witness_amount = allot(witness_pool, share.witness, total_witness);
        let amount = beacon_amount + witness_amount; // each <= its pool; pools sum <= emission
        if amount == 0 {
            continue;
        }
        *owners.entry(share.owner).or_default() += amount;
        hotspots.push(HotspotReward {
            hotspot_key: share.hotspot.to_vec(),
            owner_key: share.owner.to_vec(),
            beacon_amount,
            witness_amount,
            beacon_shares: share.beacon as u64, // checked by `hotspot_shares`
            witness_shares: share.witness as u64,
        });
    }
    let total_paid: u64 = owners.values().sum();
    let (start_ms, end_ms) = params.epoch_range_ms(epoch);
    Ok(RewardManifest {
        epoch,
        start_ms,
        end_ms,
        parameters_version: params.version,
        parameters_hash: params.hash().to_vec(),
        reports_digest: header.reports_digest.to_vec(),
        reports: inputs.reports,
        emission,
        beacon_pool,
        witness_pool,
        owners: owners
            .into_iter()
            .map(|(owner, amount)| OwnerReward {
                owner_key: owner.to_vec(),
                amount,
            })
            .collect(),
        hotspots,
        total_paid,
        unallocated: emission - total_paid,
    })
}

/// Computes a manifest straight from events (for callers holding them in memory).
pub fn manifest_from_events(
    beacons: &[BeaconEvent],
    witnesses: &[WitnessEvent],
    params: &ParameterSet,
    header: &EpochHeader,
) -> Result<RewardManifest, ComputeError> {
    let mut inputs = EpochInputs::new();
    for beacon in beacons {
        inputs.add_beacon(beacon)?;
    }
    for witness in witnesses {
        inputs.add_witness(witness)?;
    }
    manifest(&inputs, params, header)
}

/// The manifest's identity: SHA-256 of its canonical protobuf encoding.
pub fn manifest_hash(manifest: &RewardManifest) -> [u8; 32] {
    Sha256::digest(manifest.encode_to_vec()).into()
}

/// `floor(emission x bps / 10000)`.
fn pool_of(emission: u64, bps: u32) -> u64 {
    // bps <= 10000 after validation, so the quotient is at most `emission`.
    (u128::from(emission) * u128::from(bps) / u128::from(BPS)) as u64
}

/// `floor(pool x shares / total)`; nothing from an empty pool.
fn allot(pool: u64, shares: u128, total: u128) -> u64 {
    if total == 0 {
        return 0;
    }
    // shares <= u64::MAX (checked), so pool x shares < 2^128; the quotient is <= pool.
    (u128::from(pool) * shares / total) as u64
}

fn total(mut values: impl Iterator<Item = u128>) -> Result<u128, ComputeError> {
    values.try_fold(0u128, |sum, v| {
        sum.checked_add(v).ok_or(ComputeError::TotalOverflow)
    })
}

struct Shares {
    hotspot: Key,
    owner: Key,
    beacon: u128,
    witness: u128,
}

/// Boosted shares per hotspot, sorted by hotspot key.
fn hotspot_shares(inputs: &EpochInputs, boosts: &Boosts) -> Result<Vec<Shares>, ComputeError> {
    let mut slots: Vec<&Slot> = inputs.slots.iter().filter(|s| s.active).collect();
    slots.sort_unstable_by_key(|slot| slot.hotspot);
    slots
        .into_iter()
        .map(|slot| {
            let (hotspot, activity) = (&slot.hotspot, &slot.activity);
            let overflow = || ComputeError::SharesOverflow {
                hotspot: base58(hotspot),
            };
            let beacon = boosted(&activity.beacon_units_e8, boosts).ok_or_else(overflow)?;
            let witness = boosted(&activity.witness_units_e8, boosts).ok_or_else(overflow)?;
            Ok(Shares {
                hotspot: *hotspot,
                owner: activity.owner,
                beacon,
                witness,
            })
        })
        .collect()
}

/// `sum(units_e8 x boost_e4)` if it fits in `u64`.
fn boosted(sums: &[(u64, u128)], boosts: &Boosts) -> Option<u128> {
    let mut total: u128 = 0;
    for (location, units) in sums {
        let shares = units.checked_mul(u128::from(boosts.multiplier_e4(*location)))?;
        total = total.checked_add(shares)?;
    }
    (total <= u128::from(u64::MAX)).then_some(total)
}

#[cfg(test)]
mod tests;
