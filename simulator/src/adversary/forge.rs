//! [`Forger`]: radio metadata for a beacon as a hotspot at its *asserted* position would
//! plausibly have received it.

use std::sync::Arc;

use hotspot_agent::RxFrame;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use schemas::PublicKey;
use schemas::proto::DataRate;

use super::Directory;
use crate::radio_model::{
    Link, RadioParams, SNR_SATURATION_DB, SNR_SATURATION_NOISE_DB, SNR_STEP_DB, haversine_m,
    time_of_flight_ns,
};

/// Standard deviation of the noise a forger adds around the model's mean RSSI, dB.
pub const FORGED_RSSI_NOISE_DB: f64 = 2.0;
/// A forged RSSI is kept at least this far above the demodulation floor (an implausibly weak
/// reception would give the forger away), dB.
pub const SENSITIVITY_MARGIN_DB: f64 = 1.0;

/// A beacon a forger knows about: the frame as sent, who sent it and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    /// LoRa PHY payload.
    pub payload: Vec<u8>,
    /// Centre frequency, Hz.
    pub frequency_hz: u64,
    /// Spreading factor and bandwidth.
    pub datarate: DataRate,
    /// Conducted power the transmitter used, dBm x 10.
    pub tx_power_ddbm: i32,
    /// The transmitting hotspot.
    pub transmitter: PublicKey,
    /// True time of transmission, ns since the epoch.
    pub tx_time_ns: u64,
}

/// Forges receptions for one hotspot.
///
/// RSSI is the propagation model's mean for the asserted transmitter-receiver distance (with
/// the asserted gains and the real transmit power) plus Normal(0, [`FORGED_RSSI_NOISE_DB`]),
/// never below the sensitivity plus [`SENSITIVITY_MARGIN_DB`]; the SNR is that RSSI over the
/// model's noise floor, saturating like a real concentrator's; the fine timestamp is the true
/// transmit time plus the asserted distance's time of flight plus the model's GPS jitter, and
/// `tmst` a free-running counter consistent with it.
#[derive(Debug)]
pub struct Forger {
    me: PublicKey,
    params: RadioParams,
    directory: Arc<Directory>,
    rng: ChaCha8Rng,
    tmst_offset_us: u32,
}

impl Forger {
    /// A forger for hotspot `me` using the model `params`; draws derive from `seed`.
    pub fn new(me: PublicKey, params: RadioParams, directory: Arc<Directory>, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let tmst_offset_us = rng.random();
        Self {
            me,
            params,
            directory,
            rng,
            tmst_offset_us,
        }
    }

    /// The directory of asserted placements this forger reads.
    pub fn directory(&self) -> Arc<Directory> {
        Arc::clone(&self.directory)
    }

