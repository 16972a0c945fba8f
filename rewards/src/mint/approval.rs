//! The approval gate: an epoch is minted only when at least M distinct members of the mint
//! authority's multisig signed the hash of the very manifest being minted, and only those
//! approvers sign the mint transactions.

use super::error::MintError;
use crate::chain::{MultisigAccount, Pubkey};
use prost::Message;
use schemas::proto::ManifestApproval;
use schemas::sign::SingleSigned;
use sqlx::{AnyPool, Row};

/// An epoch is never minted on fewer approvals than this, whatever the multisig's M.
pub const MIN_APPROVALS: usize = 2;

/// The approvals stored for `epoch` (any hash), as `ManifestApproval` messages. Rows whose
/// columns do not form a well-sized approval are logged and skipped; signatures are checked by
/// [`approved_signers`].
pub async fn load_approvals(
    pool: &AnyPool,
    epoch: u64,
) -> Result<Vec<ManifestApproval>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT manifest_hash, signer_key, signature FROM manifest_approvals \
         WHERE epoch = $1 ORDER BY signer_key, manifest_hash",
    )
    .bind(i64::try_from(epoch).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    let mut approvals = Vec::with_capacity(rows.len());
    for row in rows {
        approvals.push(ManifestApproval {
            epoch,
            manifest_hash: row.try_get(0)?,
            signer_key: row.try_get(1)?,
            signature: row.try_get(2)?,
        });
    }
    Ok(approvals)
}

/// The distinct multisig members whose approval of `manifest_hash` for `epoch` verifies, in the
/// multisig's member order. Approvals of another hash or epoch, by non-members, or with a bad
/// signature count for nothing (logged).
pub fn approved_signers(
    epoch: u64,
    manifest_hash: &[u8; 32],
    approvals: &[ManifestApproval],
    multisig: &MultisigAccount,
) -> Vec<Pubkey> {
    let mut approved = Vec::new();
    for approval in approvals {
        if approval.epoch != epoch || approval.manifest_hash.as_slice() != manifest_hash {
            tracing::info!(
                epoch,
                approval_epoch = approval.epoch,
                hash = %hex::encode(&approval.manifest_hash),
                "approval of another manifest does not count"
            );
            continue;
        }
        let signer = match approval.verify() {
            Ok(key) => Pubkey::new_from_array(*key.as_bytes()),
            Err(err) => {
                tracing::warn!(
                    epoch,
                    signer = %hex::encode(&approval.signer_key),
                    error = %err,
                    bytes = approval.encoded_len(),
                    "approval signature does not verify; ignored"
                );
                continue;
            }
        };
        if !multisig.members.contains(&signer) {
            tracing::warn!(epoch, %signer, "approval by a key outside the multisig; ignored");
            continue;
        }
        if !approved.contains(&signer) {
            approved.push(signer);
        }
    }
    approved.sort_by_key(|key| multisig.members.iter().position(|m| m == key));
    approved
}

