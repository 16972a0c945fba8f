//! The individual checks: small pure predicates, each returning the reason with its measured
//! value and threshold. Helium's checks keep Helium's semantics exactly (`poc-reference.md` §2).

use super::params::VerifierParams;
use super::poc::{EntropyInfo, HotspotInfo};
use super::reason::Invalid;
use crate::geometry;
use h3o::{CellIndex, Resolution};
use schemas::beacon::{self, RemoteEntropy};
use schemas::proto::BeaconReport;
use schemas::region::channel_plan;

/// `entropy_expired`: received within `[published, published + lifespan]`.
pub fn entropy(
    received_ms: u64,
    entropy: &EntropyInfo,
    params: &VerifierParams,
) -> Result<(), Invalid> {
    let age_ms = received_ms as i64 - entropy.timestamp_ms as i64;
    let lifespan_ms = params.entropy_lifespan.as_millis() as u64;
    if age_ms < 0 || age_ms as u64 > lifespan_ms {
        return Err(Invalid::EntropyExpired {
            age_ms,
            lifespan_ms,
        });
    }
    Ok(())
}

/// `irregular_interval`: the beacon must fall in a later interval bucket than the last one.
pub fn schedule(
    last_beacon_ms: Option<u64>,
    received_ms: u64,
    params: &VerifierParams,
) -> Result<(), Invalid> {
    let interval_ms = params.beacon_interval.as_millis().max(1) as u64;
    match last_beacon_ms {
        Some(last) if received_ms / interval_ms <= last / interval_ms => {
            Err(Invalid::IrregularInterval {
                last_beacon_ms: last,
                interval_ms,
            })
        }
        _ => Ok(()),
    }
}

/// `invalid_packet`: the payload, frequency and datarate must rebuild from the entropy.
pub fn payload(
    report: &BeaconReport,
    entropy: &EntropyInfo,
    info: &HotspotInfo,
) -> Result<(), Invalid> {
    let region = info.region.ok_or(Invalid::InvalidRegion)?;
    let plan = channel_plan(region).map_err(|_| Invalid::InvalidRegion)?;
    let remote = RemoteEntropy {
        data: &report.remote_entropy,
        timestamp_ms: entropy.timestamp_ms,
        version: entropy.version,
    };
    let derived =
        beacon::derive(remote, &report.local_entropy, plan, info.gain_ddbi).map_err(|_| {
            Invalid::InvalidPacket {
                what: "entropy does not derive a beacon",
            }
        })?;
    if derived.data != report.data {
        return Err(Invalid::InvalidPacket { what: "payload" });
    }
    if derived.frequency_hz != report.frequency_hz {
        return Err(Invalid::InvalidPacket { what: "frequency" });
    }
    if derived.datarate as i32 != report.datarate {
        return Err(Invalid::InvalidPacket { what: "datarate" });
    }
    Ok(())
}

/// Receive times the lag check compares against.
#[derive(Debug, Clone, Copy)]
pub struct Lag {
    pub beacon_ms: u64,
    pub first_witness_ms: u64,
}

/// `too_late`: within 4 s of the beacon, or 1.5 s of the first witness if a witness came first.
pub fn lag(received_ms: u64, lag: Lag, params: &VerifierParams) -> Result<(), Invalid> {
    let (first, max) = if lag.beacon_ms <= lag.first_witness_ms {
        (lag.beacon_ms, params.max_beacon_to_witness_lag)
    } else {
        (lag.first_witness_ms, params.max_witness_lag)
    };
    let lag_ms = received_ms.saturating_sub(first);
    let max_lag_ms = max.as_millis() as u64;
    if lag_ms > max_lag_ms {
        return Err(Invalid::TooLate { lag_ms, max_lag_ms });
    }
    Ok(())
}

/// `invalid_frequency`: within the tolerance of the beacon's frequency.
pub fn frequency(beacon_hz: u64, witness_hz: u64, params: &VerifierParams) -> Result<(), Invalid> {
    let offset_hz = beacon_hz.abs_diff(witness_hz);
    if offset_hz > params.max_frequency_offset_hz {
        return Err(Invalid::InvalidFrequency {
            offset_hz,
            max_offset_hz: params.max_frequency_offset_hz,
        });
    }
    Ok(())
}

/// `below_min_distance`: H3 grid distance between the parents at the configured resolution.
pub fn min_distance(a: CellIndex, b: CellIndex, params: &VerifierParams) -> Result<(), Invalid> {
    let res = Resolution::try_from(params.cell_distance_resolution).unwrap_or(Resolution::Eleven);
    let cells = geometry::cell_distance(a, b, res).unwrap_or(0);
    if cells < params.min_cell_distance {
        return Err(Invalid::BelowMinDistance {
            cells,
            min_cells: params.min_cell_distance,
        });
    }
    Ok(())
}

/// `max_distance_exceeded`: whole km (Helium's `distance_m / 1000 > max`). Returns the distance.
pub fn max_distance(a: CellIndex, b: CellIndex, params: &VerifierParams) -> Result<u32, Invalid> {
    let distance_m = geometry::distance_m(a, b);
    if distance_m / 1000 > params.max_distance_km {
        return Err(Invalid::MaxDistanceExceeded {
            distance_m,
            max_km: params.max_distance_km,
        });
    }
    Ok(distance_m)
}

