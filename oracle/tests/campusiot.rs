//! Calibration of the radio plausibility checks on real receptions: 11,744 LoRa uplinks from
//! fixed CampusIoT devices (Grenoble, EU868) heard by Helium hotspots, with line-of-sight
//! distances. The dataset records no transmit power, so an EIRP is assumed.

use std::collections::{BTreeMap, HashMap};

use oracle::physics::radio::{
    self, RadioPlausibilityParams, Reception, Transmission, check_tx_power_consistency,
};
use schemas::proto::DataRate;

fn campusiot_csv() -> std::path::PathBuf {
    manifest_dir().join("../../shared/data/radio/campusiot-receptions.csv")
}
/// Assumed device EIRP: the EU868 limit for these channels (16 dBm) into the device antenna;
/// hotspot receive gain taken as 0 dBi. Neither is recorded in the dataset.
const ASSUMED_EIRP_DBM: f64 = 16.0;
/// Device and hotspot positions are blurred to geohash-6 cells: about +-0.6 km on a distance.
const DATASET_POSITION_BLUR_M: f64 = 600.0;

/// One real reception: (uplink key, transmission, reception).
type Row = ((String, String), Transmission, Reception);

fn datarate(spreading: &str) -> DataRate {
    let (sf, bw) = spreading
        .strip_prefix("SF")
        .and_then(|s| s.split_once("BW"))
        .expect("SFnBWm");
    let (sf, bw_khz): (u8, u32) = (sf.parse().expect("sf"), bw.parse().expect("bw"));
    DataRate::from_sf_bw(sf, bw_khz * 1000).expect("known datarate")
}

/// The rows with a line-of-sight distance and free-space loss.
fn rows() -> Vec<Row> {
    let mut reader = csv::Reader::from_path(campusiot_csv()).expect("open campusiot csv");
    let header = reader.headers().expect("header").clone();
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (dev, fcnt, los, fspl) = (
        col("dev_eui"),
        col("fcnt"),
        col("distance_los_m"),
        col("free_space_loss_db"),
    );
    let (rssi, snr, freq, spreading) = (
        col("rssi_dbm"),
        col("snr_db"),
        col("frequency_mhz"),
        col("spreading"),
    );
    let number = |r: &csv::StringRecord, i: usize| r[i].parse::<f64>().expect("number");
    reader
        .records()
        .map(|r| r.expect("record"))
        .filter(|r| !r[los].is_empty() && !r[fspl].is_empty())
        .map(|r| {
            let dr = datarate(&r[spreading]);
            let tx = Transmission {
                tx_power_dbm: ASSUMED_EIRP_DBM,
                gain_dbi: 0.0,
                datarate: dr,
            };
            let rx = Reception {
                distance_m: number(&r, los),
                freq_hz: (number(&r, freq) * 1e6).round() as u64,
                datarate: dr,
                rssi_dbm: number(&r, rssi),
                snr_db: number(&r, snr),
                gain_dbi: 0.0,
            };
            ((r[dev].to_owned(), r[fcnt].to_owned()), tx, rx)
        })
        .collect()
}

/// Accepted count and rejects by reason code of checks (a)-(d) over `rows`.
fn run(rows: &[Row], params: &RadioPlausibilityParams) -> (usize, BTreeMap<&'static str, usize>) {
    let mut rejects = BTreeMap::new();
    for (_, tx, rx) in rows {
        if let Err(v) = radio::check_reception(tx, rx, params) {
            *rejects.entry(v.code()).or_insert(0) += 1;
        }
    }
    (rows.len() - rejects.values().sum::<usize>(), rejects)
}

#[test]
fn radio_checks_accept_at_least_99_percent_of_real_receptions() {
    let rows = rows();
    assert_eq!(rows.len(), 11_744);
    let calibrated = RadioPlausibilityParams {
        position_uncertainty_m: DATASET_POSITION_BLUR_M,
        ..RadioPlausibilityParams::default()
    };
    let (accepted, rejects) = run(&rows, &calibrated);
    let share = 100.0 * accepted as f64 / rows.len() as f64;
    println!(
        "CampusIoT, EIRP {ASSUMED_EIRP_DBM} dBm, position uncertainty \
         {DATASET_POSITION_BLUR_M} m: {accepted}/{} accepted ({share:.2}%), rejects {rejects:?}",
        rows.len()
    );
    for (label, uncertainty_m) in [("default (100 m)", 100.0), ("none (0 m)", 0.0)] {
        let params = RadioPlausibilityParams {
            position_uncertainty_m: uncertainty_m,
            ..RadioPlausibilityParams::default()
        };
        let (ok, rej) = run(&rows, &params);
        println!(
            "  with position uncertainty {label}: {:.2}% accepted, rejects {rej:?}",
            100.0 * ok as f64 / rows.len() as f64
        );
    }
    let above_free_space = rows
        .iter()
        .filter(|(_, tx, rx)| {
            rx.rssi_dbm
                > tx.eirp_dbm() - radio::log_distance_loss_db(rx.freq_hz, rx.distance_m, 2.0)
        })
        .count();
    println!(
        "  (for comparison, Helium's free-space upper bound at this EIRP would reject {above_free_space})"
    );
    print_headroom(&rows, &calibrated);
    assert!(share >= 99.0, "{share:.2}% accepted");
}

