//! Reading an epoch's valid beacons and selected witnesses in the reports digest's order.
//!
//! Rows are decoded into fixed-size values (no allocation per row) on tasks of their own and
//! handed over through bounded channels, so the database's work, the decoding and the caller's
//! hashing and aggregation overlap. On PostgreSQL rows are read with its own driver: `Any`
//! converts every row and its column descriptions into owned values, which took most of the
//! reading process's CPU (`docs/benchmarks.md`, "What limits" point 4).
//!
//! A range of minutes is read as consecutive chunks of [`CHUNK_MINUTES`], up to
//! [`CHUNKS_AHEAD`] at a time on separate connections. Each chunk is sorted here into the
//! digest's order, the verdict tables' primary key `(minute, hotspot, id)`, and chunks are
//! forwarded strictly in order: consecutive minute ranges, each sorted, concatenate to the
//! order of the whole range. The database is not asked for that order: the verifier writes
//! verdicts in the order it finishes proofs of coverage, so reading in key order fetched the
//! rows of a minute one by one from pages all over that minute's part of the table; without
//! it PostgreSQL reads each page once (a bitmap heap scan).

use super::EpochError;
use crate::compute::Key;
use db::Db;
use futures::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::postgres::PgRow;
use sqlx::{ColumnIndex, Decode, Row, Type};
use std::collections::VecDeque;
use tokio::sync::mpsc;

/// Minute-range chunks read at once. Each holds a connection and a PostgreSQL backend.
const CHUNKS_AHEAD: usize = 2;
/// Minutes per chunk. Small enough that PostgreSQL reads a chunk through the verdict tables'
/// primary key, already in the digest's order: for an hour of a Helium-peak day (1.3 M
/// witness verdicts) its planner chose a parallel scan of the whole 12 GB table and an external
/// sort instead (4.8 s against 2.7 s through the index), once per chunk.
const CHUNK_MINUTES: i64 = 10;

/// A valid beacon (`pocs`).
#[derive(Debug, Clone, Copy)]
pub(super) struct BeaconRow {
    pub minute: i64,
    pub id: Key,
    pub beaconer: Key,
    pub received_ms: u64,
    pub location: Option<u64>,
    pub hex_scale_e4: u32,
    pub reward_units_e4: u32,
}

/// A valid, selected witness of a beacon (`witness_verdicts`).
#[derive(Debug, Clone, Copy)]
pub(super) struct WitnessRow {
    pub minute: i64,
    pub id: Key,
    pub beacon_id: Key,
    pub witness: Key,
    pub hex_scale_e4: u32,
    pub reward_units_e4: u32,
}

/// A row type read from either driver.
pub(super) trait Decoded: Sized + Send + 'static {
    /// Table, for errors.
    const TABLE: &'static str;
    fn from_pg(row: &PgRow) -> Result<Self, EpochError>;
    fn from_any(row: &AnyRow) -> Result<Self, EpochError>;
    /// The reports digest's order: the table's primary key `(minute, hotspot, id)`.
    fn order(&self) -> (i64, &Key, &Key);
}

impl Decoded for BeaconRow {
    const TABLE: &'static str = "pocs";
    fn from_pg(row: &PgRow) -> Result<Self, EpochError> {
        beacon(row)
    }
    fn from_any(row: &AnyRow) -> Result<Self, EpochError> {
        beacon(row)
    }
    fn order(&self) -> (i64, &Key, &Key) {
        (self.minute, &self.beaconer, &self.id)
    }
}

impl Decoded for WitnessRow {
    const TABLE: &'static str = "witness_verdicts";
    fn from_pg(row: &PgRow) -> Result<Self, EpochError> {
        witness(row)
    }
    fn from_any(row: &AnyRow) -> Result<Self, EpochError> {
        witness(row)
    }
    fn order(&self) -> (i64, &Key, &Key) {
        (self.minute, &self.witness, &self.id)
    }
}

/// Columns: `beacon_id, beaconer_key, received_ms, location, hex_scale_e4, reward_units_e4,
/// minute`.
fn beacon<'r, R>(row: &'r R) -> Result<BeaconRow, EpochError>
where
    R: Row,
    usize: ColumnIndex<R>,
    &'r [u8]: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: &[u8] = row.try_get(0)?;
    let field = Fields::new(BeaconRow::TABLE, id);
    let location: Option<i64> = row.try_get(3)?;
    Ok(BeaconRow {
        minute: row.try_get(6)?,
        id: field.key(Some(id), "beacon_id")?,
        beaconer: field.key(row.try_get(1)?, "beaconer_key")?,
        received_ms: field.u64(row.try_get(2)?, "received_ms")?,
        location: location.map(|l| field.u64(l, "location")).transpose()?,
        hex_scale_e4: field.u32(row.try_get(4)?, "hex_scale_e4")?,
        reward_units_e4: field.u32(row.try_get(5)?, "reward_units_e4")?,
    })
}

/// Columns: `witness_id, beacon_id, witness_key, hex_scale_e4, reward_units_e4, minute`.
fn witness<'r, R>(row: &'r R) -> Result<WitnessRow, EpochError>
where
    R: Row,
    usize: ColumnIndex<R>,
    &'r [u8]: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: &[u8] = row.try_get(0)?;
    let field = Fields::new(WitnessRow::TABLE, id);
    Ok(WitnessRow {
        minute: row.try_get(5)?,
        id: field.key(Some(id), "witness_id")?,
        beacon_id: field.key(row.try_get(1)?, "beacon_id")?,
        witness: field.key(row.try_get(2)?, "witness_key")?,
        hex_scale_e4: field.u32(row.try_get(3)?, "hex_scale_e4")?,
        reward_units_e4: field.u32(row.try_get(4)?, "reward_units_e4")?,
    })
}

