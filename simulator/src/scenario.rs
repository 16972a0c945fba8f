//! The scenario file format (`simulate SCENARIO.toml`).
//!
//! A scenario names a seed, a duration, a region, radio parameters and the hotspots, given
//! inline (`[[hotspots]]`) or loaded from CSV files of real hotspots (`[[hotspot_files]]`, see
//! [`HotspotFile`]). [`Scenario::load`] parses, validates and flattens it into a
//! [`ResolvedScenario`]. `scenarios/example.toml` documents every key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::radio_model::RadioParams;

mod error;
mod hotspot_csv;
mod validate;

pub use error::ScenarioError;
use validate::{check_unique_names, validate_hotspot, validate_params, validate_radio};

mod adversaries;
mod behaviour;

pub use behaviour::Behaviour;

/// Region names a scenario may use (Helium's LoRaWAN region plans).
pub const REGIONS: &[&str] = &[
    "AS923-1",
    "AS923-1B",
    "AS923-1C",
    "AS923-2",
    "AS923-3",
    "AS923-4",
    "AU915",
    "AU915-SB1",
    "CD900-1A",
    "CN470",
    "EU433",
    "EU868",
    "IN865",
    "KR920",
    "RU864",
    "US915",
];
/// Default antenna gain of a hotspot, dBi.
pub const DEFAULT_GAIN_DBI: f64 = 3.0;
/// Default antenna elevation above ground, metres.
pub const DEFAULT_ELEVATION_M: f64 = 5.0;

/// A scenario file as written.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Free-form name shown in logs and reports.
    #[serde(default)]
    pub name: Option<String>,
    /// Seed of every random draw in the run.
    pub seed: u64,
    /// Simulated time to run, e.g. `"12h"`.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// Simulated seconds per real second (> 0).
    pub time_scale: f64,
    /// LoRaWAN region, one of [`REGIONS`].
    pub region: String,
    /// Oracle ruleset name. Default `"default"`.
    #[serde(default = "default_ruleset")]
    pub ruleset: String,
    /// Radio medium parameters.
    #[serde(default)]
    pub radio: RadioParams,
    /// Overrides of PoC timing parameters.
    #[serde(default)]
    pub params: ParamOverrides,
    /// Hotspots given inline.
    #[serde(default)]
    pub hotspots: Vec<HotspotSpec>,
    /// CSV files of hotspots to load.
    #[serde(default)]
    pub hotspot_files: Vec<HotspotFile>,
}

/// Overrides of the oracle's PoC parameters; `None` keeps the ruleset's value.
#[derive(Deserialize, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ParamOverrides {
    /// Interval between a hotspot's beacons, e.g. `"6h"`.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub beacon_interval: Option<Duration>,
    /// Interval between entropy publications.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub entropy_tick: Option<Duration>,
    /// How long a published entropy stays valid.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub entropy_lifespan: Option<Duration>,
    /// Most witnesses rewarded per PoC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_witnesses_per_poc: Option<u32>,
}

/// One hotspot (`[[hotspots]]`).
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HotspotSpec {
    /// Unique name.
    pub name: String,
    /// True latitude, degrees.
    pub lat: f64,
    /// True longitude, degrees.
    pub lng: f64,
    /// Antenna gain, dBi. Default [`DEFAULT_GAIN_DBI`].
    #[serde(default = "default_gain_dbi")]
    pub gain_dbi: f64,
    /// Antenna elevation above ground, m. Default [`DEFAULT_ELEVATION_M`].
    #[serde(default = "default_elevation_m")]
    pub elevation_m: f64,
    /// Owner name. Default (filled in by resolution): `"owner-" + name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Asserted latitude. Default (filled in by resolution): the true latitude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asserted_lat: Option<f64>,
    /// Asserted longitude. Default (filled in by resolution): the true longitude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asserted_lng: Option<f64>,
    /// Behaviour. Default honest.
    #[serde(default)]
    pub behaviour: Behaviour,
    /// `virtual_witness` only: names of the hotspots that relay beacons to it over the
    /// internet (and witness its own beacons).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub colluders: Vec<String>,
    /// `collusion_ring` only: the ring's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring: Option<String>,
}

impl HotspotSpec {
    /// An honest hotspot at its true position with default gain, elevation and owner.
    pub fn new(name: impl Into<String>, lat: f64, lng: f64) -> Self {
        Self {
            name: name.into(),
            lat,
            lng,
            gain_dbi: DEFAULT_GAIN_DBI,
            elevation_m: DEFAULT_ELEVATION_M,
            owner: None,
            asserted_lat: None,
            asserted_lng: None,
            behaviour: Behaviour::Honest,
            colluders: Vec::new(),
            ring: None,
        }
    }

    /// The owner's name, `"owner-" + name` when not given.
    pub fn owner_name(&self) -> String {
        self.owner
            .clone()
            .unwrap_or_else(|| format!("owner-{}", self.name))
    }

    /// The asserted `(lat, lng)`, the true position when not given.
    pub fn asserted_position(&self) -> (f64, f64) {
        (
            self.asserted_lat.unwrap_or(self.lat),
            self.asserted_lng.unwrap_or(self.lng),
        )
    }

