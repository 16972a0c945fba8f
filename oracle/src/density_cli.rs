//! `oracle density`: transmit scale of each hotspot in a CSV of res-12 cells.

use crate::density::{DensityParams, HexDensityMap};
use h3o::CellIndex;
use std::io::{Read, Write};

/// Errors of the density command.
#[derive(Debug, thiserror::Error)]
pub enum DensityCliError {
    #[error("line {line}: {reason}")]
    Row { line: u64, reason: String },
    #[error("reading the CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("writing the output: {0}")]
    Io(#[from] std::io::Error),
}

/// Parses one cell given as a hex string (`8c2830d340043ff`) or a decimal u64.
pub fn parse_cell(text: &str) -> Result<CellIndex, String> {
    let text = text.trim();
    let value = if text.chars().all(|c| c.is_ascii_digit()) {
        text.parse::<u64>().map_err(|e| e.to_string())?
    } else {
        u64::from_str_radix(text.trim_start_matches("0x"), 16)
            .map_err(|e| format!("{text:?} is neither hex nor u64: {e}"))?
    };
    CellIndex::try_from(value).map_err(|e| format!("{text:?} is not an H3 cell: {e}"))
}

/// Reads cells (first column; a header row is skipped when its first field is not a cell),
/// writes `cell,scale` rows in input order with the scale to 4 decimals.
pub fn run(
    input: impl Read,
    output: impl Write,
    params: &DensityParams,
) -> Result<usize, DensityCliError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut cells = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record?;
        let line = record.position().map_or(index as u64 + 1, |p| p.line());
        let Some(field) = record.get(0).filter(|f| !f.trim().is_empty()) else {
            continue;
        };
        match parse_cell(field) {
            Ok(cell) => cells.push(cell),
            Err(_) if index == 0 => continue,
            Err(reason) => return Err(DensityCliError::Row { line, reason }),
        }
    }
    let map = HexDensityMap::new(cells.iter().copied(), params);
    let mut writer = csv::Writer::from_writer(output);
    writer.write_record(["cell", "scale"])?;
    for cell in &cells {
        let scale = map.scale_e4(*cell).unwrap_or(0);
        writer.write_record([
            cell.to_string(),
            format!("{}.{:04}", scale / 10_000, scale % 10_000),
        ])?;
    }
    writer.flush()?;
    Ok(cells.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hex_and_u64_and_reports_bad_rows() {
        let input = "h3\n8c2830d340043ff\n631210990515536895\n";
        let mut out = Vec::new();
        let n = run(input.as_bytes(), &mut out, &DensityParams::hip104()).expect("run");
        assert_eq!(n, 2);
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(
            text,
            "cell,scale\n8c2830d340043ff,0.5000\n8c2830d340043ff,0.5000\n"
        );
        let err = run(
            "8c2830d340043ff\nnot-a-cell\n".as_bytes(),
            Vec::new(),
            &DensityParams::hip104(),
        )
        .expect_err("bad row");
        assert!(err.to_string().starts_with("line 2:"), "{err}");
    }
}
