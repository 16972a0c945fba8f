//! Reading an epoch's valid beacons and selected witnesses in the reports digest's order.
//!
//! Rows are decoded into fixed-size values (no allocation per row) on tasks of their own, each
//! chunk passed through the caller's `prepare` there (the loader's digest bytes and hotspot
//! slots), and handed over through a bounded channel, so the database's work, the decoding and
//! preparing, and the caller's hashing and aggregation overlap. On PostgreSQL rows are read with its own driver: `Any`
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
//!
//! PostgreSQL sends each chunk as `COPY (SELECT ...) TO STDOUT (FORMAT binary)`, parsed here
//! ([`CopyReader`]): a result row through sqlx costs an owned row with its column offsets and
//! a type check per column read, a `COPY` row a few length prefixes. `COPY` takes no bind
//! parameters, so the chunk's bounds (integers) are written into the statement.

use super::EpochError;
use crate::compute::Key;
use db::Db;
use futures::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};
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

/// A valid beacon (`paid_beacons`: the values of `pocs` the reward depends on).
#[derive(Debug, Clone, Copy)]
pub(super) struct BeaconRow {
    pub id: Key,
    pub beaconer: Key,
    pub received_ms: u64,
    pub location: Option<u64>,
    pub hex_scale_e4: u32,
    pub reward_units_e4: u32,
}

/// A valid, selected witness of a beacon (`paid_witnesses`: those of `witness_verdicts`).
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
    /// The columns `decode` reads, in order, separated by commas. PostgreSQL returns the
    /// row's minute after them.
    const COLUMNS: &'static str;
    /// The table's primary key: `minute`, the hotspot's key, the report's id.
    const KEY: &'static str;
    fn decode(row: &impl Columns) -> Result<Self, EpochError>;
    /// The primary key after the minute: (hotspot, id).
    fn key(&self) -> (&Key, &Key);
}

impl Decoded for BeaconRow {
    const TABLE: &'static str = "paid_beacons";
    const COLUMNS: &'static str =
        "beacon_id, beaconer_key, received_ms, location, hex_scale_e4, reward_units_e4";
    const KEY: &'static str = "minute, beaconer_key, beacon_id";
    fn decode(row: &impl Columns) -> Result<Self, EpochError> {
        beacon(row)
    }
    fn key(&self) -> (&Key, &Key) {
        (&self.beaconer, &self.id)
    }
}

