//! `oracle explain HOTSPOT`: every beacon and witness of a hotspot with its verdict, reason,
//! measured value and threshold, and for valid witnesses whether they were selected (and why
//! not).

use crate::store::{Store, StoreError};
use schemas::PublicKey;
use serde::Serialize;
use sqlx::Row;
use std::fmt::Write as _;

/// One beacon of the hotspot.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BeaconLine {
    pub id: String,
    pub epoch: u64,
    pub received_ms: u64,
    pub valid: bool,
    pub reason: Option<String>,
    pub measured: Option<f64>,
    pub threshold: Option<f64>,
    pub detail: Option<String>,
    pub hex_scale: f64,
    pub reward_units: f64,
    pub witness_reports: u64,
    pub valid_witnesses: u64,
    pub selected_witnesses: u64,
}

/// One witness report of the hotspot.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WitnessLine {
    pub id: String,
    pub beacon_id: Option<String>,
    pub beaconer: Option<String>,
    pub epoch: u64,
    pub received_ms: u64,
    pub valid: bool,
    pub reason: Option<String>,
    /// `witness` or `beaconer`: whose fault an invalid verdict is.
    pub side: Option<String>,
    pub measured: Option<f64>,
    pub threshold: Option<f64>,
    pub detail: Option<String>,
    pub selected: bool,
    /// For a valid witness that was not selected: why.
    pub not_selected_because: Option<String>,
    pub reward_units: f64,
}

/// Everything about one hotspot.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Explanation {
    pub hotspot: String,
    pub epoch: Option<u64>,
    pub beacons: Vec<BeaconLine>,
    pub witnesses: Vec<WitnessLine>,
}

