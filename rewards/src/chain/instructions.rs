//! Pure instruction builders: the token mint, its M-of-N multisig authority, associated token
//! accounts, multisig `MintTo` and a memo. Shared by every backend, so production and tests send
//! exactly the same instructions.

use super::error::{ChainError, Result};
use solana_address::{Address as Pubkey, address};
use solana_instruction::Instruction;
use solana_program_pack::Pack;
use spl_associated_token_account_interface::{
    address::get_associated_token_address, instruction::create_associated_token_account_idempotent,
};
use spl_token_interface::instruction::{
    MAX_SIGNERS, initialize_mint2, initialize_multisig2, mint_to,
};
use spl_token_interface::state::{Mint, Multisig};

/// The SPL Token program (the classic `Tokenkeg…` id; p-token runs at the same address).
pub const TOKEN_PROGRAM_ID: Pubkey = spl_token_interface::ID;
/// The SPL Memo program (v2+, `MemoSq4g…`), present on every cluster and in litesvm.
pub const MEMO_PROGRAM_ID: Pubkey = address!("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr");
/// Decimals of the reward token unless configured otherwise.
pub const DEFAULT_DECIMALS: u8 = 6;
/// Size of an SPL Token mint account.
pub const MINT_ACCOUNT_LEN_BYTES: usize = Mint::LEN;
/// Size of an SPL Token multisig account.
pub const MULTISIG_ACCOUNT_LEN_BYTES: usize = Multisig::LEN;

fn invalid(err: impl std::fmt::Display) -> ChainError {
    ChainError::Instruction(err.to_string())
}

/// Checks SPL Token's multisig limits: `1 <= m <= n <= 11`.
pub fn check_multisig(m: usize, n: usize) -> Result<()> {
    if m == 0 || m > n || n > MAX_SIGNERS {
        return Err(ChainError::InvalidMultisig { m, n });
    }
    Ok(())
}

/// Creates the mint account (`rent_lamports` from the chain's rent-exemption minimum for
/// [`MINT_ACCOUNT_LEN_BYTES`]) and initialises it with `mint_authority` and no freeze authority.
/// The transaction must be signed by `payer` and `mint`.
pub fn create_mint(
    payer: &Pubkey,
    mint: &Pubkey,
    mint_authority: &Pubkey,
    decimals: u8,
    rent_lamports: u64,
) -> Result<[Instruction; 2]> {
    Ok([
        solana_system_interface::instruction::create_account(
            payer,
            mint,
            rent_lamports,
            MINT_ACCOUNT_LEN_BYTES as u64,
            &TOKEN_PROGRAM_ID,
        ),
        initialize_mint2(&TOKEN_PROGRAM_ID, mint, mint_authority, None, decimals)
            .map_err(invalid)?,
    ])
}

/// Creates an M-of-N SPL Token multisig account (`rent_lamports` for
/// [`MULTISIG_ACCOUNT_LEN_BYTES`]) over `signers`. The transaction must be signed by `payer` and
/// `multisig`. Use the multisig's address as the mint authority.
pub fn create_multisig(
    payer: &Pubkey,
    multisig: &Pubkey,
    signers: &[Pubkey],
    m: u8,
    rent_lamports: u64,
) -> Result<[Instruction; 2]> {
    check_multisig(usize::from(m), signers.len())?;
    let signer_refs: Vec<&Pubkey> = signers.iter().collect();
    Ok([
        solana_system_interface::instruction::create_account(
            payer,
            multisig,
            rent_lamports,
            MULTISIG_ACCOUNT_LEN_BYTES as u64,
            &TOKEN_PROGRAM_ID,
        ),
        initialize_multisig2(&TOKEN_PROGRAM_ID, multisig, &signer_refs, m).map_err(invalid)?,
    ])
}

/// The associated token account of `owner` for `mint`.
pub fn associated_token_address(owner: &Pubkey, mint: &Pubkey) -> Pubkey {
    get_associated_token_address(owner, mint)
}

/// Creates `owner`'s associated token account for `mint` unless it already exists (succeeds
/// either way). `payer` pays the rent and signs.
pub fn create_associated_token_account(
    payer: &Pubkey,
    owner: &Pubkey,
    mint: &Pubkey,
) -> Instruction {
    create_associated_token_account_idempotent(payer, owner, mint, &TOKEN_PROGRAM_ID)
}

/// Mints `amount` base units to `owner`'s associated token account, authorised by the
/// `multisig` mint authority with `signers` (at least M of its keys; each must sign the
/// transaction).
pub fn mint_to_owner(
    mint: &Pubkey,
    owner: &Pubkey,
    multisig: &Pubkey,
    signers: &[Pubkey],
    amount: u64,
) -> Result<Instruction> {
    let signer_refs: Vec<&Pubkey> = signers.iter().collect();
    let account = associated_token_address(owner, mint);
    mint_to(
        &TOKEN_PROGRAM_ID,
        mint,
        &account,
        multisig,
        &signer_refs,
        amount,
    )
    .map_err(invalid)
}

/// A memo carrying `tag` (e.g. `coverage-proof epoch 12 batch 3`), so every mint transaction
/// names the epoch and batch it pays. It requires no signer.
pub fn memo(tag: &str) -> Instruction {
    Instruction {
        program_id: MEMO_PROGRAM_ID,
        accounts: Vec::new(),
        data: tag.as_bytes().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multisig_limits() {
        assert!(check_multisig(2, 3).is_ok());
        assert!(check_multisig(11, 11).is_ok());
        assert!(check_multisig(0, 3).is_err());
        assert!(check_multisig(4, 3).is_err());
        assert!(check_multisig(2, 12).is_err());
        let keys = [Pubkey::new_unique()];
        assert!(create_multisig(&keys[0], &keys[0], &keys, 2, 1).is_err());
    }

    #[test]
    fn mint_to_carries_every_signer() {
        let (mint, owner, multisig) = (
            Pubkey::new_unique(),
            Pubkey::new_unique(),
            Pubkey::new_unique(),
        );
        let signers = [Pubkey::new_unique(), Pubkey::new_unique()];
        let ix = mint_to_owner(&mint, &owner, &multisig, &signers, 5).expect("valid");
        assert_eq!(ix.program_id, TOKEN_PROGRAM_ID);
        assert_eq!(ix.accounts.len(), 5);
        assert_eq!(
            ix.accounts[1].pubkey,
            associated_token_address(&owner, &mint)
        );
        assert!(ix.accounts[3..].iter().all(|meta| meta.is_signer));
    }

    #[test]
    fn memo_is_the_tag() {
        let ix = memo("epoch 7 batch 2");
        assert_eq!(ix.program_id, MEMO_PROGRAM_ID);
        assert_eq!(ix.data, b"epoch 7 batch 2");
    }
}
