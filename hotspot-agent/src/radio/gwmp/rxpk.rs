//! An `rxpk` object (one received packet of a `PUSH_DATA`) as an [`RxFrame`].
//!
//! Parsing is lenient about what real forwarders vary (integer or float numbers, v1 `rssi`/
//! `rssis` or v2 `rsig` per-antenna arrays, missing optional fields) and strict about what a
//! witness needs: a LoRa packet with CRC OK, a known data rate, a frequency and a payload.

use crate::radio::RxFrame;
use base64::Engine as _;
use schemas::proto::DataRate;
use serde_json::{Map, Value};
use std::time::UNIX_EPOCH;

/// Standard padded base64, as `lora_pkt_fwd` writes `data`.
pub(crate) const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// GPS epoch (1980-01-06T00:00:00Z) in Unix seconds.
const GPS_EPOCH_UNIX_S: u64 = 315_964_800;
/// GPS time is ahead of UTC by this many leap seconds (since 2017).
const GPS_LEAP_SECONDS: u64 = 18;
/// Frequencies outside this range (MHz) are not LoRa.
const FREQ_RANGE_MHZ: std::ops::RangeInclusive<f64> = 100.0..=3000.0;

/// Why an `rxpk` is not a witness candidate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RxpkSkip {
    /// Not a JSON object.
    #[error("rxpk is not an object")]
    NotAnObject,
    /// CRC failed (`stat` -1) or absent (`stat` 0).
    #[error("CRC status {0}")]
    Crc(i64),
    /// Not LoRa modulation (e.g. FSK).
    #[error("modulation {0:?}")]
    Modulation(String),
    /// A required field is missing or malformed.
    #[error("field {0} missing or malformed")]
    Field(&'static str),
}

/// The frame described by `rxpk`, when it is a CRC-valid LoRa packet.
pub fn rx_frame(rxpk: &Value) -> Result<RxFrame, RxpkSkip> {
    let object = rxpk.as_object().ok_or(RxpkSkip::NotAnObject)?;
    let stat = object.get("stat").and_then(Value::as_i64).unwrap_or(1);
    if stat != 1 {
        return Err(RxpkSkip::Crc(stat));
    }
    if let Some(modu) = object.get("modu").and_then(Value::as_str)
        && modu != "LORA"
    {
        return Err(RxpkSkip::Modulation(modu.to_string()));
    }
    let datarate = object
        .get("datr")
        .and_then(Value::as_str)
        .and_then(parse_datarate)
        .ok_or(RxpkSkip::Field("datr"))?;
    let frequency_hz = object
        .get("freq")
        .and_then(Value::as_f64)
        .filter(|mhz| FREQ_RANGE_MHZ.contains(mhz))
        .map(|mhz| (mhz * 1e6).round() as u64)
        .ok_or(RxpkSkip::Field("freq"))?;
    let payload = object
        .get("data")
        .and_then(Value::as_str)
        .and_then(|data| BASE64.decode(data).ok())
        .ok_or(RxpkSkip::Field("data"))?;
    let (rssi_dbm, snr_db) = signal(object).ok_or(RxpkSkip::Field("rssi"))?;
    let tmst = object
        .get("tmst")
        .and_then(Value::as_u64)
        .and_then(|t| u32::try_from(t).ok())
        .unwrap_or(0);
    Ok(RxFrame {
        payload,
        frequency_hz,
        datarate,
        rssi_ddbm: tenths(rssi_dbm),
        snr_ddb: tenths(snr_db),
        tmst,
        radio_timestamp_ns: radio_timestamp_ns(object).unwrap_or(0),
    })
}

/// `SF9BW125` -> [`DataRate::Sf9bw125`].
pub fn parse_datarate(datr: &str) -> Option<DataRate> {
    let (sf, bw) = datr.strip_prefix("SF")?.split_once("BW")?;
    DataRate::from_sf_bw(sf.parse().ok()?, bw.parse::<u32>().ok()?.checked_mul(1000)?)
}

fn tenths(value: f64) -> i32 {
    (value * 10.0)
        .round()
        .clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
}

/// RSSI (dBm) and SNR (dB): the strongest antenna of a v2 `rsig` array (its `rssis`, else its
/// `rssic`), else the v1 `rssis`, else `rssi`. SNR is `lsnr` of the same antenna (0 if absent).
fn signal(object: &Map<String, Value>) -> Option<(f64, f64)> {
    let number = |o: &Map<String, Value>, key| o.get(key).and_then(Value::as_f64);
    let antennas = object.get("rsig").and_then(Value::as_array);
    let strongest = antennas
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter_map(|a| {
            let rssi = number(a, "rssis").or_else(|| number(a, "rssic"))?;
            Some((rssi, number(a, "lsnr").unwrap_or(0.0)))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    strongest.or_else(|| {
        let rssi = number(object, "rssis").or_else(|| number(object, "rssi"))?;
        Some((rssi, number(object, "lsnr").unwrap_or(0.0)))
    })
}

/// GPS time of reception, ns since the Unix epoch: `time` (UTC, µs precision) with its
/// sub-second part replaced by the fine timestamp `ftime` (ns) when present; else `tmms` (GPS
/// milliseconds); `None` when the forwarder has no GPS time.
fn radio_timestamp_ns(object: &Map<String, Value>) -> Option<u64> {
    let from_time = object
        .get("time")
        .and_then(Value::as_str)
        .and_then(|time| humantime::parse_rfc3339(time).ok())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|since| {
            let fine = object
                .get("ftime")
                .and_then(Value::as_u64)
                .filter(|ns| *ns < 1_000_000_000);
            match fine {
                Some(ns) => since
                    .as_secs()
                    .saturating_mul(1_000_000_000)
                    .saturating_add(ns),
                None => u64::try_from(since.as_nanos()).unwrap_or(u64::MAX),
            }
        });
    from_time.or_else(|| {
        let tmms = object.get("tmms").and_then(Value::as_u64)?;
        let unix_ms = (GPS_EPOCH_UNIX_S - GPS_LEAP_SECONDS)
            .checked_mul(1000)?
            .checked_add(tmms)?;
        unix_ms.checked_mul(1_000_000)
    })
}
