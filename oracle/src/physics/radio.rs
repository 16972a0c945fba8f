//! Two-sided radio plausibility of a witnessed beacon, from a documented propagation model.
//!
//! Model (see `docs/physics.md`): path loss `PL(d) = FSPL(1 m, f) + 10 n log10(d)` with a
//! log-normal shadowing spread around it; receiver noise floor `-174 + 10 log10(B) + NF`; a
//! concentrator demodulates down to a per-spreading-factor SNR floor. The checks only reject
//! what no channel, receiver or concentrator could produce, with margins calibrated on real
//! receptions (`oracle/tests/campusiot.rs`).

use schemas::proto::DataRate;
use serde::{Deserialize, Serialize};

use super::violation::{PhysicsViolation, SignalMetric};

/// Speed of light in vacuum, metres per second.
pub const SPEED_OF_LIGHT_M_PER_S: f64 = 299_792_458.0;
/// Thermal noise power density at 290 K, dBm per hertz.
pub const THERMAL_NOISE_DBM_PER_HZ: f64 = -174.0;

/// Thresholds of the radio checks. `Default` holds our values; each is explained in
/// `docs/physics.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RadioPlausibilityParams {
    /// Steepest plausible path-loss exponent for the RSSI lower bound (urban, indoor
    /// antennas). Default 3.5; our simulator and the CampusIoT fit use 2.9.
    pub max_path_loss_exponent: f64,
    /// Extra loss allowed below the steep-exponent channel for shadowing (terrain, walls,
    /// cable losses), dB. Default 20 (about 2.2 sigma of our 8 dB link + 4 dB packet spread).
    pub shadowing_margin_db: f64,
    /// Added to the asserted distance for the lower bound (assertion and H3 cell error), m.
    /// Default 100.
    pub position_uncertainty_m: f64,
    /// Lowest plausible receiver noise figure, dB: the noise floor is at least
    /// `-174 + 10 log10(bandwidth) + this`. Default 2.
    pub min_noise_figure_db: f64,
    /// How far the implied noise floor `RSSI - SNR` may sit below that lowest floor (integer
    /// RSSI, SNR estimation error at low SNR), dB. Default 6.
    pub snr_tolerance_db: f64,
    /// Largest rise of the noise floor above thermal noise (`-174 + 10 log10(B)`) from
    /// interference, dB. Default 65 (CampusIoT peaks at 60).
    pub max_noise_rise_db: f64,
    /// Reported SNR at or above which concentrators may be saturated, so `RSSI - SNR` is only
    /// an upper estimate of the noise floor and its ceiling is not checked, dB. Default 5.
    pub snr_saturation_knee_db: f64,
    /// Highest SNR a concentrator reports (they saturate near +10 dB), dB. Default 15.
    pub max_snr_db: f64,
    /// Demodulation SNR floors of real SX1302-class concentrators for SF7..=SF12, dB.
    /// Default Semtech's SX127x table lowered by 2.5 dB: -10, -12.5, -15, -17.5, -20, -22.5.
    pub demod_snr_floor_db: [f64; 6],
    /// Margin below the demodulation floors (SNR and RSSI sensitivity), dB. Default 3.
    pub sensitivity_margin_db: f64,
    /// Allowed excess of the reported conducted power over `max EIRP - antenna gain` (packet
    /// forwarder power tables round up, oracles#384), dB. Default 3.
    pub tx_power_tolerance_db: f64,
    /// Mean path-loss exponent for the implied-EIRP statistic. Default 2.9.
    pub mean_path_loss_exponent: f64,
    /// Spread of one witness's implied EIRP around the truth (shadowing, antennas), dB.
    /// Default 10.
    pub eirp_sigma_db: f64,
    /// Standard errors of the median allowed by the EIRP consistency check. Default 3.
    pub eirp_sigmas: f64,
    /// Allowance for the environment's own exponent and reception bias (the same for every
    /// witness of a beacon, so it does not average out), dB. Default 12.
    pub eirp_environment_margin_db: f64,
    /// Fewest witnesses for the EIRP consistency check; below it there is no verdict.
    /// Default 3.
    pub min_witnesses_for_eirp: u32,
}

