//! The verifier's progress and the hotspot-state checkpoint on PostgreSQL's own driver, inside
//! the transaction of a `COPY`ed batch (`pg_copy.rs`); the same statements as
//! [`super::verdicts::advance`], the checkpoint as one `UNNEST` of arrays.

use super::verdict_rows::{STATE_COLUMNS, later_of_each};
use super::verdicts::{BatchProgress, LOWER_REPLAY_FROM, SET_REPLAY_FROM, VERIFIED_BEFORE};
use super::{StoreError, clamp_ms};
use crate::verifier::state::HotspotState;
use schemas::PublicKey;
use sqlx::PgConnection;

/// See [`super::verdicts::advance`].
pub(super) async fn advance(
    tx: &mut PgConnection,
    progress: &BatchProgress,
    earliest_ms: Option<u64>,
) -> Result<(), StoreError> {
    if let Some(checkpoint) = &progress.checkpoint {
        upsert_states(tx, &checkpoint.states).await?;
        sqlx::query(SET_REPLAY_FROM)
            .bind(clamp_ms(checkpoint.replay_from_ms))
            .execute(&mut *tx)
            .await?;
    } else if let Some(earliest) = earliest_ms {
        sqlx::query(LOWER_REPLAY_FROM)
            .bind(clamp_ms(earliest))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(VERIFIED_BEFORE)
        .bind(clamp_ms(progress.verified_before_ms))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn upsert_states(
    tx: &mut PgConnection,
    states: &[(PublicKey, HotspotState)],
) -> Result<(), StoreError> {
    if states.is_empty() {
        return Ok(());
    }
    let ms = |v: Option<u64>| v.map(clamp_ms);
    let keys: Vec<Vec<u8>> = states.iter().map(|(k, _)| k.to_vec()).collect();
    let column = |f: fn(&HotspotState) -> Option<u64>| -> Vec<Option<i64>> {
        states.iter().map(|(_, s)| ms(f(s))).collect()
    };
    let sql = format!(
        "INSERT INTO hotspot_state (hotspot_key, {}) \
         SELECT * FROM UNNEST($1::bytea[], $2::int8[], $3::int8[], $4::int8[], $5::int8[]) \
         ON CONFLICT (hotspot_key) DO UPDATE SET {}",
        STATE_COLUMNS.join(", "),
        later_of_each(STATE_COLUMNS)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(keys)
        .bind(column(|s| s.last_beacon_ms))
        .bind(column(|s| s.last_witness_ms))
        .bind(column(|s| s.last_reciprocal_beacon_ms))
        .bind(column(|s| s.last_active_ms))
        .execute(&mut *tx)
        .await?;
    Ok(())
}