/// `bad_rssi`: not stronger than free-space propagation from the reported transmit power.
pub fn rssi(
    signal_ddbm: i32,
    freq_hz: u64,
    tx_power_ddbm: i32,
    beacon_gain_ddbi: i32,
    witness_gain_ddbi: i32,
    distance_m: u32,
) -> Result<(), Invalid> {
    let max_dbm = geometry::max_rssi_dbm(
        f64::from(tx_power_ddbm) / 10.0,
        beacon_gain_ddbi,
        witness_gain_ddbi,
        freq_hz,
        f64::from(distance_m),
    );
    let signal_dbm = f64::from(signal_ddbm) / 10.0;
    if signal_dbm > max_dbm {
        return Err(Invalid::BadRssi {
            signal_dbm,
            max_dbm,
        });
    }
    Ok(())
}

/// HIP 106 for a beaconer: a valid witness of its own within the window before `received_ms`.
pub fn beacon_reciprocity(
    last_witness_ms: Option<u64>,
    received_ms: u64,
    witness_reports: u32,
    params: &VerifierParams,
) -> Result<(), Invalid> {
    let window_ms = params.reciprocity_window.as_millis() as u64;
    let since_ms = last_witness_ms.map(|last| received_ms.saturating_sub(last));
    match since_ms {
        Some(since) if witness_reports > 0 && since < window_ms => Ok(()),
        _ => Err(Invalid::GatewayNoValidWitnesses {
            since_ms,
            window_ms,
        }),
    }
}

/// HIP 106 for a witness: a beacon of its own with witnesses within the window.
pub fn witness_reciprocity(
    last_reciprocal_beacon_ms: Option<u64>,
    received_ms: u64,
    params: &VerifierParams,
) -> Result<(), Invalid> {
    let window_ms = params.reciprocity_window.as_millis() as u64;
    let since_ms = last_reciprocal_beacon_ms.map(|last| received_ms.saturating_sub(last));
    match since_ms {
        Some(since) if since < window_ms => Ok(()),
        _ => Err(Invalid::GatewayNoValidBeacons {
            since_ms,
            window_ms,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn params() -> VerifierParams {
        VerifierParams::default()
    }

    #[test]
    fn entropy_at_its_bounds() {
        let e = EntropyInfo {
            timestamp_ms: 1_000_000,
            version: 0,
        };
        assert!(entropy(1_000_000, &e, &params()).is_ok());
        assert!(
            entropy(1_180_000, &e, &params()).is_ok(),
            "exactly the lifespan passes"
        );
        assert!(matches!(
            entropy(1_180_001, &e, &params()),
            Err(Invalid::EntropyExpired {
                age_ms: 180_001,
                lifespan_ms: 180_000
            })
        ));
        assert!(matches!(
            entropy(999_999, &e, &params()),
            Err(Invalid::EntropyExpired { age_ms: -1, .. })
        ));
    }

    #[test]
    fn schedule_buckets_by_interval() {
        let six_h = 6 * 3_600_000;
        assert!(schedule(None, 5, &params()).is_ok());
        assert!(
            schedule(Some(six_h - 1), six_h, &params()).is_ok(),
            "next bucket passes"
        );
        assert!(matches!(
            schedule(Some(six_h), 2 * six_h - 1, &params()),
            Err(Invalid::IrregularInterval { .. })
        ));
    }

    #[test]
    fn lag_at_its_bounds() {
        let beacon_first = Lag {
            beacon_ms: 1_000,
            first_witness_ms: 1_500,
        };
        assert!(lag(5_000, beacon_first, &params()).is_ok());
        assert!(matches!(
            lag(5_001, beacon_first, &params()),
            Err(Invalid::TooLate {
                lag_ms: 4_001,
                max_lag_ms: 4_000
            })
        ));
        let witness_first = Lag {
            beacon_ms: 3_000,
            first_witness_ms: 1_000,
        };
        assert!(lag(2_500, witness_first, &params()).is_ok());
        assert!(matches!(
            lag(2_501, witness_first, &params()),
            Err(Invalid::TooLate {
                lag_ms: 1_501,
                max_lag_ms: 1_500
            })
        ));
    }

    #[test]
    fn frequency_at_its_bounds() {
        assert!(frequency(904_500_000, 904_600_000, &params()).is_ok());
        assert!(matches!(
            frequency(904_500_000, 904_600_001, &params()),
            Err(Invalid::InvalidFrequency {
                offset_hz: 100_001,
                ..
            })
        ));
    }

    #[test]
    fn rssi_at_free_space_bound() {
        // 1 km at 915 MHz: FSPL 91.7 dB; 27 dBm + 3 + 3 dB gains -> -58.7 dBm maximum.
        assert!(rssi(-590, 915_000_000, 270, 30, 30, 1000).is_ok());
        assert!(matches!(
            rssi(-580, 915_000_000, 270, 30, 30, 1000),
            Err(Invalid::BadRssi { .. })
        ));
    }

    #[test]
    fn reciprocity_windows() {
        let p = VerifierParams {
            reciprocity_window: Duration::from_secs(100),
            ..params()
        };
        assert!(beacon_reciprocity(Some(1_000), 100_999, 1, &p).is_ok());
        assert!(matches!(
            beacon_reciprocity(Some(1_000), 101_000, 1, &p),
            Err(Invalid::GatewayNoValidWitnesses {
                since_ms: Some(100_000),
                window_ms: 100_000
            })
        ));
        assert!(
            beacon_reciprocity(Some(1_000), 2_000, 0, &p).is_err(),
            "no witness reports: fails as in Helium"
        );
        assert!(matches!(
            beacon_reciprocity(None, 5, 3, &p),
            Err(Invalid::GatewayNoValidWitnesses { since_ms: None, .. })
        ));
        assert!(witness_reciprocity(Some(1_000), 100_999, &p).is_ok());
        assert!(matches!(
            witness_reciprocity(Some(1_000), 101_000, &p),
            Err(Invalid::GatewayNoValidBeacons { .. })
        ));
        assert!(witness_reciprocity(None, 1, &p).is_err());
    }
}