    /// Fills in the defaulted owner and asserted position.
    fn resolved(mut self) -> Self {
        let (lat, lng) = self.asserted_position();
        self.owner = Some(self.owner_name());
        self.asserted_lat = Some(lat);
        self.asserted_lng = Some(lng);
        self
    }
}

/// A CSV file of real hotspots to load (`[[hotspot_files]]`).
///
/// Rows are filtered by `bbox` and then the first `limit` are kept. `owner`, `gain_dbi` and
/// `elevation_m`, when set, override the file's own columns for every row.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HotspotFile {
    /// Path of the CSV file, relative to the scenario file's directory.
    pub path: PathBuf,
    /// Keep at most this many rows (after `bbox` filtering).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Owner of every loaded hotspot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Antenna gain of every loaded hotspot, dBi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gain_dbi: Option<f64>,
    /// Antenna elevation of every loaded hotspot, m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elevation_m: Option<f64>,
    /// Keep only rows inside `[min_lat, min_lng, max_lat, max_lng]` (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbox: Option<[f64; 4]>,
}

/// A validated scenario with every hotspot file loaded into one flat list.
#[derive(Debug, Clone)]
pub struct ResolvedScenario {
    /// Free-form name.
    pub name: Option<String>,
    /// Seed of every random draw.
    pub seed: u64,
    /// Simulated time to run.
    pub duration: Duration,
    /// Simulated seconds per real second.
    pub time_scale: f64,
    /// LoRaWAN region, one of [`REGIONS`].
    pub region: String,
    /// Oracle ruleset name.
    pub ruleset: String,
    /// Radio medium parameters.
    pub radio: RadioParams,
    /// PoC parameter overrides.
    pub params: ParamOverrides,
    /// Inline hotspots then file hotspots, with owner and asserted position filled in.
    pub hotspots: Vec<HotspotSpec>,
}

impl Scenario {
    /// Reads, parses, validates and resolves the scenario file at `path`; hotspot file paths
    /// are relative to its directory.
    pub fn load(path: impl AsRef<Path>) -> Result<ResolvedScenario, ScenarioError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let base_dir = path.parent().unwrap_or_else(|| Path::new("."));
        Self::parse(&text, path)?.resolve(base_dir)
    }

    /// Like [`Scenario::load`] for a scenario given as a string, with hotspot file paths
    /// relative to `base_dir`.
    pub fn from_toml_str(
        text: &str,
        base_dir: impl AsRef<Path>,
    ) -> Result<ResolvedScenario, ScenarioError> {
        Self::parse(text, Path::new("<string>"))?.resolve(base_dir.as_ref())
    }

    /// Parses TOML without validating.
    fn parse(text: &str, path: &Path) -> Result<Self, ScenarioError> {
        toml::from_str(text).map_err(|source| ScenarioError::Toml {
            path: path.to_path_buf(),
            source: Box::new(source),
        })
    }

    /// Validates the scenario and loads its hotspot files.
    pub fn resolve(self, base_dir: &Path) -> Result<ResolvedScenario, ScenarioError> {
        self.validate_settings()?;
        let mut hotspots = Vec::with_capacity(self.hotspots.len());
        let mut places = Vec::with_capacity(self.hotspots.len());
        for (i, spec) in self.hotspots.into_iter().enumerate() {
            let at = format!("hotspots[{i}] ({:?})", spec.name);
            validate_hotspot(&spec, &at)?;
            hotspots.push(spec.resolved());
            places.push(at);
        }
        for (i, file) in self.hotspot_files.iter().enumerate() {
            for (spec, at) in hotspot_csv::load(file, i, base_dir)? {
                validate_hotspot(&spec, &at)?;
                hotspots.push(spec.resolved());
                places.push(at);
            }
        }
        check_unique_names(&hotspots, &places)?;
        if hotspots.is_empty() {
            return Err(ScenarioError::NoHotspots);
        }
        adversaries::validate(&hotspots, &places)?;
        Ok(ResolvedScenario {
            name: self.name,
            seed: self.seed,
            duration: self.duration,
            time_scale: self.time_scale,
            region: self.region,
            ruleset: self.ruleset,
            radio: self.radio,
            params: self.params,
            hotspots,
        })
    }

    /// Checks everything but the hotspots.
    fn validate_settings(&self) -> Result<(), ScenarioError> {
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return Err(ScenarioError::TimeScale(self.time_scale));
        }
        if self.duration.is_zero() {
            return Err(ScenarioError::ZeroDuration);
        }
        if !REGIONS.contains(&self.region.as_str()) {
            return Err(ScenarioError::UnknownRegion(self.region.clone()));
        }
        validate_params(&self.params)?;
        validate_radio(&self.radio)
    }
}

fn default_ruleset() -> String {
    "default".to_owned()
}

fn default_gain_dbi() -> f64 {
    DEFAULT_GAIN_DBI
}

fn default_elevation_m() -> f64 {
    DEFAULT_ELEVATION_M
}
