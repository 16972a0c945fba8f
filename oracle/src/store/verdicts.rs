//! Verdicts: storing them with the verifier's progress, finding reports that have none, and
//! reading them back for witness-graph trust and the hotspot state.
//!
//! Both verdict tables are keyed by (minute of receipt, hotspot key, report id) and nothing else
//! (migration 0009): a report's verdict is one exact lookup (its row gives the minute, key and
//! id), a range of receive time is a range of minutes.

use super::PgWriteError;
use super::pg_copy;
use super::{ReportKind, Store, StoreError, StoredReport, clamp_ms, id_of, key_of, verdict_rows};
use crate::trust::Reports;
use crate::verifier::poc::{PocVerdict, WitnessVerdict};
use crate::verifier::reason::{Invalid, Side};
use crate::verifier::state::{BeaconEffects, HotspotState, StateBook};
use db::{verdict_minute, verdict_minutes};
use futures::TryStreamExt;
use schemas::PublicKey;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::HashMap;

/// How far the verifier has come, as stored (`verifier_progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Every report received before this has a verdict.
    pub verified_before_ms: u64,
    /// `hotspot_state` plus every verdict received at or after this is the exact state
    /// (`u64::MAX`-like values: nothing to replay).
    pub state_replay_from_ms: u64,
}

/// A checkpoint of the hotspot state, stored with a batch of verdicts.
#[derive(Debug, Clone, Default)]
pub struct Checkpoint {
    /// Every hotspot whose state changed since the last checkpoint, with its state now.
    pub states: Vec<(PublicKey, HotspotState)>,
    /// Every verdict stored after this checkpoint is of a report received at or after this.
    pub replay_from_ms: u64,
}

/// What storing a batch of verdicts moves forward, in the same transaction.
#[derive(Debug, Clone, Default)]
pub struct BatchProgress {
    /// Once the batch is stored, every report received before this has a verdict.
    pub verified_before_ms: u64,
    /// A checkpoint of the hotspot state, now and then.
    pub checkpoint: Option<Checkpoint>,
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

/// A proof-of-coverage verdict as stored: the verdict and which of its beaconer's timestamps it
/// set.
pub type PocRow = (PocVerdict, BeaconEffects);

/// Batches of verdicts commit in the order they were verified, even when several are written at
/// once: each batch records the verifier's progress, which must never claim verdicts a batch
/// before it failed to store. A batch's [`CommitTurn`] is its place in that order: it waits for
/// the batch before it ([`CommitTurn::wait`]) before it records any progress, and tells the
/// batch after it when it has committed ([`CommitTurn::committed`]).
#[derive(Debug)]
pub struct CommitTurn {
    /// Answered when the batch before commits; dropped unanswered when it does not. `None`:
    /// waited already (or nothing before).
    before: Option<tokio::sync::oneshot::Receiver<()>>,
    before_failed: bool,
    mine: tokio::sync::oneshot::Sender<()>,
}

/// The commit of the last batch handed out a [`CommitTurn`]: the next batch waits for it.
#[derive(Debug, Default)]
pub struct CommitOrder {
    last: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl CommitOrder {
    /// The turn of the next batch: after every batch handed a turn before it.
    pub fn next_turn(&mut self) -> CommitTurn {
        let (mine, next) = tokio::sync::oneshot::channel();
        CommitTurn {
            before: self.last.replace(next),
            before_failed: false,
            mine,
        }
    }
}

impl CommitTurn {
    /// Waits until the batch before has committed; [`StoreError::EarlierBatch`] when it did not
    /// (this batch must not commit either).
    pub async fn wait(&mut self) -> Result<(), StoreError> {
        if let Some(before) = self.before.take() {
            self.before_failed = before.await.is_err();
        }
        if self.before_failed {
            return Err(StoreError::EarlierBatch);
        }
        Ok(())
    }

