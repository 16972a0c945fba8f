//! The agent's settings file (TOML, documented in `pkg/settings-template.toml`).

mod edit;
mod env;
mod sections;

pub use edit::set_value;
pub use sections::{QueueSettings, StatusSettings};

use crate::agent::AgentConfig;
use crate::radio::sim::SimRadioConfig;
use schemas::PublicKey;
use schemas::region::Region;
use serde::Deserialize;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The shipped, documented settings file with every default.
pub const TEMPLATE: &str = include_str!("../../pkg/settings-template.toml");
/// Prefix of the environment variables that override top-level keys.
pub const ENV_PREFIX: &str = "HOTSPOT_AGENT_";
/// Allowed antenna gains, dBi.
const GAIN_RANGE_DBI: std::ops::RangeInclusive<f64> = -10.0..=30.0;

/// Errors loading or checking settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid settings (syntax, unknown key, wrong type).
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML error, with its line.
        source: toml::de::Error,
    },
    /// An environment override could not be used.
    #[error("environment variable {name}: {reason}")]
    Env {
        /// The variable.
        name: String,
        /// Why.
        reason: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{key}: {reason}")]
    Invalid {
        /// The key, with its table (`beacon.interval`).
        key: &'static str,
        /// Why.
        reason: String,
    },
}

/// Everything in the settings file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The hotspot key file (absolute once loaded).
    #[serde(default = "default_key_file")]
    pub key_file: PathBuf,
    /// Region of the channel plan.
    #[serde(default = "default_region", deserialize_with = "region_name")]
    pub region: Region,
    /// Asserted antenna gain, dBi.
    #[serde(default = "default_gain")]
    pub antenna_gain_dbi: f64,
    /// Where the report queue and the status file live (absolute once loaded).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The oracle.
    pub oracle: OracleSettings,
    /// Beaconing.
    #[serde(default)]
    pub beacon: BeaconSettings,
    /// The radio.
    #[serde(default)]
    pub radio: RadioSettings,
    /// The report queue.
    #[serde(default)]
    pub queue: QueueSettings,
    /// The status file.
    #[serde(default)]
    pub status: StatusSettings,
}

/// `[oracle]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OracleSettings {
    /// `host:port`.
    pub address: String,
    /// Pinned oracle key.
    pub key: PublicKey,
    /// Longest wait for a handshake, an answer or a radio confirmation; also how long a stopping
    /// agent keeps delivering what is queued.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
}

/// `[beacon]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeaconSettings {
    /// Segment length.
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// Whether to beacon.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

impl Default for BeaconSettings {
    fn default() -> Self {
        Self {
            interval: default_interval(),
            enabled: true,
        }
    }
}

/// Which radio the agent drives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RadioKind {
    /// The simulator's radio medium.
    #[default]
    Simulated,
    /// A Semtech UDP packet forwarder (`lora_pkt_fwd`) sending to `listen`.
    Semtech,
}

/// `[radio]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadioSettings {
    /// The radio kind.
    #[serde(default)]
    pub kind: RadioKind,
    /// `host:port` of the simulated medium.
    pub medium_address: Option<String>,
    /// Pinned key of the simulated medium.
    pub medium_key: Option<PublicKey>,
    /// UDP address the packet forwarder sends to (kind `semtech`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
}

impl Default for RadioSettings {
    fn default() -> Self {
        Self {
            kind: RadioKind::default(),
            medium_address: None,
            medium_key: None,
            listen: default_listen(),
        }
    }
}

