//! Physics of the simulated LoRa radio medium.
//!
//! A log-distance path-loss model with log-normal shadowing, a thermal noise floor, the Semtech
//! demodulation SNR floors per spreading factor and a GPS fine-timestamp error. Shadowing has two
//! parts: a fixed offset per link (terrain, antenna placement; [`link_shadowing_db`], carried in
//! [`Link::link_shadowing_db`]) and a fresh draw per packet. Everything here is pure: randomness
//! comes only from the caller's RNG or seed, so a seeded RNG gives repeatable runs.
//!
//! The defaults of [`RadioParams`] are checked against real LoRa receptions (the CampusIoT Helium
//! dataset) by `tests/radio_model.rs` through [`fit_log_distance`].

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Speed of light in vacuum, metres per second.
pub const SPEED_OF_LIGHT_M_PER_S: f64 = 299_792_458.0;
/// Mean Earth radius (IUGG), metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// Thermal noise power density at 290 K, dBm per hertz.
pub const THERMAL_NOISE_DBM_PER_HZ: f64 = -174.0;
/// SNR at which an SX130x concentrator's reported SNR saturates for strong signals, dB.
pub const SNR_SATURATION_DB: f64 = 10.0;
/// Standard deviation of the reported SNR around [`SNR_SATURATION_DB`] once saturated, dB.
pub const SNR_SATURATION_NOISE_DB: f64 = 0.3;
/// Resolution of the reported RSSI, dB.
pub const RSSI_STEP_DB: f64 = 1.0;
/// Resolution of the reported SNR, dB.
pub const SNR_STEP_DB: f64 = 0.25;

/// Parameters of the radio medium: the scenario's `[radio]` table.
///
/// Every field has a default, so an empty or missing `[radio]` table is valid.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RadioParams {
    /// Log-distance path-loss exponent `n` (2 is free space). Default 2.9.
    pub path_loss_exponent: f64,
    /// Path loss at the 1 m reference distance, dB. Default (`None`): free-space loss at 1 m for
    /// the link's frequency, `20 log10(4 pi f / c)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_loss_db: Option<f64>,
    /// Standard deviation of the log-normal shadowing drawn afresh for each reception, dB.
    /// Default 4.0 (CampusIoT: 3.8 dB around each link's own mean).
    pub shadowing_sigma_db: f64,
    /// Standard deviation of the fixed shadowing offset of each link (terrain, antenna
    /// placement), drawn once per pair of nodes by [`link_shadowing_db`], dB. Default 8.0
    /// (CampusIoT: 12.8 dB between links, which also holds unrecorded EIRP and antenna
    /// differences that a scenario models through per-hotspot gains).
    pub link_shadowing_sigma_db: f64,
    /// Receiver noise figure, dB; noise floor = -174 + 10 log10(bandwidth) + NF. Default 6.0.
    pub noise_figure_db: f64,
    /// Distance beyond which nothing is delivered, km. Default 60.
    pub max_range_km: f64,
    /// Standard deviation of a GPS fine receive timestamp's error, ns. Default 20.0.
    pub timestamp_jitter_ns: f64,
    /// Delay between a reception and the hotspot reporting it, ms (applied by the simulator's
    /// scheduler, not by [`RadioParams::receive`]). Default 0.
    pub processing_delay_ms: u64,
}

impl Default for RadioParams {
    fn default() -> Self {
        Self {
            path_loss_exponent: 2.9,
            reference_loss_db: None,
            shadowing_sigma_db: 4.0,
            link_shadowing_sigma_db: 8.0,
            noise_figure_db: 6.0,
            max_range_km: 60.0,
            timestamp_jitter_ns: 20.0,
            processing_delay_ms: 0,
        }
    }
}

/// One transmitter-receiver pair for one packet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// Great-circle (or straight-line) distance between the antennas, metres.
    pub distance_m: f64,
    /// Carrier frequency, Hz.
    pub freq_hz: u64,
    /// LoRa spreading factor, 7..=12.
    pub sf: u8,
    /// Channel bandwidth, Hz (125_000 for most uplink channels).
    pub bandwidth_hz: u32,
    /// Conducted transmit power, dBm.
    pub tx_power_dbm: f64,
    /// Transmit antenna gain, dBi.
    pub tx_gain_dbi: f64,
    /// Receive antenna gain, dBi.
    pub rx_gain_dbi: f64,
    /// Fixed extra path loss of this link, dB (see [`link_shadowing_db`]); 0 for none.
    pub link_shadowing_db: f64,
}

/// What a receiving concentrator reports for a delivered packet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reception {
    /// Received signal strength, dBm, rounded to [`RSSI_STEP_DB`].
    pub rssi_dbm: f64,
    /// Signal-to-noise ratio, dB, rounded to [`SNR_STEP_DB`] and saturating near
    /// [`SNR_SATURATION_DB`].
    pub snr_db: f64,
    /// True propagation time over the link, ns.
    pub time_of_flight_ns: f64,
    /// Error of the receive timestamp (reported minus true), ns.
    pub timestamp_error_ns: f64,
}

