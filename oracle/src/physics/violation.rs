//! Why a report failed a physics check: each variant carries the measured value and the
//! threshold it was held against, so the verifier can store and explain it.

use schemas::proto::DataRate;
use std::fmt;

/// Which signal measurement a sensitivity check was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalMetric {
    /// Received signal strength, dBm.
    Rssi,
    /// Signal-to-noise ratio, dB.
    Snr,
}

/// A failed physics check.
#[derive(Debug, Clone, PartialEq)]
pub enum PhysicsViolation {
    /// Weaker than the weakest plausible channel at the asserted distance allows.
    RssiTooLow {
        /// Reported RSSI, dBm.
        rssi_dbm: f64,
        /// Lowest plausible RSSI, dBm.
        min_dbm: f64,
    },
    /// The implied noise floor `RSSI - SNR` is outside what a receiver can have.
    SnrInconsistent {
        /// Reported RSSI, dBm.
        rssi_dbm: f64,
        /// Reported SNR, dB.
        snr_db: f64,
        /// `RSSI - SNR`, dBm.
        implied_noise_floor_dbm: f64,
        /// The bound it crossed (the lowest or the highest plausible noise floor), dBm.
        bound_dbm: f64,
    },
    /// A reported SNR above anything a saturating LoRa concentrator reports.
    SnrAboveSaturation {
        /// Reported SNR, dB.
        snr_db: f64,
        /// Highest plausible reported SNR, dB.
        max_snr_db: f64,
    },
    /// A signal the spreading factor could not have decoded.
    BelowSensitivity {
        /// RSSI or SNR.
        metric: SignalMetric,
        /// The reported value (dBm for RSSI, dB for SNR).
        measured: f64,
        /// The demodulation floor with its margin (same unit).
        floor: f64,
        /// Spreading factor of the witness's datarate.
        spreading_factor: u8,
    },
    /// The witness reports another datarate than the beacon was sent with.
    DatarateMismatch {
        /// The beacon's datarate.
        beacon: DataRate,
        /// The witness's datarate.
        witness: DataRate,
    },
    /// The report names no spreading factor and bandwidth.
    UnspecifiedDatarate,
    /// Reported conducted power above the region's maximum EIRP minus the antenna gain.
    TxPowerAboveRegionLimit {
        /// Reported conducted transmit power, dBm.
        tx_power_dbm: f64,
        /// Region maximum EIRP - asserted gain + tolerance, dBm.
        max_dbm: f64,
    },
    /// What the witnesses heard implies an EIRP far from the reported one.
    TxPowerInconsistent {
        /// Reported conducted power + asserted gain, dBm.
        reported_eirp_dbm: f64,
        /// Median over witnesses of `RSSI - rx gain + expected path loss`, dBm.
        implied_eirp_dbm: f64,
        /// Largest allowed `|implied - reported|` for this many witnesses, dB.
        max_deviation_db: f64,
        /// Witnesses the median was taken over.
        witnesses: u32,
    },
    /// Time difference of arrival puts the beacon's origin far from its asserted location.
    BeaconOriginMismatch {
        /// Estimated origin, degrees.
        estimated_lat: f64,
        /// Estimated origin, degrees.
        estimated_lng: f64,
        /// Distance from the estimate to the asserted location, m.
        error_m: f64,
        /// Largest allowed distance, m.
        threshold_m: f64,
        /// Witnesses whose timestamps agree on the estimate (the consensus).
        consensus_witnesses: u32,
        /// Witnesses whose timestamps agree with the asserted location.
        assertion_support: u32,
    },
    /// A witness's radio timestamp disagrees with its asserted position (solved without it).
    WitnessTimingInconsistent {
        /// Reported minus predicted arrival time, ns (negative: earlier than possible).
        residual_ns: f64,
        /// Largest allowed `|residual|`, ns.
        threshold_ns: f64,
    },
}

