//! Pure radio and geometry helpers used by the witness checks.
//!
//! These reproduce Helium's `iot_verifier` arithmetic bit for bit (`calc_distance`,
//! `calc_cell_distance`, `calc_fspl`, `calc_expected_rssi`, `verify_witness_freq`,
//! `verify_witness_distance`, `verify_witness_rssi`), so recorded Helium vectors can be replayed.

use h3o::{CellIndex, LatLng, Resolution, error::LocalIjError};
use std::f64::consts::PI;

/// Speed of light used by Helium's free-space path loss, in metres per second.
pub const SPEED_OF_LIGHT_M_PER_S: f64 = 2.998e8;

/// Errors from [`cell_distance`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GeometryError {
    /// The requested parent resolution is finer than one of the cells.
    #[error("cell at resolution {cell_res} has no parent at resolution {parent_res}")]
    NoParent {
        /// Resolution of the cell.
        cell_res: Resolution,
        /// Requested parent resolution.
        parent_res: Resolution,
    },
    /// H3 could not compute a grid distance (too far apart, or pentagon distortion).
    #[error("uncomputable grid distance: {0}")]
    GridDistance(#[from] LocalIjError),
}

/// Great-circle (haversine, h3o's mean Earth radius) distance between the centres of two
/// cells, rounded to whole metres, as Helium's `calc_distance`.
pub fn distance_m(a: CellIndex, b: CellIndex) -> u32 {
    let metres = LatLng::from(a).distance_m(LatLng::from(b)).round();
    // At most half the Earth's circumference (about 2e7 m), so this never saturates.
    metres as u32
}

/// H3 grid distance between the parents of `a` and `b` at `parent_res`
/// (Helium: res 11, minimum 8 cells).
pub fn cell_distance(
    a: CellIndex,
    b: CellIndex,
    parent_res: Resolution,
) -> Result<u32, GeometryError> {
    let parent_a = parent_at(a, parent_res)?;
    let parent_b = parent_at(b, parent_res)?;
    let cells = parent_a.grid_distance(parent_b)?;
    // A grid distance is never negative; treat the impossible case as unreachable-far.
    Ok(u32::try_from(cells).unwrap_or(u32::MAX))
}

fn parent_at(cell: CellIndex, parent_res: Resolution) -> Result<CellIndex, GeometryError> {
    cell.parent(parent_res).ok_or(GeometryError::NoParent {
        cell_res: cell.resolution(),
        parent_res,
    })
}

/// Free-space path loss in dB: `20·log10(4π·d·f/c)` with `c` = [`SPEED_OF_LIGHT_M_PER_S`].
///
/// The operations are done in Helium's order so results are bit-identical.
pub fn fspl_db(freq_hz: u64, distance_m: f64) -> f64 {
    20.0 * (4.0 * PI * distance_m * (freq_hz as f64) / SPEED_OF_LIGHT_M_PER_S).log10()
}

/// Strongest plausible received signal in dBm: transmit power plus both antenna gains minus
/// free-space loss. Gains are given in tenths of dBi and truncated to whole dB by integer
/// division (Rust `/`, towards zero), as Helium's `calc_expected_rssi`.
pub fn max_rssi_dbm(
    tx_power_dbm: f64,
    beacon_gain_ddbi: i32,
    witness_gain_ddbi: i32,
    freq_hz: u64,
    distance_m: f64,
) -> f64 {
    let beacon_gain_db = f64::from(beacon_gain_ddbi / 10);
    let witness_gain_db = f64::from(witness_gain_ddbi / 10);
    tx_power_dbm + beacon_gain_db - fspl_db(freq_hz, distance_m) + witness_gain_db
}

/// Whether a witness heard the beacon on the same frequency: `|beacon - witness| <= tolerance`
/// (Helium: 100 kHz, the edge itself passes).
pub fn frequency_ok(beacon_hz: u64, witness_hz: u64, tolerance_hz: u64) -> bool {
    beacon_hz.abs_diff(witness_hz) <= tolerance_hz
}

/// Helium's maximum-distance rule with integer kilometres: fails only if
/// `distance_m / 1000 > limit_km`, so up to `limit_km` + 0.999 km passes.
pub fn distance_within_limit(distance_m: u32, limit_km: u32) -> bool {
    distance_m / 1000 <= limit_km
}

