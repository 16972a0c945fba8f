//! Governance parameter sets: what an epoch pays and how reports are judged.
//!
//! A parameter set is versioned TOML (see `rewards/pkg/parameters-genesis.toml`). Version 1 is
//! the genesis set, in force from epoch 0; each later version takes effect at its
//! `effective_epoch` once M-of-N governance keys signed it, and stays in force until the next.
//! The oracle and the rewards job both look up the set in force for the epoch they process.
//!
//! [`ParameterSet::hash`] is the SHA-256 of the set's canonical JSON encoding (struct fields in
//! declaration order, tables with sorted keys), so two parties holding the same parameters agree
//! on the hash whatever the TOML formatting. Reward manifests carry that hash.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Token base units per whole token at the default 6 decimals.
pub const BASE_UNITS_PER_TOKEN: u64 = 1_000_000;
/// Epoch 20454 of 24 h: 2026-01-01T00:00:00Z, when the default emission starts.
pub const GENESIS_EPOCH: u64 = 20_454;
/// Basis points in a whole.
pub const BPS: u32 = 10_000;

/// One version of the governance parameters.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ParameterSet {
    /// Strictly increasing; 1 is genesis.
    pub version: u64,
    /// First epoch this version applies to (0 for genesis).
    pub effective_epoch: u64,
    /// Epoch length, UTC-aligned (epoch `n` covers `[n * epoch, (n + 1) * epoch)` since the Unix
    /// epoch). Fixed at genesis: a later version must keep it.
    #[serde(with = "duration_text")]
    pub epoch: Duration,
    pub emission: Emission,
    pub split: Split,
    /// Multipliers for listed H3 cells over a range of epochs.
    #[serde(default)]
    pub hex_boosts: Vec<HexBoost>,
    pub limits: Limits,
    /// The oracle's verifier parameters (`ruleset`, thresholds, density tables...), as the
    /// oracle's `[verifier]` settings table. Opaque to the rewards job; hashed with the rest.
    #[serde(default)]
    pub verifier: toml::Table,
}

/// Tokens per epoch with a halving schedule.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Emission {
    /// Base units emitted per epoch at `genesis_epoch`.
    pub per_epoch: u64,
    /// The epoch emission starts at; earlier epochs emit nothing.
    pub genesis_epoch: u64,
    /// Emission halves every this many epochs after `genesis_epoch` (0: never).
    pub halving_epochs: u64,
}

/// How an epoch's emission is split, in basis points of the emission. The rest is unallocated.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Split {
    pub beacon_bps: u32,
    pub witness_bps: u32,
}

/// A governance hex boost: shares earned in `cell` (and its children) are multiplied.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HexBoost {
    /// H3 cell index as hex text (any resolution).
    pub cell: String,
    /// Multiplier in units of 1e-4 (2.0 = 20000).
    pub multiplier_e4: u32,
    /// Inclusive epoch range.
    pub start_epoch: u64,
    pub end_epoch: u64,
}

/// Minting limits.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Rolling window of the mint circuit breaker.
    #[serde(with = "duration_text")]
    pub mint_window: Duration,
    /// At most this many epoch emissions may be minted within `mint_window` (Helium: 5 per 24 h).
    pub mint_window_emissions: u64,
}

/// Why a parameter set was refused.
#[derive(Debug, thiserror::Error)]
pub enum ParameterError {
    #[error("parameter set is not valid TOML for this schema: {0}")]
    Parse(String),
    #[error("invalid parameter set: {0}")]
    Invalid(String),
}

impl Default for ParameterSet {
    /// The genesis parameters: 24 h epochs, 100,000 tokens per epoch from epoch 20454
    /// (2026-01-01 UTC) halving every two years,
    /// Helium's PoC split with its unused data-transfer pool re-allocated (beacons 6% + 10%,
    /// witnesses 24% + 40%), Helium's circuit breaker (5 epoch emissions per 24 h), the default
    /// verifier ruleset.
    fn default() -> Self {
        let mut verifier = toml::Table::new();
        verifier.insert("ruleset".into(), toml::Value::String("default".into()));
        Self {
            version: 1,
            effective_epoch: 0,
            epoch: Duration::from_secs(24 * 3600),
            emission: Emission {
                per_epoch: 100_000 * BASE_UNITS_PER_TOKEN,
                genesis_epoch: GENESIS_EPOCH,
                halving_epochs: 730,
            },
            split: Split {
                beacon_bps: 1_600,
                witness_bps: 6_400,
            },
            hex_boosts: Vec::new(),
            limits: Limits {
                mint_window: Duration::from_secs(24 * 3600),
                mint_window_emissions: 5,
            },
            verifier,
        }
    }
}

