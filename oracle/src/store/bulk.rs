//! Multi-row `INSERT`s: one statement (one round trip, one parse) for many rows instead of
//! one per row. The profile of ingest at load showed the writer spending most of its time in
//! per-row statement round trips; batching rows is the same SQL on both backends.

use super::{HotspotRecord, StoreError};
use schemas::proto::Entropy;

/// Bound values per statement on SQLite. SQLite resolves each `$N` by a linear search of the
/// statement's parameter names (when preparing and again when binding), so a statement's cost
/// grows with the square of its parameters: the profile of the verifier showed 30% of its time
/// in `sqlite3_bind_parameter_name` with 4,864 parameters per statement. A few hundred keep the
/// round trips few and that search negligible.
pub(super) const VALUES_PER_STATEMENT: usize = 200;
/// Bound values per statement on PostgreSQL, which has no such search (its limit is 65,535):
/// with 200, a batch of witness verdicts took a statement per 10 rows, and the verifier spent
/// more than half its time waiting for them.
pub(super) const PG_VALUES_PER_STATEMENT: usize = 4_000;

/// A bound value. Floats are never bound as NULL (see `ReasonColumns` in `store.rs`).
pub(super) enum Val {
    Bytes(Vec<u8>),
    Int(i64),
    Float(f64),
    OptBytes(Option<Vec<u8>>),
    OptInt(Option<i64>),
    OptText(Option<String>),
}

/// `$1, $2, ... $columns`: a row of plain placeholders.
fn plain_row(columns: usize) -> String {
    (1..=columns)
        .map(|c| format!("${c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `head`, then `rows` copies of `row` (a template whose `$k` are 1-based within the row and
/// are renumbered for each row), then `tail`.
pub(super) fn statement(head: &str, row: &str, columns: usize, rows: usize, tail: &str) -> String {
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * (row.len() + 8));
    sql.push_str(head);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        let mut chars = row.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '$' {
                sql.push(c);
                continue;
            }
            let mut k = 0usize;
            while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                k = k * 10 + d as usize;
                chars.next();
            }
            sql.push('$');
            sql.push_str(&(r * columns + k).to_string());
        }
        sql.push(')');
    }
    sql.push(' ');
    sql.push_str(tail);
    sql
}

/// Inserts `rows` (each exactly `columns` values, placed by the `row` template) with one
/// statement per [`VALUES_PER_STATEMENT`] values ([`PG_VALUES_PER_STATEMENT`] on PostgreSQL);
/// returns the number of rows inserted.
pub(super) async fn insert_template(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    head: &str,
    row: &str,
    columns: usize,
    tail: &str,
    rows: Vec<Vec<Val>>,
) -> Result<u64, StoreError> {
    insert_template_rows(tx, head, row, columns, tail, rows, usize::MAX).await
}

/// [`insert_template`] with at most `max_rows` rows per statement (1: one statement per row).
pub(super) async fn insert_template_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    head: &str,
    row: &str,
    columns: usize,
    tail: &str,
    rows: Vec<Vec<Val>>,
    max_rows: usize,
) -> Result<u64, StoreError> {
    let per_statement = match (**tx).backend_name() {
        "PostgreSQL" => PG_VALUES_PER_STATEMENT,
        _ => VALUES_PER_STATEMENT,
    };
    let mut inserted = 0;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Val>> = rows
            .by_ref()
            .take((per_statement / columns).clamp(1, max_rows.max(1)))
            .collect();
        let sql = statement(head, row, columns, chunk.len(), tail);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in chunk.into_iter().flatten() {
            query = match value {
                Val::Bytes(b) => query.bind(b),
                Val::Int(i) => query.bind(i),
                Val::Float(f) => query.bind(f),
                Val::OptBytes(b) => query.bind(b),
                Val::OptInt(i) => query.bind(i),
                Val::OptText(t) => query.bind(t),
            };
        }
        inserted += query.execute(&mut **tx).await?.rows_affected();
    }
    Ok(inserted)
}

/// [`insert_template`] with plain placeholders.
pub(super) async fn insert_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    head: &str,
    columns: usize,
    tail: &str,
    rows: Vec<Vec<Val>>,
) -> Result<u64, StoreError> {
    insert_template(tx, head, &plain_row(columns), columns, tail, rows).await
}

/// Assertions and hotspot rows for [`super::Store::save_assertions`] (keys distinct).
pub(super) async fn insert_assertions(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    batch: &[(HotspotRecord, [u8; 32], u64, Vec<u8>)],
) -> Result<(), StoreError> {
    let assertions = batch
        .iter()
        .map(|(record, id, received_ms, message)| {
            vec![
                Val::Bytes(id.to_vec()),
                Val::Bytes(record.key.to_vec()),
                Val::Int(*received_ms as i64),
                Val::Bytes(message.clone()),
            ]
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO assertions (id, hotspot_key, received_ms, message) VALUES ",
        4,
        "ON CONFLICT DO NOTHING",
        assertions,
    )
    .await?;
    let hotspots = batch
        .iter()
        .map(|(record, ..)| {
            vec![
                Val::Bytes(record.key.to_vec()),
                Val::Bytes(record.owner.to_vec()),
                Val::Int(record.location as i64),
                Val::Int(i64::from(record.gain_ddbi)),
                Val::Int(i64::from(record.elevation_m)),
                Val::Int(record.asserted_ms as i64),
            ]
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO hotspots (hotspot_key, owner_key, location, gain_ddbi, elevation_m, asserted_ms) VALUES ",
        6,
        "ON CONFLICT (hotspot_key) DO UPDATE SET owner_key = excluded.owner_key, location = excluded.location, \
         gain_ddbi = excluded.gain_ddbi, elevation_m = excluded.elevation_m, asserted_ms = excluded.asserted_ms",
        hotspots,
    )
    .await?;
    Ok(())
}

/// Entropy rows for [`super::Store::save_entropies`].
pub(super) async fn insert_entropies(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    entropies: &[Entropy],
) -> Result<(), StoreError> {
    let rows = entropies
        .iter()
        .map(|e| {
            vec![
                Val::Bytes(e.data.clone()),
                Val::Int(e.timestamp_ms as i64),
                Val::Int(i64::from(e.version)),
                Val::Bytes(prost::Message::encode_to_vec(e)),
            ]
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO entropy (data, timestamp_ms, version, message) VALUES ",
        4,
        "ON CONFLICT DO NOTHING",
        rows,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_numbers_placeholders_row_by_row() {
        assert_eq!(
            statement(
                "INSERT INTO t (a, b) VALUES ",
                &plain_row(2),
                2,
                3,
                "ON CONFLICT DO NOTHING"
            ),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ($5, $6) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            statement("V ", "$1, CASE WHEN $3 <> 0 THEN $2 END", 3, 2, "X"),
            "V ($1, CASE WHEN $3 <> 0 THEN $2 END), ($4, CASE WHEN $6 <> 0 THEN $5 END) X"
        );
    }
}
