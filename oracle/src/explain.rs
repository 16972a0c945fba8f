//! `oracle explain HOTSPOT`: every beacon and witness of a hotspot with its verdict, reason,
//! measured value and threshold, and for valid witnesses whether they were selected (and why
//! not).

use crate::store::{Store, StoreError};
use crate::verifier::VerifierParams;
use crate::verifier::governed::resolve;
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

/// Minutes probed per statement (one `IN` list).
const MINUTES_PER_QUERY: i64 = 120;
/// A proof of coverage's witnesses are received around its beacon; the epoch's minutes are
/// widened by this much to find them all (each verdict row names its epoch).
const EPOCH_MARGIN_MS: u64 = 2 * 3600 * 1000;

/// Gathers the explanation of `hotspot` (in `epoch` when given). `settings` are the oracle's
/// verifier settings: the epoch length, and the parameters where governance set none.
///
/// Verdicts are keyed by minute of receipt, then hotspot (migration 0009), so a hotspot's
/// verdicts are found with one probe per minute: the minutes of the epoch, or without one
/// every minute from the first verdict stored to the last.
pub async fn explain(
    store: &Store,
    hotspot: PublicKey,
    epoch: Option<u64>,
    settings: &VerifierParams,
) -> Result<Explanation, StoreError> {
    let pool = store.db().pool();
    let Some((first, last)) = minutes_to_search(store, epoch, settings).await? else {
        return Ok(Explanation {
            hotspot: hotspot.to_string(),
            epoch,
            beacons: Vec::new(),
            witnesses: Vec::new(),
        });
    };
    let epoch_filter = epoch.map_or(-1, |e| e as i64);
    let mut beacons = Vec::new();
    let mut witnesses = Vec::new();
    let mut from = first;
    while from <= last {
        let to = (from + MINUTES_PER_QUERY - 1).min(last);
        let minutes = minute_list(from, to);
        let sql = format!(
            "SELECT beacon_id, epoch, received_ms, valid, reason, measured, threshold, detail, hex_scale_e4, \
             reward_units_e4, witness_reports, valid_witnesses, selected_witnesses FROM pocs \
             WHERE beaconer_key = $1 AND ($2 < 0 OR epoch = $2) AND minute IN ({minutes})"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(hotspot.to_vec())
            .bind(epoch_filter)
            .fetch_all(pool)
            .await?;
        for row in &rows {
            beacons.push(beacon_line(row)?);
        }
        let sql = format!(
            "SELECT witness_id, beacon_id, beaconer_key, epoch, received_ms, valid, reason, side, measured, \
             threshold, detail, selected, reward_units_e4 FROM witness_verdicts \
             WHERE witness_key = $1 AND ($2 < 0 OR epoch = $2) AND minute IN ({minutes})"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(hotspot.to_vec())
            .bind(epoch_filter)
            .fetch_all(pool)
            .await?;
        for row in &rows {
            witnesses.push(witness_line(row)?);
        }
        from = to + 1;
    }
    beacons.sort_by(|a, b| (a.received_ms, &a.id).cmp(&(b.received_ms, &b.id)));
    witnesses.sort_by(|a, b| (a.received_ms, &a.id).cmp(&(b.received_ms, &b.id)));
    explain_selection(store, settings, &mut witnesses).await?;
    Ok(Explanation {
        hotspot: hotspot.to_string(),
        epoch,
        beacons,
        witnesses,
    })
}

/// The minutes `[from, to]` as a list of SQL integer literals (numbers: nothing to escape).
fn minute_list(from: i64, to: i64) -> String {
    (from..=to)
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The minutes `[first, last]` to probe: the epoch's (widened by [`EPOCH_MARGIN_MS`]), or from
/// the first verdict stored to the last; `None` when nothing is stored.
async fn minutes_to_search(
    store: &Store,
    epoch: Option<u64>,
    settings: &VerifierParams,
) -> Result<Option<(i64, i64)>, StoreError> {
    if let Some(epoch) = epoch {
        let length = settings.epoch.as_millis() as u64;
        let start = epoch.saturating_mul(length);
        let end = start.saturating_add(length);
        let (first, last) = db::verdict_minutes(
            start.saturating_sub(EPOCH_MARGIN_MS),
            end.saturating_add(EPOCH_MARGIN_MS),
        );
        return Ok(Some((first, last)));
    }
    let row = sqlx::query(
        "SELECT (SELECT MIN(minute) FROM pocs), (SELECT MAX(minute) FROM pocs), \
         (SELECT MIN(minute) FROM witness_verdicts), (SELECT MAX(minute) FROM witness_verdicts)",
    )
    .fetch_one(store.db().pool())
    .await?;
    let get = |i: usize| row.try_get::<Option<i64>, _>(i);
    let firsts = [get(0)?, get(2)?];
    let lasts = [get(1)?, get(3)?];
    let first = firsts.into_iter().flatten().min();
    let last = lasts.into_iter().flatten().max();
    Ok(first.zip(last))
}

fn beacon_line(r: &sqlx::any::AnyRow) -> Result<BeaconLine, StoreError> {
    let u = |v: i64| v as u64;
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
}

fn witness_line(r: &sqlx::any::AnyRow) -> Result<WitnessLine, StoreError> {
    Ok(WitnessLine {
        id: hex::encode(r.try_get::<Vec<u8>, _>("witness_id")?),
        beacon_id: r
            .try_get::<Option<Vec<u8>>, _>("beacon_id")?
            .map(hex::encode),
        beaconer: r
            .try_get::<Option<Vec<u8>>, _>("beaconer_key")?
            .and_then(|k| PublicKey::from_slice(&k).ok())
            .map(|k| k.to_string()),
        epoch: r.try_get::<i64, _>("epoch")? as u64,
        received_ms: r.try_get::<i64, _>("received_ms")? as u64,
        valid: r.try_get::<i64, _>("valid")? != 0,
        reason: r.try_get("reason")?,
        side: r.try_get("side")?,
        measured: r.try_get("measured")?,
        threshold: r.try_get("threshold")?,
        detail: r.try_get("detail")?,
        selected: r.try_get::<i64, _>("selected")? != 0,
        not_selected_because: None,
        reward_units: r.try_get::<i64, _>("reward_units_e4")? as f64 / 1e4,
    })
}

/// Says why a valid witness was not selected, with the cap of the parameters in force for its
/// epoch (governance's, else the settings').
async fn explain_selection(
    store: &Store,
    settings: &VerifierParams,
    witnesses: &mut [WitnessLine],
) -> Result<(), StoreError> {
    if !witnesses.iter().any(|w| w.valid && !w.selected) {
        return Ok(());
    }
    let applied = db::parameters::history(store.db().pool())
        .await
        .map_err(|e| StoreError::Corrupt {
            table: "parameter_sets",
            reason: e.to_string(),
        })?;
    for w in witnesses.iter_mut().filter(|w| w.valid && !w.selected) {
        let cap = resolve(&applied, w.epoch, settings)
            .map_or(settings.max_witnesses_per_poc, |p| {
                p.params.max_witnesses_per_poc
            });
        w.not_selected_because = Some(format!(
            "valid, but not among the first {cap} valid witnesses of the beacon by arrival time"
        ));
    }
    Ok(())
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
