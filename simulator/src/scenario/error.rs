//! Errors of scenario loading.

use std::path::PathBuf;

use super::REGIONS;

/// Why a scenario could not be loaded. Messages name the file, line or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML is malformed, has an unknown key or a value of the wrong type.
    #[error("{path}: {source}")]
    Toml {
        /// The scenario file (or `<string>`).
        path: PathBuf,
        /// The parser's error, with line and column.
        source: Box<toml::de::Error>,
    },
    /// A CSV file is malformed or a field cannot be parsed.
    #[error("{at}: {message}")]
    Csv {
        /// Where: `hotspot_files[i] (path) line n`.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// `time_scale` is not a positive number.
    #[error("time_scale {0} must be > 0")]
    TimeScale(f64),
    /// `duration` is zero.
    #[error("duration must be > 0")]
    ZeroDuration,
    /// A `[params]` duration is zero.
    #[error("params.{0} must be > 0")]
    ZeroParam(&'static str),
    /// `region` is not a known region.
    #[error("region {0:?} is not one of {REGIONS:?}")]
    UnknownRegion(String),
    /// A `[radio]` value is outside its valid range.
    #[error("radio.{field} {value} {requirement}")]
    Radio {
        /// The key.
        field: &'static str,
        /// The value given.
        value: f64,
        /// The rule it breaks, e.g. "must be >= 0".
        requirement: &'static str,
    },
    /// A coordinate is outside its valid range.
    #[error("{at}: {field} {value} out of range")]
    OutOfRange {
        /// Where: `hotspots[i] ("name")` or `hotspot_files[i] (path) line n`.
        at: String,
        /// The key or column, e.g. `lat`.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// Only one of `asserted_lat` and `asserted_lng` is given.
    #[error("{at}: asserted_lat and asserted_lng must be given together")]
    HalfAsserted {
        /// Where.
        at: String,
    },
    /// A bbox has a minimum above its maximum.
    #[error("{at}: bbox {bbox:?} must be [min_lat, min_lng, max_lat, max_lng] with min <= max")]
    InvalidBbox {
        /// Where: `hotspot_files[i] (path)`.
        at: String,
        /// The bbox given.
        bbox: [f64; 4],
    },
    /// Two hotspots share a name.
    #[error("duplicate hotspot name {name:?} at {first} and {second}")]
    DuplicateName {
        /// The name.
        name: String,
        /// Where it is first used.
        first: String,
        /// Where it is used again.
        second: String,
    },
    /// No hotspot is defined (inline or loaded).
    #[error("the scenario has no hotspots")]
    NoHotspots,
    /// A `spoof_location` hotspot asserts the res-12 cell it really is in.
    #[error(
        "{at}: spoof_location needs asserted_lat/asserted_lng in another place than lat/lng (same res-12 cell)"
    )]
    NotSpoofed {
        /// Where.
        at: String,
    },
    /// A key is set on a hotspot whose behaviour does not use it.
    #[error("{at}: {field} is only allowed with behaviour {allowed:?}, not {behaviour:?}")]
    FieldNotAllowed {
        /// Where.
        at: String,
        /// The key, e.g. `ring`.
        field: &'static str,
        /// The behaviour that uses it.
        allowed: &'static str,
        /// The hotspot's behaviour.
        behaviour: &'static str,
    },
    /// A `virtual_witness` has no colluders, or a `collusion_ring` member no ring.
    #[error("{at}: behaviour {behaviour:?} needs {field}")]
    MissingField {
        /// Where.
        at: String,
        /// The behaviour.
        behaviour: &'static str,
        /// The missing key.
        field: &'static str,
    },
    /// A colluder name is unknown, the hotspot itself, listed twice or cannot relay.
    #[error("{at}: colluder {name:?} {problem}")]
    BadColluder {
        /// Where.
        at: String,
        /// The colluder name.
        name: String,
        /// What is wrong, e.g. "is not a hotspot of the scenario".
        problem: &'static str,
    },
    /// A collusion ring has a single member.
    #[error("collusion ring {ring:?} has only one member ({member}); a ring needs at least two")]
    RingOfOne {
        /// The ring's name.
        ring: String,
        /// Its only member.
        member: String,
    },
}
