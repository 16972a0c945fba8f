//! Every query the oracle makes. One SQL text per query, run unchanged on SQLite and
//! PostgreSQL (see the `db` crate for the shared dialect).

use db::Db;
use schemas::PublicKey;
use schemas::proto::Entropy;
use sqlx::any::AnyRow;
use sqlx::{PgConnection, Row};
use std::sync::Arc;

mod bulk;
mod pg_copy;
mod pg_progress;
mod reports;
mod verdict_rows;
mod verdicts;

pub use reports::ReportCommits;
pub use verdicts::{
    BatchProgress, Checkpoint, CommitOrder, CommitTurn, Inserted, PocRow, Progress,
};

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
    /// A batch of verdicts verified before this one was not stored, so this one was not
    /// either (batches commit in order: `CommitTurn`).
    #[error("an earlier batch of verdicts was not stored")]
    EarlierBatch,
}

/// PostgreSQL's code for a unique constraint violated.
const UNIQUE_VIOLATION: &str = "23505";

/// Why a PostgreSQL write that assumes every row is new (a `COPY`, an `INSERT` without
/// `ON CONFLICT`) stored nothing.
enum PgWriteError {
    /// A row was stored before: its transaction is aborted, and the rows are stored again by
    /// the path that checks each one.
    Duplicate,
    Store(StoreError),
}

impl From<sqlx::Error> for PgWriteError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.code().as_deref() == Some(UNIQUE_VIOLATION) => {
                PgWriteError::Duplicate
            }
            _ => PgWriteError::Store(StoreError::Sql(e)),
        }
    }
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
    /// SQLite only: one write transaction at a time, in the order asked (see
    /// [`Store::begin_write`]).
    write_lock: Option<Arc<tokio::sync::Mutex<()>>>,
    /// How [`Store::insert_reports`] stored each group (shared by clones).
    report_paths: Arc<reports::Paths>,
    /// PostgreSQL only: the connection [`Store::insert_reports`] keeps from one group to the
    /// next (shared by clones).
    report_conn: Arc<tokio::sync::Mutex<Option<KeptConnection>>>,
}

/// A connection kept for the ingest writer, and when it last answered. It is taken out of the
/// pool (detached), so closing the pool does not wait for it; [`Store::close`] closes it.
#[derive(Debug)]
struct KeptConnection {
    conn: PgConnection,
    used: std::time::Instant,
}

