//! Splitting a list of token transfers into transactions that fit Solana's packet limit.
//!
//! Each transfer is two instructions (create the owner's associated token account
//! idempotently, then a multisig `MintTo`), and every transaction starts with a memo naming the
//! batch. Batches are filled greedily in input order, measuring the real serialized size (fee
//! payer + M signatures), so the result depends only on the input: planning twice, or in another
//! process, gives the same batches.

use super::instructions::{create_associated_token_account, memo, mint_to_owner};
use super::transaction::{PACKET_DATA_SIZE_BYTES, serialized_size};
use solana_address::Address as Pubkey;
use solana_instruction::Instruction;

/// One payment: `amount` base units to `owner`'s associated token account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// Owner wallet.
    pub owner: Pubkey,
    /// Base units (> 0).
    pub amount: u64,
}

/// Who mints and who signs: the same for every batch of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintAuthority {
    /// Pays fees and the rent of new token accounts.
    pub fee_payer: Pubkey,
    /// The token mint.
    pub mint: Pubkey,
    /// The SPL Token multisig that is the mint authority.
    pub multisig: Pubkey,
    /// The M multisig keys that sign every batch.
    pub signers: Vec<Pubkey>,
}

/// One planned transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Position in the plan, from 0.
    pub index: usize,
    /// Its transfers, in input order.
    pub transfers: Vec<Transfer>,
    /// The memo followed by two instructions per transfer.
    pub instructions: Vec<Instruction>,
}

/// Why transfers cannot be planned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    /// Owners must be strictly increasing (sorted, each owner once).
    #[error(
        "transfer {index} (owner {owner}) is not after the previous owner: sort by owner, one transfer per owner"
    )]
    Unsorted {
        /// Position in the input.
        index: usize,
        /// Its owner.
        owner: Pubkey,
    },
    /// A zero amount would only waste space.
    #[error("transfer {index} (owner {owner}) has amount 0")]
    ZeroAmount {
        /// Position in the input.
        index: usize,
        /// Its owner.
        owner: Pubkey,
    },
    /// Not even one transfer fits a transaction with these signers and memo.
    #[error("a single transfer needs {size_bytes} bytes, over the {limit_bytes}-byte limit")]
    TransferTooLarge {
        /// Size of the one-transfer transaction.
        size_bytes: usize,
        /// The packet limit.
        limit_bytes: usize,
    },
    /// An instruction builder refused the authority (e.g. too many signers).
    #[error("cannot build mint instruction: {0}")]
    Instruction(String),
}

/// The memo of batch `index` under `tag` (e.g. `coverage-proof epoch 12`).
pub fn batch_memo(tag: &str, index: usize) -> String {
    format!("{tag} batch {index}")
}

/// Splits `transfers` (sorted by owner, amounts > 0) into transactions of at most
/// [`PACKET_DATA_SIZE_BYTES`], each starting with the memo [`batch_memo`]`(tag, index)`.
pub fn plan_batches(
    transfers: &[Transfer],
    authority: &MintAuthority,
    tag: &str,
) -> Result<Vec<Batch>, PlanError> {
    validate(transfers)?;
    let mut batches = Vec::new();
    let mut current: Option<Batch> = None;
    for transfer in transfers {
        let pair = transfer_instructions(transfer, authority)?;
        if let Some(batch) = current.as_mut() {
            let mut candidate = batch.instructions.clone();
            candidate.extend_from_slice(&pair);
            if serialized_size(&candidate, &authority.fee_payer) <= PACKET_DATA_SIZE_BYTES {
                batch.instructions = candidate;
                batch.transfers.push(*transfer);
                continue;
            }
            batches.extend(current.take());
        }
        let index = batches.len();
        let mut instructions = vec![memo(&batch_memo(tag, index))];
        instructions.extend(pair);
        let size_bytes = serialized_size(&instructions, &authority.fee_payer);
        if size_bytes > PACKET_DATA_SIZE_BYTES {
            return Err(PlanError::TransferTooLarge {
                size_bytes,
                limit_bytes: PACKET_DATA_SIZE_BYTES,
            });
        }
        current = Some(Batch {
            index,
            transfers: vec![*transfer],
            instructions,
        });
    }
    batches.extend(current);
    Ok(batches)
}

/// The instructions of batch `index` paying `transfers`: its memo, then the two instructions of
/// each transfer, exactly as [`plan_batches`] builds them. A batch rebuilt from a ledger (to sign
/// it again with a fresh blockhash) is therefore the planned one.
pub fn batch_instructions(
    index: usize,
    transfers: &[Transfer],
    authority: &MintAuthority,
    tag: &str,
) -> Result<Vec<Instruction>, PlanError> {
    let mut instructions = Vec::with_capacity(1 + 2 * transfers.len());
    instructions.push(memo(&batch_memo(tag, index)));
    for transfer in transfers {
        instructions.extend(transfer_instructions(transfer, authority)?);
    }
    Ok(instructions)
}