impl Default for RadioPlausibilityParams {
    fn default() -> Self {
        Self {
            max_path_loss_exponent: 3.5,
            shadowing_margin_db: 20.0,
            position_uncertainty_m: 100.0,
            min_noise_figure_db: 2.0,
            snr_tolerance_db: 6.0,
            max_noise_rise_db: 65.0,
            snr_saturation_knee_db: 5.0,
            max_snr_db: 15.0,
            demod_snr_floor_db: [-10.0, -12.5, -15.0, -17.5, -20.0, -22.5],
            sensitivity_margin_db: 3.0,
            tx_power_tolerance_db: 3.0,
            mean_path_loss_exponent: 2.9,
            eirp_sigma_db: 10.0,
            eirp_sigmas: 3.0,
            eirp_environment_margin_db: 12.0,
            min_witnesses_for_eirp: 3,
        }
    }
}

/// What the beaconer says it transmitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transmission {
    /// Reported conducted transmit power, dBm.
    pub tx_power_dbm: f64,
    /// Asserted antenna gain, dBi.
    pub gain_dbi: f64,
    /// The beacon's datarate.
    pub datarate: DataRate,
}

impl Transmission {
    /// Reported EIRP: conducted power plus antenna gain, dBm.
    pub fn eirp_dbm(&self) -> f64 {
        self.tx_power_dbm + self.gain_dbi
    }
}

/// What one witness says it heard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reception {
    /// Distance between the asserted locations, m.
    pub distance_m: f64,
    /// Frequency heard, Hz.
    pub freq_hz: u64,
    /// Datarate heard.
    pub datarate: DataRate,
    /// Reported RSSI, dBm.
    pub rssi_dbm: f64,
    /// Reported SNR, dB.
    pub snr_db: f64,
    /// Asserted receive antenna gain, dBi.
    pub gain_dbi: f64,
}

/// Free-space path loss at the 1 m reference distance, `20 log10(4 pi f / c)`, dB.
pub fn free_space_loss_1m_db(freq_hz: u64) -> f64 {
    20.0 * (4.0 * std::f64::consts::PI * freq_hz as f64 / SPEED_OF_LIGHT_M_PER_S).log10()
}

/// Log-distance path loss with exponent `exponent`, anchored at free space at 1 m, dB.
/// Distances below 1 m count as 1 m.
pub fn log_distance_loss_db(freq_hz: u64, distance_m: f64, exponent: f64) -> f64 {
    free_space_loss_1m_db(freq_hz) + 10.0 * exponent * distance_m.max(1.0).log10()
}

/// Thermal noise power `-174 + 10 log10(bandwidth)` in a channel, dBm.
pub fn thermal_noise_dbm(bandwidth_hz: u32) -> f64 {
    THERMAL_NOISE_DBM_PER_HZ + 10.0 * f64::from(bandwidth_hz).log10()
}

fn sf_and_bandwidth(datarate: DataRate) -> Result<(u8, u32), PhysicsViolation> {
    match (datarate.spreading_factor(), datarate.bandwidth_hz()) {
        (Some(sf), Some(bw)) => Ok((sf, bw)),
        _ => Err(PhysicsViolation::UnspecifiedDatarate),
    }
}

impl RadioPlausibilityParams {
    /// Demodulation SNR floor of `sf` before the margin, dB (spreading factors outside
    /// 7..=12 are clamped).
    pub fn demod_floor_db(&self, sf: u8) -> f64 {
        self.demod_snr_floor_db[usize::from(sf.clamp(7, 12) - 7)]
    }

    /// Lowest plausible noise floor of a receiver on `bandwidth_hz`, dBm.
    pub fn min_noise_floor_dbm(&self, bandwidth_hz: u32) -> f64 {
        thermal_noise_dbm(bandwidth_hz) + self.min_noise_figure_db
    }

