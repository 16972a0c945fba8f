//! The rows of the verdict tables and the hotspot-state checkpoint, written with multi-row
//! statements (`bulk.rs`).

use super::StoreError;
use super::bulk::{Val, insert_template, insert_template_rows};
use super::verdicts::{Inserted, PocRow, reason_columns, witness_side};
use crate::verifier::poc::{PocVerdict, WitnessVerdict};
use crate::verifier::state::HotspotState;
use db::verdict_minute;
use schemas::PublicKey;

/// Every proof of coverage of `pocs` and every witness verdict, as many rows per statement as
/// the backend takes: the same rows as [`super::Store::save_poc`] for each in turn.
pub(super) async fn insert_pocs(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    pocs: &[PocRow],
) -> Result<Inserted, StoreError> {
    let inserted_pocs = insert_poc_rows(tx, pocs, usize::MAX).await?;
    let witnesses: Vec<_> = pocs
        .iter()
        .flat_map(|(poc, _)| poc.witnesses.iter().map(move |w| (w, Some(poc), poc.epoch)))
        .collect();
    let inserted_witnesses = insert_witness_rows(tx, &witnesses, usize::MAX).await?;
    Ok(Inserted {
        pocs: inserted_pocs,
        witnesses: inserted_witnesses,
    })
}

/// The `pocs` rows of `pocs`, at most `max_rows` per statement.
pub(super) async fn insert_poc_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    pocs: &[PocRow],
    max_rows: usize,
) -> Result<u64, StoreError> {
    let rows = pocs
        .iter()
        .map(|(poc, effects)| {
            let columns = reason_columns(poc.outcome.as_ref().err());
            vec![
                Val::Int(verdict_minute(poc.received_ms)),
                Val::Bytes(poc.beaconer.to_vec()),
                Val::Bytes(poc.beacon_id.to_vec()),
                Val::Int(poc.epoch as i64),
                Val::Int(poc.received_ms as i64),
                Val::Int(i64::from(poc.outcome.is_ok())),
                Val::OptText(columns.reason),
                Val::Float(columns.measured),
                Val::Float(columns.threshold),
                Val::OptText(columns.detail),
                Val::OptInt(poc.location.map(|l| l as i64)),
                Val::Int(i64::from(poc.hex_scale_e4)),
                Val::Int(i64::from(poc.reward_units_e4)),
                Val::Int(i64::from(poc.witness_reports)),
                Val::Int(i64::from(poc.valid_witnesses)),
                Val::Int(i64::from(poc.selected_witnesses)),
                Val::Int(i64::from(poc.passed_regular)),
                Val::Int(effects.bits()),
                Val::Int(columns.has_measure),
            ]
        })
        .collect();
    insert_template_rows(
        tx,
        "INSERT INTO pocs (minute, beaconer_key, beacon_id, epoch, received_ms, valid, reason, measured, threshold, \
         detail, location, hex_scale_e4, reward_units_e4, witness_reports, valid_witnesses, selected_witnesses, \
         passed_regular, state_flags) VALUES ",
        "$1, $2, $3, $4, $5, $6, $7, CASE WHEN $19 <> 0 THEN $8 END, CASE WHEN $19 <> 0 THEN $9 END, $10, $11, \
         $12, $13, $14, $15, $16, $17, $18",
        19,
        "ON CONFLICT DO NOTHING",
        rows,
        max_rows,
    )
    .await
}

/// Witness verdicts, each with its proof of coverage (`None`: stale or late) and the epoch it
/// counts in, at most `max_rows` per statement.
pub(super) async fn insert_witness_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    witnesses: &[(&WitnessVerdict, Option<&PocVerdict>, u64)],
    max_rows: usize,
) -> Result<u64, StoreError> {
    let rows = witnesses
        .iter()
        .map(|&(w, poc, epoch)| witness_row(w, poc, epoch))
        .collect();
    insert_template_rows(
        tx,
        "INSERT INTO witness_verdicts (minute, witness_key, witness_id, beacon_id, beaconer_key, epoch, received_ms, \
         valid, reason, side, measured, threshold, detail, selected, hex_scale_e4, reward_units_e4, passed_regular, \
         log_distance_e3, signal_ddbm) VALUES ",
        "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CASE WHEN $20 <> 0 THEN $11 END, CASE WHEN $20 <> 0 THEN $12 END, \
         $13, $14, $15, $16, $17, $18, $19",
        20,
        "ON CONFLICT DO NOTHING",
        rows,
        max_rows,
    )
    .await
}

fn witness_row(witness: &WitnessVerdict, poc: Option<&PocVerdict>, epoch: u64) -> Vec<Val> {
    let (side, columns) = witness_side(witness);
    vec![
        Val::Int(verdict_minute(witness.received_ms)),
        Val::Bytes(witness.witness.to_vec()),
        Val::Bytes(witness.witness_id.to_vec()),
        Val::OptBytes(poc.map(|p| p.beacon_id.to_vec())),
        Val::OptBytes(poc.map(|p| p.beaconer.to_vec())),
        Val::Int(epoch as i64),
        Val::Int(witness.received_ms as i64),
        Val::Int(i64::from(witness.outcome.is_ok())),
        Val::OptText(columns.reason),
        Val::OptText(side.map(str::to_string)),
        Val::Float(columns.measured),
        Val::Float(columns.threshold),
        Val::OptText(columns.detail),
        Val::Int(i64::from(witness.selected)),
        Val::Int(i64::from(poc.map_or(0, |p| p.hex_scale_e4))),
        Val::Int(i64::from(witness.reward_units_e4)),
        Val::Int(i64::from(witness.passed_regular)),
        Val::OptInt(
            witness
                .evidence
                .map(|e| crate::trust::log_distance_e3(e.distance_m)),
        ),
        Val::OptInt(witness.evidence.map(|e| i64::from(e.signal_ddbm))),
        Val::Int(columns.has_measure),
    ]
}

/// A checkpoint of hotspot states (each key once), merged field by field with what is stored.
pub(super) async fn upsert_states(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    states: &[(PublicKey, HotspotState)],
) -> Result<(), StoreError> {
    let ms = |v: Option<u64>| Val::OptInt(v.map(|v| v as i64));
    let rows = states
        .iter()
        .map(|(key, state)| {
            vec![
                Val::Bytes(key.to_vec()),
                ms(state.last_beacon_ms),
                ms(state.last_witness_ms),
                ms(state.last_reciprocal_beacon_ms),
                ms(state.last_active_ms),
            ]
        })
        .collect();
    insert_template(
        tx,
        "INSERT INTO hotspot_state (hotspot_key, last_beacon_ms, last_witness_ms, last_reciprocal_beacon_ms, last_active_ms) VALUES ",
        "$1, $2, $3, $4, $5",
        5,
        &format!("ON CONFLICT (hotspot_key) DO UPDATE SET {}", later_of_each(STATE_COLUMNS)),
        rows,
    )
    .await?;
    Ok(())
}

pub(super) const STATE_COLUMNS: [&str; 4] = [
    "last_beacon_ms",
    "last_witness_ms",
    "last_reciprocal_beacon_ms",
    "last_active_ms",
];

/// `column = the later of the stored and the new value` for each column (a checkpoint holds
/// only what changed since the last one: a field it does not set keeps its stored value).
pub(super) fn later_of_each(columns: [&str; 4]) -> String {
    columns
        .iter()
        .map(|c| {
            format!(
                "{c} = CASE WHEN hotspot_state.{c} IS NULL OR excluded.{c} > hotspot_state.{c} \
                 THEN excluded.{c} ELSE hotspot_state.{c} END"
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