/// A kept connection idle this long is checked (a round trip) before it is used again, as the
/// pool checks each connection it gives out: the server may have closed it meanwhile.
const KEPT_IDLE_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// A write transaction and, on SQLite, this process's turn to write.
type WriteTx = (
    Option<tokio::sync::OwnedMutexGuard<()>>,
    sqlx::Transaction<'static, sqlx::Any>,
);

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
        let write_lock =
            (db.backend() == db::Backend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        Self {
            db,
            write_lock,
            report_paths: Arc::default(),
            report_conn: Arc::default(),
        }
    }

    /// Begins a write transaction. SQLite has one writer at a time and makes the others wait
    /// in its busy handler, which sleeps up to 100 ms between attempts: with the verifier
    /// storing verdicts back to back, the ingest writer lost the race for seconds (inserts of
    /// 40 rows "took" 4 s, a quarter of the CPU idle). Writers of this process therefore take
    /// turns here first, in the order they asked (a fair lock), and SQLite never makes them
    /// wait. PostgreSQL writes concurrently and takes no turn.
    async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        let turn = match &self.write_lock {
            Some(lock) => Some(Arc::clone(lock).lock_owned().await),
            None => None,
        };
        Ok((turn, self.db.pool().begin().await?))
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
        let (_turn, mut tx) = self.begin_write().await?;
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
        let (_turn, mut tx) = self.begin_write().await?;
        sqlx::query("INSERT INTO entropy (data, timestamp_ms, version, message) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(entropy.data.clone())
            .bind(entropy.timestamp_ms as i64)
            .bind(i64::from(entropy.version))
            .bind(prost::Message::encode_to_vec(entropy))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
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
    /// their first receive time and not stored again. On PostgreSQL a group of new reports
    /// goes in by one plain statement of arrays that commits on its own (one round trip), and
    /// is stored again checking each report if one was stored before; on SQLite, by multi-row
    /// `VALUES` that return what they inserted (see `store/reports.rs`).
    ///
    /// On PostgreSQL the groups go over one connection kept from one group to the next: a
    /// connection taken from the pool is checked with a round trip when taken and another when
    /// given back, and with both cores busy every round trip waits to be scheduled. The kept
    /// connection is checked only after [`KEPT_IDLE_CHECK`] idle; a group whose store fails
    /// gives it up (it may be broken), and the next group takes another.
    pub async fn insert_reports(&self, reports: &[NewReport]) -> Result<Vec<Stored>, StoreError> {
        if let Some(postgres) = self.db.postgres() {
            let mut kept = self.report_conn.lock().await;
            if let Some(idle) = kept.as_mut()
                && idle.used.elapsed() >= KEPT_IDLE_CHECK
                && let Err(e) = sqlx::Connection::ping(&mut idle.conn).await
            {
                tracing::info!(error = %e, "the ingest writer's connection was lost; taking another");
                *kept = None;
            }
            let kept_conn = match kept.as_mut() {
                Some(kept_conn) => kept_conn,
                None => kept.insert(KeptConnection {
                    conn: postgres.acquire().await?.detach(),
                    used: std::time::Instant::now(),
                }),
            };
            let stored = self.insert_reports_pg(&mut kept_conn.conn, reports).await;
            kept_conn.used = std::time::Instant::now();
            if stored.is_err() {
                *kept = None;
            }
            return stored;
        }
        self.report_paths.checked();
        let (_turn, mut tx) = self.begin_write().await?;
        let outcomes = reports::insert_reports(&mut tx, reports).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    /// [`Store::insert_reports`] on PostgreSQL, over `conn`.
    async fn insert_reports_pg(
        &self,
        conn: &mut PgConnection,
        reports: &[NewReport],
    ) -> Result<Vec<Stored>, StoreError> {
        let paths = &self.report_paths;
        if paths.plain(reports) {
            match reports::insert_new_pg(conn, reports).await {
                Ok(outcomes) => {
                    paths.stored_plain();
                    return Ok(outcomes);
                }
                Err(PgWriteError::Store(e)) => return Err(e),
                Err(PgWriteError::Duplicate) => {
                    paths.redo();
                    tracing::info!(
                        reports = reports.len(),
                        next_checked = reports::CHECKED_AFTER_DUPLICATE,
                        "a report of the group was stored before: storing the group checking each report, and the next groups too"
                    );
                }
            }
        }
        let mut tx = sqlx::Connection::begin(conn).await?;
        let outcomes = reports::insert_reports_pg(&mut tx, reports).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Closes the database: the ingest writer's kept connection, then the pools, which wait
    /// for their connections in use.
    pub async fn close(&self) {
        if let Some(kept) = self.report_conn.lock().await.take()
            && let Err(e) = sqlx::Connection::close(kept.conn).await
        {
            tracing::debug!(error = %e, "closing the ingest writer's connection");
        }
        self.db.close().await;
    }

    /// How [`Store::insert_reports`] stored the groups since this store (or the one it was
    /// cloned from) was opened.
    pub fn report_commits(&self) -> ReportCommits {
        self.report_paths.counts()
    }

    /// Stores reports one statement per report (the path before multi-row statements); kept
    /// to compare the two (`bench` tests) and as the reference of what is stored.
    pub async fn insert_reports_one_by_one(
        &self,
        reports: &[NewReport],
    ) -> Result<Vec<Stored>, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let mut outcomes = Vec::with_capacity(reports.len());
        for report in reports {
            outcomes.push(reports::insert_one(&mut tx, report).await?);
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
        let (_turn, mut tx) = self.begin_write().await?;
        bulk::insert_assertions(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores many published entropy values in one transaction.
    pub async fn save_entropies(&self, entropies: &[Entropy]) -> Result<(), StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        bulk::insert_entropies(&mut tx, entropies).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn clamp_ms(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

use crate::verifier::denylist::{DenyEntry, Denylist};

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
        let (_turn, mut tx) = self.begin_write().await?;
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