    /// Weakest plausible RSSI for `rx` of `tx`: the steep-exponent channel at the asserted
    /// distance plus the position uncertainty, minus the shadowing margin, dBm.
    pub fn min_rssi_dbm(&self, tx: &Transmission, rx: &Reception) -> f64 {
        let distance_m = rx.distance_m + self.position_uncertainty_m;
        let loss = log_distance_loss_db(rx.freq_hz, distance_m, self.max_path_loss_exponent);
        tx.eirp_dbm() + rx.gain_dbi - loss - self.shadowing_margin_db
    }
}

/// Every per-witness radio check, in order: datarate, sensitivity, SNR consistency, RSSI
/// lower bound. The first failure is returned.
pub fn check_reception(
    tx: &Transmission,
    rx: &Reception,
    params: &RadioPlausibilityParams,
) -> Result<(), PhysicsViolation> {
    check_datarate(tx, rx)?;
    check_sensitivity(rx, params)?;
    check_snr_consistency(rx, params)?;
    check_rssi_lower_bound(tx, rx, params)
}

/// (a) `rssi_below_lower_bound`: the RSSI may not be below [`RadioPlausibilityParams::min_rssi_dbm`].
/// The bound itself passes.
pub fn check_rssi_lower_bound(
    tx: &Transmission,
    rx: &Reception,
    params: &RadioPlausibilityParams,
) -> Result<(), PhysicsViolation> {
    let min_dbm = params.min_rssi_dbm(tx, rx);
    if rx.rssi_dbm < min_dbm {
        return Err(PhysicsViolation::RssiTooLow {
            rssi_dbm: rx.rssi_dbm,
            min_dbm,
        });
    }
    Ok(())
}

/// (b) `snr_inconsistent` / `snr_above_saturation`: the implied noise floor `RSSI - SNR` must
/// be at least the lowest receiver floor minus the tolerance; below the saturation knee it
/// must also be at most thermal noise plus the largest interference rise; the SNR itself may
/// not exceed the saturation maximum. Bounds pass.
pub fn check_snr_consistency(
    rx: &Reception,
    params: &RadioPlausibilityParams,
) -> Result<(), PhysicsViolation> {
    let (_, bandwidth_hz) = sf_and_bandwidth(rx.datarate)?;
    if rx.snr_db > params.max_snr_db {
        return Err(PhysicsViolation::SnrAboveSaturation {
            snr_db: rx.snr_db,
            max_snr_db: params.max_snr_db,
        });
    }
    let implied = rx.rssi_dbm - rx.snr_db;
    let low = params.min_noise_floor_dbm(bandwidth_hz) - params.snr_tolerance_db;
    let high = thermal_noise_dbm(bandwidth_hz) + params.max_noise_rise_db;
    let bound_dbm = if implied < low {
        low
    } else if rx.snr_db < params.snr_saturation_knee_db && implied > high {
        high
    } else {
        return Ok(());
    };
    Err(PhysicsViolation::SnrInconsistent {
        rssi_dbm: rx.rssi_dbm,
        snr_db: rx.snr_db,
        implied_noise_floor_dbm: implied,
        bound_dbm,
    })
}

/// (c) `below_sensitivity`: the SNR may not be below the spreading factor's demodulation floor
/// minus the margin, nor the RSSI below the lowest noise floor plus that. Floors pass.
pub fn check_sensitivity(
    rx: &Reception,
    params: &RadioPlausibilityParams,
) -> Result<(), PhysicsViolation> {
    let (sf, bandwidth_hz) = sf_and_bandwidth(rx.datarate)?;
    let snr_floor = params.demod_floor_db(sf) - params.sensitivity_margin_db;
    let rssi_floor = params.min_noise_floor_dbm(bandwidth_hz) + snr_floor;
    let (metric, measured, floor) = if rx.snr_db < snr_floor {
        (SignalMetric::Snr, rx.snr_db, snr_floor)
    } else if rx.rssi_dbm < rssi_floor {
        (SignalMetric::Rssi, rx.rssi_dbm, rssi_floor)
    } else {
        return Ok(());
    };
    Err(PhysicsViolation::BelowSensitivity {
        metric,
        measured,
        floor,
        spreading_factor: sf,
    })
}

