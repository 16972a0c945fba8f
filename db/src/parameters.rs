//! The governance parameter set in force for an epoch, shared by `oracle` and `rewards`.
//!
//! Applied sets live in `parameter_sets` (append-only). The set in force for epoch `E` is the
//! highest version whose `effective_epoch <= E`; with no applied set, the built-in genesis set
//! ([`ParameterSet::default`]) is.

use schemas::parameters::ParameterSet;
use sqlx::{AnyPool, Row};

/// Errors reading parameter sets.
#[derive(Debug, thiserror::Error)]
pub enum ParametersError {
    #[error("database error reading parameter sets: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored parameter set version {version} does not parse: {message}")]
    Corrupt { version: i64, message: String },
    #[error("stored parameter set version {version} does not match its stored hash")]
    HashMismatch { version: i64 },
}

/// The parameter set in force for `epoch`.
pub async fn in_force(pool: &AnyPool, epoch: u64) -> Result<ParameterSet, ParametersError> {
    let epoch = i64::try_from(epoch).unwrap_or(i64::MAX);
    let row = sqlx::query(
        "SELECT version, hash, parameters FROM parameter_sets \
         WHERE effective_epoch <= $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(epoch)
    .fetch_optional(pool)
    .await?;
    match row {
        None => Ok(ParameterSet::default()),
        Some(row) => decode(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?),
    }
}

/// Every applied parameter set, oldest first (the audit history, without signatures).
pub async fn history(pool: &AnyPool) -> Result<Vec<ParameterSet>, ParametersError> {
    let rows = sqlx::query("SELECT version, hash, parameters FROM parameter_sets ORDER BY version")
        .fetch_all(pool)
        .await?;
    rows.into_iter()
        .map(|row| decode(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
        .collect()
}

fn decode(version: i64, hash: Vec<u8>, text: String) -> Result<ParameterSet, ParametersError> {
    let set = ParameterSet::from_toml(&text).map_err(|e| ParametersError::Corrupt {
        version,
        message: e.to_string(),
    })?;
    if set.hash().as_slice() != hash.as_slice() || i64::try_from(set.version) != Ok(version) {
        return Err(ParametersError::HashMismatch { version });
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support;

    async fn apply(pool: &AnyPool, set: &ParameterSet) {
        test_support::apply_parameters(pool, set)
            .await
            .expect("insert");
    }

    #[tokio::test]
    async fn the_set_in_force_changes_at_its_effective_epoch_only() {
        for db in test_support::both().await.expect("databases") {
            let pool = db.db.pool();
            assert_eq!(
                in_force(pool, 5).await.expect("genesis"),
                ParameterSet::default()
            );
            let genesis = ParameterSet::default();
            let mut next = genesis.clone();
            next.version = 2;
            next.effective_epoch = 10;
            next.split.beacon_bps = 1_000;
            apply(pool, &genesis).await;
            apply(pool, &next).await;
            assert_eq!(in_force(pool, 9).await.expect("9"), genesis);
            assert_eq!(in_force(pool, 10).await.expect("10"), next);
            assert_eq!(in_force(pool, 11).await.expect("11"), next);
            assert_eq!(history(pool).await.expect("history"), vec![genesis, next]);
        }
    }
}
