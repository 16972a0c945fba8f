//! Every query the oracle makes. One SQL text per query, run unchanged on SQLite and
//! PostgreSQL (see the `db` crate for the shared dialect).

use db::Db;
use schemas::PublicKey;
use schemas::proto::Entropy;
use sqlx::Row;
use sqlx::any::AnyRow;

mod bulk;

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("corrupt row in {table}: {reason}")]
    Corrupt { table: &'static str, reason: String },
    /// A task storing verdicts ended without an answer (it panicked or was cancelled); its
    /// transaction was not committed.
    #[error("storing task failed: {0}")]
    Task(String),
}

/// An onboarded hotspot and its location assertion in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotspotRecord {
    pub key: PublicKey,
    pub owner: PublicKey,
    /// res-12 H3 cell.
    pub location: u64,
    pub gain_ddbi: i32,
    pub elevation_m: i32,
    pub asserted_ms: u64,
    /// May take part in proof of coverage (not data-only).
    pub full_hotspot: bool,
}

/// Which report table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    Beacon,
    Witness,
}

impl ReportKind {
    fn table(self) -> &'static str {
        match self {
            ReportKind::Beacon => "beacon_reports",
            ReportKind::Witness => "witness_reports",
        }
    }
}

/// A report to store.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub kind: ReportKind,
    pub id: [u8; 32],
    pub hotspot_key: PublicKey,
    pub data: Vec<u8>,
    pub received_ms: u64,
    pub message: Vec<u8>,
}

/// What storing a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// The report had been stored before.
    pub duplicate: bool,
    /// When it was first received.
    pub received_ms: u64,
}

/// A stored report, as the verifier reads it back.
#[derive(Debug, Clone)]
pub struct StoredReport {
    pub id: [u8; 32],
    pub received_ms: u64,
    pub message: Vec<u8>,
}

/// The oracle's database.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

fn key_of(row: &AnyRow, column: &str, table: &'static str) -> Result<PublicKey, StoreError> {
    let bytes: Vec<u8> = row.try_get(column)?;
    PublicKey::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
        table,
        reason: format!("{column}: {e}"),
    })
}

fn id_of(row: &AnyRow, table: &'static str) -> Result<[u8; 32], StoreError> {
    let bytes: Vec<u8> = row.try_get("id")?;
    bytes.try_into().map_err(|_| StoreError::Corrupt {
        table,
        reason: "id is not 32 bytes".into(),
    })
}

