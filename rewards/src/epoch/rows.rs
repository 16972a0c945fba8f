//! Reading an epoch's valid beacons and selected witnesses in the reports digest's order.
//!
//! Rows are decoded into fixed-size values (no allocation per row) on tasks of their own and
//! handed over through a bounded channel, so the database's work, the decoding and the caller's
//! hashing and aggregation overlap. On PostgreSQL rows are read with its own driver: `Any`
//! converts every row and its column descriptions into owned values, which took most of the
//! reading process's CPU (`docs/benchmarks.md`, "What limits" point 4).
//!
//! A range of minutes is read as consecutive chunks of [`CHUNK_MINUTES`], up to
//! [`CHUNKS_AHEAD`] at a time on separate connections, each chunk in the digest's order, the
//! verdict tables' primary key `(minute, hotspot, id)`, and chunks are forwarded strictly in
//! order: consecutive minute ranges, each in key order, concatenate to the order of the whole
//! range. PostgreSQL is not asked for that order: the verifier writes verdicts in the order it
//! finishes proofs of coverage, so reading in key order fetched the rows of a minute one by one
//! from heap pages all over that minute's part of the table. Without it PostgreSQL reads each
//! page once (a bitmap heap scan), returns each row's minute too, and the chunk is sorted
//! here. SQLite stores the tables in key order (`WITHOUT ROWID`), so there `ORDER BY` costs
//! nothing and an extra column through `Any` would (about a tenth of the epoch's time).

use super::EpochError;
use crate::compute::Key;
use db::Db;
use futures::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, ColumnIndex, Decode, Row, Type};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Minute-range chunks read at once. Each holds a connection and a PostgreSQL backend.
const CHUNKS_AHEAD: usize = 2;
/// Minutes per chunk. Small enough that PostgreSQL finds a chunk's rows through the verdict
/// tables' primary key: for an hour of a Helium-peak day (1.3 M witness verdicts) its planner
/// chose a parallel scan of the whole 12 GB table instead, once per chunk. A chunk is held in
/// memory to be sorted: ~300,000 witness rows at Helium's peak, ~40 MB.
const CHUNK_MINUTES: i64 = 10;

/// A valid beacon (`pocs`).
#[derive(Debug, Clone, Copy)]
pub(super) struct BeaconRow {
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
    pub id: Key,
    pub beacon_id: Key,
    pub witness: Key,
    pub hex_scale_e4: u32,
    pub reward_units_e4: u32,
}

/// A row type read from either driver.
pub(super) trait Decoded: Sized + Send + 'static {
    /// The table.
    const TABLE: &'static str;
    /// The columns `from_pg` and `from_any` read, in order, separated by commas. PostgreSQL
    /// returns the row's minute after them.
    const COLUMNS: &'static str;
    /// The table's primary key: `minute`, the hotspot's key, the report's id.
    const KEY: &'static str;
    fn from_pg(row: &PgRow) -> Result<Self, EpochError>;
    fn from_any(row: &AnyRow) -> Result<Self, EpochError>;
    /// The primary key after the minute: (hotspot, id).
    fn key(&self) -> (&Key, &Key);
}

impl Decoded for BeaconRow {
    const TABLE: &'static str = "pocs";
    const COLUMNS: &'static str =
        "beacon_id, beaconer_key, received_ms, location, hex_scale_e4, reward_units_e4";
    const KEY: &'static str = "minute, beaconer_key, beacon_id";
    fn from_pg(row: &PgRow) -> Result<Self, EpochError> {
        beacon(row)
    }
    fn from_any(row: &AnyRow) -> Result<Self, EpochError> {
        beacon(row)
    }
    fn key(&self) -> (&Key, &Key) {
        (&self.beaconer, &self.id)
    }
}

impl Decoded for WitnessRow {
    const TABLE: &'static str = "witness_verdicts";
    const COLUMNS: &'static str =
        "witness_id, beacon_id, witness_key, hex_scale_e4, reward_units_e4";
    const KEY: &'static str = "minute, witness_key, witness_id";
    fn from_pg(row: &PgRow) -> Result<Self, EpochError> {
        witness(row)
    }
    fn from_any(row: &AnyRow) -> Result<Self, EpochError> {
        witness(row)
    }
    fn key(&self) -> (&Key, &Key) {
        (&self.witness, &self.id)
    }
}

/// How many columns a comma-separated list names.
const fn column_count(columns: &str) -> usize {
    let bytes = columns.as_bytes();
    let (mut count, mut i) = (1, 0);
    while i < bytes.len() {
        if bytes[i] == b',' {
            count += 1;
        }
        i += 1;
    }
    count
}

/// Columns: [`BeaconRow::COLUMNS`].
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
        id: field.key(Some(id), "beacon_id")?,
        beaconer: field.key(row.try_get(1)?, "beaconer_key")?,
        received_ms: field.u64(row.try_get(2)?, "received_ms")?,
        location: location.map(|l| field.u64(l, "location")).transpose()?,
        hex_scale_e4: field.u32(row.try_get(4)?, "hex_scale_e4")?,
        reward_units_e4: field.u32(row.try_get(5)?, "reward_units_e4")?,
    })
}

