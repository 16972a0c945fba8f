//! Replays the witness-check vectors of Helium's `iot_verifier/src/poc.rs` tests
//! (`shared/data/hip17/poc_verifier_vectors.csv`): one test per CSV case, each comparing the
//! value computed here with the CSV's expected value.

use h3o::{CellIndex, Resolution};
use oracle::geometry::{
    cell_distance, distance_m, distance_within_limit, frequency_ok, max_rssi_dbm, rssi_plausible,
};

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/hip17/poc_verifier_vectors.csv"
));

/// Helium's `POC_CELL_PARENT_RES`.
const CELL_PARENT_RES: Resolution = Resolution::Eleven;
/// Helium's `POC_CELL_DISTANCE_MINIMUM`, in res-11 cells.
const MIN_CELL_DISTANCE: u32 = 8;
/// Helium's `POC_DISTANCE_LIMIT`.
const MAX_WITNESS_DISTANCE_KM: u32 = 100;
/// Helium's witness frequency tolerance.
const FREQUENCY_TOLERANCE_HZ: u64 = 100_000;

/// One row of the vectors file.
#[derive(Debug, serde::Deserialize)]
struct Case {
    case: String,
    input_a: String,
    input_b: String,
    params: String,
    expected: String,
}

fn case(name: &str) -> Case {
    csv::Reader::from_reader(VECTORS.as_bytes())
        .deserialize::<Case>()
        .map(|row| row.expect("vector row"))
        .find(|row| row.case == name)
        .unwrap_or_else(|| panic!("case {name} missing"))
}

/// The first integer in `text` at or after `key` (`"+90 kHz"` -> 90, `"signal -1060"` -> -1060).
fn number_after(text: &str, key: &str) -> i64 {
    let start = text
        .find(key)
        .unwrap_or_else(|| panic!("{key:?} not in {text:?}"))
        + key.len();
    let rest = &text[start..];
    let begin = rest
        .find(|c: char| c.is_ascii_digit() || c == '-')
        .unwrap_or_else(|| panic!("no number after {key:?} in {text:?}"));
    let digits: String = rest[begin..]
        .chars()
        .enumerate()
        .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && *c == '-'))
        .map(|(_, c)| c)
        .collect();
    digits.parse().expect("integer")
}

/// The first whitespace-separated token of `text` that is a valid H3 cell index (u64).
fn first_cell(text: &str) -> CellIndex {
    text.split_whitespace()
        .find_map(|token| {
            let index = token.parse::<u64>().ok()?;
            CellIndex::try_from(index).ok()
        })
        .unwrap_or_else(|| panic!("no H3 cell in {text:?}"))
}

/// The last whitespace-separated token of `text` that parses as `f64` (ignoring a trailing `)`).
fn last_float(text: &str) -> f64 {
    text.split_whitespace()
        .rev()
        .find_map(|token| token.trim_end_matches(')').parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no number in {text:?}"))
}

fn verdict(ok: bool, reason: &str) -> &str {
    if ok { "valid" } else { reason }
}

#[test]
fn great_circle_distance_m() {
    let c = case("great_circle_distance_m");
    let d = distance_m(first_cell(&c.input_a), first_cell(&c.input_b));
    assert_eq!(d.to_string(), c.expected);
}

#[test]
fn res11_grid_distance() {
    let c = case("res11_grid_distance");
    let a = first_cell(&c.input_a);
    let b = first_cell(&c.input_b);
    let d = cell_distance(a, b, CELL_PARENT_RES).expect("grid distance");
    assert_eq!(d.to_string(), c.expected);
}

#[test]
fn expected_rssi_dbm() {
    let c = case("expected_rssi_dbm");
    let tx = number_after(&c.input_a, "tx_power=") as f64;
    let beacon_gain = i32::try_from(number_after(&c.input_a, "beacon_gain=")).expect("i32");
    let witness_gain = i32::try_from(number_after(&c.input_a, "witness_gain=")).expect("i32");
    let distance = number_after(&c.input_b, "distance=") as f64;
    let freq = u64::try_from(number_after(&c.input_b, "freq=")).expect("u64");
    let rssi = max_rssi_dbm(tx, beacon_gain, witness_gain, freq, distance);
    let expected: f64 = c.expected.parse().expect("f64");
    assert_eq!(rssi, expected, "bit-exact with Helium");
}

fn frequency_case(name: &str) {
    let c = case(name);
    let beacon = u64::try_from(number_after(&c.input_a, "beacon")).expect("u64");
    let offset_khz = u64::try_from(number_after(&c.input_b, "witness +")).expect("u64");
    assert_eq!(number_after(&c.params, "tolerance"), 100);
    let ok = frequency_ok(beacon, beacon + offset_khz * 1_000, FREQUENCY_TOLERANCE_HZ);
    assert_eq!(verdict(ok, "invalid_frequency"), c.expected);
}

#[test]
fn witness_freq_ok() {
    frequency_case("witness_freq_ok");
}

#[test]
fn witness_freq_edge() {
    frequency_case("witness_freq_edge");
}

#[test]
fn witness_freq_bad() {
    frequency_case("witness_freq_bad");
}

fn distance_case(name: &str) {
    let c = case(name);
    let d = distance_m(first_cell(&c.input_a), first_cell(&c.input_b));
    let approx = u32::try_from(number_after(&c.params, "actual ~")).expect("u32");
    assert_eq!(d, approx, "distance in the CSV notes");
    let ok = distance_within_limit(d, MAX_WITNESS_DISTANCE_KM);
    assert_eq!(verdict(ok, "max_distance_exceeded"), c.expected);
}

#[test]
fn witness_distance_ok() {
    distance_case("witness_distance_ok");
}

#[test]
fn witness_distance_bad() {
    distance_case("witness_distance_bad");
}

fn cell_distance_case(name: &str) {
    let c = case(name);
    let a = first_cell(&c.input_a);
    let b = first_cell(&c.input_b);
    let d = cell_distance(a, b, CELL_PARENT_RES).expect("grid distance");
    assert_eq!(i64::from(d), number_after(&c.params, "actual"));
    assert_eq!(
        verdict(d >= MIN_CELL_DISTANCE, "below_min_distance"),
        c.expected
    );
}

#[test]
fn witness_cell_distance_bad() {
    cell_distance_case("witness_cell_distance_bad");
}

#[test]
fn witness_cell_distance_ok() {
    cell_distance_case("witness_cell_distance_ok");
}

/// The RSSI cases reuse the Malta locations of the distance cases.
fn rssi_case(name: &str, witness_location_case: &str) {
    let c = case(name);
    let loc = case(witness_location_case);
    let d = distance_m(first_cell(&loc.input_a), first_cell(&loc.input_b));
    let p = &c.input_b;
    let field = |key| i32::try_from(number_after(p, key)).expect("i32");
    let freq = u64::try_from(number_after(p, "freq")).expect("u64");
    let bound = max_rssi_dbm(
        f64::from(field("tx")),
        field("beacon gain"),
        field("witness gain"),
        freq,
        f64::from(d),
    );
    let noted = last_float(&c.params);
    assert!(
        (bound - noted).abs() < 0.005,
        "bound {bound} vs CSV note {noted}"
    );
    let ok = rssi_plausible(field("signal"), bound);
    assert_eq!(verdict(ok, "bad_rssi"), c.expected, "bound {bound} dBm");
}

#[test]
fn witness_rssi_ok() {
    rssi_case("witness_rssi_ok", "witness_distance_ok");
}

#[test]
fn witness_rssi_bad() {
    rssi_case("witness_rssi_bad", "witness_distance_bad");
}