/// The smallest distance of any real reception to each threshold, dB (how tight they are).
fn print_headroom(rows: &[Row], p: &RadioPlausibilityParams) {
    let min = |f: &dyn Fn(&Transmission, &Reception) -> Option<f64>| {
        rows.iter()
            .filter_map(|(_, tx, rx)| f(tx, rx))
            .fold(f64::INFINITY, f64::min)
    };
    let sf = |rx: &Reception| rx.datarate.spreading_factor().unwrap_or(12);
    let snr_floor = |rx: &Reception| p.demod_floor_db(sf(rx)) - p.sensitivity_margin_db;
    let lower = min(&|tx, rx| Some(rx.rssi_dbm - p.min_rssi_dbm(tx, rx)));
    let snr = min(&|_, rx| Some(rx.snr_db - snr_floor(rx)));
    let rssi = min(&|_, rx| Some(rx.rssi_dbm - p.min_noise_floor_dbm(125_000) - snr_floor(rx)));
    let floor_low = min(&|_, rx| {
        Some(rx.rssi_dbm - rx.snr_db - p.min_noise_floor_dbm(125_000) + p.snr_tolerance_db)
    });
    let floor_high = min(&|_, rx| {
        (rx.snr_db < p.snr_saturation_knee_db).then(|| {
            radio::thermal_noise_dbm(125_000) + p.max_noise_rise_db - (rx.rssi_dbm - rx.snr_db)
        })
    });
    let saturation = min(&|_, rx| Some(p.max_snr_db - rx.snr_db));
    println!(
        "  headroom (dB) to: RSSI lower bound {lower:.1}, SNR floor {snr:.1}, RSSI sensitivity \
         {rssi:.1}, lowest noise floor {floor_low:.1}, noise ceiling {floor_high:.1}, SNR \
         saturation {saturation:.1}"
    );
}

#[test]
fn tx_power_consistency_accepts_real_uplinks() {
    let params = RadioPlausibilityParams::default();
    let mut uplinks: HashMap<(String, String), Vec<(Transmission, Reception)>> = HashMap::new();
    for (key, tx, rx) in rows() {
        uplinks.entry(key).or_default().push((tx, rx));
    }
    let (mut judged, mut inconsistent) = (0usize, 0usize);
    let mut deviations = Vec::new();
    for heard in uplinks.values() {
        let receptions: Vec<Reception> = heard.iter().map(|(_, rx)| *rx).collect();
        if receptions.len() < params.min_witnesses_for_eirp as usize {
            continue;
        }
        let tx = heard[0].0;
        judged += 1;
        inconsistent += usize::from(check_tx_power_consistency(&tx, &receptions, &params).is_err());
        if let Some(median) = radio::median_implied_eirp_dbm(&receptions, &params) {
            deviations.push(median - tx.eirp_dbm());
        }
    }
    deviations.sort_by(f64::total_cmp);
    let at = |p: f64| deviations[((deviations.len() - 1) as f64 * p).round() as usize];
    println!(
        "CampusIoT uplinks heard by >= {} hotspots: {judged}; inconsistent EIRP: {inconsistent}; \
         median implied - assumed EIRP: p1 {:.1} dB, p50 {:.1} dB, p99 {:.1} dB",
        params.min_witnesses_for_eirp,
        at(0.01),
        at(0.5),
        at(0.99)
    );
    assert!(judged > 500);
    assert!(inconsistent * 100 <= judged, "{inconsistent} of {judged}");
}

/// This package's directory, read when the test runs (`cargo test` sets it): a test binary
/// reused from a target directory shared by clones at other paths would otherwise carry the
/// path it was built at.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