/// Checks the gate and picks the mint transactions' signers: the first M of `signers` (M = the
/// multisig's threshold). Refuses unless at least max(M, [`MIN_APPROVALS`]) members approved
/// `manifest_hash`, every key in `signers` is such an approver, and at least M were given.
pub fn gate(
    epoch: u64,
    manifest_hash: &[u8; 32],
    multisig_address: &Pubkey,
    multisig: &MultisigAccount,
    approvals: &[ManifestApproval],
    signers: &[Pubkey],
) -> Result<Vec<Pubkey>, MintError> {
    let threshold = usize::from(multisig.threshold);
    if threshold < MIN_APPROVALS {
        return Err(MintError::WeakMultisig {
            multisig: *multisig_address,
            threshold: multisig.threshold,
            n: multisig.members.len(),
        });
    }
    let approvers = approved_signers(epoch, manifest_hash, approvals, multisig);
    if approvers.len() < threshold {
        return Err(MintError::NotEnoughApprovals {
            epoch,
            manifest_hash: *manifest_hash,
            approvals: approvers.len(),
            required: threshold,
            operators: multisig.members.clone(),
            approvers,
        });
    }
    let mut chosen: Vec<Pubkey> = Vec::with_capacity(threshold);
    for signer in signers {
        let why = if !multisig.members.contains(signer) {
            Some("is not a member of the multisig that may mint, so cannot sign for")
        } else if !approvers.contains(signer) {
            Some("did not approve")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(MintError::SignerNotApproved {
                epoch,
                manifest_hash: *manifest_hash,
                signer: *signer,
                why,
            });
        }
        if !chosen.contains(signer) && chosen.len() < threshold {
            chosen.push(*signer);
        }
    }
    if chosen.len() < threshold {
        return Err(MintError::NotEnoughSigners {
            epoch,
            given: chosen.len(),
            required: threshold,
        });
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::Keypair;

    fn operators() -> Vec<Keypair> {
        (1..=3u8).map(|i| Keypair::from_seed([i; 32])).collect()
    }

    fn pubkey(key: &Keypair) -> Pubkey {
        Pubkey::new_from_array(*key.public().as_bytes())
    }

    fn approval(key: &Keypair, epoch: u64, hash: [u8; 32]) -> ManifestApproval {
        let mut approval = ManifestApproval {
            epoch,
            manifest_hash: hash.to_vec(),
            ..Default::default()
        };
        approval.sign_with(key);
        approval
    }

    fn setup() -> (Vec<Keypair>, MultisigAccount, Pubkey) {
        let ops = operators();
        let multisig = MultisigAccount {
            threshold: 2,
            members: ops.iter().map(pubkey).collect(),
        };
        (ops, multisig, Pubkey::new_from_array([9; 32]))
    }

    #[test]
    fn two_of_three_approvals_of_the_same_hash_pass() {
        let (ops, multisig, address) = setup();
        let hash = [7; 32];
        let approvals = [approval(&ops[2], 5, hash), approval(&ops[0], 5, hash)];
        let signers = [pubkey(&ops[2]), pubkey(&ops[0])];
        let chosen = gate(5, &hash, &address, &multisig, &approvals, &signers).expect("gate");
        assert_eq!(chosen, signers);
    }

    #[test]
    fn one_approval_or_approvals_of_other_hashes_are_refused() {
        let (ops, multisig, address) = setup();
        let hash = [7; 32];
        let approvals = [
            approval(&ops[0], 5, hash),
            approval(&ops[0], 5, hash),
            approval(&ops[1], 5, [8; 32]),
            approval(&ops[2], 4, hash),
        ];
        let err = gate(
            5,
            &hash,
            &address,
            &multisig,
            &approvals,
            &[pubkey(&ops[0])],
        )
        .expect_err("one approval");
        let text = err.to_string();
        assert!(
            matches!(
                err,
                MintError::NotEnoughApprovals {
                    approvals: 1,
                    required: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            text.starts_with("epoch 5: 1 approval of manifest 07070707..; 2 required (operators: "),
            "{text}"
        );
    }

    #[test]
    fn forged_and_foreign_approvals_do_not_count() {
        let (ops, multisig, address) = setup();
        let hash = [7; 32];
        let mut forged = approval(&ops[1], 5, hash);
        forged.signature[0] ^= 1;
        let outsider = Keypair::from_seed([42; 32]);
        let approvals = [
            approval(&ops[0], 5, hash),
            forged,
            approval(&outsider, 5, hash),
        ];
        let err = gate(5, &hash, &address, &multisig, &approvals, &[]).expect_err("refused");
        assert!(matches!(
            err,
            MintError::NotEnoughApprovals { approvals: 1, .. }
        ));
    }

    #[test]
    fn signers_must_be_approvers_and_at_least_m() {
        let (ops, multisig, address) = setup();
        let hash = [7; 32];
        let approvals = [approval(&ops[0], 5, hash), approval(&ops[1], 5, hash)];
        let err = gate(
            5,
            &hash,
            &address,
            &multisig,
            &approvals,
            &[pubkey(&ops[0]), pubkey(&ops[2])],
        )
        .expect_err("operator 2 did not approve");
        assert!(matches!(
            err,
            MintError::SignerNotApproved {
                why: "did not approve",
                ..
            }
        ));
        let err = gate(
            5,
            &hash,
            &address,
            &multisig,
            &approvals,
            &[pubkey(&ops[1])],
        )
        .expect_err("one signer");
        assert!(matches!(
            err,
            MintError::NotEnoughSigners {
                given: 1,
                required: 2,
                ..
            }
        ));
        let stranger = Pubkey::new_from_array([1; 32]);
        let err =
            gate(5, &hash, &address, &multisig, &approvals, &[stranger]).expect_err("not a member");
        assert!(matches!(err, MintError::SignerNotApproved { .. }));
    }

    #[test]
    fn a_one_of_n_multisig_is_refused() {
        let (ops, mut multisig, address) = setup();
        multisig.threshold = 1;
        let hash = [7; 32];
        let approvals = [approval(&ops[0], 5, hash)];
        let err = gate(
            5,
            &hash,
            &address,
            &multisig,
            &approvals,
            &[pubkey(&ops[0])],
        )
        .expect_err("weak");
        assert!(matches!(err, MintError::WeakMultisig { threshold: 1, .. }));
    }
}
