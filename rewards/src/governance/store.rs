//! The database side of governance: the state a change is checked against, applying a change
//! or an explicit genesis (append-only rows), and the audit history.

use super::GovernanceError;
use super::proposal::{Proposal, SignatureFile};
use super::rules::{self, GovernanceState};
use schemas::PublicKey;
use serde::Serialize;
use sqlx::{AnyPool, Row};
use std::collections::BTreeSet;

/// One applied parameter set as the audit history shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedSet {
    /// The version.
    pub version: u64,
    /// First epoch it is in force.
    pub effective_epoch: u64,
    /// Its canonical hash (hex).
    pub hash: String,
    /// When it was applied (ms since the Unix epoch).
    pub applied_ms: u64,
    /// The governance keys whose signatures it carried (none for an explicit genesis).
    pub signers: Vec<PublicKey>,
}

/// Reads what a change is checked against; `now_ms` places the current epoch.
pub async fn state(pool: &AnyPool, now_ms: u64) -> Result<GovernanceState, GovernanceError> {
    let genesis = db::parameters::in_force(pool, 0).await?;
    let latest = sqlx::query(
        "SELECT version, effective_epoch FROM parameter_sets ORDER BY version DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    let (latest_version, latest_effective_epoch) = match latest {
        Some(row) => (
            to_u64(row.try_get(0)?, "version")?,
            to_u64(row.try_get(1)?, "effective_epoch")?,
        ),
        None => (1, 0),
    };
    Ok(GovernanceState {
        latest_version,
        latest_effective_epoch,
        genesis_epoch_length: genesis.epoch,
        current_epoch: now_ms / genesis.epoch_ms().max(1),
        last_manifest_epoch: last_manifest_epoch(pool).await?,
    })
}

async fn last_manifest_epoch(pool: &AnyPool) -> Result<Option<u64>, GovernanceError> {
    let row = sqlx::query("SELECT MAX(epoch) FROM reward_manifests")
        .fetch_one(pool)
        .await?;
    row.try_get::<Option<i64>, _>(0)?
        .map(|epoch| to_u64(epoch, "reward_manifests.epoch"))
        .transpose()
}

/// Checks signatures and rules without writing: what `apply` would refuse, it refuses.
/// Returns the governance keys that validly signed.
pub async fn check(
    pool: &AnyPool,
    proposal: &Proposal,
    signatures: &SignatureFile,
    keys: &[PublicKey],
    threshold: usize,
    now_ms: u64,
) -> Result<BTreeSet<PublicKey>, GovernanceError> {
    let signers = signatures.verify(proposal, keys, threshold)?;
    rules::check_change(&proposal.set, &state(pool, now_ms).await?)?;
    Ok(signers)
}

/// Verifies M-of-N signatures and every rule, then appends the set and the signatures of the
/// governance keys that signed it, in one transaction. A concurrent apply of the same version
/// fails on the primary key.
pub async fn apply(
    pool: &AnyPool,
    proposal: &Proposal,
    signatures: &SignatureFile,
    keys: &[PublicKey],
    threshold: usize,
    now_ms: u64,
) -> Result<AppliedSet, GovernanceError> {
    let signers = check(pool, proposal, signatures, keys, threshold, now_ms).await?;
    let recorded: Vec<_> = signatures
        .governance_signatures()
        .into_iter()
        .filter(|s| PublicKey::from_slice(&s.key).is_ok_and(|k| signers.contains(&k)))
        .collect();
    insert(pool, proposal, &recorded, now_ms).await?;
    Ok(AppliedSet {
        version: proposal.set.version,
        effective_epoch: proposal.set.effective_epoch,
        hash: hex::encode(proposal.set.hash()),
        applied_ms: now_ms,
        signers: signers.into_iter().collect(),
    })
}

/// Stores an explicit genesis set (version 1, from epoch 0) once, before any epoch was
/// rewarded. It carries no signatures: it is the deployment's starting point.
pub async fn genesis(
    pool: &AnyPool,
    proposal: &Proposal,
    now_ms: u64,
) -> Result<AppliedSet, GovernanceError> {
    let stored = db::parameters::history(pool).await?;
    let genesis_stored = stored.iter().any(|set| set.version == 1);
    let lengths: Vec<_> = stored.iter().map(|set| set.epoch).collect();
    let any_manifest = last_manifest_epoch(pool).await?.is_some();
    rules::check_genesis(&proposal.set, genesis_stored, any_manifest, &lengths)?;
    insert(pool, proposal, &[], now_ms).await?;
    Ok(AppliedSet {
        version: 1,
        effective_epoch: 0,
        hash: hex::encode(proposal.set.hash()),
        applied_ms: now_ms,
        signers: Vec::new(),
    })
}

async fn insert(
    pool: &AnyPool,
    proposal: &Proposal,
    signatures: &[schemas::proto::GovernanceSignature],
    now_ms: u64,
) -> Result<(), GovernanceError> {
    let set = &proposal.set;
    let version = to_i64(set.version, "version")?;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO parameter_sets (version, effective_epoch, hash, parameters, applied_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(version)
    .bind(to_i64(set.effective_epoch, "effective_epoch")?)
    .bind(set.hash().to_vec())
    .bind(proposal.text.clone())
    .bind(to_i64(now_ms, "applied_ms")?)
    .execute(&mut *tx)
    .await?;
    for signature in signatures {
        sqlx::query(
            "INSERT INTO parameter_signatures (version, signer_key, signature) VALUES ($1, $2, $3)",
        )
        .bind(version)
        .bind(signature.key.clone())
        .bind(signature.signature.clone())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The audit history: every applied set, oldest first, with its signers. Each stored set is
/// re-parsed and checked against its stored hash (`db::parameters::history`).
pub async fn history(pool: &AnyPool) -> Result<Vec<AppliedSet>, GovernanceError> {
    db::parameters::history(pool).await?;
    let rows = sqlx::query(
        "SELECT version, effective_epoch, hash, applied_ms FROM parameter_sets ORDER BY version",
    )
    .fetch_all(pool)
    .await?;
    let signatures =
        sqlx::query("SELECT version, signer_key FROM parameter_signatures ORDER BY version")
            .fetch_all(pool)
            .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let version: i64 = row.try_get(0)?;
        let mut signers = Vec::new();
        for signature in signatures
            .iter()
            .filter(|s| s.try_get::<i64, _>(0).ok() == Some(version))
        {
            let key: Vec<u8> = signature.try_get(1)?;
            signers.push(PublicKey::from_slice(&key).map_err(|e| {
                GovernanceError::Corrupt(format!("signer of version {version}: {e}"))
            })?);
        }
        signers.sort();
        out.push(AppliedSet {
            version: to_u64(version, "version")?,
            effective_epoch: to_u64(row.try_get(1)?, "effective_epoch")?,
            hash: hex::encode(row.try_get::<Vec<u8>, _>(2)?),
            applied_ms: to_u64(row.try_get(3)?, "applied_ms")?,
            signers,
        });
    }
    Ok(out)
}

fn to_u64(value: i64, what: &str) -> Result<u64, GovernanceError> {
    u64::try_from(value).map_err(|_| GovernanceError::Corrupt(format!("negative {what} {value}")))
}

fn to_i64(value: u64, what: &str) -> Result<i64, GovernanceError> {
    i64::try_from(value).map_err(|_| {
        GovernanceError::Rule(rules::RuleError::Invalid(format!(
            "{what} {value} is too large"
        )))
    })
}
