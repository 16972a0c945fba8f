//! Verdict batches on PostgreSQL through `COPY ... FROM STDIN (FORMAT binary)`.
//!
//! Multi-row `INSERT`s cost PostgreSQL ~9 µs of execution per witness verdict (200 rows of 20
//! parameters per statement, a `CASE` per nullable float); `COPY` parses nothing per row.
//! `COPY` has no `ON CONFLICT`: a batch holding a verdict that is already stored (which the
//! verifier never writes, but storage must stay idempotent) fails with `unique_violation`, and
//! the caller stores it again with the `INSERT ... ON CONFLICT DO NOTHING` path.

use super::PgWriteError;
use super::verdicts::{BatchProgress, CommitTurn, Inserted, PocRow, reason_columns, witness_side};
use crate::verifier::poc::{PocVerdict, WitnessVerdict};
use db::verdict_minute;
use sqlx::PgConnection;

/// Rows in PostgreSQL's binary `COPY` format (`COPY ... FROM STDIN (FORMAT binary)`): a header,
/// then per row the field count and each field as a big-endian length (-1: NULL) and its bytes,
/// then a trailer.
pub(super) struct CopyRows {
    buf: Vec<u8>,
    rows: u64,
}

impl CopyRows {
    pub(super) fn new() -> Self {
        let mut buf = Vec::with_capacity(1 << 16);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        Self { buf, rows: 0 }
    }

    /// Starts a row of `fields` fields.
    pub(super) fn row(&mut self, fields: i16) {
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self.rows += 1;
    }

    fn field(&mut self, bytes: &[u8]) {
        let len = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(bytes);
    }

    fn null(&mut self) {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
    }

    /// A `BIGINT`.
    pub(super) fn int(&mut self, value: i64) {
        self.field(&value.to_be_bytes());
    }

