//! Storing reports (the ingest writer's path): an `INSERT .. ON CONFLICT DO NOTHING RETURNING
//! id` tells which reports are new; the rest were stored before (an exact resubmission, or the
//! same report twice in one group) and are answered as duplicates with the first receive time,
//! read back by id. No savepoint and no retry: the profile of SQLite ingest showed the
//! savepoint's statement journal (`subjournalPageIfRequired`, a copy of every page the insert
//! touched) among the writer's costs.
//!
//! SQLite takes multi-row `VALUES` statements (through `sqlx::Any`). PostgreSQL takes each
//! kind's reports as five arrays in one statement (`UNNEST`) on its own driver: one statement
//! text for any number of rows, so it is parsed and planned once per connection instead of once
//! per group (a `VALUES` list of 800 rows is 4,000 parameters to parse, bind through `Any` and
//! plan each time).
//!
//! On PostgreSQL a group is first stored by a plain insert of the same arrays, both kinds in
//! one statement that commits on its own, without `ON CONFLICT` and without `RETURNING`
//! ([`insert_new_pg`]): nearly every group is all new, and the conflict check was
//! PostgreSQL's largest cost per report. When a report of the group was stored before, the
//! statement fails and stores nothing, and the group is stored again by the checking path (in
//! a transaction), as are the next [`CHECKED_AFTER_DUPLICATE`] groups
//! ([`Paths`]). PostgreSQL logs each such failed statement in its own log (`duplicate key value
//! violates unique constraint`); the oracle logs it at `info`.

use super::bulk::{PG_VALUES_PER_STATEMENT, VALUES_PER_STATEMENT, statement};
use super::{NewReport, PgWriteError, ReportKind, StoreError, Stored};
use sqlx::{PgConnection, Row};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

const COLUMNS: usize = 5;

fn insert_head(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Beacon => {
            "INSERT INTO beacon_reports (id, hotspot_key, data, received_ms, message) VALUES "
        }
        ReportKind::Witness => {
            "INSERT INTO witness_reports (id, hotspot_key, data, received_ms, message) VALUES "
        }
    }
}

