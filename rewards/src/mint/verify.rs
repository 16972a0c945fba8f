//! Reconciliation against the chain once every batch is confirmed.
//!
//! Why not compare token balances: owners can move or burn their tokens at any time (and other
//! epochs pay the same accounts), so "each account's balance moved by what the ledger says" is
//! not a sound check on a live chain. What is sound, and checked here for every batch:
//! - the chain (not the table) says the batch's landed transaction **succeeded**; transactions
//!   are atomic, so all of its instructions took effect exactly once;
//! - the stored wire bytes are that transaction (the fee payer's ed25519 signature verifies
//!   over the stored message) and its `MintTo` instructions pay exactly the batch's transfers
//!   (associated token account of each owner, amount, this mint, this multisig), nothing else;
//! - every other attempt of the batch is unknown to the chain or failed there (a second
//!   success would be a double payment).
//!
//! Together with "the batches' transfers are the manifest's owners and amounts", this proves the
//! chain paid the manifest exactly once. `rewards mint status` also shows balances, as
//! information.

use super::error::MintError;
use super::ledger::{Attempt, BatchState, LedgerBatch, Outcome, Plan};
use crate::chain::instructions::{MEMO_PROGRAM_ID, TOKEN_PROGRAM_ID, associated_token_address};
use crate::chain::{Chain, Pubkey, TxStatus};
use spl_token_interface::instruction::TokenInstruction;
use std::collections::BTreeMap;

/// Verifies every batch of `plan` against the chain (see the module docs).
pub fn verify_against_chain(
    chain: &dyn Chain,
    plan: &Plan,
    batches: &[LedgerBatch],
    attempts: &[Attempt],
) -> Result<(), MintError> {
    let epoch = plan.epoch;
    let fail = |detail: String| MintError::Reconcile { epoch, detail };
    for batch in batches {
        if batch.state != BatchState::Confirmed {
            return Err(fail(format!(
                "batch {} is {:?}, not confirmed",
                batch.batch, batch.state
            )));
        }
        for attempt in attempts.iter().filter(|a| a.batch == batch.batch) {
            let signature = attempt.transaction.signature();
            let status = chain.signature_status(&signature)?;
            let current = attempt.attempt == batch.attempt;
            match (current, &status) {
                (true, Some(TxStatus::Succeeded)) if attempt.outcome == Outcome::Landed => {
                    check_payload(plan, batch, attempt).map_err(|detail| {
                        fail(format!(
                            "batch {} transaction {signature}: {detail}",
                            batch.batch
                        ))
                    })?;
                }
                (true, _) => {
                    return Err(fail(format!(
                        "batch {} is confirmed in the ledger but the chain says {status:?} for {signature}",
                        batch.batch
                    )));
                }
                (false, Some(TxStatus::Succeeded)) => {
                    return Err(fail(format!(
                        "batch {} attempt {} ({signature}) also succeeded on chain: paid twice",
                        batch.batch, attempt.attempt
                    )));
                }
                (false, _) if matches!(attempt.outcome, Outcome::Expired | Outcome::Failed) => {}
                (false, _) => {
                    return Err(fail(format!(
                        "batch {} attempt {} is {:?}, not closed",
                        batch.batch, attempt.attempt, attempt.outcome
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Checks that `attempt`'s stored transaction is signed by the plan's fee payer and mints
/// exactly `batch`'s transfers.
fn check_payload(plan: &Plan, batch: &LedgerBatch, attempt: &Attempt) -> Result<(), String> {
    let transaction = attempt
        .transaction
        .transaction()
        .map_err(|e| e.to_string())?;
    let message = &transaction.message;
    let payer = message.account_keys.first().ok_or("no accounts")?;
    let payer_key = schemas::PublicKey::from_bytes(payer.to_bytes());
    schemas::sign::verify_signature(
        &payer_key,
        attempt.transaction.signature().as_ref(),
        &message.serialize(),
    )
    .map_err(|e| format!("fee payer signature over the stored message: {e}"))?;
    let mut expected: BTreeMap<Pubkey, u64> = batch
        .transfers
        .iter()
        .map(|t| (associated_token_address(&t.owner, &plan.mint), t.amount))
        .collect();
    let key = |index: u8| message.account_keys.get(usize::from(index)).copied();
    for instruction in &message.instructions {
        let program = key(instruction.program_id_index).ok_or("bad program index")?;
        if program == MEMO_PROGRAM_ID
            || program == spl_associated_token_account_interface::program::ID
        {
            continue;
        }
        if program != TOKEN_PROGRAM_ID {
            return Err(format!("unexpected program {program}"));
        }
        let Ok(TokenInstruction::MintTo { amount }) = TokenInstruction::unpack(&instruction.data)
        else {
            return Err("a token instruction other than MintTo".into());
        };
        let account = |i: usize| instruction.accounts.get(i).and_then(|&k| key(k));
        let (Some(mint), Some(destination), Some(authority)) = (account(0), account(1), account(2))
        else {
            return Err("MintTo with missing accounts".into());
        };
        if mint != plan.mint || authority != plan.multisig {
            return Err(format!("MintTo of mint {mint} by {authority}"));
        }
        match expected.remove(&destination) {
            Some(planned) if planned == amount => {}
            planned => {
                return Err(format!(
                    "MintTo {amount} to {destination}, planned {planned:?}"
                ));
            }
        }
    }
    if !expected.is_empty() {
        return Err(format!(
            "{} planned transfer(s) not in the transaction",
            expected.len()
        ));
    }
    Ok(())
}
