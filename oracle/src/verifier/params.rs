//! Verification thresholds. Every default is Helium's value (`poc-reference.md` §2, §3).

use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::density::DensityParams;
use crate::reward_units::RewardUnitParams;

/// A named parameter set. Both run through the same code; they differ only in values and
/// switches.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Ruleset {
    /// Helium's checks and defaults exactly (`poc-reference.md` §2-3), open bugs included.
    Helium,
    /// Ours: Helium's checks with its open bugs fixed, plus physics, time of flight, owner
    /// diversity and witness-graph trust.
    #[default]
    Default,
}

impl std::str::FromStr for Ruleset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "helium" => Ok(Ruleset::Helium),
            "default" => Ok(Ruleset::Default),
            other => Err(format!(
                "unknown ruleset {other:?}: use \"helium\" or \"default\""
            )),
        }
    }
}

impl std::fmt::Display for Ruleset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Ruleset::Helium => "helium",
            Ruleset::Default => "default",
        })
    }
}

/// Switches that tell the rulesets apart.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Checks {
    /// HIP 106 reciprocity: a beaconer needs a valid witness, a witness a valid beacon with a
    /// witness, within `reciprocity_window`.
    pub reciprocity: bool,
    /// oracles#793 fixed: a hotspot failing reciprocity does not count as active for density.
    pub inactive_excluded_from_density: bool,
    /// oracles#779 fixed: a beacon that passed the regular checks advances the beacon schedule
    /// even without witnesses (Helium only advanced it when a witness report came with it).
    pub zero_witness_beacons_advance_schedule: bool,
    /// Two-sided radio plausibility (RSSI lower bound, SNR, sensitivity, datarate, transmit power).
    pub radio_physics: bool,
    /// Time-of-flight multilateration of the beacon origin and witness timestamp consistency.
    pub time_of_flight: bool,
    /// A witness owned by the beaconer's owner earns nothing and does not count.
    pub owner_diversity: bool,
    /// Witness-graph trust over a rolling window.
    pub graph_trust: bool,
}

impl Checks {
    /// Helium's switches: reciprocity only, its open bugs kept.
    pub fn helium() -> Self {
        Self {
            reciprocity: true,
            inactive_excluded_from_density: false,
            zero_witness_beacons_advance_schedule: false,
            radio_physics: false,
            time_of_flight: false,
            owner_diversity: false,
            graph_trust: false,
        }
    }
}

impl Default for Checks {
    fn default() -> Self {
        Self {
            reciprocity: true,
            inactive_excluded_from_density: true,
            zero_witness_beacons_advance_schedule: true,
            radio_physics: true,
            time_of_flight: true,
            owner_diversity: true,
            graph_trust: true,
        }
    }
}

/// Every threshold the verifier applies, by name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VerifierParams {
    /// Which named set these values started from (see [`VerifierParams::for_ruleset`]).
    pub ruleset: Ruleset,
    /// The switches of the ruleset.
    pub checks: Checks,
    /// HIP 106 reciprocity window.
    #[serde(with = "humantime_serde")]
    pub reciprocity_window: Duration,
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
    /// Two-sided radio plausibility (used when `checks.radio_physics`; `docs/physics.md`).
    pub physics: crate::physics::radio::RadioPlausibilityParams,
    /// Time of flight (used when `checks.time_of_flight`; `docs/physics.md`).
    pub tdoa: crate::physics::tdoa::TdoaParams,
    /// Witness-graph trust (used when `checks.graph_trust`).
    pub trust: crate::trust::TrustParams,
    /// Witnesses whose beacon has not arrived after this are invalid (`stale`).
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
}

impl Default for VerifierParams {
    fn default() -> Self {
        Self {
            ruleset: Ruleset::Default,
            checks: Checks::default(),
            reciprocity_window: Duration::from_secs(48 * 3600),
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
            trust: crate::trust::TrustParams::default(),
            physics: crate::physics::radio::RadioPlausibilityParams::default(),
            tdoa: crate::physics::tdoa::TdoaParams::default(),
        }
    }
}

impl VerifierParams {
    /// The values of a named ruleset.
    pub fn for_ruleset(ruleset: Ruleset) -> Self {
        match ruleset {
            Ruleset::Default => Self::default(),
            Ruleset::Helium => Self {
                ruleset,
                checks: Checks::helium(),
                ..Self::default()
            },
        }
    }

    /// Parses a `[verifier]` table: starts from the values of its `ruleset` (default
    /// `"default"`), then applies every key the table sets.
    pub fn from_toml(table: toml::Table) -> Result<Self, String> {
        let ruleset = match table.get("ruleset") {
            None => Ruleset::Default,
            Some(value) => value
                .as_str()
                .ok_or("verifier.ruleset must be a string")?
                .parse()?,
        };
        let base = toml::Table::try_from(Self::for_ruleset(ruleset)).map_err(|e| e.to_string())?;
        let merged = merge(base, table);
        toml::Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| e.to_string())
    }

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
        // A witness joins its beacon's proof of coverage at most `stale_after` (plus a resume
        // window) before it or the witness window after it; readers of an epoch's verdicts rely
        // on that staying within `db::VERDICT_EPOCH_MARGIN_MS`.
        let margin = Duration::from_millis(db::VERDICT_EPOCH_MARGIN_MS);
        let resume = Duration::from_millis(super::RESUME_WINDOW_MS);
        if self.stale_after + resume > margin || self.witness_window() + resume > margin {
            return Err(format!(
                "verifier.stale_after ({:?}) and the witness window ({:?}) must each be at most {:?}",
                self.stale_after,
                self.witness_window(),
                margin - resume
            ));
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

/// `over` laid over `base`, recursively for tables.
fn merge(mut base: toml::Table, over: toml::Table) -> toml::Table {
    for (key, value) in over {
        let merged = match (base.remove(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => toml::Value::Table(merge(b, o)),
            (_, value) => value,
        };
        base.insert(key, merged);
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ruleset_picks_defaults_and_keys_override_them() {
        let table: toml::Table = toml::from_str(
            "ruleset = \"helium\"\nmax_distance_km = 50\n[checks]\nowner_diversity = true",
        )
        .expect("toml");
        let params = VerifierParams::from_toml(table).expect("params");
        assert_eq!(params.ruleset, Ruleset::Helium);
        assert_eq!(params.max_distance_km, 50);
        assert!(params.checks.owner_diversity, "explicit switch wins");
        assert!(!params.checks.radio_physics, "helium default kept");
        let ours = VerifierParams::from_toml(toml::Table::new()).expect("params");
        assert_eq!(ours, VerifierParams::default());
        assert!(
            VerifierParams::from_toml(toml::from_str("ruleset = \"x\"").expect("toml")).is_err()
        );
        assert!(
            VerifierParams::from_toml(toml::from_str("no_such_key = 1").expect("toml")).is_err()
        );
    }

    #[test]
    fn helium_and_default_share_thresholds() {
        let helium = VerifierParams::for_ruleset(Ruleset::Helium);
        let ours = VerifierParams::default();
        assert_eq!(helium.max_witnesses_per_poc, ours.max_witnesses_per_poc);
        assert_eq!(
            helium.max_beacon_to_witness_lag,
            Duration::from_millis(4000)
        );
        assert_eq!(helium.checks, Checks::helium());
        assert_ne!(helium.checks, ours.checks);
    }
}