impl Decoded for WitnessRow {
    const TABLE: &'static str = "paid_witnesses";
    const COLUMNS: &'static str =
        "witness_id, beacon_id, witness_key, hex_scale_e4, reward_units_e4";
    const KEY: &'static str = "minute, witness_key, witness_id";
    fn decode(row: &impl Columns) -> Result<Self, EpochError> {
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

/// A row's columns by position, whichever way it was read. NULL is `None`.
pub(super) trait Columns {
    fn bytes(&self, column: usize) -> Result<Option<&[u8]>, EpochError>;
    fn int(&self, column: usize) -> Result<Option<i64>, EpochError>;
}

impl Columns for AnyRow {
    fn bytes(&self, column: usize) -> Result<Option<&[u8]>, EpochError> {
        Ok(self.try_get(column)?)
    }
    fn int(&self, column: usize) -> Result<Option<i64>, EpochError> {
        Ok(self.try_get(column)?)
    }
}

/// Columns: [`BeaconRow::COLUMNS`].
fn beacon(row: &impl Columns) -> Result<BeaconRow, EpochError> {
    let id = row.bytes(0)?;
    let field = Fields::new(BeaconRow::TABLE, id.unwrap_or_default());
    Ok(BeaconRow {
        id: field.key(id, "beacon_id")?,
        beaconer: field.key(row.bytes(1)?, "beaconer_key")?,
        received_ms: field.u64(row.int(2)?, "received_ms")?,
        location: row
            .int(3)?
            .map(|l| field.u64(Some(l), "location"))
            .transpose()?,
        hex_scale_e4: field.u32(row.int(4)?, "hex_scale_e4")?,
        reward_units_e4: field.u32(row.int(5)?, "reward_units_e4")?,
    })
}

/// Columns: [`WitnessRow::COLUMNS`].
fn witness(row: &impl Columns) -> Result<WitnessRow, EpochError> {
    let id = row.bytes(0)?;
    let field = Fields::new(WitnessRow::TABLE, id.unwrap_or_default());
    Ok(WitnessRow {
        id: field.key(id, "witness_id")?,
        beacon_id: field.key(row.bytes(1)?, "beacon_id")?,
        witness: field.key(row.bytes(2)?, "witness_key")?,
        hex_scale_e4: field.u32(row.int(3)?, "hex_scale_e4")?,
        reward_units_e4: field.u32(row.int(4)?, "reward_units_e4")?,
    })
}

/// Streams the rows of `T::TABLE` that match `filter` over the minutes `first..=last`, one
/// chunk at a time in the table's key order, each passed through `prepare` on its reader's
/// task (a reader task that panics ends the stream with [`EpochError::Reader`], never with a
/// chunk missing). `filter` binds the chunk's first and last minute as `$1` and `$2`, then
/// `binds` from `$3`. Errors arrive in the stream; the readers stop when the receiver is
/// dropped.
pub(super) fn read<T, O, F>(
    db: &Db,
    filter: &'static str,
    (first, last): (i64, i64),
    binds: Vec<i64>,
    prepare: F,
) -> mpsc::Receiver<Result<O, EpochError>>
where
    T: Decoded,
    O: Send + 'static,
    F: Fn(Vec<T>) -> Result<O, EpochError> + Send + Sync + 'static,
{
    let (columns, table, key) = (T::COLUMNS, T::TABLE, T::KEY);
    let sql: Arc<str> = match db.postgres() {
        Some(_) => format!(
            "COPY (SELECT {columns}, minute FROM {table} WHERE {filter}) TO STDOUT (FORMAT binary)"
        ),
        None => format!("SELECT {columns} FROM {table} WHERE {filter} ORDER BY {key}"),
    }
    .into();
    let prepare = Arc::new(prepare);
    let (tx, rx) = mpsc::channel(1);
    let db = db.clone();
    tokio::spawn(async move {
        let mut chunks = (first..=last)
            .step_by(CHUNK_MINUTES as usize)
            .map(|from| (from, from.saturating_add(CHUNK_MINUTES - 1).min(last)));
        let start =
            |chunk| read_chunk::<T, O, F>(&db, sql.clone(), chunk, binds.clone(), prepare.clone());
        let mut reading: VecDeque<_> = chunks.by_ref().take(CHUNKS_AHEAD).map(start).collect();
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
                reading.push_back(start(next));
            }
        }
    });
    rx
}

/// Reads one chunk in key order and prepares it, on a task of its own.
fn read_chunk<T, O, F>(
    db: &Db,
    sql: Arc<str>,
    (first, last): (i64, i64),
    binds: Vec<i64>,
    prepare: Arc<F>,
) -> JoinHandle<Result<O, EpochError>>
where
    T: Decoded,
    O: Send + 'static,
    F: Fn(Vec<T>) -> Result<O, EpochError> + Send + Sync + 'static,
{
    let db = db.clone();
    tokio::spawn(async move {
        let rows = match db.postgres() {
            Some(pool) => read_postgres(pool, &sql, (first, last), &binds).await?,
            None => {
                let mut query = sqlx::query(AssertSqlSafe(&*sql)).bind(first).bind(last);
                for value in &binds {
                    query = query.bind(*value);
                }
                collect(query.fetch(db.pool()), T::decode).await?
            }
        };
        prepare(rows)
    })
}

/// One chunk on PostgreSQL, sorted into key order. In a transaction of its own with JIT
/// compilation off (it costs 0.1-0.5 s per statement at these cost estimates and saves nothing
/// on a scan that returns rows as it finds them) and plain index scans off, so the planner
/// takes the bitmap heap scan that reads each page once (module docs).
async fn read_postgres<T: Decoded>(
    pool: &sqlx::PgPool,
    copy: &str,
    (first, last): (i64, i64),
    binds: &[i64],
) -> Result<Vec<T>, EpochError> {
    let mut values = vec![first, last];
    values.extend_from_slice(binds);
    let copy = with_values(copy, &values);
    let mut transaction = pool.begin().await?;
    for setting in ["SET LOCAL jit = off", "SET LOCAL enable_indexscan = off"] {
        sqlx::query(setting).execute(&mut *transaction).await?;
    }
    let minute = const { column_count(T::COLUMNS) };
    let connection: &mut PgConnection = &mut transaction;
    let mut rows = Vec::new();
    let result = async {
        let mut stream = connection.copy_out_raw(&copy).await?;
        let mut reader = CopyReader::new(T::TABLE);
        while let Some(chunk) = stream.try_next().await? {
            reader.feed(&chunk, |row| {
                let at = row
                    .int(minute)?
                    .ok_or_else(|| reader_error(T::TABLE, "minute is NULL"))?;
                rows.push((at, T::decode(row)?));
                Ok(())
            })?;
        }
        reader.finish()
    }
    .await;
    // Nothing was written: ending the transaction either way is the same.
    let _ = transaction.rollback().await;
    result?;
    // The primary key is unique, so the order is total.
    rows.sort_unstable_by(|(a_minute, a), (b_minute, b)| {
        (a_minute, a.key()).cmp(&(b_minute, b.key()))
    });
    Ok(rows.into_iter().map(|(_, row)| row).collect())
}

