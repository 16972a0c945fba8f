//! Reproduces Helium's `simple_scale_check` (36 real hotspots around res-8 hex
//! 882830d341fffff, ledger of 2022-10-14) for the HIP 17 and HIP 104 parameter sets.

use h3o::CellIndex;
use oracle::density::{DensityParams, HexDensityMap};

const INPUT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/hip17/input_res12_hexes.txt"
));
const EXPECTED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/hip17/expected_scales.csv"
));

/// One row of `expected_scales.csv`.
#[derive(Debug, serde::Deserialize)]
struct ExpectedRow {
    h3_index_u64: u64,
    h3_index_hex: String,
    hotspots_in_hex: usize,
    scale_hip17_density_scaler_2022: String,
    scale_hip104_iot_verifier_2024: String,
}

fn input_cells() -> Vec<CellIndex> {
    INPUT
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let index: u64 = line.trim().parse().expect("u64 cell index");
            CellIndex::try_from(index).expect("valid H3 cell")
        })
        .collect()
}

fn expected_rows() -> Vec<ExpectedRow> {
    csv::Reader::from_reader(EXPECTED.as_bytes())
        .deserialize()
        .collect::<Result<_, _>>()
        .expect("expected_scales.csv rows")
}

/// "0.0065" -> 65, exactly.
fn parse_e4(decimal: &str) -> u32 {
    let (whole, frac) = decimal.split_once('.').unwrap_or((decimal, ""));
    assert!(frac.len() <= 4, "more than 4 decimals: {decimal}");
    let frac = format!("{frac:0<4}");
    let whole: u32 = whole.parse().expect("integer part");
    whole * 10_000 + frac.parse::<u32>().expect("fraction part")
}

fn check(params: &DensityParams, expected: impl Fn(&ExpectedRow) -> &str) {
    let cells = input_cells();
    let map = HexDensityMap::new(cells.iter().copied(), params);
    let rows = expected_rows();
    assert_eq!(rows.len(), 31);
    let mut mismatches = Vec::new();
    for row in &rows {
        let cell = CellIndex::try_from(row.h3_index_u64).expect("valid H3 cell");
        assert_eq!(cell.to_string(), row.h3_index_hex);
        assert_eq!(
            cells.iter().filter(|c| **c == cell).count(),
            row.hotspots_in_hex
        );
        let want = parse_e4(expected(row));
        let got = map.scale_e4(cell);
        if got != Some(want) {
            mismatches.push(format!("{cell}: got {got:?}, want {want}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "mismatches:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn input_has_36_hotspots_in_31_cells() {
    let cells = input_cells();
    assert_eq!(cells.len(), 36);
    let mut unique = cells.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 31);
}

#[test]
fn hip17_scales_match_density_scaler_2022() {
    check(&DensityParams::hip17(), |row| {
        &row.scale_hip17_density_scaler_2022
    });
}

#[test]
fn hip104_scales_match_iot_verifier_2024() {
    check(&DensityParams::hip104(), |row| {
        &row.scale_hip104_iot_verifier_2024
    });
}

#[test]
fn scales_do_not_depend_on_input_order() {
    let mut cells = input_cells();
    let forward = HexDensityMap::new(cells.iter().copied(), &DensityParams::hip104());
    cells.reverse();
    let backward = HexDensityMap::new(cells.iter().copied(), &DensityParams::hip104());
    assert_eq!(forward, backward);
}
