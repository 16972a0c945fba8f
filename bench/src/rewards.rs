//! Figure 4: an epoch's rewards.
//!
//! Two measurements:
//! - **the epoch of the synthetic day** (`bench rewards-epoch`, a separate process per run): the
//!   real `rewards::epoch::compute_epoch_at` over the verified day in the database (loading every
//!   valid beacon and selected witness, the reports digest, the owners and locations from the
//!   assertion log, the manifest and its hash), run twice per database; the hashes must agree
//!   between runs and between databases;
//! - **the computation core at 1 M hotspots** (`bench rewards-core`): `rewards::compute` over
//!   1 M hotspots with a Helium-peak day of activity held in memory (4 valid beacons and 40
//!   selected witnesses per hotspot, 44 M events), to separate the reward math from the database
//!   read.

use crate::day::{DAY_MS, DAY_START_MS};
use crate::verify::peak_rss_bytes;
use anyhow::Context;
use rand::{Rng, SeedableRng};
use rewards::compute::{self, BeaconEvent, EpochHeader, EpochInputs, WitnessEvent};
use schemas::parameters::ParameterSet;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The epoch of the synthetic day (it starts at [`DAY_START_MS`], 2026-01-01).
pub const DAY_EPOCH: u64 = DAY_START_MS / DAY_MS;

/// One computation of the day's epoch from the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochRun {
    pub wall_s: f64,
    pub peak_rss_bytes: u64,
    /// Valid beacons and selected witnesses read.
    pub reports: u64,
    pub hotspots_paid: usize,
    pub owners_paid: usize,
    pub total_paid: u64,
    pub manifest_hash: String,
}

/// Computes the day's epoch from `url` in this process (nothing is stored).
pub async fn epoch_run(url: &str) -> anyhow::Result<EpochRun> {
    let db = db::Db::connect(url).await?;
    let start = Instant::now();
    let computed =
        rewards::epoch::compute_epoch_at(&db, DAY_EPOCH, DAY_START_MS + DAY_MS + 3_600_000)
            .await
            .context("computing the day's epoch")?;
    let wall_s = start.elapsed().as_secs_f64();
    db.close().await;
    let m = &computed.manifest;
    Ok(EpochRun {
        wall_s,
        peak_rss_bytes: peak_rss_bytes(),
        reports: m.reports,
        hotspots_paid: m.hotspots.len(),
        owners_paid: m.owners.len(),
        total_paid: m.total_paid,
        manifest_hash: hex::encode(computed.hash),
    })
}

/// The reward math alone for `hotspots` hotspots.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CoreRun {
    pub hotspots: u64,
    /// Beacon and witness events aggregated.
    pub events: u64,
    /// Aggregating the events per hotspot (`EpochInputs::add_*`).
    pub aggregate_s: f64,
    /// Shares, pools and amounts for every hotspot and owner (`compute::manifest`).
    pub manifest_s: f64,
    /// Hashing the manifest (`compute::manifest_hash`).
    pub hash_s: f64,
    pub peak_rss_bytes: u64,
    pub hotspots_paid: usize,
    pub manifest_hash: String,
}

const BEACONS_PER_HOTSPOT: u64 = 4;
const WITNESSES_PER_HOTSPOT: u64 = 40;

/// Runs the reward math over `hotspots` hotspots with seeded activity (see the module docs).
pub fn core_run(hotspots: u64, seed: u64) -> anyhow::Result<CoreRun> {
    let key = |i: u64| {
        let mut k = [0u8; 32];
        k[..8].copy_from_slice(&i.to_be_bytes());
        k[8..16].copy_from_slice(&seed.to_be_bytes());
        k
    };
    let owner = |i: u64| {
        let mut k = key(i / 10);
        k[31] = 0xff;
        k
    };
    // One res-12 cell per hotspot on a grid around Denver (boosts look locations up).
    let cell = |i: u64| -> anyhow::Result<u64> {
        let lat = 39.0 + (i % 1000) as f64 * 0.002;
        let lng = -105.5 + (i / 1000) as f64 * 0.002;
        let ll = h3o::LatLng::new(lat, lng).context("grid position")?;
        Ok(u64::from(ll.to_cell(h3o::Resolution::Twelve)))
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut inputs = EpochInputs::new();
    let start = Instant::now();
    let mut events = 0u64;
    for i in 0..hotspots {
        let (hotspot, wallet, location) = (key(i), owner(i), cell(i)?);
        for _ in 0..BEACONS_PER_HOTSPOT {
            inputs.add_beacon(&BeaconEvent {
                beaconer: hotspot,
                owner: wallet,
                location,
                hex_scale_e4: rng.random_range(500..=10_000),
                reward_units_e4: 10_000,
            })?;
        }
        for _ in 0..WITNESSES_PER_HOTSPOT {
            inputs.add_witness(&WitnessEvent {
                witness: hotspot,
                owner: wallet,
                location,
                beaconer_scale_e4: rng.random_range(500..=10_000),
                reward_units_e4: rng.random_range(1_000..=10_000),
            })?;
        }
        events += BEACONS_PER_HOTSPOT + WITNESSES_PER_HOTSPOT;
    }
    let aggregate_s = start.elapsed().as_secs_f64();
    let params = ParameterSet::default();
    let header = EpochHeader {
        epoch: DAY_EPOCH,
        reports_digest: [7; 32],
    };
    let start = Instant::now();
    let manifest = compute::manifest(&inputs, &params, &header)?;
    let manifest_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let hash = compute::manifest_hash(&manifest);
    let hash_s = start.elapsed().as_secs_f64();
    Ok(CoreRun {
        hotspots,
        events,
        aggregate_s,
        manifest_s,
        hash_s,
        peak_rss_bytes: peak_rss_bytes(),
        hotspots_paid: manifest.hotspots.len(),
        manifest_hash: hex::encode(hash),
    })
}