/// Columns: [`WitnessRow::COLUMNS`].
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
        id: field.key(Some(id), "witness_id")?,
        beacon_id: field.key(row.try_get(1)?, "beacon_id")?,
        witness: field.key(row.try_get(2)?, "witness_key")?,
        hex_scale_e4: field.u32(row.try_get(3)?, "hex_scale_e4")?,
        reward_units_e4: field.u32(row.try_get(4)?, "reward_units_e4")?,
    })
}

/// Streams the rows of `T::TABLE` that match `filter` over the minutes `first..=last`, in the
/// table's key order, one batch per chunk (a reader task that panics ends the stream with
/// [`EpochError::Reader`], never with a chunk missing). `filter` binds the chunk's first and last minute as
/// `$1` and `$2`, then `binds` from `$3`. Errors arrive in the stream; the readers stop when
/// the receiver is dropped.
pub(super) fn read<T: Decoded>(
    db: &Db,
    filter: &'static str,
    (first, last): (i64, i64),
    binds: Vec<i64>,
) -> mpsc::Receiver<Result<Vec<T>, EpochError>> {
    let (columns, table, key) = (T::COLUMNS, T::TABLE, T::KEY);
    let sql: Arc<str> = match db.postgres() {
        Some(_) => format!("SELECT {columns}, minute FROM {table} WHERE {filter}"),
        None => format!("SELECT {columns} FROM {table} WHERE {filter} ORDER BY {key}"),
    }
    .into();
    let (tx, rx) = mpsc::channel(1);
    let db = db.clone();
    tokio::spawn(async move {
        let mut chunks = (first..=last)
            .step_by(CHUNK_MINUTES as usize)
            .map(|from| (from, from.saturating_add(CHUNK_MINUTES - 1).min(last)));
        let mut reading = VecDeque::new();
        for chunk in chunks.by_ref().take(CHUNKS_AHEAD) {
            reading.push_back(read_chunk::<T>(&db, sql.clone(), chunk, binds.clone()));
        }
        while let Some(chunk) = reading.pop_front() {
            let batch = chunk.await.unwrap_or_else(|e| {
                Err(EpochError::Reader {
                    table: T::TABLE,
                    message: e.to_string(),
                })
            });
            let failed = batch.is_err();
            // The receiver gone means nobody needs the rest; chunks still being read finish
            // on their own and are dropped.
            if tx.send(batch).await.is_err() || failed {
                return;
            }
            if let Some(next) = chunks.next() {
                reading.push_back(read_chunk::<T>(&db, sql.clone(), next, binds.clone()));
            }
        }
    });
    rx
}

/// Reads one chunk, in key order, on a task of its own.
fn read_chunk<T: Decoded>(
    db: &Db,
    sql: Arc<str>,
    (first, last): (i64, i64),
    binds: Vec<i64>,
) -> JoinHandle<Result<Vec<T>, EpochError>> {
    let db = db.clone();
    tokio::spawn(async move {
        match db.postgres() {
            Some(pool) => read_postgres(pool, &sql, (first, last), &binds).await,
            None => {
                let mut query = sqlx::query(AssertSqlSafe(&*sql)).bind(first).bind(last);
                for value in &binds {
                    query = query.bind(*value);
                }
                collect(query.fetch(db.pool()), T::from_any).await
            }
        }
    })
}

/// One chunk on PostgreSQL, sorted into key order. In a transaction of its own with JIT
/// compilation off (it costs 0.1-0.5 s per statement at these cost estimates and saves nothing
/// on a scan that returns rows as it finds them) and plain index scans off, so the planner
/// takes the bitmap heap scan that reads each page once (module docs).
async fn read_postgres<T: Decoded>(
    pool: &sqlx::PgPool,
    sql: &str,
    (first, last): (i64, i64),
    binds: &[i64],
) -> Result<Vec<T>, EpochError> {
    let mut transaction = pool.begin().await?;
    for setting in ["SET LOCAL jit = off", "SET LOCAL enable_indexscan = off"] {
        sqlx::query(setting).execute(&mut *transaction).await?;
    }
    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(first).bind(last);
    for value in binds {
        query = query.bind(*value);
    }
    let minute = const { column_count(T::COLUMNS) };
    let decode = |row: &PgRow| -> Result<(i64, T), EpochError> {
        Ok((row.try_get(minute)?, T::from_pg(row)?))
    };
    let result = collect(query.fetch(&mut *transaction), decode).await;
    // Nothing was written: ending the transaction either way is the same.
    let _ = transaction.rollback().await;
    let mut rows = result?;
    // The primary key is unique, so the order is total.
    rows.sort_unstable_by(|(a_minute, a), (b_minute, b)| {
        (a_minute, a.key()).cmp(&(b_minute, b.key()))
    });
    Ok(rows.into_iter().map(|(_, row)| row).collect())
}

/// Decodes every row of `rows`.
async fn collect<R, T>(
    mut rows: impl futures::Stream<Item = Result<R, sqlx::Error>> + Unpin,
    decode: impl Fn(&R) -> Result<T, EpochError>,
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