/// `sql` with `$1`, `$2`, ... replaced by `values` (integers: nothing to escape). From the
/// highest number down, so that `$1` never matches the start of `$10`.
fn with_values(sql: &str, values: &[i64]) -> String {
    let mut sql = sql.to_owned();
    for (i, value) in values.iter().enumerate().rev() {
        sql = sql.replace(&format!("${}", i + 1), &value.to_string());
    }
    sql
}

fn reader_error(table: &'static str, message: impl Into<String>) -> EpochError {
    EpochError::Copy {
        table,
        message: message.into(),
    }
}

/// The signature at the start of PostgreSQL's binary `COPY` format.
const COPY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// More columns than any row type reads.
const MAX_COLUMNS: usize = 8;

/// Rows of PostgreSQL's binary `COPY` format, from the pieces they arrive in: the signature,
/// flags and a header extension, then per row a column count (`i16`) and per column a length
/// (`i32`, -1 for NULL) and its bytes, then a count of -1. Integers are big-endian.
struct CopyReader {
    table: &'static str,
    /// The start of a row (or of the header) that has not fully arrived.
    pending: Vec<u8>,
    header_read: bool,
    ended: bool,
}

/// What the next bytes hold. Returned by value once per row and never stored, so the size of
/// `Row` (the column offsets, on the stack) costs nothing that boxing it would not cost more.
#[allow(clippy::large_enum_variant)]
enum Step<'a> {
    /// Not all of it has arrived.
    Incomplete,
    /// The header, so many bytes long.
    Header(usize),
    /// A row, so many bytes long.
    Row(CopyRow<'a>, usize),
    /// The end of the data.
    End,
}

impl CopyReader {
    fn new(table: &'static str) -> Self {
        Self {
            table,
            pending: Vec::new(),
            header_read: false,
            ended: false,
        }
    }

    /// Hands each complete row of what was pending and `chunk` to `row`, in order.
    fn feed(
        &mut self,
        chunk: &[u8],
        mut row: impl FnMut(&CopyRow<'_>) -> Result<(), EpochError>,
    ) -> Result<(), EpochError> {
        let joined;
        let data: &[u8] = if self.pending.is_empty() {
            chunk
        } else {
            self.pending.extend_from_slice(chunk);
            joined = std::mem::take(&mut self.pending);
            &joined
        };
        let mut at = 0;
        while at < data.len() {
            if self.ended {
                return Err(reader_error(self.table, "data after the end of the rows"));
            }
            match self.step(&data[at..])? {
                Step::Incomplete => break,
                Step::Header(len) => at += len,
                Step::Row(columns, len) => {
                    row(&columns)?;
                    at += len;
                }
                Step::End => {
                    self.ended = true;
                    at += 2;
                }
            }
        }
        self.pending.extend_from_slice(&data[at..]);
        Ok(())
    }

    fn step<'a>(&mut self, data: &'a [u8]) -> Result<Step<'a>, EpochError> {
        if !self.header_read {
            let fixed = COPY_SIGNATURE.len() + 8;
            if data.len() < fixed {
                return Ok(Step::Incomplete);
            }
            if &data[..COPY_SIGNATURE.len()] != COPY_SIGNATURE {
                return Err(reader_error(
                    self.table,
                    "not PostgreSQL's binary COPY format",
                ));
            }
            let extension = be_i32(&data[fixed - 4..fixed]);
            let Ok(extension) = usize::try_from(extension) else {
                return Err(reader_error(self.table, "negative header extension length"));
            };
            if data.len() < fixed + extension {
                return Ok(Step::Incomplete);
            }
            self.header_read = true;
            return Ok(Step::Header(fixed + extension));
        }
        if data.len() < 2 {
            return Ok(Step::Incomplete);
        }
        let count = i16::from_be_bytes([data[0], data[1]]);
        if count == -1 {
            return Ok(Step::End);
        }
        let count = usize::try_from(count)
            .ok()
            .filter(|&c| c <= MAX_COLUMNS)
            .ok_or_else(|| reader_error(self.table, format!("a row of {count} columns")))?;
        let mut columns = [None; MAX_COLUMNS];
        let mut at = 2;
        for column in columns.iter_mut().take(count) {
            if data.len() < at + 4 {
                return Ok(Step::Incomplete);
            }
            let len = be_i32(&data[at..at + 4]);
            at += 4;
            if len == -1 {
                continue;
            }
            let len = usize::try_from(len)
                .map_err(|_| reader_error(self.table, format!("a column of length {len}")))?;
            if data.len() < at + len {
                return Ok(Step::Incomplete);
            }
            *column = Some((at, at + len));
            at += len;
        }
        let row = CopyRow {
            table: self.table,
            data: &data[..at],
            columns,
            count,
        };
        Ok(Step::Row(row, at))
    }

    /// Checks that the data ended where the format says it does.
    fn finish(&self) -> Result<(), EpochError> {
        if !self.ended || !self.pending.is_empty() {
            return Err(reader_error(self.table, "the data stopped before its end"));
        }
        Ok(())
    }
}

