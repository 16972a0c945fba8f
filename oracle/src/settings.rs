//! Oracle settings: one TOML file (every key documented in `pkg/settings-template.toml`) plus
//! `ORACLE_*` environment overrides for the deployment-specific keys.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::verifier::VerifierParams;

/// Errors loading settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid settings file {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("invalid value of {name}: {reason}")]
    Env { name: &'static str, reason: String },
    #[error("invalid settings: {0}")]
    Invalid(String),
}

/// Everything `oracle serve` needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Directory holding the oracle key and (by default) the SQLite database.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; empty means `sqlite://<data_dir>/oracle.db`.
    pub database_url: String,
    /// UDP address of the QUIC endpoint.
    pub listen: SocketAddr,
    /// Entropy publication.
    pub entropy: EntropySettings,
    /// Governance keys whose signatures the oracle accepts on denylists.
    pub governance: GovernanceSettings,
    /// Verification rules and thresholds: the values of `verifier.ruleset`, then every key set.
    /// Governance parameter sets applied in the database take precedence for the epochs they
    /// cover; these settings are the fallback (the genesis, and local scenarios). See
    /// [`crate::verifier::governed`].
    #[serde(deserialize_with = "verifier_params")]
    pub verifier: VerifierParams,
}

/// Entropy publication.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EntropySettings {
    /// A new entropy value every `tick`.
    #[serde(with = "humantime_serde")]
    pub tick: Duration,
    /// How long a value stays valid for beacons and witnesses.
    #[serde(with = "humantime_serde")]
    pub lifespan: Duration,
}

fn verifier_params<'de, D: serde::Deserializer<'de>>(d: D) -> Result<VerifierParams, D::Error> {
    let table = toml::Table::deserialize(d)?;
    VerifierParams::from_toml(table).map_err(serde::de::Error::custom)
}

/// Governance keys (M of N).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GovernanceSettings {
    /// Base58 public keys of the governance signers.
    pub signers: Vec<schemas::PublicKey>,
    /// How many of them must sign.
    pub threshold: usize,
}

impl Default for EntropySettings {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(60),
            lifespan: Duration::from_secs(180),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("oracle-data"),
            database_url: String::new(),
            listen: SocketAddr::from(([0, 0, 0, 0], 9080)),
            entropy: EntropySettings::default(),
            governance: GovernanceSettings::default(),
            verifier: VerifierParams::default(),
        }
    }
}

impl Settings {
    /// Reads `path` (or the defaults when `None`), then applies environment overrides:
    /// `ORACLE_DATA_DIR`, `ORACLE_DATABASE_URL`, `ORACLE_LISTEN`.
    pub fn load(path: Option<&Path>) -> Result<Self, SettingsError> {
        let mut settings = match path {
            Some(path) => {
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
                    path: shown.clone(),
                    source,
                })?;
                let mut settings: Settings =
                    toml::from_str(&text).map_err(|source| SettingsError::Parse {
                        path: shown,
                        source,
                    })?;
                if let Some(dir) = path.parent().filter(|_| settings.data_dir.is_relative()) {
                    settings.data_dir = dir.join(&settings.data_dir);
                }
                settings
            }
            None => Settings::default(),
        };
        settings.apply_env(|name| std::env::var(name).ok())?;
        settings.validate()?;
        Ok(settings)
    }

    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), SettingsError> {
        if let Some(dir) = get("ORACLE_DATA_DIR") {
            self.data_dir = PathBuf::from(dir);
        }
        if let Some(url) = get("ORACLE_DATABASE_URL") {
            self.database_url = url;
        }
        if let Some(listen) = get("ORACLE_LISTEN") {
            self.listen = listen.parse().map_err(|e| SettingsError::Env {
                name: "ORACLE_LISTEN",
                reason: format!("{listen:?}: {e}"),
            })?;
        }
        Ok(())
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.entropy.tick.is_zero() {
            return Err(SettingsError::Invalid(
                "entropy.tick must be positive".into(),
            ));
        }
        if self.entropy.lifespan < self.entropy.tick {
            return Err(SettingsError::Invalid(
                "entropy.lifespan must be at least entropy.tick".into(),
            ));
        }
        self.verifier.validate().map_err(SettingsError::Invalid)
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            db::sqlite_url(&self.data_dir.join("oracle.db"))
        } else {
            self.database_url.clone()
        }
    }

    /// Path of the oracle's identity key.
    pub fn key_path(&self) -> PathBuf {
        self.data_dir.join("oracle.key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_to_the_defaults() {
        let text = include_str!("../pkg/settings-template.toml");
        let parsed: Settings = toml::from_str(text).expect("template parses");
        let defaults = Settings::default();
        assert_eq!(
            toml::to_string(&parsed).expect("ser"),
            toml::to_string(&defaults).expect("ser")
        );
    }

    #[test]
    fn env_overrides_and_validation() {
        let mut settings = Settings::default();
        settings
            .apply_env(|name| match name {
                "ORACLE_DATABASE_URL" => Some("postgres://x/y".into()),
                "ORACLE_LISTEN" => Some("127.0.0.1:1".into()),
                _ => None,
            })
            .expect("env");
        assert_eq!(settings.database_url(), "postgres://x/y");
        assert_eq!(settings.listen.port(), 1);
        let bad = settings.apply_env(|name| (name == "ORACLE_LISTEN").then(|| "nope".to_string()));
        assert!(matches!(
            bad,
            Err(SettingsError::Env {
                name: "ORACLE_LISTEN",
                ..
            })
        ));
        settings.entropy.lifespan = Duration::from_secs(1);
        assert!(settings.validate().is_err());
        assert!(toml::from_str::<Settings>("unknown_key = 1").is_err());
    }
}