fn is_postgres(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> bool {
    (**tx).backend_name() == "PostgreSQL"
}

fn values_per_statement(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> usize {
    if is_postgres(tx) {
        PG_VALUES_PER_STATEMENT
    } else {
        VALUES_PER_STATEMENT
    }
}

/// A row's placeholders: `$k` on PostgreSQL; anonymous `?` on SQLite, which binds them by
/// position without the parameter-name search `$k` costs there (`sqlite3_bind_parameter_name`,
/// 4% of the CPU of SQLite ingest).
fn row_template(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> &'static str {
    if is_postgres(tx) {
        "$1, $2, $3, $4, $5"
    } else {
        "?, ?, ?, ?, ?"
    }
}

/// Stores `reports` inside `tx`; one outcome per report, in order.
pub(super) async fn insert_reports(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    reports: &[NewReport],
) -> Result<Vec<Stored>, StoreError> {
    let mut outcomes = Outcomes::new(reports);
    for kind in [ReportKind::Beacon, ReportKind::Witness] {
        let of_kind = outcomes.of_kind(kind);
        if of_kind.is_empty() {
            continue;
        }
        let new = insert_new(tx, kind, reports, &of_kind).await?;
        let ids = outcomes.settle_new(kind, &of_kind, new);
        if !ids.is_empty() {
            let first = first_received(tx, kind, &ids).await?;
            outcomes.settle_duplicates(kind, &first)?;
        }
    }
    Ok(outcomes.finish())
}

/// [`insert_reports`] on PostgreSQL's own driver, inside the transaction `tx`: each kind's
/// reports in one `INSERT .. SELECT FROM UNNEST(arrays) ON CONFLICT DO NOTHING RETURNING id`,
/// duplicates read back with `id = ANY(array)`.
pub(super) async fn insert_reports_pg(
    tx: &mut PgConnection,
    reports: &[NewReport],
) -> Result<Vec<Stored>, StoreError> {
    let mut outcomes = Outcomes::new(reports);
    for kind in [ReportKind::Beacon, ReportKind::Witness] {
        let of_kind = outcomes.of_kind(kind);
        if of_kind.is_empty() {
            continue;
        }
        let rows: Vec<&NewReport> = of_kind.iter().map(|&i| &reports[i]).collect();
        let inserted = bind_rows(sqlx::query(unnest_insert(kind)), &rows)
            .fetch_all(&mut *tx)
            .await?;
        let mut new = HashSet::with_capacity(inserted.len());
        for row in &inserted {
            new.insert(id_column(kind, row.try_get("id")?)?);
        }
        let ids = outcomes.settle_new(kind, &of_kind, new);
        if ids.is_empty() {
            continue;
        }
        let sql = format!(
            "SELECT id, received_ms FROM {} WHERE id = ANY($1::bytea[])",
            kind.table()
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ids.iter().map(|id| &id[..]).collect::<Vec<_>>())
            .fetch_all(&mut *tx)
            .await?;
        let mut first = HashMap::with_capacity(found.len());
        for row in &found {
            let received_ms: i64 = row.try_get("received_ms")?;
            first.insert(id_column(kind, row.try_get("id")?)?, received_ms as u64);
        }
        outcomes.settle_duplicates(kind, &first)?;
    }
    Ok(outcomes.finish())
}

/// [`insert_reports_pg`] for a group whose reports are all new, as they nearly always are:
/// both kinds' reports in one plain statement ([`INSERT_NEW`]), run on its own so it commits
/// by itself. Without `ON CONFLICT`, PostgreSQL checks each key where it inserts it instead of
/// first searching the index for it (`ExecCheckIndexConstraints`: 7.9% of both cores at full
/// ingest, more than the index inserts themselves), and without `RETURNING` no id comes back.
/// One statement and no `BEGIN` or `COMMIT` is one round trip to the server instead of four:
/// with both cores busy, each round trip waits for the writer and the server's process to be
/// scheduled. The ids must be distinct ([`all_distinct`]); a report stored before fails the
/// statement with [`PgWriteError::Duplicate`], and nothing of the group is stored.
pub(super) async fn insert_new_pg(
    conn: &mut PgConnection,
    reports: &[NewReport],
) -> Result<Vec<Stored>, PgWriteError> {
    let beacons: Vec<&NewReport> = reports
        .iter()
        .filter(|r| r.kind == ReportKind::Beacon)
        .collect();
    let witnesses: Vec<&NewReport> = reports
        .iter()
        .filter(|r| r.kind == ReportKind::Witness)
        .collect();
    bind_rows(bind_rows(sqlx::query(INSERT_NEW), &beacons), &witnesses)
        .execute(&mut *conn)
        .await?;
    Ok(reports
        .iter()
        .map(|r| Stored {
            duplicate: false,
            received_ms: r.received_ms,
        })
        .collect())
}

/// Both kinds of new reports in one statement: beacons as `$1`-`$5`, witnesses as `$6`-`$10`
/// (the columns of [`bind_rows`]). A data-modifying `WITH` runs to completion whether or not
/// the statement reads it, and a statement is atomic: a key met twice stores neither kind.
const INSERT_NEW: &str = "WITH beacons AS (\
     INSERT INTO beacon_reports (id, hotspot_key, data, received_ms, message) \
     SELECT * FROM UNNEST($1::bytea[], $2::bytea[], $3::bytea[], $4::int8[], $5::bytea[])) \
     INSERT INTO witness_reports (id, hotspot_key, data, received_ms, message) \
     SELECT * FROM UNNEST($6::bytea[], $7::bytea[], $8::bytea[], $9::int8[], $10::bytea[])";

/// No two reports of `reports` have the same id.
pub(super) fn all_distinct(reports: &[NewReport]) -> bool {
    let mut ids = HashSet::with_capacity(reports.len());
    reports.iter().all(|r| ids.insert(r.id))
}

/// Commits that take the checking path ([`insert_reports_pg`]) after a plain insert met a
/// report stored before: a client resending reports (its acknowledgements were lost) tends to
/// resend more, and each group whose plain insert fails is written twice.
pub(super) const CHECKED_AFTER_DUPLICATE: u32 = 64;

/// How the groups of [`crate::store::Store::insert_reports`] were stored, since the store was
/// opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportCommits {
    /// By the plain insert: every report of the group was new.
    pub plain: u64,
    /// The plain insert met a report stored before, and the group was stored again by the
    /// path that checks each report.
    pub redone: u64,
    /// By the checking path at once: on SQLite, for a group holding a report twice, and for the
    /// 64 commits after a `redone` one.
    pub checked: u64,
}

/// Which path the next group takes, and the counts of [`ReportCommits`].
#[derive(Debug, Default)]
pub(super) struct Paths {
    checked_left: AtomicU32,
    plain: AtomicU64,
    redone: AtomicU64,
    checked: AtomicU64,
}

impl Paths {
    /// Whether `reports` go in by the plain insert; otherwise the checking path is counted.
    pub(super) fn plain(&self, reports: &[NewReport]) -> bool {
        let after_duplicate = self
            .checked_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        let plain = !after_duplicate && all_distinct(reports);
        if !plain {
            self.checked();
        }
        plain
    }

    pub(super) fn stored_plain(&self) {
        self.plain.fetch_add(1, Ordering::Relaxed);
    }

    /// The plain insert met a stored report: the next commits check each report.
    pub(super) fn redo(&self) {
        self.redone.fetch_add(1, Ordering::Relaxed);
        self.checked_left
            .store(CHECKED_AFTER_DUPLICATE, Ordering::Relaxed);
    }

    pub(super) fn checked(&self) {
        self.checked.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn counts(&self) -> ReportCommits {
        ReportCommits {
            plain: self.plain.load(Ordering::Relaxed),
            redone: self.redone.load(Ordering::Relaxed),
            checked: self.checked.load(Ordering::Relaxed),
        }
    }
}

/// `query` with the five columns of `rows` bound as its next five arrays: ids, hotspot keys,
/// payloads, receive times, signed bytes.
fn bind_rows<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    rows: &[&'q NewReport],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    query
        .bind(rows.iter().map(|r| &r.id[..]).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| &r.hotspot_key.as_bytes()[..])
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|r| r.data.as_slice()).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.received_ms as i64)
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|r| r.message.as_slice())
                .collect::<Vec<_>>(),
        )
}