    /// This batch committed: the next may.
    pub fn committed(self) {
        // The next batch may be gone already (undone after a failure): nothing waits then.
        let _ = self.mine.send(());
    }
}

/// Reason, measured value, threshold and description of a verdict.
///
/// The float columns are never bound as NULL: sqlx 0.9's `Any` driver binds a NULL `f64` as a
/// NULL `f32` (sqlx-core `any/arguments.rs` swaps the two arms), so a statement prepared with a
/// NULL rejects the next real value on PostgreSQL. The values are bound as numbers with a
/// presence flag, and SQL (`CASE WHEN flag <> 0 THEN value END`) writes the NULL.
pub(super) struct ReasonColumns {
    pub reason: Option<String>,
    pub measured: f64,
    pub threshold: f64,
    pub has_measure: i64,
    pub detail: Option<String>,
}

pub(super) fn reason_columns(outcome: Option<&Invalid>) -> ReasonColumns {
    let measure = outcome.and_then(Invalid::measured_and_threshold);
    ReasonColumns {
        reason: outcome.map(|r| r.code().to_string()),
        measured: measure.map_or(0.0, |m| m.0),
        threshold: measure.map_or(0.0, |m| m.1),
        has_measure: i64::from(measure.is_some()),
        detail: outcome.map(ToString::to_string),
    }
}

/// The columns of a witness verdict after its key, in [`WITNESS_COLUMNS`] order.
pub(super) fn witness_side(witness: &WitnessVerdict) -> (Option<&'static str>, ReasonColumns) {
    let (side, invalid) = match &witness.outcome {
        Ok(()) => (None, None),
        Err((side, reason)) => (Some(Side::as_str(*side)), Some(reason)),
    };
    (side, reason_columns(invalid))
}

/// Sets the state replay point (a checkpoint was stored).
pub(super) const SET_REPLAY_FROM: &str =
    "UPDATE verifier_progress SET state_replay_from_ms = $1 WHERE id = 1";
/// Lowers the state replay point to at most `$1` (verdicts received then were stored).
pub(super) const LOWER_REPLAY_FROM: &str = "UPDATE verifier_progress SET state_replay_from_ms = \
     CASE WHEN state_replay_from_ms < $1 THEN state_replay_from_ms ELSE $1 END WHERE id = 1";
/// Moves `verified_before_ms` to `$1` unless it is further already.
pub(super) const VERIFIED_BEFORE: &str = "UPDATE verifier_progress SET verified_before_ms = \
     CASE WHEN verified_before_ms > $1 THEN verified_before_ms ELSE $1 END WHERE id = 1";

/// Moves `verifier_progress` forward in `tx`: `verified_before_ms` never goes back; the state
/// replay point is the checkpoint's, or else at most the earliest receive time stored now.
pub(super) async fn advance(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    progress: &BatchProgress,
    earliest_ms: Option<u64>,
) -> Result<(), StoreError> {
    if let Some(checkpoint) = &progress.checkpoint {
        verdict_rows::upsert_states(tx, &checkpoint.states).await?;
        sqlx::query(SET_REPLAY_FROM)
            .bind(clamp_ms(checkpoint.replay_from_ms))
            .execute(&mut **tx)
            .await?;
    } else if let Some(earliest) = earliest_ms {
        sqlx::query(LOWER_REPLAY_FROM)
            .bind(clamp_ms(earliest))
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(VERIFIED_BEFORE)
        .bind(clamp_ms(progress.verified_before_ms))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The earliest receive time of anything in `pocs` that sets a hotspot's state.
fn earliest_effect(pocs: &[PocRow]) -> Option<u64> {
    pocs.iter()
        .flat_map(|(poc, effects)| {
            let beacon = (effects.bits() != 0).then_some(poc.received_ms);
            let witnesses = poc
                .witnesses
                .iter()
                .filter(|w| w.passed_regular)
                .map(|w| w.received_ms);
            beacon.into_iter().chain(witnesses)
        })
        .min()
}

impl Store {
    /// Stores many proof-of-coverage verdicts (with their witness verdicts) and the progress
    /// they make, in one transaction, with multi-row statements.
    /// On PostgreSQL the rows go in with `COPY` (see `pg_copy.rs`).
    pub async fn save_pocs(
        &self,
        pocs: &[PocRow],
        progress: &BatchProgress,
    ) -> Result<Inserted, StoreError> {
        let mut turn = CommitOrder::default().next_turn();
        let inserted = self.save_pocs_in_turn(pocs, progress, &mut turn).await?;
        turn.committed();
        Ok(inserted)
    }

    /// [`Store::save_pocs`] once the batches before it in `turn`'s order have committed: on
    /// PostgreSQL the rows are written meanwhile (on this batch's own connection) and only the
    /// progress and the commit wait; SQLite has one writer, so the whole batch waits. The
    /// caller calls [`CommitTurn::committed`] when this returns `Ok`.
    pub async fn save_pocs_in_turn(
        &self,
        pocs: &[PocRow],
        progress: &BatchProgress,
        turn: &mut CommitTurn,
    ) -> Result<Inserted, StoreError> {
        if let Some(pg) = self.db.postgres() {
            match pg_copy::save_pocs(pg, pocs, progress, earliest_effect(pocs), turn).await {
                Ok(inserted) => return Ok(inserted),
                Err(PgWriteError::Store(e)) => return Err(e),
                Err(PgWriteError::Duplicate) => {
                    tracing::warn!(
                        pocs = pocs.len(),
                        "a verdict of the batch was stored before; storing the rest one by one"
                    );
                }
            }
        }
        turn.wait().await?;
        let (_turn, mut tx) = self.begin_write().await?;
        let inserted = verdict_rows::insert_pocs(&mut tx, pocs).await?;
        advance(&mut tx, progress, earliest_effect(pocs)).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    /// [`Store::save_pocs`] for one proof of coverage with one statement per row (the path
    /// before multi-row statements, kept to compare the two).
    pub async fn save_poc(
        &self,
        poc: &PocRow,
        progress: &BatchProgress,
    ) -> Result<Inserted, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let mut inserted = Inserted {
            pocs: verdict_rows::insert_poc_rows(&mut tx, std::slice::from_ref(poc), 1).await?,
            witnesses: 0,
        };
        for witness in &poc.0.witnesses {
            inserted.witnesses += verdict_rows::insert_witness_rows(
                &mut tx,
                &[(witness, Some(&poc.0), poc.0.epoch)],
                1,
            )
            .await?;
        }
        advance(
            &mut tx,
            progress,
            earliest_effect(std::slice::from_ref(poc)),
        )
        .await?;
        tx.commit().await?;
        Ok(inserted)
    }

    /// Stores verdicts of witnesses that belong to no proof of coverage (stale or late), each
    /// with the epoch it counts in.
    pub async fn save_lone_witnesses(
        &self,
        verdicts: &[(WitnessVerdict, u64)],
    ) -> Result<(), StoreError> {
        let rows: Vec<_> = verdicts
            .iter()
            .map(|(v, epoch)| (v, None, *epoch))
            .collect();
        let (_turn, mut tx) = self.begin_write().await?;
        verdict_rows::insert_witness_rows(&mut tx, &rows, usize::MAX).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves `verified_before_ms` forward on its own (when no batch of verdicts carried it).
    pub async fn save_verified_before(&self, verified_before_ms: u64) -> Result<(), StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let progress = BatchProgress {
            verified_before_ms,
            checkpoint: None,
        };
        advance(&mut tx, &progress, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The verifier's stored progress.
    pub async fn progress(&self) -> Result<Progress, StoreError> {
        let row = sqlx::query(
            "SELECT verified_before_ms, state_replay_from_ms FROM verifier_progress WHERE id = 1",
        )
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else {
            return Err(StoreError::Corrupt {
                table: "verifier_progress",
                reason: "its row is missing".into(),
            });
        };
        Ok(Progress {
            verified_before_ms: row.try_get::<i64, _>(0)?.max(0) as u64,
            state_replay_from_ms: row.try_get::<i64, _>(1)?.max(0) as u64,
        })
    }

    /// The verifier's per-hotspot state: the last checkpoint with every verdict stored after
    /// it folded in (see `verifier::state`), sorted by key.
    pub async fn hotspot_states(&self) -> Result<Vec<(PublicKey, HotspotState)>, StoreError> {
        let (book, _) = self.hotspot_states_and_changes().await?;
        let mut states: Vec<_> = book.into_iter().collect();
        states.sort_unstable_by_key(|(key, _)| *key);
        Ok(states)
    }

    /// [`Store::hotspot_states`], and apart the changes folded in since the checkpoint (the
    /// verifier's next checkpoint must write them).
    pub async fn hotspot_states_and_changes(&self) -> Result<(StateBook, StateBook), StoreError> {
        let mut book = StateBook::new();
        let mut rows = sqlx::query(
            "SELECT hotspot_key, last_beacon_ms, last_witness_ms, last_reciprocal_beacon_ms, last_active_ms FROM hotspot_state",
        )
        .fetch(self.db.pool());
        while let Some(row) = rows.try_next().await? {
            let state = HotspotState {
                last_beacon_ms: optional_ms(&row, 1)?,
                last_witness_ms: optional_ms(&row, 2)?,
                last_reciprocal_beacon_ms: optional_ms(&row, 3)?,
                last_active_ms: optional_ms(&row, 4)?,
            };
            book.insert(key_of(&row, "hotspot_key", "hotspot_state")?, state);
        }
        drop(rows);
        let mut changes = StateBook::new();
        let from = self.progress().await?.state_replay_from_ms;
        if from < i64::MAX as u64 {
            self.replay_states(from, &mut changes).await?;
        }
        for (key, change) in &changes {
            book.entry(*key).or_default().merge(change);
        }
        Ok((book, changes))
    }

    /// Folds the state effects of every verdict received at or after `from_ms` into `book`.
    async fn replay_states(&self, from_ms: u64, book: &mut StateBook) -> Result<(), StoreError> {
        let mut beacons = sqlx::query(
            "SELECT beaconer_key, MAX(CASE WHEN (state_flags & 1) <> 0 THEN received_ms END), \
             MAX(CASE WHEN (state_flags & 2) <> 0 THEN received_ms END), \
             MAX(CASE WHEN (state_flags & 4) <> 0 THEN received_ms END) \
             FROM pocs WHERE minute >= $1 AND received_ms >= $2 AND state_flags <> 0 GROUP BY beaconer_key",
        )
        .bind(verdict_minute(from_ms))
        .bind(clamp_ms(from_ms))
        .fetch(self.db.pool());
        while let Some(row) = beacons.try_next().await? {
            let change = HotspotState {
                last_beacon_ms: optional_ms(&row, 1)?,
                last_witness_ms: None,
                last_reciprocal_beacon_ms: optional_ms(&row, 2)?,
                last_active_ms: optional_ms(&row, 3)?,
            };
            let key = key_of(&row, "beaconer_key", "pocs")?;
            book.entry(key).or_default().merge(&change);
        }
        drop(beacons);
        let mut witnesses = sqlx::query(
            "SELECT witness_key, MAX(received_ms) FROM witness_verdicts \
             WHERE minute >= $1 AND received_ms >= $2 AND passed_regular = 1 GROUP BY witness_key",
        )
        .bind(verdict_minute(from_ms))
        .bind(clamp_ms(from_ms))
        .fetch(self.db.pool());
        while let Some(row) = witnesses.try_next().await? {
            let change = HotspotState {
                last_witness_ms: optional_ms(&row, 1)?,
                ..HotspotState::default()
            };
            let key = key_of(&row, "witness_key", "witness_verdicts")?;
            book.entry(key).or_default().merge(&change);
        }
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
    /// The verdict is looked up per report by its exact key (a correlated subquery), not
    /// anti-joined: PostgreSQL planned an anti-join as a hash join over the whole verdict
    /// table, so each window cost a scan of every verdict stored so far.
    pub async fn unverified_between(
        &self,
        kind: ReportKind,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<StoredReport>, StoreError> {
        let sql = match kind {
            ReportKind::Beacon => {
                "SELECT r.id, r.received_ms, r.message FROM beacon_reports r \
                 WHERE r.received_ms >= $1 AND r.received_ms < $2 AND (SELECT 1 FROM pocs p \
                 WHERE p.minute = r.received_ms / 60000 AND p.beaconer_key = r.hotspot_key AND p.beacon_id = r.id) IS NULL \
                 ORDER BY r.received_ms, r.id"
            }
            ReportKind::Witness => {
                "SELECT r.id, r.received_ms, r.message FROM witness_reports r \
                 WHERE r.received_ms >= $1 AND r.received_ms < $2 AND (SELECT 1 FROM witness_verdicts v \
                 WHERE v.minute = r.received_ms / 60000 AND v.witness_key = r.hotspot_key AND v.witness_id = r.id) IS NULL \
                 ORDER BY r.received_ms, r.id"
            }
        };
        let mut rows = sqlx::query(sql)
            .bind(clamp_ms(from_ms))
            .bind(clamp_ms(to_ms))
            .fetch(self.db.pool());
        let mut out = Vec::new();
        while let Some(row) = rows.try_next().await? {
            out.push(StoredReport {
                id: id_of(&row, kind.table())?,
                received_ms: row.try_get::<i64, _>("received_ms")?.max(0) as u64,
                message: row.try_get("message")?,
            });
        }
        Ok(out)
    }

    /// The earliest receive time at or after `from_ms` of a report of either kind without a
    /// verdict; `None` when there is none. (`ORDER BY .. LIMIT 1`, not `MIN`: the index scan
    /// stops at the first report without a verdict instead of reading every later one.)
    pub async fn next_unverified_ms(&self, from_ms: u64) -> Result<Option<u64>, StoreError> {
        let mut next: Option<u64> = None;
        for sql in [
            "SELECT r.received_ms FROM beacon_reports r WHERE r.received_ms >= $1 AND (SELECT 1 FROM pocs p \
             WHERE p.minute = r.received_ms / 60000 AND p.beaconer_key = r.hotspot_key AND p.beacon_id = r.id) IS NULL \
             ORDER BY r.received_ms LIMIT 1",
            "SELECT r.received_ms FROM witness_reports r WHERE r.received_ms >= $1 AND (SELECT 1 FROM witness_verdicts v \
             WHERE v.minute = r.received_ms / 60000 AND v.witness_key = r.hotspot_key AND v.witness_id = r.id) IS NULL \
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

    /// A bound on the receive times of the verdicts stored so far that were received at or
    /// after `from_ms`: each was received before it (`from_ms` when there is none). The trust
    /// window reads what was stored ahead of its end up to this bound from the database and
    /// counts what is stored later as it is stored (`trust::Window`).
    pub async fn stored_before_bound(&self, from_ms: u64) -> Result<u64, StoreError> {
        let mut bound = from_ms;
        for sql in [
            "SELECT MAX(received_ms) AS m FROM pocs WHERE minute >= $1",
            "SELECT MAX(received_ms) AS m FROM witness_verdicts WHERE minute >= $1",
        ] {
            let row = sqlx::query(sql)
                .bind(verdict_minute(from_ms))
                .fetch_one(self.db.pool())
                .await?;
            if let Some(m) = row.try_get::<Option<i64>, _>("m")? {
                bound = bound.max((m.max(0) as u64).saturating_add(1));
            }
        }
        Ok(bound)
    }

    /// Witness-graph evidence received in `[from_ms, to_ms)`: the witness reports that passed
    /// the regular checks, summed per edge (beaconer, witness) and distance, each given to `f`
    /// as it is read (a window holds millions).
    pub async fn trust_reports(
        &self,
        from_ms: u64,
        to_ms: u64,
        mut f: impl FnMut(PublicKey, PublicKey, Reports),
    ) -> Result<(), StoreError> {
        let (first, last) = verdict_minutes(from_ms, to_ms);
        let mut rows = sqlx::query(
            "SELECT beaconer_key, witness_key, log_distance_e3 AS x, COUNT(*) AS n, \
             CAST(SUM(signal_ddbm) AS BIGINT) AS sy, CAST(SUM(signal_ddbm * signal_ddbm) AS BIGINT) AS syy \
             FROM witness_verdicts WHERE minute >= $1 AND minute <= $2 AND received_ms >= $3 AND received_ms < $4 \
             AND passed_regular = 1 AND log_distance_e3 IS NOT NULL AND beaconer_key IS NOT NULL \
             GROUP BY beaconer_key, witness_key, log_distance_e3",
        )
        .bind(first)
        .bind(last)
        .bind(clamp_ms(from_ms))
        .bind(clamp_ms(to_ms))
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

    /// Beacons per hotspot received in `[from_ms, to_ms)` that passed the regular checks.
    pub async fn beacons_in_window(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<HashMap<PublicKey, u64>, StoreError> {
        let (first, last) = verdict_minutes(from_ms, to_ms);
        let mut rows = sqlx::query(
            "SELECT beaconer_key, COUNT(*) AS n FROM pocs WHERE minute >= $1 AND minute <= $2 \
             AND received_ms >= $3 AND received_ms < $4 AND passed_regular = 1 GROUP BY beaconer_key",
        )
        .bind(first)
        .bind(last)
        .bind(clamp_ms(from_ms))
        .bind(clamp_ms(to_ms))
        .fetch(self.db.pool());
        let mut out = HashMap::new();
        while let Some(row) = rows.try_next().await? {
            out.insert(
                key_of(&row, "beaconer_key", "pocs")?,
                row.try_get::<i64, _>("n")?.max(0) as u64,
            );
        }
        Ok(out)
    }
}

fn optional_ms(row: &AnyRow, column: usize) -> Result<Option<u64>, StoreError> {
    Ok(row
        .try_get::<Option<i64>, _>(column)?
        .map(|v| v.max(0) as u64))
}
