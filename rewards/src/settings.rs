//! rewards settings: one TOML file, every key documented with its default in
//! `pkg/settings-template.toml`.

use crate::chain::settings::ChainSettings;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Errors loading settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read.
    #[error("cannot read settings file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid settings.
    #[error("invalid settings file {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The TOML error.
        source: toml::de::Error,
    },
}

/// Everything the `rewards` commands read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The oracle's database (`sqlite://PATH` or `postgres://...`): the rewards job reads the
    /// verified reports from it and keeps manifests, approvals and the mint ledger beside them.
    /// Default: the oracle's default SQLite file, `sqlite://oracle-data/oracle.db`.
    pub database_url: String,
    /// Where and how rewards are minted.
    pub chain: ChainSettings,
    /// Governance keys whose M-of-N signatures apply parameter changes.
    pub governance: GovernanceSettings,
}

/// The `[governance]` table: who may change the parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GovernanceSettings {
    /// Base58 public keys of the governance members (N). Default: none, so no change can be
    /// applied.
    pub keys: Vec<schemas::PublicKey>,
    /// Signatures required to apply a change (M, at most N).
    pub threshold: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://oracle-data/oracle.db".into(),
            chain: ChainSettings::default(),
            governance: GovernanceSettings::default(),
        }
    }
}

impl Settings {
    /// Reads `path`, or the defaults without a file.
    pub fn load(path: Option<&Path>) -> Result<Self, SettingsError> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: shown.clone(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| SettingsError::Parse {
            path: shown,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_template_is_the_defaults() {
        // Read when the test runs: a test binary reused from a target directory shared by
        // clones at other paths would otherwise carry the path it was built at.
        let dir = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
            || env!("CARGO_MANIFEST_DIR").into(),
            std::path::PathBuf::from,
        );
        let path = dir.join("pkg/settings-template.toml");
        assert_eq!(
            Settings::load(Some(&path)).expect("template"),
            Settings::default()
        );
    }

    #[test]
    fn governance_keys_parse_from_base58() {
        let key = schemas::Keypair::from_seed([3; 32]).public();
        let text = format!("[governance]\nkeys = [\"{key}\"]\nthreshold = 1\n");
        let settings: Settings = toml::from_str(&text).expect("settings");
        assert_eq!(settings.governance.keys, vec![key]);
        assert_eq!(settings.governance.threshold, 1);
        assert!(toml::from_str::<Settings>("[governance]\nkeys = [\"nope\"]").is_err());
    }
}
