//! Oracle operators' approvals of a manifest: a [`ManifestApproval`] is an ed25519 signature
//! (domain `coverage-proof/v1/ManifestApproval`) by an operator key over `(epoch, manifest
//! hash)`. Minting needs M approvals of the same hash by members of the mint authority's
//! multisig; this module signs, exchanges, verifies and stores them. Which keys count is the
//! minting side's decision (the multisig members); every approval stored here verifies.

use crate::epoch::{self, EpochError};
use schemas::Keypair;
use schemas::proto::ManifestApproval;
use schemas::sign::{SignError, SingleSigned};
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, Row};

/// Why an approval was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// A database error.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Reading the stored manifest failed.
    #[error(transparent)]
    Epoch(#[from] EpochError),
    /// The signature does not verify.
    #[error("approval of epoch {epoch} by {signer}: {source}")]
    Signature {
        /// The epoch.
        epoch: u64,
        /// Claimed signer (base58, or hex when not a key).
        signer: String,
        /// Why.
        source: SignError,
    },
    /// There is no manifest to approve.
    #[error(
        "epoch {epoch} has no stored manifest here: run `rewards epoch run --epoch {epoch}` first"
    )]
    NoManifest {
        /// The epoch.
        epoch: u64,
    },
    /// The approval is for another manifest than the stored one.
    #[error(
        "approval by {signer} is for manifest {approved} of epoch {epoch}, but the manifest stored here is {stored}: \
         the two oracles computed different rewards"
    )]
    HashMismatch {
        /// The epoch.
        epoch: u64,
        /// Signer (base58).
        signer: String,
        /// Hash it approved (hex).
        approved: String,
        /// Hash stored here (hex).
        stored: String,
    },
    /// An approval file that does not parse.
    #[error("invalid approval file: {0}")]
    File(String),
}

/// Signs an approval of `hash` for `epoch` with `key`.
pub fn sign(epoch: u64, hash: [u8; 32], key: &Keypair) -> ManifestApproval {
    let mut approval = ManifestApproval {
        epoch,
        manifest_hash: hash.to_vec(),
        ..Default::default()
    };
    approval.sign_with(key);
    approval
}

/// Verifies an approval's signature.
pub fn verify(approval: &ManifestApproval) -> Result<schemas::PublicKey, ApprovalError> {
    approval
        .verify()
        .map_err(|source| ApprovalError::Signature {
            epoch: approval.epoch,
            signer: signer_text(&approval.signer_key),
            source,
        })
}

/// Verifies `approval` against the manifest stored for its epoch and stores it. Returns
/// whether it was new (storing the same approval twice is a no-op).
pub async fn store(
    pool: &AnyPool,
    approval: &ManifestApproval,
    now_ms: u64,
) -> Result<bool, ApprovalError> {
    let signer = verify(approval)?;
    let epoch = approval.epoch;
    let stored = epoch::stored_manifest(pool, epoch)
        .await?
        .ok_or(ApprovalError::NoManifest { epoch })?;
    if stored.hash.as_slice() != approval.manifest_hash.as_slice() {
        return Err(ApprovalError::HashMismatch {
            epoch,
            signer: signer.to_string(),
            approved: hex::encode(&approval.manifest_hash),
            stored: hex::encode(stored.hash),
        });
    }
    let done = sqlx::query(
        "INSERT INTO manifest_approvals (epoch, manifest_hash, signer_key, signature, signed_ms) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(i64::try_from(epoch).unwrap_or(i64::MAX))
    .bind(approval.manifest_hash.clone())
    .bind(approval.signer_key.clone())
    .bind(approval.signature.clone())
    .bind(i64::try_from(now_ms).unwrap_or(i64::MAX))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The stored approvals of `hash` for `epoch`, sorted by signer key, each verified. A stored
/// approval that does not verify is an error (someone edited the table), never skipped.
pub async fn approvals(
    pool: &AnyPool,
    epoch: u64,
    hash: &[u8; 32],
) -> Result<Vec<ManifestApproval>, ApprovalError> {
    let rows = sqlx::query(
        "SELECT signer_key, signature FROM manifest_approvals \
         WHERE epoch = $1 AND manifest_hash = $2 ORDER BY signer_key",
    )
    .bind(i64::try_from(epoch).unwrap_or(i64::MAX))
    .bind(hash.to_vec())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let approval = ManifestApproval {
                epoch,
                manifest_hash: hash.to_vec(),
                signer_key: row.try_get(0)?,
                signature: row.try_get(1)?,
            };
            verify(&approval)?;
            Ok(approval)
        })
        .collect()
}

/// Every stored approval of `epoch` (any hash), verified, with when it was stored.
pub async fn approvals_of_epoch(
    pool: &AnyPool,
    epoch: u64,
) -> Result<Vec<(ManifestApproval, u64)>, ApprovalError> {
    let rows = sqlx::query(
        "SELECT manifest_hash, signer_key, signature, signed_ms FROM manifest_approvals \
         WHERE epoch = $1 ORDER BY manifest_hash, signer_key",
    )
    .bind(i64::try_from(epoch).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let approval = ManifestApproval {
                epoch,
                manifest_hash: row.try_get(0)?,
                signer_key: row.try_get(1)?,
                signature: row.try_get(2)?,
            };
            verify(&approval)?;
            let signed_ms: i64 = row.try_get(3)?;
            Ok((approval, signed_ms.max(0) as u64))
        })
        .collect()
}

/// The exchange format of an approval (`rewards sign --out`, `rewards approvals import`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalFile {
    /// The epoch.
    pub epoch: u64,
    /// Manifest hash, hex.
    pub manifest_hash: String,
    /// Signer public key, base58.
    pub signer_key: String,
    /// Signature, hex.
    pub signature: String,
}

impl ApprovalFile {
    /// The file form of `approval`.
    pub fn from_approval(approval: &ManifestApproval) -> Self {
        Self {
            epoch: approval.epoch,
            manifest_hash: hex::encode(&approval.manifest_hash),
            signer_key: signer_text(&approval.signer_key),
            signature: hex::encode(&approval.signature),
        }
    }

    /// Parses the file form (JSON) and rebuilds the approval. The signature is not checked
    /// here; [`store`] checks it.
    pub fn parse(text: &str) -> Result<ManifestApproval, ApprovalError> {
        let file: Self =
            serde_json::from_str(text).map_err(|e| ApprovalError::File(e.to_string()))?;
        let signer: schemas::PublicKey = file
            .signer_key
            .parse()
            .map_err(|e| ApprovalError::File(format!("signer_key: {e}")))?;
        let bytes = |field: &str, text: &str| {
            hex::decode(text).map_err(|e| ApprovalError::File(format!("{field}: {e}")))
        };
        Ok(ManifestApproval {
            epoch: file.epoch,
            manifest_hash: bytes("manifest_hash", &file.manifest_hash)?,
            signer_key: signer.to_vec(),
            signature: bytes("signature", &file.signature)?,
        })
    }

    /// JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

fn signer_text(bytes: &[u8]) -> String {
    schemas::PublicKey::from_slice(bytes).map_or_else(|_| hex::encode(bytes), |k| k.to_string())
}