impl RadioParams {
    /// Mean (unshadowed) path loss in dB at `distance_m` (clamped to at least 1 m).
    pub fn mean_path_loss_db(&self, distance_m: f64, freq_hz: u64) -> f64 {
        let reference = self
            .reference_loss_db
            .unwrap_or_else(|| free_space_loss_1m_db(freq_hz));
        reference + 10.0 * self.path_loss_exponent * distance_m.max(1.0).log10()
    }

    /// Receiver noise floor in dBm for a channel of `bandwidth_hz`.
    pub fn noise_floor_dbm(&self, bandwidth_hz: u32) -> f64 {
        THERMAL_NOISE_DBM_PER_HZ + 10.0 * f64::from(bandwidth_hz).log10() + self.noise_figure_db
    }

    /// Weakest signal in dBm that can be demodulated at `sf` on a `bandwidth_hz` channel.
    pub fn sensitivity_dbm(&self, sf: u8, bandwidth_hz: u32) -> f64 {
        self.noise_floor_dbm(bandwidth_hz) + demod_snr_floor_db(sf)
    }

    /// Mean received power in dBm over `link`, before shadowing (neither the link's fixed
    /// offset nor the per-packet draw).
    pub fn mean_rssi_dbm(&self, link: &Link) -> f64 {
        link.tx_power_dbm + link.tx_gain_dbi + link.rx_gain_dbi
            - self.mean_path_loss_db(link.distance_m, link.freq_hz)
    }

    /// Simulates one packet over `link`: `None` if it is not delivered (out of range or below
    /// the demodulation floor), otherwise what the receiver reports.
    pub fn receive(&self, link: &Link, rng: &mut impl Rng) -> Option<Reception> {
        if link.distance_m > self.max_range_km * 1000.0 {
            return None;
        }
        let rssi = self.mean_rssi_dbm(link)
            - link.link_shadowing_db
            - gaussian(rng, self.shadowing_sigma_db);
        let snr = rssi - self.noise_floor_dbm(link.bandwidth_hz);
        if snr < demod_snr_floor_db(link.sf) {
            return None;
        }
        let reported_snr = if snr > SNR_SATURATION_DB {
            SNR_SATURATION_DB + gaussian(rng, SNR_SATURATION_NOISE_DB)
        } else {
            snr
        };
        Some(Reception {
            rssi_dbm: round_to(rssi, RSSI_STEP_DB),
            snr_db: round_to(reported_snr, SNR_STEP_DB),
            time_of_flight_ns: time_of_flight_ns(link.distance_m),
            timestamp_error_ns: gaussian(rng, self.timestamp_jitter_ns),
        })
    }
}

/// The fixed shadowing of the link between the nodes with keys `a` and `b`, dB: one draw from
/// Normal(0, `sigma_db`) determined by `seed` and the two keys.
///
/// Symmetric (`link_shadowing_db(s, a, b, σ) == link_shadowing_db(s, b, a, σ)`) and
/// deterministic: the sorted keys and the seed are hashed (SHA-256, length-prefixed) into the
/// seed of a ChaCha RNG, so the value is stable across runs, platforms and Rust versions.
pub fn link_shadowing_db(seed: u64, a: &[u8], b: &[u8], sigma_db: f64) -> f64 {
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    let mut hasher = Sha256::new();
    hasher.update(b"coverage-proof/link-shadowing\0");
    hasher.update(seed.to_le_bytes());
    for key in [first, second] {
        hasher.update((key.len() as u64).to_le_bytes());
        hasher.update(key);
    }
    let mut rng = ChaCha8Rng::from_seed(hasher.finalize().into());
    gaussian(&mut rng, sigma_db)
}

/// SNR in dB an SX127x/SX130x needs to demodulate at spreading factor `sf`
/// (SF7 -7.5 ... SF12 -20, 2.5 dB per step). Values outside 7..=12 are clamped into that range.
pub fn demod_snr_floor_db(sf: u8) -> f64 {
    let sf = sf.clamp(7, 12);
    -7.5 - 2.5 * f64::from(sf - 7)
}

/// Free-space path loss in dB at the 1 m reference distance: `20 log10(4 pi f / c)`.
pub fn free_space_loss_1m_db(freq_hz: u64) -> f64 {
    // Frequencies are below 2^53, so the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let freq = freq_hz as f64;
    20.0 * (4.0 * std::f64::consts::PI * freq / SPEED_OF_LIGHT_M_PER_S).log10()
}

/// Propagation time over `distance_m` at the speed of light, ns.
pub fn time_of_flight_ns(distance_m: f64) -> f64 {
    distance_m / SPEED_OF_LIGHT_M_PER_S * 1e9
}