/// Each kind's reports from the arrays of [`bind_rows`], skipping those stored before; the
/// ids stored now come back.
fn unnest_insert(kind: ReportKind) -> &'static str {
    macro_rules! unnest_insert {
        ($table:literal) => {
            concat!(
                "INSERT INTO ",
                $table,
                " (id, hotspot_key, data, received_ms, message) \
                 SELECT * FROM UNNEST($1::bytea[], $2::bytea[], $3::bytea[], $4::int8[], $5::bytea[]) \
                 ON CONFLICT DO NOTHING RETURNING id"
            )
        };
    }
    match kind {
        ReportKind::Beacon => unnest_insert!("beacon_reports"),
        ReportKind::Witness => unnest_insert!("witness_reports"),
    }
}

fn id_column(kind: ReportKind, id: Vec<u8>) -> Result<[u8; 32], StoreError> {
    id.try_into().map_err(|_| StoreError::Corrupt {
        table: kind.table(),
        reason: "an id is not 32 bytes".into(),
    })
}

/// The outcomes of one call, filled kind by kind: first the reports the insert returned (new),
/// then the others (duplicates) with the receive time found for their id.
struct Outcomes<'a> {
    reports: &'a [NewReport],
    outcomes: Vec<Option<Stored>>,
    /// Positions of the current kind's duplicates.
    duplicates: Vec<usize>,
}

impl<'a> Outcomes<'a> {
    fn new(reports: &'a [NewReport]) -> Self {
        Self {
            reports,
            outcomes: vec![None; reports.len()],
            duplicates: Vec::new(),
        }
    }

    /// Positions of the reports of `kind`, in order.
    fn of_kind(&self, kind: ReportKind) -> Vec<usize> {
        (0..self.reports.len())
            .filter(|&i| self.reports[i].kind == kind)
            .collect()
    }

    /// Marks the first report of each id in `new` as stored now; the others of `of_kind` are
    /// duplicates, whose ids are returned (to read their first receive time).
    fn settle_new(
        &mut self,
        kind: ReportKind,
        of_kind: &[usize],
        mut new: HashSet<[u8; 32]>,
    ) -> Vec<[u8; 32]> {
        debug_assert!(of_kind.iter().all(|&i| self.reports[i].kind == kind));
        self.duplicates.clear();
        for &i in of_kind {
            let report = &self.reports[i];
            if new.remove(&report.id) {
                self.outcomes[i] = Some(Stored {
                    duplicate: false,
                    received_ms: report.received_ms,
                });
            } else {
                self.duplicates.push(i);
            }
        }
        self.duplicates
            .iter()
            .map(|&i| self.reports[i].id)
            .collect()
    }