impl Store {
    /// Wraps a migrated database.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The underlying database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Every onboarded hotspot.
    pub async fn hotspots(&self) -> Result<Vec<HotspotRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT hotspot_key, owner_key, location, gain_ddbi, elevation_m, asserted_ms, full_hotspot FROM hotspots",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(HotspotRecord {
                    key: key_of(row, "hotspot_key", "hotspots")?,
                    owner: key_of(row, "owner_key", "hotspots")?,
                    location: row.try_get::<i64, _>("location")? as u64,
                    gain_ddbi: row.try_get::<i64, _>("gain_ddbi")? as i32,
                    elevation_m: row.try_get::<i64, _>("elevation_m")? as i32,
                    asserted_ms: row.try_get::<i64, _>("asserted_ms")? as u64,
                    full_hotspot: row.try_get::<i64, _>("full_hotspot")? != 0,
                })
            })
            .collect()
    }

    /// Records an accepted assertion and makes it the one in force, in one transaction.
    pub async fn save_assertion(
        &self,
        record: &HotspotRecord,
        id: [u8; 32],
        received_ms: u64,
        message: Vec<u8>,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("INSERT INTO assertions (id, hotspot_key, received_ms, message) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(id.to_vec())
            .bind(record.key.to_vec())
            .bind(received_ms as i64)
            .bind(message)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO hotspots (hotspot_key, owner_key, location, gain_ddbi, elevation_m, asserted_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (hotspot_key) DO UPDATE SET owner_key = excluded.owner_key, location = excluded.location, \
             gain_ddbi = excluded.gain_ddbi, elevation_m = excluded.elevation_m, asserted_ms = excluded.asserted_ms",
        )
        .bind(record.key.to_vec())
        .bind(record.owner.to_vec())
        .bind(record.location as i64)
        .bind(i64::from(record.gain_ddbi))
        .bind(i64::from(record.elevation_m))
        .bind(record.asserted_ms as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores a published entropy value.
    pub async fn save_entropy(&self, entropy: &Entropy) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO entropy (data, timestamp_ms, version, message) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(entropy.data.clone())
            .bind(entropy.timestamp_ms as i64)
            .bind(i64::from(entropy.version))
            .bind(prost::Message::encode_to_vec(entropy))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Entropy published at or after `since_ms`, oldest first.
    pub async fn entropy_since(&self, since_ms: u64) -> Result<Vec<Entropy>, StoreError> {
        let rows = sqlx::query(
            "SELECT message FROM entropy WHERE timestamp_ms >= $1 ORDER BY timestamp_ms",
        )
        .bind(since_ms as i64)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let bytes: Vec<u8> = row.try_get("message")?;
                prost::Message::decode(bytes.as_slice()).map_err(|e| StoreError::Corrupt {
                    table: "entropy",
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// Stores reports in one transaction; exact resubmissions are reported as duplicates with
    /// their first receive time and not stored again. New reports go in with multi-row
    /// statements (see `store/bulk.rs`).
    pub async fn insert_reports(&self, reports: &[NewReport]) -> Result<Vec<Stored>, StoreError> {
        let mut tx = self.db.pool().begin().await?;
        let outcomes = bulk::insert_reports(&mut tx, reports).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Stores reports one statement per report (the path before multi-row statements); kept
    /// to compare the two (`bench` tests) and as the reference of what is stored.
    pub async fn insert_reports_one_by_one(
        &self,
        reports: &[NewReport],
    ) -> Result<Vec<Stored>, StoreError> {
        let mut tx = self.db.pool().begin().await?;
        let mut outcomes = Vec::with_capacity(reports.len());
        for report in reports {
            outcomes.push(bulk::insert_one(&mut tx, report).await?);
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Records many accepted assertions (of distinct hotspots) and makes them the ones in
    /// force, in one transaction: the bulk form of [`Store::save_assertion`], for onboarding a
    /// whole network at once. Each item: record, message id, receive time, signed bytes.
    pub async fn save_assertions(
        &self,
        batch: &[(HotspotRecord, [u8; 32], u64, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let mut keys: Vec<&PublicKey> = batch.iter().map(|(r, ..)| &r.key).collect();
        keys.sort_unstable_by_key(|k| *k.as_bytes());
        keys.dedup();
        if keys.len() != batch.len() {
            for (record, id, received_ms, message) in batch {
                self.save_assertion(record, *id, *received_ms, message.clone())
                    .await?;
            }
            return Ok(());
        }
        let mut tx = self.db.pool().begin().await?;
        bulk::insert_assertions(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores many published entropy values in one transaction.
    pub async fn save_entropies(&self, entropies: &[Entropy]) -> Result<(), StoreError> {
        let mut tx = self.db.pool().begin().await?;
        bulk::insert_entropies(&mut tx, entropies).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reports of `kind` that have no verdict yet, oldest first (to resume after a restart).
    pub async fn unverified(&self, kind: ReportKind) -> Result<Vec<StoredReport>, StoreError> {
        self.unverified_between(kind, 0, i64::MAX as u64).await
    }

    /// Reports of `kind` received in `[from_ms, to_ms)` that have no verdict yet, oldest first.
    /// The restart backlog is read a window at a time with this, so memory does not grow with
    /// it.
    ///
    /// The verdict is looked up per report (a correlated subquery on the verdict's primary
    /// key), not anti-joined: PostgreSQL planned the `LEFT JOIN` as a hash join over the whole
    /// verdict table, so each window cost a scan of every verdict stored so far, and a backlog
    /// of `n` reports cost O(n^2).
    pub async fn unverified_between(
        &self,
        kind: ReportKind,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<StoredReport>, StoreError> {
        let sql = match kind {
            ReportKind::Beacon => {
                "SELECT r.id, r.received_ms, r.message FROM beacon_reports r \
                 WHERE r.received_ms >= $1 AND r.received_ms < $2 \
                 AND (SELECT 1 FROM pocs p WHERE p.beacon_id = r.id LIMIT 1) IS NULL \
                 ORDER BY r.received_ms, r.id"
            }
            ReportKind::Witness => {
                "SELECT r.id, r.received_ms, r.message FROM witness_reports r \
                 WHERE r.received_ms >= $1 AND r.received_ms < $2 \
                 AND (SELECT 1 FROM witness_verdicts v WHERE v.witness_id = r.id LIMIT 1) IS NULL \
                 ORDER BY r.received_ms, r.id"
            }
        };
        let rows = sqlx::query(sql)
            .bind(clamp_ms(from_ms))
            .bind(clamp_ms(to_ms))
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredReport {
                    id: id_of(row, kind.table())?,
                    received_ms: row.try_get::<i64, _>("received_ms")? as u64,
                    message: row.try_get("message")?,
                })
            })
            .collect()
    }

    /// The earliest receive time at or after `from_ms` of a report of either kind without a
    /// verdict; `None` when there is none. (`ORDER BY .. LIMIT 1`, not `MIN`: the index scan
    /// stops at the first report without a verdict instead of reading every later one.)
    pub async fn next_unverified_ms(&self, from_ms: u64) -> Result<Option<u64>, StoreError> {
        let mut next: Option<u64> = None;
        for sql in [
            "SELECT r.received_ms FROM beacon_reports r WHERE r.received_ms >= $1 \
             AND (SELECT 1 FROM pocs p WHERE p.beacon_id = r.id LIMIT 1) IS NULL \
             ORDER BY r.received_ms LIMIT 1",
            "SELECT r.received_ms FROM witness_reports r WHERE r.received_ms >= $1 \
             AND (SELECT 1 FROM witness_verdicts v WHERE v.witness_id = r.id LIMIT 1) IS NULL \
             ORDER BY r.received_ms LIMIT 1",
        ] {
            let row = sqlx::query(sql)
                .bind(clamp_ms(from_ms))
                .fetch_optional(self.db.pool())
                .await?;
            if let Some(row) = row {
                let t = row.try_get::<i64, _>("received_ms")?.max(0) as u64;
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        Ok(next)
    }
}

fn clamp_ms(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

use crate::trust::Reports;
use crate::verifier::denylist::{DenyEntry, Denylist};
use crate::verifier::poc::{PocVerdict, WitnessVerdict};
use crate::verifier::reason::{Invalid, Side};
use crate::verifier::state::HotspotState;
use futures::TryStreamExt;
use std::collections::HashMap;

async fn upsert_state(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    key: &PublicKey,
    state: &HotspotState,
) -> Result<(), StoreError> {
    let ms = |v: Option<u64>| v.map(|v| v as i64);
    sqlx::query(
        "INSERT INTO hotspot_state (hotspot_key, last_beacon_ms, last_witness_ms, last_reciprocal_beacon_ms, last_active_ms) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hotspot_key) DO UPDATE SET last_beacon_ms = excluded.last_beacon_ms, \
         last_witness_ms = excluded.last_witness_ms, last_reciprocal_beacon_ms = excluded.last_reciprocal_beacon_ms, \
         last_active_ms = excluded.last_active_ms",
    )
    .bind(key.to_vec())
    .bind(ms(state.last_beacon_ms))
    .bind(ms(state.last_witness_ms))
    .bind(ms(state.last_reciprocal_beacon_ms))
    .bind(ms(state.last_active_ms))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Reason, measured value, threshold and description of a verdict.
///
/// The float columns are never bound as NULL: sqlx 0.9's `Any` driver binds a NULL `f64` as a
/// NULL `f32` (sqlx-core `any/arguments.rs` swaps the two arms), so a statement prepared with a
/// NULL rejects the next real value on PostgreSQL. The values are bound as numbers with a
/// presence flag, and SQL (`CASE WHEN flag <> 0 THEN value END`) writes the NULL.
struct ReasonColumns {
    reason: Option<String>,
    measured: f64,
    threshold: f64,
    has_measure: i64,
    detail: Option<String>,
}

fn reason_columns(outcome: Option<&Invalid>) -> ReasonColumns {
    let measure = outcome.and_then(Invalid::measured_and_threshold);
    ReasonColumns {
        reason: outcome.map(|r| r.code().to_string()),
        measured: measure.map_or(0.0, |m| m.0),
        threshold: measure.map_or(0.0, |m| m.1),
        has_measure: i64::from(measure.is_some()),
        detail: outcome.map(ToString::to_string),
    }
}

/// Rows a save inserted: a verdict already stored is not stored again, and the verifier's
/// trust evidence counts only what was inserted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Inserted {
    pub pocs: u64,
    pub witnesses: u64,
}

impl std::ops::Add for Inserted {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Self {
            pocs: self.pocs + other.pocs,
            witnesses: self.witnesses + other.witnesses,
        }
    }
}

impl Store {
    /// Stores a proof-of-coverage verdict, the verdicts of its witnesses and the hotspot states
    /// it changed, in one transaction.
    pub async fn save_poc(
        &self,
        poc: &PocVerdict,
        states: &[(PublicKey, HotspotState)],
    ) -> Result<Inserted, StoreError> {
        let mut tx = self.db.pool().begin().await?;
        let columns = reason_columns(poc.outcome.as_ref().err());
        let done = sqlx::query(
            "INSERT INTO pocs (beacon_id, beaconer_key, epoch, received_ms, valid, reason, measured, threshold, detail, \
             location, hex_scale_e4, reward_units_e4, valid_witnesses, selected_witnesses, witness_reports, passed_regular) \
             VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $15 <> 0 THEN $7 END, CASE WHEN $15 <> 0 THEN $8 END, $9, $10, $11, \
             $12, $13, $14, $16, $17) ON CONFLICT DO NOTHING",
        )
        .bind(poc.beacon_id.to_vec())
        .bind(poc.beaconer.to_vec())
        .bind(poc.epoch as i64)
        .bind(poc.received_ms as i64)
        .bind(i64::from(poc.outcome.is_ok()))
        .bind(columns.reason)
        .bind(columns.measured)
        .bind(columns.threshold)
        .bind(columns.detail)
        .bind(poc.location.map(|l| l as i64))
        .bind(i64::from(poc.hex_scale_e4))
        .bind(i64::from(poc.reward_units_e4))
        .bind(i64::from(poc.valid_witnesses))
        .bind(i64::from(poc.selected_witnesses))
        .bind(columns.has_measure)
        .bind(i64::from(poc.witness_reports))
        .bind(i64::from(poc.passed_regular))
        .execute(&mut *tx)
        .await?;
        let mut inserted = Inserted {
            pocs: done.rows_affected(),
            witnesses: 0,
        };
        for witness in &poc.witnesses {
            inserted.witnesses +=
                insert_witness_verdict(&mut tx, witness, Some(poc), poc.epoch).await?;
        }
        for (key, state) in states {
            upsert_state(&mut tx, key, state).await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// Stores many proof-of-coverage verdicts (with their witness verdicts and the hotspot
    /// states they changed, in closing order) in one transaction, with multi-row statements:
    /// the same rows as [`Store::save_poc`] called for each in turn.
    pub async fn save_pocs(
        &self,
        pocs: &[(PocVerdict, Vec<(PublicKey, HotspotState)>)],
    ) -> Result<Inserted, StoreError> {
        let mut tx = self.db.pool().begin().await?;
        let inserted = bulk::insert_pocs(&mut tx, pocs).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    /// The verifier's per-hotspot state.
    pub async fn hotspot_states(&self) -> Result<Vec<(PublicKey, HotspotState)>, StoreError> {
        let rows = sqlx::query(
            "SELECT hotspot_key, last_beacon_ms, last_witness_ms, last_reciprocal_beacon_ms, last_active_ms FROM hotspot_state",
        )
        .fetch_all(self.db.pool())
        .await?;
        let ms = |row: &AnyRow, column: &str| -> Result<Option<u64>, StoreError> {
            Ok(row.try_get::<Option<i64>, _>(column)?.map(|v| v as u64))
        };
        rows.iter()
            .map(|row| {
                let state = HotspotState {
                    last_beacon_ms: ms(row, "last_beacon_ms")?,
                    last_witness_ms: ms(row, "last_witness_ms")?,
                    last_reciprocal_beacon_ms: ms(row, "last_reciprocal_beacon_ms")?,
                    last_active_ms: ms(row, "last_active_ms")?,
                };
                Ok((key_of(row, "hotspot_key", "hotspot_state")?, state))
            })
            .collect()
    }

    /// Every denylist entry (expired ones included; they simply no longer apply).
    pub async fn denylist(&self) -> Result<Denylist, StoreError> {
        let rows = sqlx::query("SELECT target, kind, reason, from_ms, expires_ms FROM denylist")
            .fetch_all(self.db.pool())
            .await?;
        let mut list = Denylist::default();
        for row in &rows {
            let target: Vec<u8> = row.try_get("target")?;
            let entry = DenyEntry {
                reason: row.try_get("reason")?,
                from_ms: row.try_get::<i64, _>("from_ms")? as u64,
                expires_ms: row.try_get::<i64, _>("expires_ms")? as u64,
            };
            let corrupt = |reason: &str| StoreError::Corrupt {
                table: "denylist",
                reason: reason.to_string(),
            };
            match (row.try_get::<String, _>("kind")?.as_str(), target.len()) {
                ("key", 32) => list.deny_key(
                    PublicKey::from_slice(&target).map_err(|_| corrupt("key"))?,
                    entry,
                ),
                ("edge", 64) => {
                    let a = PublicKey::from_slice(&target[..32]).map_err(|_| corrupt("edge"))?;
                    let b = PublicKey::from_slice(&target[32..]).map_err(|_| corrupt("edge"))?;
                    list.deny_edge(a, b, entry);
                }
                (kind, len) => return Err(corrupt(&format!("{kind} entry of {len} bytes"))),
            }
        }
        Ok(list)
    }

    /// Stores verdicts of witnesses that belong to no proof of coverage (stale or late).
    pub async fn save_lone_witnesses(
        &self,
        verdicts: &[(WitnessVerdict, u64)],
    ) -> Result<(), StoreError> {
        let mut tx = self.db.pool().begin().await?;
        for (verdict, epoch) in verdicts {
            insert_witness_verdict(&mut tx, verdict, None, *epoch).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_witness_verdict(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    witness: &WitnessVerdict,
    poc: Option<&PocVerdict>,
    epoch: u64,
) -> Result<u64, StoreError> {
    let (side, invalid) = match &witness.outcome {
        Ok(()) => (None, None),
        Err((side, reason)) => (Some(*side), Some(reason)),
    };
    let columns = reason_columns(invalid);
    let done = sqlx::query(
        "INSERT INTO witness_verdicts (witness_id, beacon_id, witness_key, beaconer_key, epoch, received_ms, valid, reason, \
         side, measured, threshold, detail, selected, hex_scale_e4, reward_units_e4, passed_regular, log_distance_e3, signal_ddbm) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $16 <> 0 THEN $10 END, CASE WHEN $16 <> 0 THEN $11 END, $12, $13, \
         $14, $15, $17, $18, $19) ON CONFLICT DO NOTHING",
    )
    .bind(witness.witness_id.to_vec())
    .bind(poc.map(|p| p.beacon_id.to_vec()))
    .bind(witness.witness.to_vec())
    .bind(poc.map(|p| p.beaconer.to_vec()))
    .bind(epoch as i64)
    .bind(witness.received_ms as i64)
    .bind(i64::from(witness.outcome.is_ok()))
    .bind(columns.reason)
    .bind(side.map(Side::as_str))
    .bind(columns.measured)
    .bind(columns.threshold)
    .bind(columns.detail)
    .bind(i64::from(witness.selected))
    .bind(i64::from(poc.map_or(0, |p| p.hex_scale_e4)))
    .bind(i64::from(witness.reward_units_e4))
    .bind(columns.has_measure)
    .bind(i64::from(witness.passed_regular))
    .bind(witness.evidence.map(|e| crate::trust::log_distance_e3(e.distance_m)))
    .bind(witness.evidence.map(|e| i64::from(e.signal_ddbm)))
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Verdict counts of one hotspot for one kind of report and outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictCount {
    pub hotspot: PublicKey,
    /// `beacon` or `witness`.
    pub kind: &'static str,
    pub valid: bool,
    pub selected: bool,
    /// Invalid reason code, `None` when valid.
    pub reason: Option<String>,
    pub count: u64,
    /// Sum of reward units (1e-4).
    pub reward_units_e4: u64,
    /// Sum of reward units x transmit scale (1e-8).
    pub scaled_units_e8: u64,
}

impl Store {
    /// Per hotspot, kind, outcome and reason: how many verdicts and reward units.
    pub async fn verdict_counts(&self) -> Result<Vec<VerdictCount>, StoreError> {
        let beacons = sqlx::query(
            "SELECT beaconer_key AS hotspot, valid, 0 AS selected, reason, COUNT(*) AS n, \
             CAST(SUM(reward_units_e4) AS BIGINT) AS units, CAST(SUM(reward_units_e4 * hex_scale_e4) AS BIGINT) AS scaled \
             FROM pocs GROUP BY beaconer_key, valid, reason",
        )
        .fetch_all(self.db.pool())
        .await?;
        let witnesses = sqlx::query(
            "SELECT witness_key AS hotspot, valid, selected, reason, COUNT(*) AS n, \
             CAST(SUM(reward_units_e4) AS BIGINT) AS units, CAST(SUM(reward_units_e4 * hex_scale_e4) AS BIGINT) AS scaled \
             FROM witness_verdicts GROUP BY witness_key, valid, selected, reason",
        )
        .fetch_all(self.db.pool())
        .await?;
        let convert = |row: &AnyRow, kind: &'static str| -> Result<VerdictCount, StoreError> {
            Ok(VerdictCount {
                hotspot: key_of(row, "hotspot", "verdicts")?,
                kind,
                valid: row.try_get::<i64, _>("valid")? != 0,
                selected: row.try_get::<i64, _>("selected")? != 0,
                reason: row.try_get("reason")?,
                count: row.try_get::<i64, _>("n")? as u64,
                reward_units_e4: row.try_get::<i64, _>("units")? as u64,
                scaled_units_e8: row.try_get::<i64, _>("scaled")? as u64,
            })
        };
        let mut out = Vec::with_capacity(beacons.len() + witnesses.len());
        for row in &beacons {
            out.push(convert(row, "beacon")?);
        }
        for row in &witnesses {
            out.push(convert(row, "witness")?);
        }
        Ok(out)
    }
}

impl Store {
    /// The version of the last applied denylist.
    pub async fn denylist_version(&self) -> Result<Option<u64>, StoreError> {
        let row = sqlx::query("SELECT MAX(list_version) AS v FROM denylist")
            .fetch_one(self.db.pool())
            .await?;
        Ok(row.try_get::<Option<i64>, _>("v")?.map(|v| v as u64))
    }

    /// Stores a verified denylist's entries (a renewed entry takes the newer expiry).
    pub async fn save_denylist(
        &self,
        list: &schemas::proto::Denylist,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.pool().begin().await?;
        for entry in &list.entries {
            let (kind, target) = if entry.other_key.is_empty() {
                ("key", entry.key.clone())
            } else {
                let (a, b) = if entry.key <= entry.other_key {
                    (&entry.key, &entry.other_key)
                } else {
                    (&entry.other_key, &entry.key)
                };
                ("edge", [a.as_slice(), b.as_slice()].concat())
            };
            sqlx::query(
                "INSERT INTO denylist (target, kind, reason, from_ms, expires_ms, list_version) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (target) DO UPDATE SET reason = excluded.reason, expires_ms = excluded.expires_ms, \
                 list_version = excluded.list_version",
            )
            .bind(target)
            .bind(kind)
            .bind(entry.reason.clone())
            .bind(now_ms as i64)
            .bind(entry.expires_ms as i64)
            .bind(list.version as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Witness-graph evidence received in `[from_ms, to_ms)`: the witness reports that passed
    /// the regular checks, summed per edge (beaconer, witness) and distance, each given to `f`
    /// as it is read (a window holds millions).
    pub async fn trust_reports(
        &self,
        from_ms: u64,
        to_ms: u64,
        mut f: impl FnMut(PublicKey, PublicKey, Reports),
    ) -> Result<(), StoreError> {
        let mut rows = sqlx::query(
            "SELECT beaconer_key, witness_key, log_distance_e3 AS x, COUNT(*) AS n, \
             CAST(SUM(signal_ddbm) AS BIGINT) AS sy, CAST(SUM(signal_ddbm * signal_ddbm) AS BIGINT) AS syy \
             FROM witness_verdicts WHERE passed_regular = 1 AND received_ms >= $1 AND received_ms < $2 \
             AND log_distance_e3 IS NOT NULL AND beaconer_key IS NOT NULL \
             GROUP BY beaconer_key, witness_key, log_distance_e3",
        )
        .bind(from_ms.min(i64::MAX as u64) as i64)
        .bind(to_ms.min(i64::MAX as u64) as i64)
        .fetch(self.db.pool());
        let corrupt = |what: &str| StoreError::Corrupt {
            table: "witness_verdicts",
            reason: format!("{what} out of range"),
        };
        while let Some(row) = rows.try_next().await? {
            let reports = Reports {
                x_e3: i32::try_from(row.try_get::<i64, _>("x")?)
                    .map_err(|_| corrupt("log_distance_e3"))?,
                n: u32::try_from(row.try_get::<i64, _>("n")?).map_err(|_| corrupt("count"))?,
                sy: row.try_get("sy")?,
                syy: row.try_get("syy")?,
            };
            f(
                key_of(&row, "beaconer_key", "witness_verdicts")?,
                key_of(&row, "witness_key", "witness_verdicts")?,
                reports,
            );
        }
        Ok(())
    }
}

impl Store {
    /// Beacons per hotspot received in `[from_ms, to_ms)` that passed the regular checks.
    pub async fn beacons_in_window(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<HashMap<PublicKey, u64>, StoreError> {
        let rows = sqlx::query(
            "SELECT beaconer_key, COUNT(*) AS n FROM pocs WHERE passed_regular = 1 AND received_ms >= $1 AND received_ms < $2 \
             GROUP BY beaconer_key",
        )
        .bind(from_ms as i64)
        .bind(to_ms as i64)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    key_of(row, "beaconer_key", "pocs")?,
                    row.try_get::<i64, _>("n")? as u64,
                ))
            })
            .collect()
    }
}