/// Helium's RSSI upper-bound rule: a reported signal (tenths of dBm) is plausible unless
/// `signal / 10 > max_rssi_dbm`. There is no lower bound.
pub fn rssi_plausible(signal_ddbm: i32, max_rssi_dbm: f64) -> bool {
    f64::from(signal_ddbm) / 10.0 <= max_rssi_dbm
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ealing, London (res 15) and Finsbury Park, London (res 15); Helium's test points.
    const EALING: u64 = 644459695463521437;
    const FINSBURY_PARK: u64 = 644460986971331488;

    fn cell(index: u64) -> CellIndex {
        CellIndex::try_from(index).expect("valid test cell")
    }

    #[test]
    fn distance_m_matches_helium_vector() {
        assert_eq!(distance_m(cell(EALING), cell(FINSBURY_PARK)), 14318);
        assert_eq!(distance_m(cell(FINSBURY_PARK), cell(EALING)), 14318);
        assert_eq!(distance_m(cell(EALING), cell(EALING)), 0);
    }

    #[test]
    fn cell_distance_matches_helium_vector() {
        let d = cell_distance(cell(EALING), cell(FINSBURY_PARK), Resolution::Eleven);
        assert_eq!(d, Ok(360));
        let same = cell_distance(cell(EALING), cell(EALING), Resolution::Eleven);
        assert_eq!(same, Ok(0));
    }

    #[test]
    fn cell_distance_rejects_parent_finer_than_cell() {
        let res11 = cell(EALING)
            .parent(Resolution::Eleven)
            .expect("res 11 parent");
        let err = cell_distance(res11, cell(FINSBURY_PARK), Resolution::Twelve);
        assert_eq!(
            err,
            Err(GeometryError::NoParent {
                cell_res: Resolution::Eleven,
                parent_res: Resolution::Twelve
            })
        );
    }

    #[test]
    fn fspl_matches_textbook_formula() {
        // 20 log10(d_km) + 20 log10(f_MHz) + 32.44 (c = 2.998e8 differs by < 0.01 dB)
        let loss = fspl_db(915_000_000, 1_000.0);
        let textbook = 20.0 * 915f64.log10() + 32.44;
        assert!((loss - textbook).abs() < 0.01, "{loss} vs {textbook}");
        // doubling the distance adds 6.02 dB
        let doubled = fspl_db(915_000_000, 2_000.0);
        assert!((doubled - loss - 20.0 * 2f64.log10()).abs() < 1e-9);
    }

    #[test]
    fn max_rssi_matches_helium_vector() {
        let rssi = max_rssi_dbm(12.0, 81, 83, 867_900_024, 508.0);
        assert_eq!(rssi, -57.334232963418515);
    }

    #[test]
    fn max_rssi_truncates_gains_to_whole_db() {
        let base = max_rssi_dbm(27.0, 0, 0, 904_500_000, 1_000.0);
        assert_eq!(max_rssi_dbm(27.0, 89, 9, 904_500_000, 1_000.0), base + 8.0);
        assert_eq!(
            max_rssi_dbm(27.0, -9, -19, 904_500_000, 1_000.0),
            base - 1.0
        );
    }

    #[test]
    fn frequency_ok_at_tolerance_edges() {
        let beacon = 904_499_968;
        assert!(frequency_ok(beacon, beacon + 100_000, 100_000));
        assert!(!frequency_ok(beacon, beacon + 100_001, 100_000));
        assert!(frequency_ok(beacon, beacon - 100_000, 100_000));
        assert!(!frequency_ok(beacon, beacon - 100_001, 100_000));
    }

    #[test]
    fn distance_limit_uses_integer_kilometres() {
        assert!(distance_within_limit(100_999, 100));
        assert!(!distance_within_limit(101_000, 100));
    }

    #[test]
    fn rssi_plausible_at_bound() {
        assert!(rssi_plausible(-825, -82.5));
        assert!(!rssi_plausible(-824, -82.5));
        assert!(rssi_plausible(-1_500, -82.5)); // no lower bound
    }
}