/// Great-circle distance in metres between two points given in degrees (haversine formula).
pub fn haversine_m(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let dphi = phi2 - phi1;
    let dlambda = (lng2 - lng1).to_radians();
    let a = (dphi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (dlambda / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// Least-squares fit of a log-distance model `PL = A + 10 n log10(d)` to
/// `(distance_m, path_loss_db)` samples, with the intercept `A` free.
///
/// Returns `(n, sigma)`: the exponent and the root-mean-square residual in dB. Distances are
/// clamped to at least 1 m. Returns `(NaN, NaN)` for fewer than two samples or when all samples
/// share one distance.
pub fn fit_log_distance(samples: &[(f64, f64)]) -> (f64, f64) {
    let (exponent, intercept) = fit_line(samples);
    (exponent, rms_residual(samples, intercept, exponent))
}

/// Like [`fit_log_distance`] but with the intercept fixed at `reference_loss_db` (the loss at
/// 1 m), so only the exponent is fitted. Returns `(n, sigma)`; `(NaN, NaN)` if `samples` is
/// empty or every distance is at most 1 m.
pub fn fit_log_distance_anchored(samples: &[(f64, f64)], reference_loss_db: f64) -> (f64, f64) {
    let (sxy, sxx) = samples.iter().fold((0.0, 0.0), |(sxy, sxx), &(d, pl)| {
        let x = 10.0 * d.max(1.0).log10();
        (sxy + x * (pl - reference_loss_db), sxx + x * x)
    });
    if sxx <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    let exponent = sxy / sxx;
    (exponent, rms_residual(samples, reference_loss_db, exponent))
}

/// Ordinary least squares of `pl` on `10 log10(d)`: returns `(slope, intercept)`.
fn fit_line(samples: &[(f64, f64)]) -> (f64, f64) {
    #[allow(clippy::cast_precision_loss)]
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return (f64::NAN, f64::NAN);
    }
    let xs = samples.iter().map(|&(d, _)| 10.0 * d.max(1.0).log10());
    let mean_x = xs.clone().sum::<f64>() / n;
    let mean_y = samples.iter().map(|&(_, pl)| pl).sum::<f64>() / n;
    let (sxy, sxx) = xs
        .zip(samples)
        .fold((0.0, 0.0), |(sxy, sxx), (x, &(_, pl))| {
            let dx = x - mean_x;
            (sxy + dx * (pl - mean_y), sxx + dx * dx)
        });
    if sxx <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    let slope = sxy / sxx;
    (slope, mean_y - slope * mean_x)
}

/// Root-mean-square residual of `samples` around `intercept + 10 n log10(d)`.
fn rms_residual(samples: &[(f64, f64)], intercept: f64, exponent: f64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let n = samples.len() as f64;
    let sum_sq: f64 = samples
        .iter()
        .map(|&(d, pl)| (pl - intercept - 10.0 * exponent * d.max(1.0).log10()).powi(2))
        .sum();
    (sum_sq / n).sqrt()
}

/// A draw from Normal(0, `sigma`); `sigma` of zero gives exactly zero.
fn gaussian(rng: &mut impl Rng, sigma: f64) -> f64 {
    let z: f64 = rng.sample(StandardNormal);
    z * sigma
}

/// Rounds `value` to the nearest multiple of `step`.
fn round_to(value: f64, step: f64) -> f64 {
    (value / step).round() * step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_at_868_mhz_is_31_2_db() {
        assert!((free_space_loss_1m_db(868_100_000) - 31.22).abs() < 0.01);
    }

    #[test]
    fn noise_floor_for_125_khz() {
        let floor = RadioParams::default().noise_floor_dbm(125_000);
        assert!((floor - -117.03).abs() < 0.01, "{floor}");
    }

    #[test]
    fn demod_floors_match_semtech_table() {
        let floors: Vec<f64> = (7..=12).map(demod_snr_floor_db).collect();
        assert_eq!(floors, [-7.5, -10.0, -12.5, -15.0, -17.5, -20.0]);
    }

    #[test]
    fn haversine_one_degree_of_latitude() {
        let d = haversine_m(0.0, 0.0, 1.0, 0.0);
        assert!((d - 111_195.08).abs() < 0.1, "{d}");
    }

    #[test]
    fn fit_recovers_exact_line() {
        let samples: Vec<(f64, f64)> = [10.0, 100.0, 1000.0]
            .iter()
            .map(|&d| (d, 40.0 + 30.0 * f64::log10(d)))
            .collect();
        let (n, sigma) = fit_log_distance(&samples);
        assert!((n - 3.0).abs() < 1e-9 && sigma < 1e-9);
        let (n, sigma) = fit_log_distance_anchored(&samples, 40.0);
        assert!((n - 3.0).abs() < 1e-9 && sigma < 1e-9);
    }

    #[test]
    fn link_shadowing_is_symmetric_and_seeded() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let ab = link_shadowing_db(7, &a, &b, 8.0);
        assert_eq!(ab, link_shadowing_db(7, &b, &a, 8.0));
        assert_ne!(ab, link_shadowing_db(8, &a, &b, 8.0));
        assert_ne!(ab, link_shadowing_db(7, &a, &[3u8; 32], 8.0));
        assert_eq!(link_shadowing_db(7, &a, &b, 0.0), 0.0);
        assert!((link_shadowing_db(7, &a, &b, 16.0) - 2.0 * ab).abs() < 1e-12);
    }

    #[test]
    fn fit_of_one_sample_is_nan() {
        assert!(fit_log_distance(&[(10.0, 50.0)]).0.is_nan());
    }
}