impl PhysicsViolation {
    /// Stable snake_case code, for storage.
    pub fn code(&self) -> &'static str {
        match self {
            Self::RssiTooLow { .. } => "rssi_below_lower_bound",
            Self::SnrInconsistent { .. } => "snr_inconsistent",
            Self::SnrAboveSaturation { .. } => "snr_above_saturation",
            Self::BelowSensitivity { .. } => "below_sensitivity",
            Self::DatarateMismatch { .. } => "datarate_mismatch",
            Self::UnspecifiedDatarate => "unspecified_datarate",
            Self::TxPowerAboveRegionLimit { .. } => "tx_power_above_region_limit",
            Self::TxPowerInconsistent { .. } => "tx_power_inconsistent",
            Self::BeaconOriginMismatch { .. } => "beacon_origin_mismatch",
            Self::WitnessTimingInconsistent { .. } => "witness_timing_inconsistent",
        }
    }

    /// The measured value and the threshold it was held against; `None` for the datarate
    /// checks, which compare labels.
    pub fn measured_and_threshold(&self) -> Option<(f64, f64)> {
        match *self {
            Self::RssiTooLow { rssi_dbm, min_dbm } => Some((rssi_dbm, min_dbm)),
            Self::SnrInconsistent {
                implied_noise_floor_dbm,
                bound_dbm,
                ..
            } => Some((implied_noise_floor_dbm, bound_dbm)),
            Self::SnrAboveSaturation { snr_db, max_snr_db } => Some((snr_db, max_snr_db)),
            Self::BelowSensitivity {
                measured, floor, ..
            } => Some((measured, floor)),
            Self::DatarateMismatch { .. } | Self::UnspecifiedDatarate => None,
            Self::TxPowerAboveRegionLimit {
                tx_power_dbm,
                max_dbm,
            } => Some((tx_power_dbm, max_dbm)),
            Self::TxPowerInconsistent {
                reported_eirp_dbm,
                implied_eirp_dbm,
                max_deviation_db,
                ..
            } => Some((
                (implied_eirp_dbm - reported_eirp_dbm).abs(),
                max_deviation_db,
            )),
            Self::BeaconOriginMismatch {
                error_m,
                threshold_m,
                ..
            } => Some((error_m, threshold_m)),
            Self::WitnessTimingInconsistent {
                residual_ns,
                threshold_ns,
            } => Some((residual_ns.abs(), threshold_ns)),
        }
    }
}

impl fmt::Display for PhysicsViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RssiTooLow { rssi_dbm, min_dbm } => write!(
                f,
                "RSSI {rssi_dbm:.1} dBm is below the weakest plausible {min_dbm:.1} dBm"
            ),
            Self::SnrInconsistent {
                rssi_dbm,
                snr_db,
                implied_noise_floor_dbm,
                bound_dbm,
            } => write!(
                f,
                "RSSI {rssi_dbm:.1} dBm with SNR {snr_db:.1} dB implies a noise floor of \
                 {implied_noise_floor_dbm:.1} dBm, beyond the plausible {bound_dbm:.1} dBm"
            ),
            Self::SnrAboveSaturation { snr_db, max_snr_db } => write!(
                f,
                "SNR {snr_db:.1} dB is above the {max_snr_db:.1} dB concentrators saturate at"
            ),
            Self::BelowSensitivity {
                metric,
                measured,
                floor,
                spreading_factor,
            } => {
                let (name, unit) = match metric {
                    SignalMetric::Rssi => ("RSSI", "dBm"),
                    SignalMetric::Snr => ("SNR", "dB"),
                };
                write!(
                    f,
                    "{name} {measured:.1} {unit} is below the SF{spreading_factor} \
                     demodulation floor {floor:.1} {unit}"
                )
            }
            Self::DatarateMismatch { beacon, witness } => write!(
                f,
                "heard at {} but the beacon was sent at {}",
                witness.as_str_name(),
                beacon.as_str_name()
            ),
            Self::UnspecifiedDatarate => write!(f, "no datarate reported"),
            Self::TxPowerAboveRegionLimit {
                tx_power_dbm,
                max_dbm,
            } => write!(
                f,
                "transmit power {tx_power_dbm:.1} dBm is above the region limit {max_dbm:.1} dBm"
            ),
            Self::TxPowerInconsistent {
                reported_eirp_dbm,
                implied_eirp_dbm,
                max_deviation_db,
                witnesses,
            } => write!(
                f,
                "{witnesses} witnesses imply an EIRP of {implied_eirp_dbm:.1} dBm, reported \
                 {reported_eirp_dbm:.1} dBm; at most {max_deviation_db:.1} dB apart"
            ),
            Self::BeaconOriginMismatch {
                estimated_lat,
                estimated_lng,
                error_m,
                threshold_m,
                consensus_witnesses,
                assertion_support,
            } => write!(
                f,
                "time of arrival puts the beacon at {estimated_lat:.5}, {estimated_lng:.5}, \
                 {error_m:.0} m from its asserted location; at most {threshold_m:.0} m \
                 ({consensus_witnesses} witnesses agree on the estimate, \
                 {assertion_support} with the assertion)"
            ),
            Self::WitnessTimingInconsistent {
                residual_ns,
                threshold_ns,
            } => write!(
                f,
                "radio timestamp is {residual_ns:.0} ns off its asserted position; at most \
                 {threshold_ns:.0} ns"
            ),
        }
    }
}
