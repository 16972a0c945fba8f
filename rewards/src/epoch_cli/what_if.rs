//! `rewards what-if`: run and print.

use super::print::{json, tokens};
use rewards::epoch::utc;
use rewards::epoch::what_if::{WhatIfReport, what_if};
use schemas::parameters::ParameterSet;
use std::ops::RangeInclusive;

/// Runs the comparison with the system clock.
pub async fn run(
    db: &db::Db,
    proposed: &ParameterSet,
    epochs: RangeInclusive<u64>,
) -> anyhow::Result<WhatIfReport> {
    let (first, last) = (*epochs.start(), *epochs.end());
    let report = what_if(db, proposed, epochs, rewards::epoch::now_ms())
        .await
        .map_err(|e| anyhow::anyhow!("what-if over epochs {first}..={last}: {e}"))?;
    Ok(report)
}

fn signed(delta: i128) -> String {
    let magnitude = tokens(u64::try_from(delta.unsigned_abs()).unwrap_or(u64::MAX));
    match delta.signum() {
        1 => format!("+{magnitude}"),
        -1 => format!("-{magnitude}"),
        _ => magnitude,
    }
}

fn amount(value: u128) -> String {
    tokens(u64::try_from(value).unwrap_or(u64::MAX))
}

/// Prints the report: per-epoch totals, then the `top` gainers and losers per hotspot and hex.
pub fn print(report: &WhatIfReport, top: usize, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json(&serde_json::to_value(report)?);
    }
    println!(
        "{:<7}{:<44}{:>8}{:>22}{:>22}{:>22}{:>22}",
        "epoch",
        "UTC range",
        "in force",
        "paid now",
        "paid proposed",
        "unalloc. now",
        "unalloc. proposed"
    );
    for e in &report.epochs {
        println!(
            "{:<7}{:<44}{:>8}{:>22}{:>22}{:>22}{:>22}",
            e.epoch,
            format!("{} .. {}", utc(e.start_ms), utc(e.end_ms)),
            format!("v{}", e.current_version),
            amount(e.current.paid),
            amount(e.proposed.paid),
            amount(e.current.unallocated),
            amount(e.proposed.unallocated),
        );
    }
    println!(
        "{:<59}{:>22}{:>22}{:>22}{:>22}",
        "total",
        amount(report.current.paid),
        amount(report.proposed.paid),
        amount(report.current.unallocated),
        amount(report.proposed.unallocated),
    );
    let gainers = report.hotspots.iter().filter(|h| h.delta > 0).count();
    let losers = report.hotspots.iter().filter(|h| h.delta < 0).count();
    println!(
        "\n{} hotspots: {gainers} gain, {losers} lose, {} unchanged",
        report.hotspots.len(),
        report.hotspots.len() - gainers - losers
    );
    let row = |h: &rewards::epoch::what_if::HotspotComparison| {
        println!(
            "  {:<46}{:<17}{:>22}{:>22}{:>22}",
            h.hotspot,
            h.hex,
            amount(h.current),
            amount(h.proposed),
            signed(h.delta)
        );
    };
    println!(
        "  {:<46}{:<17}{:>22}{:>22}{:>22}",
        "hotspot", "res-8 hex", "now", "proposed", "change"
    );
    report
        .hotspots
        .iter()
        .filter(|h| h.delta > 0)
        .take(top)
        .for_each(row);
    report
        .hotspots
        .iter()
        .rev()
        .filter(|h| h.delta < 0)
        .take(top)
        .for_each(row);
    println!("\nper res-8 hex ({} hexes):", report.hexes.len());
    println!(
        "  {:<17}{:>9}{:>22}{:>22}{:>22}",
        "hex", "hotspots", "now", "proposed", "change"
    );
    let hex_row = |h: &rewards::epoch::what_if::HexComparison| {
        println!(
            "  {:<17}{:>9}{:>22}{:>22}{:>22}",
            h.hex,
            h.hotspots,
            amount(h.current),
            amount(h.proposed),
            signed(h.delta)
        );
    };
    report
        .hexes
        .iter()
        .filter(|h| h.delta > 0)
        .take(top)
        .for_each(hex_row);
    report
        .hexes
        .iter()
        .rev()
        .filter(|h| h.delta < 0)
        .take(top)
        .for_each(hex_row);
    Ok(())
}
