//! Verification thresholds. Every default is Helium's value (`poc-reference.md` §2, §3).

use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::density::DensityParams;
use crate::reward_units::RewardUnitParams;

/// Every threshold the verifier applies, by name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VerifierParams {
    /// One valid beacon per hotspot per UTC-aligned interval (`irregular_interval`); 24 h must
    /// be a multiple of it.
    #[serde(with = "humantime_serde")]
    pub beacon_interval: Duration,
    /// Entropy lifespan: reports must be received within it (`entropy_expired`).
    #[serde(with = "humantime_serde")]
    pub entropy_lifespan: Duration,
    /// Witness after beacon, when the beacon arrived first (`too_late`).
    #[serde(with = "humantime_serde")]
    pub max_beacon_to_witness_lag: Duration,
    /// Witness after the first witness, when a witness arrived first (`too_late`).
    #[serde(with = "humantime_serde")]
    pub max_witness_lag: Duration,
    /// Largest witness/beacon frequency difference (`invalid_frequency`).
    pub max_frequency_offset_hz: u64,
    /// Minimum H3 grid distance between beaconer and witness (`below_min_distance`) ...
    pub min_cell_distance: u32,
    /// ... measured between parents at this resolution.
    pub cell_distance_resolution: u8,
    /// Largest beaconer-witness distance in whole km (`max_distance_exceeded`).
    pub max_distance_km: u32,
    /// Witnesses rewarded per beacon (the first by arrival).
    pub max_witnesses_per_poc: u32,
    /// Transmit scale of a hotspot whose hex is not in the density map (1e-4 units).
    pub default_tx_scale_e4: u32,
    /// A hotspot counts as active for density if it had a valid beacon with witnesses within this.
    #[serde(with = "humantime_serde")]
    pub interactivity_window: Duration,
    /// The density map is rebuilt at every multiple of this (from the state at its start).
    #[serde(with = "humantime_serde")]
    pub density_refresh: Duration,
    /// HIP 17 resolution table: `hip104` (deployed) or `hip17` (proposed).
    pub density: DensityParams,
    /// HIP 15 reward units.
    pub reward_units: RewardUnitParams,
    /// Reward epoch length, UTC-aligned.
    #[serde(with = "humantime_serde")]
    pub epoch: Duration,
    /// Witnesses whose beacon has not arrived after this are invalid (`stale`).
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
}

impl Default for VerifierParams {
    fn default() -> Self {
        Self {
            beacon_interval: Duration::from_secs(6 * 3600),
            entropy_lifespan: Duration::from_secs(180),
            max_beacon_to_witness_lag: Duration::from_millis(4000),
            max_witness_lag: Duration::from_millis(1500),
            max_frequency_offset_hz: 100_000,
            min_cell_distance: 8,
            cell_distance_resolution: 11,
            max_distance_km: 100,
            max_witnesses_per_poc: 14,
            default_tx_scale_e4: 2000,
            interactivity_window: Duration::from_secs(60 * 3600),
            density_refresh: Duration::from_secs(30 * 60),
            density: DensityParams::hip104(),
            reward_units: RewardUnitParams::default(),
            epoch: Duration::from_secs(24 * 3600),
            stale_after: Duration::from_secs(45 * 60),
        }
    }
}

impl VerifierParams {
    /// Rejects values the rules cannot work with.
    pub fn validate(&self) -> Result<(), String> {
        let day = Duration::from_secs(24 * 3600);
        let interval = self.beacon_interval.as_millis();
        if interval == 0 || !day.as_millis().is_multiple_of(interval) {
            return Err(format!(
                "verifier.beacon_interval {:?} must divide 24h evenly",
                self.beacon_interval
            ));
        }
        if self.epoch.is_zero() || self.density_refresh.is_zero() {
            return Err("verifier.epoch and verifier.density_refresh must be positive".into());
        }
        if self.cell_distance_resolution > 15 {
            return Err("verifier.cell_distance_resolution must be 0..=15".into());
        }
        if self.max_witnesses_per_poc == 0 {
            return Err("verifier.max_witnesses_per_poc must be at least 1".into());
        }
        Ok(())
    }

    /// How long after a beacon arrives its proof of coverage is closed.
    pub fn witness_window(&self) -> Duration {
        self.max_beacon_to_witness_lag.max(self.max_witness_lag)
    }

    /// The epoch a receive time falls in.
    pub fn epoch_of(&self, received_ms: u64) -> u64 {
        received_ms / (self.epoch.as_millis().max(1) as u64)
    }
}