    /// A `BIGINT` or NULL.
    pub(super) fn opt_int(&mut self, value: Option<i64>) {
        match value {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    /// A `DOUBLE PRECISION` or NULL.
    pub(super) fn opt_float(&mut self, value: Option<f64>) {
        match value {
            Some(v) => self.field(&v.to_bits().to_be_bytes()),
            None => self.null(),
        }
    }

    /// A `BYTEA` or NULL.
    pub(super) fn opt_bytes(&mut self, value: Option<&[u8]>) {
        match value {
            Some(v) => self.field(v),
            None => self.null(),
        }
    }

    /// A `BYTEA`.
    pub(super) fn bytes(&mut self, value: &[u8]) {
        self.field(value);
    }

    /// A `TEXT` or NULL.
    pub(super) fn opt_text(&mut self, value: Option<&str>) {
        self.opt_bytes(value.map(str::as_bytes));
    }

    /// The encoded rows with the trailer, and how many.
    pub(super) fn finish(mut self) -> (Vec<u8>, u64) {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        (self.buf, self.rows)
    }
}

/// Stores the verdicts of `pocs` with two `COPY`s and the progress, in one transaction. The
/// rows are written at once; the progress (and the commit) wait for `turn`, so batches written
/// on several connections commit in order. Nothing but the progress row is locked by two
/// batches, and a batch takes that lock only in its turn: a batch never waits for a lock held by
/// a later one.
pub(super) async fn save_pocs(
    pool: &sqlx::PgPool,
    pocs: &[PocRow],
    progress: &BatchProgress,
    earliest_ms: Option<u64>,
    turn: &mut CommitTurn,
) -> Result<Inserted, PgWriteError> {
    let mut tx = pool.begin().await?;
    // A batch waits for the one before it outside PostgreSQL, where no deadlock is detected: a
    // lock held by a later batch (it never should be) ends in an error, not in a wait forever.
    sqlx::query(LOCK_TIMEOUT).execute(&mut *tx).await?;
    let inserted = Inserted {
        pocs: copy(&mut tx, POCS_COPY, poc_rows(pocs)).await?,
        witnesses: copy(&mut tx, WITNESSES_COPY, witness_rows(pocs)).await?,
    };
    turn.wait().await.map_err(PgWriteError::Store)?;
    super::pg_progress::advance(&mut tx, progress, earliest_ms)
        .await
        .map_err(PgWriteError::Store)?;
    tx.commit().await?;
    Ok(inserted)
}

async fn copy(
    conn: &mut PgConnection,
    statement: &str,
    rows: CopyRows,
) -> Result<u64, PgWriteError> {
    let (data, expected) = rows.finish();
    if expected == 0 {
        return Ok(0);
    }
    let mut copy = conn.copy_in_raw(statement).await?;
    copy.send(data).await?;
    Ok(copy.finish().await?)
}

const LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '60s'";

const POCS_COPY: &str = "COPY pocs (minute, beaconer_key, beacon_id, epoch, received_ms, valid, reason, measured, \
     threshold, detail, location, hex_scale_e4, reward_units_e4, witness_reports, valid_witnesses, selected_witnesses, \
     passed_regular, state_flags) FROM STDIN (FORMAT binary)";

const WITNESSES_COPY: &str = "COPY witness_verdicts (minute, witness_key, witness_id, beacon_id, beaconer_key, epoch, \
     received_ms, valid, reason, side, measured, threshold, detail, selected, hex_scale_e4, reward_units_e4, \
     passed_regular, log_distance_e3, signal_ddbm) FROM STDIN (FORMAT binary)";

/// The `pocs` rows: the columns of [`POCS_COPY`], values as `verdict_rows` writes them.
fn poc_rows(pocs: &[PocRow]) -> CopyRows {
    let mut out = CopyRows::new();
    for (poc, effects) in pocs {
        let columns = reason_columns(poc.outcome.as_ref().err());
        let measure = (columns.has_measure != 0).then_some((columns.measured, columns.threshold));
        out.row(18);
        out.int(verdict_minute(poc.received_ms));
        out.bytes(poc.beaconer.as_bytes());
        out.bytes(&poc.beacon_id);
        out.int(poc.epoch as i64);
        out.int(poc.received_ms as i64);
        out.int(i64::from(poc.outcome.is_ok()));
        out.opt_text(columns.reason.as_deref());
        out.opt_float(measure.map(|m| m.0));
        out.opt_float(measure.map(|m| m.1));
        out.opt_text(columns.detail.as_deref());
        out.opt_int(poc.location.map(|l| l as i64));
        out.int(i64::from(poc.hex_scale_e4));
        out.int(i64::from(poc.reward_units_e4));
        out.int(i64::from(poc.witness_reports));
        out.int(i64::from(poc.valid_witnesses));
        out.int(i64::from(poc.selected_witnesses));
        out.int(i64::from(poc.passed_regular));
        out.int(effects.bits());
    }
    out
}

/// The `witness_verdicts` rows of every proof of coverage of `pocs`.
fn witness_rows(pocs: &[PocRow]) -> CopyRows {
    let mut out = CopyRows::new();
    for (poc, _) in pocs {
        for witness in &poc.witnesses {
            witness_row(&mut out, witness, poc);
        }
    }
    out
}

fn witness_row(out: &mut CopyRows, witness: &WitnessVerdict, poc: &PocVerdict) {
    let (side, columns) = witness_side(witness);
    let measure = (columns.has_measure != 0).then_some((columns.measured, columns.threshold));
    out.row(19);
    out.int(verdict_minute(witness.received_ms));
    out.bytes(witness.witness.as_bytes());
    out.bytes(&witness.witness_id);
    out.bytes(&poc.beacon_id);
    out.bytes(poc.beaconer.as_bytes());
    out.int(poc.epoch as i64);
    out.int(witness.received_ms as i64);
    out.int(i64::from(witness.outcome.is_ok()));
    out.opt_text(columns.reason.as_deref());
    out.opt_text(side);
    out.opt_float(measure.map(|m| m.0));
    out.opt_float(measure.map(|m| m.1));
    out.opt_text(columns.detail.as_deref());
    out.int(i64::from(witness.selected));
    out.int(i64::from(poc.hex_scale_e4));
    out.int(i64::from(witness.reward_units_e4));
    out.int(i64::from(witness.passed_regular));
    out.opt_int(
        witness
            .evidence
            .map(|e| crate::trust::log_distance_e3(e.distance_m)),
    );
    out.opt_int(witness.evidence.map(|e| i64::from(e.signal_ddbm)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_encoded_in_the_binary_copy_format() {
        let mut rows = CopyRows::new();
        rows.row(3);
        rows.int(-2);
        rows.opt_bytes(None);
        rows.opt_text(Some("ok"));
        let (bytes, n) = rows.finish();
        assert_eq!(n, 1);
        let mut expected = b"PGCOPY\n\xff\r\n\0".to_vec();
        expected.extend_from_slice(&[0; 8]);
        expected.extend_from_slice(&[0, 3]);
        expected.extend_from_slice(&[0, 0, 0, 8]);
        expected.extend_from_slice(&(-2i64).to_be_bytes());
        expected.extend_from_slice(&[0xff; 4]);
        expected.extend_from_slice(&[0, 0, 0, 2, b'o', b'k']);
        expected.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(bytes, expected);
    }
}