/// Streams the rows of `sql` over the minutes `first..=last` in [`Decoded::order`], one batch
/// per chunk. `sql` binds the chunk's first and last minute as `$1` and `$2`, then `binds` from
/// `$3`. Errors arrive in the stream; the readers stop when the receiver is dropped.
pub(super) fn read<T: Decoded>(
    db: &Db,
    sql: &'static str,
    (first, last): (i64, i64),
    binds: Vec<i64>,
) -> mpsc::Receiver<Result<Vec<T>, EpochError>> {
    let (tx, rx) = mpsc::channel(1);
    let db = db.clone();
    tokio::spawn(async move {
        let mut chunks = (first..=last)
            .step_by(CHUNK_MINUTES as usize)
            .map(|from| (from, from.saturating_add(CHUNK_MINUTES - 1).min(last)));
        let mut reading = VecDeque::new();
        for chunk in chunks.by_ref().take(CHUNKS_AHEAD) {
            reading.push_back(read_chunk::<T>(&db, sql, chunk, binds.clone()));
        }
        while let Some(mut chunk) = reading.pop_front() {
            while let Some(batch) = chunk.recv().await {
                let failed = batch.is_err();
                if tx.send(batch).await.is_err() || failed {
                    return;
                }
            }
            if let Some(next) = chunks.next() {
                reading.push_back(read_chunk::<T>(&db, sql, next, binds.clone()));
            }
        }
    });
    rx
}

/// Reads one chunk on a task of its own and sends it, in the digest's order, as one batch.
fn read_chunk<T: Decoded>(
    db: &Db,
    sql: &'static str,
    (first, last): (i64, i64),
    binds: Vec<i64>,
) -> mpsc::Receiver<Result<Vec<T>, EpochError>> {
    let (tx, rx) = mpsc::channel(1);
    let db = db.clone();
    tokio::spawn(async move {
        let rows = match db.postgres() {
            Some(pool) => read_postgres(pool, sql, (first, last), &binds).await,
            None => {
                let mut query = sqlx::query(sql).bind(first).bind(last);
                for value in &binds {
                    query = query.bind(*value);
                }
                collect(query.fetch(db.pool()), T::from_any).await
            }
        };
        // The receiver may be gone already; then nobody needs the rows or the error.
        let _ = tx
            .send(rows.map(|mut rows| {
                // Keys are unique (the primary key), so the order is total.
                rows.sort_unstable_by(|a, b| a.order().cmp(&b.order()));
                rows
            }))
            .await;
    });
    rx
}

/// One chunk on PostgreSQL, in a transaction of its own with JIT compilation off (it costs
/// 0.1-0.5 s per statement at these cost estimates and saves nothing on a scan that returns
/// rows as it finds them) and plain index scans off, so the planner takes the bitmap heap
/// scan that reads each page once (module docs).
async fn read_postgres<T: Decoded>(
    pool: &sqlx::PgPool,
    sql: &'static str,
    (first, last): (i64, i64),
    binds: &[i64],
) -> Result<Vec<T>, EpochError> {
    let mut transaction = pool.begin().await?;
    for setting in ["SET LOCAL jit = off", "SET LOCAL enable_indexscan = off"] {
        sqlx::query(setting).execute(&mut *transaction).await?;
    }
    let mut query = sqlx::query(sql).bind(first).bind(last);
    for value in binds {
        query = query.bind(*value);
    }
    let result = collect(query.fetch(&mut *transaction), T::from_pg).await;
    // Nothing was written: ending the transaction either way is the same.
    let _ = transaction.rollback().await;
    result
}

/// Decodes every row of `rows`.
async fn collect<R, T>(
    mut rows: impl futures::Stream<Item = Result<R, sqlx::Error>> + Unpin,
    decode: fn(&R) -> Result<T, EpochError>,
) -> Result<Vec<T>, EpochError> {
    let mut out = Vec::new();
    while let Some(row) = rows.try_next().await? {
        out.push(decode(&row)?);
    }
    Ok(out)
}

/// Typed column checks for one row.
struct Fields<'a> {
    table: &'static str,
    id: &'a [u8],
}

impl<'a> Fields<'a> {
    fn new(table: &'static str, id: &'a [u8]) -> Self {
        Self { table, id }
    }

    fn corrupt(&self, message: String) -> EpochError {
        EpochError::Corrupt {
            table: self.table,
            id: hex::encode(self.id),
            message,
        }
    }

    fn key(&self, bytes: Option<&[u8]>, column: &str) -> Result<Key, EpochError> {
        bytes
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| self.corrupt(format!("{column} is not a 32-byte key")))
    }

    fn u64(&self, value: i64, column: &str) -> Result<u64, EpochError> {
        u64::try_from(value).map_err(|_| self.corrupt(format!("{column} = {value} is negative")))
    }

    fn u32(&self, value: i64, column: &str) -> Result<u32, EpochError> {
        u32::try_from(value)
            .map_err(|_| self.corrupt(format!("{column} = {value} is outside 0..=2^32-1")))
    }
}