impl ParameterSet {
    /// Parses and validates a parameter set from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ParameterError> {
        let set: Self = toml::from_str(text).map_err(|e| ParameterError::Parse(e.to_string()))?;
        set.validate()?;
        Ok(set)
    }

    /// The set as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# not representable: {e}"))
    }

    /// The canonical encoding: JSON with fields in declaration order and sorted table keys.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Serializing plain structs, strings, integers and a BTreeMap-backed table cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// SHA-256 of [`Self::canonical_bytes`].
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.canonical_bytes()).into()
    }

    /// Rejects values the reward rules cannot work with.
    pub fn validate(&self) -> Result<(), ParameterError> {
        let invalid = |m: String| Err(ParameterError::Invalid(m));
        if self.version == 0 {
            return invalid("version must be at least 1".into());
        }
        if self.epoch.is_zero() || self.epoch.subsec_nanos() != 0 {
            return invalid("epoch must be a positive whole number of seconds".into());
        }
        let split = u64::from(self.split.beacon_bps) + u64::from(self.split.witness_bps);
        if split > u64::from(BPS) {
            return invalid(format!(
                "split.beacon_bps + split.witness_bps = {split} exceeds {BPS}"
            ));
        }
        for boost in &self.hex_boosts {
            if h3o::CellIndex::try_from(u64::from_str_radix(&boost.cell, 16).unwrap_or(0)).is_err()
            {
                return invalid(format!("hex_boosts: {:?} is not an H3 cell", boost.cell));
            }
            if boost.start_epoch > boost.end_epoch {
                return invalid(format!(
                    "hex_boosts: {} starts after it ends ({} > {})",
                    boost.cell, boost.start_epoch, boost.end_epoch
                ));
            }
        }
        if self.limits.mint_window.is_zero() {
            return invalid("limits.mint_window must be positive".into());
        }
        Ok(())
    }

    /// Base units emitted in `epoch`.
    pub fn emission_for(&self, epoch: u64) -> u64 {
        let emission = &self.emission;
        if epoch < emission.genesis_epoch {
            return 0;
        }
        if emission.halving_epochs == 0 {
            return emission.per_epoch;
        }
        let halvings = (epoch - emission.genesis_epoch) / emission.halving_epochs;
        emission
            .per_epoch
            .checked_shr(halvings.min(64) as u32)
            .unwrap_or(0)
    }

    /// Epoch length in milliseconds.
    pub fn epoch_ms(&self) -> u64 {
        self.epoch.as_millis() as u64
    }

    /// The received-time range `[start, end)` of `epoch`, in milliseconds.
    pub fn epoch_range_ms(&self, epoch: u64) -> (u64, u64) {
        let len = self.epoch_ms();
        (
            epoch.saturating_mul(len),
            epoch.saturating_add(1).saturating_mul(len),
        )
    }
}

/// Durations as humantime text (`"24h"`), like every other settings file.
mod duration_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*value).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_round_trips_through_toml_with_the_same_hash() {
        let genesis = ParameterSet::default();
        genesis.validate().expect("genesis is valid");
        let text = genesis.to_toml();
        let parsed = ParameterSet::from_toml(&text).expect("parse");
        assert_eq!(parsed, genesis);
        assert_eq!(parsed.hash(), genesis.hash());
        let mut changed = genesis.clone();
        changed.split.beacon_bps += 1;
        assert_ne!(
            changed.hash(),
            genesis.hash(),
            "any change changes the hash"
        );
    }

    #[test]
    fn emission_halves_on_schedule() {
        let set = ParameterSet {
            emission: Emission {
                per_epoch: 1_000,
                genesis_epoch: 10,
                halving_epochs: 5,
            },
            ..ParameterSet::default()
        };
        assert_eq!(set.emission_for(9), 0);
        assert_eq!(set.emission_for(10), 1_000);
        assert_eq!(set.emission_for(14), 1_000);
        assert_eq!(set.emission_for(15), 500);
        assert_eq!(set.emission_for(20), 250);
        assert_eq!(set.emission_for(10 + 5 * 70), 0);
    }

    #[test]
    fn refuses_bad_values() {
        let mut set = ParameterSet::default();
        set.split.witness_bps = 9_000;
        assert!(set.validate().is_err(), "split over 100%");
        let mut set = ParameterSet::default();
        set.hex_boosts.push(HexBoost {
            cell: "not-a-cell".into(),
            multiplier_e4: 20_000,
            start_epoch: 0,
            end_epoch: 1,
        });
        assert!(set.validate().is_err(), "bad cell");
        assert!(matches!(
            ParameterSet::from_toml("version = 1\nbogus = 2"),
            Err(ParameterError::Parse(_))
        ));
    }
}