    /// Answers the duplicates of [`Outcomes::settle_new`] with the receive times `first`.
    fn settle_duplicates(
        &mut self,
        kind: ReportKind,
        first: &HashMap<[u8; 32], u64>,
    ) -> Result<(), StoreError> {
        for &i in &self.duplicates {
            let id = self.reports[i].id;
            let received_ms = first.get(&id).copied().ok_or_else(|| StoreError::Corrupt {
                table: kind.table(),
                reason: format!("report {} neither inserted nor found", hex::encode(id)),
            })?;
            self.outcomes[i] = Some(Stored {
                duplicate: true,
                received_ms,
            });
        }
        Ok(())
    }

    fn finish(self) -> Vec<Stored> {
        self.outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or(Stored {
                    duplicate: false,
                    received_ms: 0,
                })
            })
            .collect()
    }
}

/// Inserts the reports `indices` of one kind; returns the ids that were inserted.
async fn insert_new(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: ReportKind,
    reports: &[NewReport],
    indices: &[usize],
) -> Result<HashSet<[u8; 32]>, StoreError> {
    let rows_per_statement = (values_per_statement(tx) / COLUMNS).max(1);
    let row = row_template(tx);
    let mut inserted = HashSet::with_capacity(indices.len());
    for chunk in indices.chunks(rows_per_statement) {
        let sql = statement(
            insert_head(kind),
            row,
            COLUMNS,
            chunk.len(),
            "ON CONFLICT DO NOTHING RETURNING id",
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &i in chunk {
            let r = &reports[i];
            query = query
                .bind(r.id.to_vec())
                .bind(r.hotspot_key.to_vec())
                .bind(r.data.clone())
                .bind(r.received_ms as i64)
                .bind(r.message.clone());
        }
        for row in query.fetch_all(&mut **tx).await? {
            inserted.insert(id_column(kind, row.try_get("id")?)?);
        }
    }
    Ok(inserted)
}

/// The receive time of each stored report of `ids`.
async fn first_received(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: ReportKind,
    ids: &[[u8; 32]],
) -> Result<HashMap<[u8; 32], u64>, StoreError> {
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(values_per_statement(tx)) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|k| format!("${k}")).collect();
        let sql = format!(
            "SELECT id, received_ms FROM {} WHERE id IN ({})",
            kind.table(),
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(id.to_vec());
        }
        for row in query.fetch_all(&mut **tx).await? {
            let id: Vec<u8> = row.try_get("id")?;
            let received_ms: i64 = row.try_get("received_ms")?;
            if let Ok(id) = <[u8; 32]>::try_from(id) {
                found.insert(id, received_ms as u64);
            }
        }
    }
    Ok(found)
}

/// One report, with its duplicate check: the path every report took before batching, kept as
/// the reference of what is stored (`Store::insert_reports_one_by_one`).
pub(super) async fn insert_one(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    report: &NewReport,
) -> Result<Stored, StoreError> {
    let insert = match report.kind {
        ReportKind::Beacon => {
            "INSERT INTO beacon_reports (id, hotspot_key, data, received_ms, message) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
        }
        ReportKind::Witness => {
            "INSERT INTO witness_reports (id, hotspot_key, data, received_ms, message) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
        }
    };
    let done = sqlx::query(insert)
        .bind(report.id.to_vec())
        .bind(report.hotspot_key.to_vec())
        .bind(report.data.clone())
        .bind(report.received_ms as i64)
        .bind(report.message.clone())
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 1 {
        return Ok(Stored {
            duplicate: false,
            received_ms: report.received_ms,
        });
    }
    let select = match report.kind {
        ReportKind::Beacon => "SELECT received_ms FROM beacon_reports WHERE id = $1",
        ReportKind::Witness => "SELECT received_ms FROM witness_reports WHERE id = $1",
    };
    let row = sqlx::query(select)
        .bind(report.id.to_vec())
        .fetch_one(&mut **tx)
        .await?;
    Ok(Stored {
        duplicate: true,
        received_ms: row.try_get::<i64, _>("received_ms")? as u64,
    })
}