    /// The forged frame for `heard`, or `None` when either end is not in the directory, the
    /// beacon is our own or the datarate is not LoRa.
    pub fn forge(&mut self, heard: &Heard) -> Option<RxFrame> {
        if heard.transmitter == self.me {
            return None;
        }
        let me = self.directory.get(&self.me)?;
        let tx = self.directory.get(&heard.transmitter)?;
        let (sf, bandwidth_hz) = (
            heard.datarate.spreading_factor()?,
            heard.datarate.bandwidth_hz()?,
        );
        let link = Link {
            distance_m: haversine_m(tx.lat, tx.lng, me.lat, me.lng),
            freq_hz: heard.frequency_hz,
            sf,
            bandwidth_hz,
            tx_power_dbm: f64::from(heard.tx_power_ddbm) / 10.0,
            tx_gain_dbi: tx.gain_dbi,
            rx_gain_dbi: me.gain_dbi,
            link_shadowing_db: 0.0,
        };
        let floor = self.params.sensitivity_dbm(sf, bandwidth_hz) + SENSITIVITY_MARGIN_DB;
        let rssi = (self.params.mean_rssi_dbm(&link) + self.gaussian(FORGED_RSSI_NOISE_DB))
            .max(floor + self.rng.random_range(0.0..2.0))
            .round();
        let snr = rssi - self.params.noise_floor_dbm(bandwidth_hz);
        let snr = if snr > SNR_SATURATION_DB {
            SNR_SATURATION_DB + self.gaussian(SNR_SATURATION_NOISE_DB)
        } else {
            snr
        };
        let snr = (snr / SNR_STEP_DB).round() * SNR_STEP_DB;
        let delay_ns =
            time_of_flight_ns(link.distance_m) + self.gaussian(self.params.timestamp_jitter_ns);
        // Delays are microseconds at most; the conversion cannot overflow.
        let at_ns = heard
            .tx_time_ns
            .saturating_add_signed(delay_ns.round() as i64);
        Some(RxFrame {
            payload: heard.payload.clone(),
            frequency_hz: heard.frequency_hz,
            datarate: heard.datarate,
            rssi_ddbm: (rssi * 10.0).round() as i32,
            snr_ddb: (snr * 10.0).round() as i32,
            // Truncation is the counter's wrap-around.
            tmst: self.tmst_offset_us.wrapping_add((at_ns / 1_000) as u32),
            radio_timestamp_ns: at_ns,
        })
    }

    fn gaussian(&mut self, sigma: f64) -> f64 {
        let z: f64 = self.rng.sample(StandardNormal);
        z * sigma
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adversary::Placement;
    use schemas::Keypair;

    fn key(seed: u8) -> PublicKey {
        Keypair::from_seed([seed; 32]).public()
    }

    fn forger() -> Forger {
        let at = |lat| Placement {
            lat,
            lng: 0.0,
            gain_dbi: 3.0,
        };
        let directory = Directory::new([(key(1), at(0.0)), (key(2), at(0.05))]);
        Forger::new(key(2), RadioParams::default(), Arc::new(directory), 7)
    }

    fn heard(from: PublicKey) -> Heard {
        Heard {
            payload: vec![1, 2, 3],
            frequency_hz: 904_600_000,
            datarate: DataRate::Sf10bw125,
            tx_power_ddbm: 270,
            transmitter: from,
            tx_time_ns: 1_000_000_000,
        }
    }

    #[test]
    fn forged_metadata_follows_the_asserted_distance() {
        let mut forger = forger();
        let params = RadioParams::default();
        let distance_m = haversine_m(0.0, 0.0, 0.05, 0.0);
        let link = Link {
            distance_m,
            freq_hz: 904_600_000,
            sf: 10,
            bandwidth_hz: 125_000,
            tx_power_dbm: 27.0,
            tx_gain_dbi: 3.0,
            rx_gain_dbi: 3.0,
            link_shadowing_db: 0.0,
        };
        let mean = params.mean_rssi_dbm(&link);
        for _ in 0..50 {
            let frame = forger.forge(&heard(key(1))).expect("forged");
            let rssi = f64::from(frame.rssi_ddbm) / 10.0;
            assert!(
                (rssi - mean).abs() < 5.0 * FORGED_RSSI_NOISE_DB + 1.0,
                "{rssi} vs {mean}"
            );
            let snr = f64::from(frame.snr_ddb) / 10.0;
            let expected = (rssi - params.noise_floor_dbm(125_000)).min(SNR_SATURATION_DB);
            assert!((snr - expected).abs() < 2.0, "{snr} vs {expected}");
            let delay = frame.radio_timestamp_ns as f64 - 1e9;
            assert!(
                (delay - time_of_flight_ns(distance_m)).abs() < 200.0,
                "{delay}"
            );
        }
    }

    #[test]
    fn own_and_unknown_beacons_are_not_forged() {
        let mut forger = forger();
        assert!(forger.forge(&heard(key(2))).is_none());
        assert!(forger.forge(&heard(key(9))).is_none());
    }
}
