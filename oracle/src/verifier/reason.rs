//! Why a beacon or witness did not count: a domain enum that carries the measured value and
//! the threshold it was held against, so every verdict can be explained.

use std::fmt;

/// Which party a witness verdict's reason is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The beacon was invalid, so its witnesses are too.
    Beaconer,
    /// The witness itself failed.
    Witness,
}

impl Side {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Beaconer => "beaconer",
            Side::Witness => "witness",
        }
    }
}

/// Reasons, with Helium's names (`poc_lora.proto invalid_reason`) where Helium had one.
#[derive(Debug, Clone, PartialEq)]
pub enum Invalid {
    /// The reporter was never onboarded.
    GatewayNotFound,
    /// The reporter has no asserted location.
    NotAsserted,
    /// The reporter may not take part in proof of coverage (data-only).
    InvalidCapability,
    /// The beacon names entropy this oracle never published.
    UnknownEntropy,
    /// Received outside the entropy's lifespan.
    EntropyExpired { age_ms: i64, lifespan_ms: u64 },
    /// More than one beacon in one beacon-interval bucket.
    IrregularInterval {
        last_beacon_ms: u64,
        interval_ms: u64,
    },
    /// The beacon does not rebuild from its entropy (or a witness's payload differs).
    InvalidPacket { what: &'static str },
    /// A hotspot witnessing its own beacon.
    SelfWitness,
    /// The witness arrived too long after the beacon or the first witness.
    TooLate { lag_ms: u64, max_lag_ms: u64 },
    /// The witness heard another frequency.
    InvalidFrequency { offset_hz: u64, max_offset_hz: u64 },
    /// Beaconer and witness are asserted in different regions (or outside any).
    InvalidRegion,
    /// Witness closer than the minimum H3 grid distance.
    BelowMinDistance { cells: u32, min_cells: u32 },
    /// Witness farther than the maximum distance.
    MaxDistanceExceeded { distance_m: u32, max_km: u32 },
    /// Stronger than free-space propagation allows.
    BadRssi { signal_dbm: f64, max_dbm: f64 },
    /// A second witness report from the same hotspot for one beacon.
    Duplicate,
    /// A witness whose beacon never arrived in time.
    Stale { waited_ms: u64 },
    /// The hotspot's key is on the denylist.
    Denied { reason: String },
    /// The beaconer-witness pair is on the denylist.
    DeniedEdge { reason: String },
    /// HIP 106: the beaconer has not witnessed validly within the reciprocity window
    /// (`since_ms`: time since its last valid witness; `None`: never).
    GatewayNoValidWitnesses {
        since_ms: Option<u64>,
        window_ms: u64,
    },
    /// HIP 106: the witness has not beaconed validly (with witnesses) within the window.
    GatewayNoValidBeacons {
        since_ms: Option<u64>,
        window_ms: u64,
    },
    /// The witness belongs to the beaconer's owner.
    SameOwner,
    /// Witness-graph trust: the hotspot may not earn (see `crate::trust`).
    Untrusted(crate::trust::Distrust),
    /// Radio physics or time of flight (see `crate::physics`).
    Physics(crate::physics::PhysicsViolation),
}

impl Invalid {
    /// Stable snake_case code, stored in the database.
    pub fn code(&self) -> &'static str {
        match self {
            Invalid::GatewayNotFound => "gateway_not_found",
            Invalid::NotAsserted => "not_asserted",
            Invalid::InvalidCapability => "invalid_capability",
            Invalid::UnknownEntropy => "bad_entropy",
            Invalid::EntropyExpired { .. } => "entropy_expired",
            Invalid::IrregularInterval { .. } => "irregular_interval",
            Invalid::InvalidPacket { .. } => "invalid_packet",
            Invalid::SelfWitness => "self_witness",
            Invalid::TooLate { .. } => "too_late",
            Invalid::InvalidFrequency { .. } => "invalid_frequency",
            Invalid::InvalidRegion => "invalid_region",
            Invalid::BelowMinDistance { .. } => "below_min_distance",
            Invalid::MaxDistanceExceeded { .. } => "max_distance_exceeded",
            Invalid::BadRssi { .. } => "bad_rssi",
            Invalid::Duplicate => "duplicate",
            Invalid::Stale { .. } => "stale",
            Invalid::Denied { .. } => "denied",
            Invalid::DeniedEdge { .. } => "denied_edge",
            Invalid::GatewayNoValidWitnesses { .. } => "gateway_no_valid_witnesses",
            Invalid::GatewayNoValidBeacons { .. } => "gateway_no_valid_beacons",
            Invalid::SameOwner => "same_owner",
            Invalid::Untrusted(_) => "untrusted",
            Invalid::Physics(violation) => violation.code(),
        }
    }

