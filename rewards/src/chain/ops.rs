//! Operations written once over [`Chain`], so both backends run the same code.

use super::error::Result;
use super::instructions::{
    MINT_ACCOUNT_LEN_BYTES, MULTISIG_ACCOUNT_LEN_BYTES, check_multisig, create_mint,
    create_multisig,
};
use super::plan::Batch;
use super::{Chain, Hash, Pubkey, Signature, SignedTransaction, Signer};

/// A reward token: a mint whose authority is an M-of-N SPL Token multisig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenConfig {
    /// Decimals of the mint (default [`DEFAULT_DECIMALS`](super::instructions::DEFAULT_DECIMALS)).
    pub decimals: u8,
    /// Required signatures M.
    pub threshold: u8,
    /// The N operator keys of the multisig.
    pub operators: Vec<Pubkey>,
}

/// Creates the multisig (`multisig` is its new account key) and the mint (`mint`, authority =
/// the multisig, no freeze authority) in one transaction paid by `fee_payer`.
pub fn create_token<C: Chain + ?Sized>(
    chain: &mut C,
    config: &TokenConfig,
    fee_payer: &dyn Signer,
    mint: &dyn Signer,
    multisig: &dyn Signer,
) -> Result<Signature> {
    check_multisig(usize::from(config.threshold), config.operators.len())?;
    let payer = fee_payer.pubkey();
    let multisig_rent = chain.minimum_balance_for_rent_exemption(MULTISIG_ACCOUNT_LEN_BYTES)?;
    let mint_rent = chain.minimum_balance_for_rent_exemption(MINT_ACCOUNT_LEN_BYTES)?;
    let mut instructions = Vec::with_capacity(4);
    instructions.extend(create_multisig(
        &payer,
        &multisig.pubkey(),
        &config.operators,
        config.threshold,
        multisig_rent,
    )?);
    instructions.extend(create_mint(
        &payer,
        &mint.pubkey(),
        &multisig.pubkey(),
        config.decimals,
        mint_rent,
    )?);
    chain.send(&instructions, &[mint, multisig], fee_payer)
}

/// Signs one planned batch: fees from `fee_payer`, plus the M multisig `signers` the plan was
/// made for. The signature is known before anything is sent.
pub fn sign_batch(
    batch: &Batch,
    fee_payer: &dyn Signer,
    signers: &[&dyn Signer],
    blockhash: Hash,
) -> Result<SignedTransaction> {
    SignedTransaction::new(&batch.instructions, fee_payer, signers, blockhash)
}

/// Signs and submits every batch in order, stopping at the first error. Not crash-safe by
/// itself: an exactly-once caller records each [`sign_batch`] result before submitting it.
pub fn mint_batches<C: Chain + ?Sized>(
    chain: &mut C,
    batches: &[Batch],
    fee_payer: &dyn Signer,
    signers: &[&dyn Signer],
) -> Result<Vec<Signature>> {
    let mut signatures = Vec::with_capacity(batches.len());
    for batch in batches {
        let transaction = sign_batch(batch, fee_payer, signers, chain.latest_blockhash()?)?;
        signatures.push(chain.submit(&transaction)?);
    }
    Ok(signatures)
}