/// (d) `datarate_mismatch`: the witness must have heard the beacon's datarate.
pub fn check_datarate(tx: &Transmission, rx: &Reception) -> Result<(), PhysicsViolation> {
    sf_and_bandwidth(rx.datarate)?;
    if rx.datarate != tx.datarate {
        return Err(PhysicsViolation::DatarateMismatch {
            beacon: tx.datarate,
            witness: rx.datarate,
        });
    }
    Ok(())
}

/// (e) `tx_power_above_region_limit`: conducted power at most
/// `region_max_eirp_dbm - gain + tolerance`. The limit passes.
pub fn check_tx_power_limit(
    tx: &Transmission,
    region_max_eirp_dbm: f64,
    params: &RadioPlausibilityParams,
) -> Result<(), PhysicsViolation> {
    let max_dbm = region_max_eirp_dbm - tx.gain_dbi + params.tx_power_tolerance_db;
    if tx.tx_power_dbm > max_dbm {
        return Err(PhysicsViolation::TxPowerAboveRegionLimit {
            tx_power_dbm: tx.tx_power_dbm,
            max_dbm,
        });
    }
    Ok(())
}

/// The EIRP one witness implies: `RSSI - rx gain + mean path loss at its distance`, dBm.
pub fn implied_eirp_dbm(rx: &Reception, params: &RadioPlausibilityParams) -> f64 {
    rx.rssi_dbm - rx.gain_dbi
        + log_distance_loss_db(rx.freq_hz, rx.distance_m, params.mean_path_loss_exponent)
}

/// Median implied EIRP over `witnesses`, dBm; `None` for none.
pub fn median_implied_eirp_dbm(
    witnesses: &[Reception],
    params: &RadioPlausibilityParams,
) -> Option<f64> {
    let mut values: Vec<f64> = witnesses
        .iter()
        .map(|rx| implied_eirp_dbm(rx, params))
        .collect();
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// Largest allowed `|median implied EIRP - reported EIRP|` for `witnesses` witnesses:
/// `environment margin + sigmas * 1.2533 * sigma / sqrt(witnesses)` (1.2533 sigma/sqrt(k) is
/// the standard error of a median of k normal draws), dB.
pub fn max_eirp_deviation_db(witnesses: u32, params: &RadioPlausibilityParams) -> f64 {
    const MEDIAN_EFFICIENCY: f64 = 1.2533;
    let k = f64::from(witnesses.max(1));
    params.eirp_environment_margin_db
        + params.eirp_sigmas * MEDIAN_EFFICIENCY * params.eirp_sigma_db / k.sqrt()
}

/// (f) `tx_power_inconsistent`: the median implied EIRP of the witnesses (pass only those that
/// passed the other checks) may differ from the reported EIRP by at most
/// [`max_eirp_deviation_db`]. No verdict (`Ok`) below `min_witnesses_for_eirp` witnesses.
pub fn check_tx_power_consistency(
    tx: &Transmission,
    witnesses: &[Reception],
    params: &RadioPlausibilityParams,
) -> Result<(), PhysicsViolation> {
    let count = u32::try_from(witnesses.len()).unwrap_or(u32::MAX);
    if count < params.min_witnesses_for_eirp.max(1) {
        return Ok(());
    }
    let Some(implied_eirp_dbm) = median_implied_eirp_dbm(witnesses, params) else {
        return Ok(());
    };
    let max_deviation_db = max_eirp_deviation_db(count, params);
    let reported_eirp_dbm = tx.eirp_dbm();
    if (implied_eirp_dbm - reported_eirp_dbm).abs() > max_deviation_db {
        return Err(PhysicsViolation::TxPowerInconsistent {
            reported_eirp_dbm,
            implied_eirp_dbm,
            max_deviation_db,
            witnesses: count,
        });
    }
    Ok(())
}

#[cfg(test)]
#[path = "radio_tests.rs"]
mod tests;