    /// The measured value and the threshold it was held against, when the check has them.
    pub fn measured_and_threshold(&self) -> Option<(f64, f64)> {
        match *self {
            Invalid::EntropyExpired {
                age_ms,
                lifespan_ms,
            } => Some((age_ms as f64, lifespan_ms as f64)),
            Invalid::IrregularInterval {
                last_beacon_ms,
                interval_ms,
            } => Some((last_beacon_ms as f64, interval_ms as f64)),
            Invalid::TooLate { lag_ms, max_lag_ms } => Some((lag_ms as f64, max_lag_ms as f64)),
            Invalid::InvalidFrequency {
                offset_hz,
                max_offset_hz,
            } => Some((offset_hz as f64, max_offset_hz as f64)),
            Invalid::BelowMinDistance { cells, min_cells } => {
                Some((f64::from(cells), f64::from(min_cells)))
            }
            Invalid::MaxDistanceExceeded { distance_m, max_km } => {
                Some((f64::from(distance_m), f64::from(max_km) * 1000.0))
            }
            Invalid::BadRssi {
                signal_dbm,
                max_dbm,
            } => Some((signal_dbm, max_dbm)),
            Invalid::Stale { waited_ms } => Some((waited_ms as f64, waited_ms as f64)),
            Invalid::Untrusted(ref distrust) => distrust.measured_and_threshold(),
            Invalid::Physics(ref violation) => violation.measured_and_threshold(),
            Invalid::GatewayNoValidWitnesses {
                since_ms: Some(since),
                window_ms,
            }
            | Invalid::GatewayNoValidBeacons {
                since_ms: Some(since),
                window_ms,
            } => Some((since as f64, window_ms as f64)),
            _ => None,
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::GatewayNotFound => write!(f, "hotspot is not onboarded"),
            Invalid::NotAsserted => write!(f, "hotspot has no asserted location"),
            Invalid::InvalidCapability => {
                write!(f, "hotspot may not take part in proof of coverage")
            }
            Invalid::UnknownEntropy => {
                write!(f, "beacon names entropy this oracle never published")
            }
            Invalid::EntropyExpired {
                age_ms,
                lifespan_ms,
            } => {
                write!(
                    f,
                    "received {age_ms} ms after the entropy was published; valid for {lifespan_ms} ms"
                )
            }
            Invalid::IrregularInterval {
                last_beacon_ms,
                interval_ms,
            } => {
                write!(
                    f,
                    "already beaconed at {last_beacon_ms} ms in this {interval_ms} ms interval"
                )
            }
            Invalid::InvalidPacket { what } => {
                write!(f, "beacon does not match its derivation: {what}")
            }
            Invalid::SelfWitness => write!(f, "hotspot witnessed its own beacon"),
            Invalid::TooLate { lag_ms, max_lag_ms } => {
                write!(f, "arrived {lag_ms} ms late; at most {max_lag_ms} ms")
            }
            Invalid::InvalidFrequency {
                offset_hz,
                max_offset_hz,
            } => {
                write!(
                    f,
                    "frequency off by {offset_hz} Hz; at most {max_offset_hz} Hz"
                )
            }
            Invalid::InvalidRegion => write!(
                f,
                "beaconer and witness are not asserted in the same region"
            ),
            Invalid::BelowMinDistance { cells, min_cells } => {
                write!(
                    f,
                    "{cells} res-11 cells from the beaconer; at least {min_cells}"
                )
            }
            Invalid::MaxDistanceExceeded { distance_m, max_km } => {
                write!(f, "{distance_m} m from the beaconer; at most {max_km} km")
            }
            Invalid::BadRssi {
                signal_dbm,
                max_dbm,
            } => {
                write!(
                    f,
                    "RSSI {signal_dbm:.1} dBm is above the free-space maximum {max_dbm:.1} dBm"
                )
            }
            Invalid::Duplicate => {
                write!(f, "a second report from this hotspot for the same beacon")
            }
            Invalid::Stale { waited_ms } => {
                write!(f, "no matching beacon arrived within {waited_ms} ms")
            }
            Invalid::Denied { reason } => write!(f, "hotspot is on the denylist: {reason}"),
            Invalid::DeniedEdge { reason } => {
                write!(f, "beaconer-witness pair is on the denylist: {reason}")
            }
            Invalid::GatewayNoValidWitnesses {
                since_ms,
                window_ms,
            } => write!(
                f,
                "beaconer has not witnessed another hotspot validly within {} (HIP 106); last: {}",
                hours(*window_ms),
                since(*since_ms)
            ),
            Invalid::GatewayNoValidBeacons {
                since_ms,
                window_ms,
            } => write!(
                f,
                "witness has not beaconed validly with witnesses within {} (HIP 106); last: {}",
                hours(*window_ms),
                since(*since_ms)
            ),
            Invalid::SameOwner => write!(f, "witness belongs to the beaconer's owner"),
            Invalid::Untrusted(distrust) => write!(f, "{}: {distrust}", distrust.code()),
            Invalid::Physics(violation) => write!(f, "{violation}"),
        }
    }
}

fn hours(ms: u64) -> String {
    format!("{:.1} h", ms as f64 / 3_600_000.0)
}

fn since(ms: Option<u64>) -> String {
    ms.map_or_else(|| "never".to_string(), |ms| format!("{} ago", hours(ms)))
}