fn default_key_file() -> PathBuf {
    PathBuf::from("hotspot.key")
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 1680))
}
fn default_region() -> Region {
    Region::Us915
}
fn default_gain() -> f64 {
    1.2
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_interval() -> Duration {
    Duration::from_secs(6 * 3600)
}
fn default_true() -> bool {
    true
}

fn region_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Region, D::Error> {
    String::deserialize(d)?
        .parse()
        .map_err(serde::de::Error::custom)
}

impl Settings {
    /// Loads `path`, applying `HOTSPOT_AGENT_*` overrides from the process environment.
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// Loads `path` with the overrides found in `env`.
    pub fn load_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.into(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base, env).map_err(|e| match e {
            SettingsError::Parse { source, .. } => SettingsError::Parse {
                path: path.into(),
                source,
            },
            other => other,
        })
    }

    /// Parses settings text; relative paths are taken relative to `base_dir`.
    pub fn parse(
        text: &str,
        base_dir: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let parse_error = |source| SettingsError::Parse {
            path: PathBuf::new(),
            source,
        };
        let mut table: toml::Table = toml::from_str(text).map_err(parse_error)?;
        // Report errors of the file itself before any override.
        toml::Value::Table(table.clone())
            .try_into::<Self>()
            .map_err(parse_error)?;
        env::apply(&mut table, env)?;
        let mut settings: Self = toml::Value::Table(table).try_into().map_err(parse_error)?;
        settings.key_file = base_dir.join(&settings.key_file);
        settings.data_dir = base_dir.join(&settings.data_dir);
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let invalid = |key, reason: &str| {
            Err(SettingsError::Invalid {
                key,
                reason: reason.to_string(),
            })
        };
        if !GAIN_RANGE_DBI.contains(&self.antenna_gain_dbi) {
            return invalid("antenna_gain_dbi", "must be between -10 and 30 dBi");
        }
        if self.beacon.interval < Duration::from_secs(1) {
            return invalid("beacon.interval", "must be at least 1s");
        }
        if self.queue.max_mib == 0 || self.queue.max_reports == 0 {
            return invalid("queue", "max_mib and max_reports must be at least 1");
        }
        if self.queue.max_age < Duration::from_secs(60) {
            return invalid("queue.max_age", "must be at least 1m");
        }
        if self.status.interval < Duration::from_secs(1) {
            return invalid("status.interval", "must be at least 1s");
        }
        if self.oracle.request_timeout.is_zero() {
            return invalid("oracle.request_timeout", "must not be zero");
        }
        check_host_port("oracle.address", &self.oracle.address)?;
        if let Some(address) = &self.radio.medium_address {
            check_host_port("radio.medium_address", address)?;
        }
        Ok(())
    }

    /// Antenna gain in dBi x 10, rounded.
    pub fn antenna_gain_ddbi(&self) -> i32 {
        (self.antenna_gain_dbi * 10.0).round() as i32
    }

    /// The agent configuration (resolves the oracle's address).
    pub fn agent_config(&self) -> Result<AgentConfig, SettingsError> {
        Ok(AgentConfig {
            region: self.region,
            antenna_gain_ddbi: self.antenna_gain_ddbi(),
            oracle_addr: resolve("oracle.address", &self.oracle.address)?,
            oracle_key: self.oracle.key,
            beacon_interval: self.beacon.interval,
            beacon_enabled: self.beacon.enabled,
            request_timeout: self.oracle.request_timeout,
            rng_seed: None,
        })
    }

    /// Where the simulated radio medium is (required for `kind = "simulated"`).
    pub fn sim_radio_config(&self) -> Result<SimRadioConfig, SettingsError> {
        let missing = |key| SettingsError::Invalid {
            key,
            reason: "required for radio kind \"simulated\"".into(),
        };
        let address = self
            .radio
            .medium_address
            .as_deref()
            .ok_or_else(|| missing("radio.medium_address"))?;
        let medium_key = self
            .radio
            .medium_key
            .ok_or_else(|| missing("radio.medium_key"))?;
        Ok(SimRadioConfig {
            address: resolve("radio.medium_address", address)?,
            medium_key,
        })
    }
}

/// Values `hotspot-agent init` puts into a new settings file.
#[derive(Debug, Clone)]
pub struct InitialValues {
    /// `host:port` of the oracle.
    pub oracle_address: String,
    /// The oracle's key.
    pub oracle_key: PublicKey,
    /// The region.
    pub region: Region,
    /// `host:port` and key of the simulated radio medium, when known.
    pub medium: Option<(String, PublicKey)>,
}

/// The text of a new settings file: the template with `values` filled in.
pub fn initial_settings(values: &InitialValues) -> String {
    let string = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut text = set_value(TEMPLATE, None, "region", &string(values.region.name()));
    text = set_value(
        &text,
        Some("oracle"),
        "address",
        &string(&values.oracle_address),
    );
    text = set_value(
        &text,
        Some("oracle"),
        "key",
        &string(&values.oracle_key.to_string()),
    );
    if let Some((address, key)) = &values.medium {
        text = set_value(&text, Some("radio"), "medium_address", &string(address));
        text = set_value(
            &text,
            Some("radio"),
            "medium_key",
            &string(&key.to_string()),
        );
    }
    text
}

/// `text` with `antenna_gain_dbi` set to `gain_dbi`.
pub fn with_antenna_gain(text: &str, gain_dbi: f64) -> String {
    set_value(
        text,
        None,
        "antenna_gain_dbi",
        &toml::Value::Float(gain_dbi).to_string(),
    )
}

fn check_host_port(key: &'static str, address: &str) -> Result<(), SettingsError> {
    let port = address
        .rsplit_once(':')
        .and_then(|(host, port)| (!host.is_empty()).then_some(port));
    match port.map(str::parse::<u16>) {
        Some(Ok(port)) if port != 0 => Ok(()),
        _ => Err(SettingsError::Invalid {
            key,
            reason: format!("{address:?} is not host:port"),
        }),
    }
}

/// Resolves `host:port` to its first address.
fn resolve(key: &'static str, address: &str) -> Result<SocketAddr, SettingsError> {
    let invalid = |reason: String| SettingsError::Invalid { key, reason };
    let mut addresses = address
        .to_socket_addrs()
        .map_err(|e| invalid(format!("cannot resolve {address:?}: {e}")))?;
    addresses
        .next()
        .ok_or_else(|| invalid(format!("{address:?} resolves to no address")))
}

#[cfg(test)]
mod tests;