fn be_i32(bytes: &[u8]) -> i32 {
    i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// One row of a `COPY`: where each column's bytes are.
struct CopyRow<'a> {
    table: &'static str,
    data: &'a [u8],
    /// (start, end) in `data`; `None` for NULL.
    columns: [Option<(usize, usize)>; MAX_COLUMNS],
    count: usize,
}

impl CopyRow<'_> {
    fn column(&self, column: usize) -> Result<Option<&[u8]>, EpochError> {
        if column >= self.count {
            return Err(reader_error(
                self.table,
                format!("a row of {} columns has no column {column}", self.count),
            ));
        }
        Ok(self.columns[column].map(|(start, end)| &self.data[start..end]))
    }
}

impl Columns for CopyRow<'_> {
    fn bytes(&self, column: usize) -> Result<Option<&[u8]>, EpochError> {
        self.column(column)
    }

    fn int(&self, column: usize) -> Result<Option<i64>, EpochError> {
        self.column(column)?
            .map(|bytes| {
                let bytes: [u8; 8] = bytes.try_into().map_err(|_| {
                    reader_error(
                        self.table,
                        format!("column {column} is {} bytes, not a BIGINT", bytes.len()),
                    )
                })?;
                Ok(i64::from_be_bytes(bytes))
            })
            .transpose()
    }
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

    fn int(&self, value: Option<i64>, column: &str) -> Result<i64, EpochError> {
        value.ok_or_else(|| self.corrupt(format!("{column} is NULL")))
    }

    fn u64(&self, value: Option<i64>, column: &str) -> Result<u64, EpochError> {
        let value = self.int(value, column)?;
        u64::try_from(value).map_err(|_| self.corrupt(format!("{column} = {value} is negative")))
    }

    fn u32(&self, value: Option<i64>, column: &str) -> Result<u32, EpochError> {
        let value = self.int(value, column)?;
        u32::try_from(value)
            .map_err(|_| self.corrupt(format!("{column} = {value} is outside 0..=2^32-1")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary `COPY` stream as PostgreSQL writes it: columns are `Some(bytes)` or NULL.
    fn copy_stream(rows: &[Vec<Option<Vec<u8>>>], extension: &[u8]) -> Vec<u8> {
        let mut out = COPY_SIGNATURE.to_vec();
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&(extension.len() as i32).to_be_bytes());
        out.extend_from_slice(extension);
        for row in rows {
            out.extend_from_slice(&(row.len() as i16).to_be_bytes());
            for column in row {
                match column {
                    Some(bytes) => {
                        out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                        out.extend_from_slice(bytes);
                    }
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                }
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    fn witness_columns(n: u8, minute: i64) -> Vec<Option<Vec<u8>>> {
        vec![
            Some(vec![n; 32]),
            Some(vec![n + 1; 32]),
            Some(vec![n + 2; 32]),
            Some(2500i64.to_be_bytes().to_vec()),
            Some((10_000 + i64::from(n)).to_be_bytes().to_vec()),
            Some(minute.to_be_bytes().to_vec()),
        ]
    }

    /// Feeds `stream` in pieces cut at `cuts`, decoding witness rows and their minute.
    fn read_in_pieces(stream: &[u8], cuts: &[usize]) -> Result<Vec<(i64, Key, u32)>, EpochError> {
        let mut reader = CopyReader::new(WitnessRow::TABLE);
        let mut out = Vec::new();
        let mut from = 0;
        for &to in cuts.iter().chain([&stream.len()]) {
            reader.feed(&stream[from..to], |row| {
                let witness = WitnessRow::decode(row)?;
                out.push((
                    row.int(5)?.expect("minute"),
                    witness.id,
                    witness.reward_units_e4,
                ));
                Ok(())
            })?;
            from = to;
        }
        reader.finish()?;
        Ok(out)
    }

    #[test]
    fn copy_rows_are_read_whatever_pieces_they_arrive_in() {
        let rows = vec![witness_columns(1, 7), witness_columns(9, -3)];
        let stream = copy_stream(&rows, b"ext");
        let expected = vec![(7, [1; 32], 10_001), (-3, [9; 32], 10_009)];
        assert_eq!(
            read_in_pieces(&stream, &[]).expect("whole stream"),
            expected
        );
        for cut in 1..stream.len() {
            assert_eq!(
                read_in_pieces(&stream, &[cut]).expect("cut stream"),
                expected,
                "cut at {cut}"
            );
        }
        let every_byte: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(
            read_in_pieces(&stream, &every_byte).expect("byte by byte"),
            expected
        );
    }

    #[test]
    fn a_copy_stream_that_stops_early_or_is_not_copy_data_is_an_error() {
        let stream = copy_stream(&[witness_columns(1, 7)], b"");
        for end in 0..stream.len() {
            let error = read_in_pieces(&stream[..end], &[]).expect_err("must fail");
            assert!(
                matches!(
                    error,
                    EpochError::Copy {
                        table: "paid_witnesses",
                        ..
                    }
                ),
                "{error}"
            );
        }
        let mut text = stream.clone();
        text[0] = b'p';
        let error = read_in_pieces(&text, &[]).expect_err("must fail");
        assert!(
            error
                .to_string()
                .contains("not PostgreSQL's binary COPY format"),
            "{error}"
        );
        let mut trailing = stream.clone();
        trailing.push(0);
        let error = read_in_pieces(&trailing, &[]).expect_err("must fail");
        assert!(error.to_string().contains("after the end"), "{error}");
    }

    #[test]
    fn copy_columns_are_checked_like_query_columns() {
        let mut null_units = witness_columns(1, 7);
        null_units[4] = None;
        let error = read_in_pieces(&copy_stream(&[null_units], b""), &[]).expect_err("must fail");
        assert!(
            error.to_string().contains("reward_units_e4 is NULL"),
            "{error}"
        );

        let mut short_key = witness_columns(1, 7);
        short_key[2] = Some(vec![3; 31]);
        let error = read_in_pieces(&copy_stream(&[short_key], b""), &[]).expect_err("must fail");
        assert!(
            error
                .to_string()
                .contains("witness_key is not a 32-byte key"),
            "{error}"
        );

        let mut narrow_int = witness_columns(1, 7);
        narrow_int[3] = Some(vec![0; 4]);
        let error = read_in_pieces(&copy_stream(&[narrow_int], b""), &[]).expect_err("must fail");
        assert!(
            error
                .to_string()
                .contains("column 3 is 4 bytes, not a BIGINT"),
            "{error}"
        );

        let missing = witness_columns(1, 7)[..4].to_vec();
        let error = read_in_pieces(&copy_stream(&[missing], b""), &[]).expect_err("must fail");
        assert!(error.to_string().contains("has no column 4"), "{error}");
    }

    #[test]
    fn chunk_bounds_are_written_into_the_statement_from_the_highest_number_down() {
        let sql = "a = $1 AND b = $10 AND c = $2";
        let values: Vec<i64> = (1..=10).map(|v| v * 100).collect();
        assert_eq!(
            with_values(sql, &values),
            "a = 100 AND b = 1000 AND c = 200"
        );
        assert_eq!(with_values("m >= $1", &[-5]), "m >= -5");
    }
}