fn validate(transfers: &[Transfer]) -> Result<(), PlanError> {
    for (index, transfer) in transfers.iter().enumerate() {
        if transfer.amount == 0 {
            return Err(PlanError::ZeroAmount {
                index,
                owner: transfer.owner,
            });
        }
        if index > 0 && transfers[index - 1].owner >= transfer.owner {
            return Err(PlanError::Unsorted {
                index,
                owner: transfer.owner,
            });
        }
    }
    Ok(())
}

fn transfer_instructions(
    transfer: &Transfer,
    authority: &MintAuthority,
) -> Result<[Instruction; 2], PlanError> {
    let mint_to = mint_to_owner(
        &authority.mint,
        &transfer.owner,
        &authority.multisig,
        &authority.signers,
        transfer.amount,
    )
    .map_err(|e| PlanError::Instruction(e.to_string()))?;
    Ok([
        create_associated_token_account(&authority.fee_payer, &transfer.owner, &authority.mint),
        mint_to,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::SignedTransaction;
    use solana_hash::Hash;
    use solana_keypair::Keypair;
    use solana_signer::Signer;

    fn transfers(n: usize) -> Vec<Transfer> {
        let mut owners: Vec<Pubkey> = (0..n).map(|_| Pubkey::new_unique()).collect();
        owners.sort();
        owners
            .into_iter()
            .enumerate()
            .map(|(i, owner)| Transfer {
                owner,
                amount: 1_000 + i as u64,
            })
            .collect()
    }

    fn authority(payer: &Keypair, signers: &[Keypair]) -> MintAuthority {
        MintAuthority {
            fee_payer: payer.pubkey(),
            mint: Pubkey::new_unique(),
            multisig: Pubkey::new_unique(),
            signers: signers.iter().map(Signer::pubkey).collect(),
        }
    }

    #[test]
    fn every_batch_signs_within_the_packet_limit() {
        for m in [1, 2, 3, 5] {
            let payer = Keypair::new();
            let signers: Vec<Keypair> = (0..m).map(|_| Keypair::new()).collect();
            let auth = authority(&payer, &signers);
            let input = transfers(40);
            let batches = plan_batches(&input, &auth, "coverage-proof epoch 12").expect("plan");
            let planned: Vec<Transfer> = batches.iter().flat_map(|b| b.transfers.clone()).collect();
            assert_eq!(planned, input, "all transfers, in order, once");
            let refs: Vec<&dyn Signer> = signers.iter().map(|k| k as &dyn Signer).collect();
            for (i, batch) in batches.iter().enumerate() {
                assert_eq!(batch.index, i);
                let tx =
                    SignedTransaction::new(&batch.instructions, &payer, &refs, Hash::new_unique())
                        .expect("fits and signs");
                assert!(tx.wire().len() <= PACKET_DATA_SIZE_BYTES);
                let rebuilt =
                    batch_instructions(i, &batch.transfers, &auth, "coverage-proof epoch 12")
                        .expect("rebuild");
                assert_eq!(rebuilt, batch.instructions);
                if i + 1 < batches.len() {
                    // Full: the next transfer would not have fit.
                    let mut more = batch.instructions.clone();
                    more.extend(
                        transfer_instructions(&batches[i + 1].transfers[0], &auth).expect("ix"),
                    );
                    assert!(serialized_size(&more, &payer.pubkey()) > PACKET_DATA_SIZE_BYTES);
                }
            }
            assert!(
                batches.len() > 1,
                "40 transfers need several transactions with m={m}"
            );
        }
    }

    #[test]
    fn batching_is_deterministic() {
        let payer = Keypair::new();
        let signers = [Keypair::new(), Keypair::new()];
        let auth = authority(&payer, &signers);
        let input = transfers(25);
        let a = plan_batches(&input, &auth, "epoch 3").expect("plan");
        let b = plan_batches(&input, &auth, "epoch 3").expect("plan");
        assert_eq!(a, b);
    }

    #[test]
    fn refuses_unsorted_duplicate_and_zero() {
        let payer = Keypair::new();
        let auth = authority(&payer, &[Keypair::new()]);
        let mut input = transfers(3);
        input.swap(0, 2);
        assert!(matches!(
            plan_batches(&input, &auth, "t"),
            Err(PlanError::Unsorted { index: 1, .. })
        ));
        let mut dup = transfers(2);
        dup[1].owner = dup[0].owner;
        assert!(matches!(
            plan_batches(&dup, &auth, "t"),
            Err(PlanError::Unsorted { index: 1, .. })
        ));
        let mut zero = transfers(2);
        zero[1].amount = 0;
        assert_eq!(
            plan_batches(&zero, &auth, "t"),
            Err(PlanError::ZeroAmount {
                index: 1,
                owner: zero[1].owner
            })
        );
        assert_eq!(plan_batches(&[], &auth, "t"), Ok(Vec::new()));
    }

    #[test]
    fn an_oversized_memo_is_reported() {
        let payer = Keypair::new();
        let auth = authority(&payer, &[Keypair::new()]);
        let tag = "x".repeat(1200);
        assert!(matches!(
            plan_batches(&transfers(1), &auth, &tag),
            Err(PlanError::TransferTooLarge { .. })
        ));
    }
}
