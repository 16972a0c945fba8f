//! What the mint engine needs from a reward manifest, checked: its hash, and the owner
//! transfers (sorted by owner, amounts > 0, summing to `total_paid`).

use super::error::MintError;
use crate::chain::Pubkey;
use crate::chain::plan::Transfer;
use prost::Message;
use schemas::proto::RewardManifest;
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};

/// A manifest ready to mint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintableManifest {
    /// The epoch.
    pub epoch: u64,
    /// SHA-256 of the manifest's canonical encoding: the epoch's identity.
    pub hash: [u8; 32],
    /// One transfer per owner, sorted by owner.
    pub transfers: Vec<Transfer>,
    /// Sum of the transfers (= the manifest's `total_paid`).
    pub total: u64,
}

/// The manifest hash: SHA-256 of `RewardManifest::encode_to_vec()`.
pub fn manifest_hash(manifest: &RewardManifest) -> [u8; 32] {
    Sha256::digest(manifest.encode_to_vec()).into()
}

impl MintableManifest {
    /// Checks `manifest` and extracts its transfers.
    pub fn new(manifest: &RewardManifest) -> Result<Self, MintError> {
        let epoch = manifest.epoch;
        let invalid = |detail: String| MintError::InvalidManifest { epoch, detail };
        let mut transfers = Vec::with_capacity(manifest.owners.len());
        let mut total: u64 = 0;
        for (index, owner) in manifest.owners.iter().enumerate() {
            let key = Pubkey::try_from(owner.owner_key.as_slice()).map_err(|_| {
                invalid(format!(
                    "owner {index} key is {} bytes",
                    owner.owner_key.len()
                ))
            })?;
            if owner.amount == 0 {
                return Err(invalid(format!("owner {key} has amount 0")));
            }
            if i64::try_from(owner.amount).is_err() {
                return Err(invalid(format!(
                    "owner {key} amount {} too large",
                    owner.amount
                )));
            }
            if transfers.last().is_some_and(|t: &Transfer| t.owner >= key) {
                return Err(invalid(format!(
                    "owners not strictly sorted at {index} ({key})"
                )));
            }
            total = total
                .checked_add(owner.amount)
                .ok_or_else(|| invalid("owner amounts overflow".into()))?;
            transfers.push(Transfer {
                owner: key,
                amount: owner.amount,
            });
        }
        if total != manifest.total_paid {
            return Err(invalid(format!(
                "owner amounts sum to {total}, total_paid says {}",
                manifest.total_paid
            )));
        }
        Ok(Self {
            epoch,
            hash: manifest_hash(manifest),
            transfers,
            total,
        })
    }
}

/// The stored manifest of `epoch` (`reward_manifests`), `None` if none was computed. The
/// stored hash must be the hash of the stored bytes, and the manifest must be for `epoch`.
pub async fn load_manifest(
    pool: &AnyPool,
    epoch: u64,
) -> Result<Option<RewardManifest>, MintError> {
    let row = sqlx::query("SELECT manifest_hash, manifest FROM reward_manifests WHERE epoch = $1")
        .bind(i64::try_from(epoch).unwrap_or(i64::MAX))
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let invalid = |detail: String| MintError::InvalidManifest { epoch, detail };
    let stored_hash: Vec<u8> = row.try_get(0)?;
    let bytes: Vec<u8> = row.try_get(1)?;
    let manifest = RewardManifest::decode(bytes.as_slice())
        .map_err(|e| invalid(format!("stored manifest does not decode: {e}")))?;
    if manifest.epoch != epoch {
        return Err(invalid(format!(
            "stored under epoch {epoch} but is for epoch {}",
            manifest.epoch
        )));
    }
    let hash = manifest_hash(&manifest);
    if stored_hash.as_slice() != hash {
        return Err(invalid(format!(
            "stored hash {} is not the manifest's hash {}",
            hex::encode(&stored_hash),
            hex::encode(hash)
        )));
    }
    Ok(Some(manifest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::proto::OwnerReward;

    fn manifest(owners: &[([u8; 32], u64)]) -> RewardManifest {
        RewardManifest {
            epoch: 4,
            owners: owners
                .iter()
                .map(|(key, amount)| OwnerReward {
                    owner_key: key.to_vec(),
                    amount: *amount,
                })
                .collect(),
            total_paid: owners.iter().map(|(_, a)| a).sum(),
            ..Default::default()
        }
    }

    #[test]
    fn accepts_sorted_owners_and_hashes_the_encoding() {
        let m = manifest(&[([1; 32], 5), ([2; 32], 7)]);
        let mintable = MintableManifest::new(&m).expect("valid");
        assert_eq!(mintable.total, 12);
        assert_eq!(
            mintable.hash,
            <[u8; 32]>::from(Sha256::digest(m.encode_to_vec()))
        );
    }

    #[test]
    fn refuses_unsorted_zero_short_keys_and_wrong_totals() {
        assert!(MintableManifest::new(&manifest(&[([2; 32], 5), ([1; 32], 7)])).is_err());
        assert!(MintableManifest::new(&manifest(&[([1; 32], 5), ([1; 32], 7)])).is_err());
        assert!(MintableManifest::new(&manifest(&[([1; 32], 0)])).is_err());
        let mut m = manifest(&[([1; 32], 5)]);
        m.total_paid = 6;
        assert!(MintableManifest::new(&m).is_err());
        m.total_paid = 5;
        m.owners[0].owner_key.pop();
        assert!(MintableManifest::new(&m).is_err());
    }
}
