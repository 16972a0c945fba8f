//! The witness path: which received frames are reported, and the report made of them.

use crate::cache::BeaconCache;
use crate::lora::parse_proprietary;
use crate::radio::RxFrame;
use schemas::Keypair;
use schemas::beacon::BEACON_PAYLOAD_SIZE;
use schemas::proto::WitnessReport;
use schemas::sign::SingleSigned;

/// Why a received frame is not witnessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotWitnessed {
    /// Not a LoRaWAN Proprietary frame.
    #[error("not a proprietary frame")]
    NotProprietary,
    /// A Proprietary frame whose payload is not beacon-sized.
    #[error("proprietary payload of {0} bytes is not a beacon")]
    WrongSize(usize),
    /// One of our own beacons, or a beacon already reported.
    #[error("own or already reported beacon")]
    Known,
}

/// The signed witness report for `frame`, made at `now_ms`, or why there is none. A reported
/// beacon is added to `cache` so it is reported once.
pub fn witness_report(
    frame: &RxFrame,
    cache: &mut BeaconCache,
    keypair: &Keypair,
    now_ms: u64,
) -> Result<WitnessReport, NotWitnessed> {
    let data = parse_proprietary(&frame.payload).ok_or(NotWitnessed::NotProprietary)?;
    if data.len() != BEACON_PAYLOAD_SIZE {
        return Err(NotWitnessed::WrongSize(data.len()));
    }
    if !cache.insert(data) {
        return Err(NotWitnessed::Known);
    }
    let mut report = WitnessReport {
        data: data.to_vec(),
        timestamp_ms: now_ms,
        tmst: frame.tmst,
        signal_ddbm: frame.rssi_ddbm,
        snr_ddb: frame.snr_ddb,
        frequency_hz: frame.frequency_hz,
        datarate: frame.datarate as i32,
        radio_timestamp_ns: frame.radio_timestamp_ns,
        ..Default::default()
    };
    report.sign_with(keypair);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lora::proprietary_frame;
    use schemas::proto::DataRate;

    fn frame(payload: Vec<u8>) -> RxFrame {
        RxFrame {
            payload,
            frequency_hz: 904_100_000,
            datarate: DataRate::Sf9bw125,
            rssi_ddbm: -1105,
            snr_ddb: -75,
            tmst: 42,
            radio_timestamp_ns: 7,
        }
    }

    #[test]
    fn a_foreign_beacon_becomes_a_signed_report_once() {
        let key = Keypair::from_seed([1; 32]);
        let mut cache = BeaconCache::new();
        let heard = frame(proprietary_frame(&[9; 51]));
        let report = witness_report(&heard, &mut cache, &key, 1_000).expect("witnessed");
        assert_eq!(report.verify(), Ok(key.public()));
        assert_eq!(
            (report.signal_ddbm, report.snr_ddb, report.tmst),
            (-1105, -75, 42)
        );
        assert_eq!(report.data, vec![9; 51]);
        assert_eq!(report.datarate(), DataRate::Sf9bw125);
        assert_eq!(report.timestamp_ms, 1_000);
        assert_eq!(
            witness_report(&heard, &mut cache, &key, 1_001),
            Err(NotWitnessed::Known)
        );
    }

    #[test]
    fn own_beacons_and_non_beacons_are_ignored() {
        let key = Keypair::from_seed([1; 32]);
        let mut cache = BeaconCache::new();
        cache.insert(&[3; 51]);
        let own = frame(proprietary_frame(&[3; 51]));
        assert_eq!(
            witness_report(&own, &mut cache, &key, 0),
            Err(NotWitnessed::Known)
        );
        let uplink = frame([vec![0x40], vec![0; 51]].concat());
        assert_eq!(
            witness_report(&uplink, &mut cache, &key, 0),
            Err(NotWitnessed::NotProprietary)
        );
        let short = frame(proprietary_frame(&[1; 20]));
        assert_eq!(
            witness_report(&short, &mut cache, &key, 0),
            Err(NotWitnessed::WrongSize(20))
        );
    }
}