/// Gathers the explanation of `hotspot` (in `epoch` when given).
pub async fn explain(
    store: &Store,
    hotspot: PublicKey,
    epoch: Option<u64>,
    max_witnesses: u32,
) -> Result<Explanation, StoreError> {
    let pool = store.db().pool();
    let epoch_filter = epoch.map_or(-1, |e| e as i64);
    let beacons = sqlx::query(
        "SELECT beacon_id, epoch, received_ms, valid, reason, measured, threshold, detail, hex_scale_e4, reward_units_e4, \
         witness_reports, valid_witnesses, selected_witnesses FROM pocs \
         WHERE beaconer_key = $1 AND ($2 < 0 OR epoch = $2) ORDER BY received_ms, beacon_id",
    )
    .bind(hotspot.to_vec())
    .bind(epoch_filter)
    .fetch_all(pool)
    .await?;
    let witnesses = sqlx::query(
        "SELECT v.witness_id, v.beacon_id, v.beaconer_key, v.epoch, v.received_ms, v.valid, v.reason, v.side, v.measured, \
         v.threshold, v.detail, v.selected, v.reward_units_e4, p.selected_witnesses FROM witness_verdicts v \
         LEFT JOIN pocs p ON p.beacon_id = v.beacon_id \
         WHERE v.witness_key = $1 AND ($2 < 0 OR v.epoch = $2) ORDER BY v.received_ms, v.witness_id",
    )
    .bind(hotspot.to_vec())
    .bind(epoch_filter)
    .fetch_all(pool)
    .await?;
    let u = |v: i64| v as u64;
    let beacons = beacons
        .iter()
        .map(|r| -> Result<BeaconLine, StoreError> {
            Ok(BeaconLine {
                id: hex::encode(r.try_get::<Vec<u8>, _>("beacon_id")?),
                epoch: u(r.try_get("epoch")?),
                received_ms: u(r.try_get("received_ms")?),
                valid: r.try_get::<i64, _>("valid")? != 0,
                reason: r.try_get("reason")?,
                measured: r.try_get("measured")?,
                threshold: r.try_get("threshold")?,
                detail: r.try_get("detail")?,
                hex_scale: r.try_get::<i64, _>("hex_scale_e4")? as f64 / 1e4,
                reward_units: r.try_get::<i64, _>("reward_units_e4")? as f64 / 1e4,
                witness_reports: u(r.try_get("witness_reports")?),
                valid_witnesses: u(r.try_get("valid_witnesses")?),
                selected_witnesses: u(r.try_get("selected_witnesses")?),
            })
        })
        .collect::<Result<_, _>>()?;
    let witnesses = witnesses
        .iter()
        .map(|r| -> Result<WitnessLine, StoreError> {
            let valid = r.try_get::<i64, _>("valid")? != 0;
            let selected = r.try_get::<i64, _>("selected")? != 0;
            let not_selected_because = (valid && !selected).then(|| {
                format!("valid, but not among the first {max_witnesses} valid witnesses of the beacon by arrival time")
            });
            Ok(WitnessLine {
                id: hex::encode(r.try_get::<Vec<u8>, _>("witness_id")?),
                beacon_id: r.try_get::<Option<Vec<u8>>, _>("beacon_id")?.map(hex::encode),
                beaconer: r
                    .try_get::<Option<Vec<u8>>, _>("beaconer_key")?
                    .and_then(|k| PublicKey::from_slice(&k).ok())
                    .map(|k| k.to_string()),
                epoch: u(r.try_get("epoch")?),
                received_ms: u(r.try_get("received_ms")?),
                valid,
                reason: r.try_get("reason")?,
                side: r.try_get("side")?,
                measured: r.try_get("measured")?,
                threshold: r.try_get("threshold")?,
                detail: r.try_get("detail")?,
                selected,
                not_selected_because,
                reward_units: r.try_get::<i64, _>("reward_units_e4")? as f64 / 1e4,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Explanation {
        hotspot: hotspot.to_string(),
        epoch,
        beacons,
        witnesses,
    })
}

fn verdict(valid: bool, reason: &Option<String>) -> String {
    if valid {
        "valid".into()
    } else {
        format!("invalid: {}", reason.as_deref().unwrap_or("?"))
    }
}

fn against(measured: Option<f64>, threshold: Option<f64>) -> String {
    match (measured, threshold) {
        (Some(m), Some(t)) => format!("measured {} vs threshold {}", short(m), short(t)),
        _ => String::new(),
    }
}

fn short(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Human-readable rendering.
pub fn render(e: &Explanation) -> String {
    let mut out = String::new();
    let scope = e
        .epoch
        .map_or_else(|| "all epochs".to_string(), |n| format!("epoch {n}"));
    let _ = writeln!(out, "hotspot {} ({scope})", e.hotspot);
    let _ = writeln!(out, "\nbeacons: {}", e.beacons.len());
    for b in &e.beacons {
        let _ = writeln!(
            out,
            "  {} {} | {} | scale {:.4} units {:.4} | witnesses {} reported, {} valid, {} selected {}",
            &b.id[..12],
            b.received_ms,
            verdict(b.valid, &b.reason),
            b.hex_scale,
            b.reward_units,
            b.witness_reports,
            b.valid_witnesses,
            b.selected_witnesses,
            against(b.measured, b.threshold)
        );
        if let Some(detail) = &b.detail {
            let _ = writeln!(out, "      {detail}");
        }
    }
    let _ = writeln!(out, "\nwitness reports: {}", e.witnesses.len());
    for w in &e.witnesses {
        let beaconer = w.beaconer.as_deref().map_or("-", |b| &b[..b.len().min(12)]);
        let selection = if w.selected {
            format!("selected, units {:.4}", w.reward_units)
        } else {
            "not selected".into()
        };
        let side = w
            .side
            .as_deref()
            .map_or(String::new(), |s| format!(" ({s} side)"));
        let _ = writeln!(
            out,
            "  {} beacon of {beaconer} at {} | {}{side} | {selection} {}",
            &w.id[..12],
            w.received_ms,
            verdict(w.valid, &w.reason),
            against(w.measured, w.threshold)
        );
        if let Some(detail) = w.detail.as_ref().or(w.not_selected_because.as_ref()) {
            let _ = writeln!(out, "      {detail}");
        }
    }
    out
}
