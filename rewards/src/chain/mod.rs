//! On-chain side of rewards: SPL Token minting under an M-of-N multisig mint authority.
//!
//! # Layout
//! - [`instructions`]: pure instruction builders (mint, multisig, associated token accounts,
//!   multisig `MintTo`, memo), shared by every backend.
//! - [`plan`]: splits transfers into transactions within Solana's 1232-byte packet limit.
//! - [`SignedTransaction`]: a signed transaction as wire bytes; its signature is known before
//!   it is sent.
//! - [`Chain`]: the backend boundary, with two implementations:
//!   - [`LiteSvmChain`]: the embedded default, litesvm 0.16 running the real SPL Token
//!     (p-token) and ATA programs in-process, persisted to a state file between processes;
//!   - [`RpcChain`]: a Solana JSON-RPC endpoint through anchor-client 1.2 (blocking).
//! - [`ops`]: the operations written once over [`Chain`] (create the token, mint a plan).
//! - [`token_file`]: the token's addresses as `create-token` writes them for `rewards mint`.
//!
//! # Exactly-once minting over this boundary
//! Sign first ([`SignedTransaction::new`] against [`Chain::recent_blockhash`]), record the
//! signature, wire bytes and the blockhash's last valid block height, then [`Chain::submit`].
//! After a crash, read [`Chain::block_height`] and then [`Chain::signature_status`]: if the
//! transaction is unknown although the height was already past its last valid block height, it
//! never landed and never will, and the transfers can be signed again with a fresh blockhash.
//! The `rewards::mint` engine does exactly this.

pub mod error;
pub mod instructions;
mod litesvm;
pub mod ops;
pub mod plan;
mod rpc;
pub mod settings;
pub mod token_file;
mod transaction;

pub use error::{ChainError, Result};
pub use litesvm::{LiteSvmChain, STATE_FILE_NAME};
pub use rpc::RpcChain;
pub use solana_address::Address as Pubkey;
pub use solana_hash::Hash;
pub use solana_instruction::Instruction;
pub use solana_keypair::Keypair;
pub use solana_signature::Signature;
pub use solana_signer::Signer;
pub use transaction::{PACKET_DATA_SIZE_BYTES, SignedTransaction, serialized_size};

use solana_program_pack::Pack;

/// What the chain knows about a transaction signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxStatus {
    /// Executed successfully (at the backend's commitment level).
    Succeeded,
    /// Included but failed; none of its instructions took effect.
    Failed(String),
}

/// A blockhash to sign against and the last block height at which a transaction signed
/// against it can still be included (Solana's `lastValidBlockHeight`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecentBlockhash {
    /// The blockhash.
    pub hash: Hash,
    /// Once [`Chain::block_height`] is above this, the blockhash has expired.
    pub last_valid_block_height: u64,
}

/// An SPL Token multisig account as read from the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultisigAccount {
    /// Required signatures M.
    pub threshold: u8,
    /// The N member keys, in the account's order.
    pub members: Vec<Pubkey>,
}

/// An SPL Token mint account as read from the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintAccount {
    /// Who may mint (`None`: fixed supply).
    pub mint_authority: Option<Pubkey>,
    /// Total supply in base units.
    pub supply: u64,
    /// Decimals.
    pub decimals: u8,
}

/// An account as read from the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    /// Balance in lamports.
    pub lamports: u64,
    /// Owning program.
    pub owner: Pubkey,
    /// Account data.
    pub data: Vec<u8>,
}

/// A Solana cluster as the rewards job sees it. Reads take `&self`; sending takes `&mut self`.
pub trait Chain {
    /// A recent blockhash to sign transactions against.
    fn latest_blockhash(&self) -> Result<Hash>;

    /// Whether a transaction signed against `blockhash` can still land.
    fn is_blockhash_valid(&self, blockhash: &Hash) -> Result<bool>;

    /// A recent blockhash with its last valid block height.
    fn recent_blockhash(&self) -> Result<RecentBlockhash>;

    /// The current block height (at the backend's commitment level). Read it *before* a
    /// signature status to prove a transaction can no longer land.
    fn block_height(&self) -> Result<u64>;

    /// Sends a signed transaction and waits until it is processed (litesvm) or confirmed (RPC).
    /// [`ChainError::Rejected`] means it did not take effect; [`ChainError::Rpc`] means the
    /// outcome is unknown (ask [`Chain::signature_status`]).
    fn submit(&mut self, transaction: &SignedTransaction) -> Result<Signature>;

    /// The status of a transaction, `None` if the chain does not know it (never sent, refused
    /// before execution, or not yet landed).
    fn signature_status(&self, signature: &Signature) -> Result<Option<TxStatus>>;

    /// An account, `None` if it does not exist.
    fn account(&self, address: &Pubkey) -> Result<Option<AccountInfo>>;

    /// Lamports that make an account of `len_bytes` rent-exempt.
    fn minimum_balance_for_rent_exemption(&self, len_bytes: usize) -> Result<u64>;

    /// Signs `instructions` (fees from `fee_payer`) against the latest blockhash and submits.
    fn send(
        &mut self,
        instructions: &[Instruction],
        signers: &[&dyn Signer],
        fee_payer: &dyn Signer,
    ) -> Result<Signature> {
        let transaction =
            SignedTransaction::new(instructions, fee_payer, signers, self.latest_blockhash()?)?;
        self.submit(&transaction)
    }

    /// `owner`'s balance of `mint` in base units (its associated token account; 0 if that does
    /// not exist yet).
    fn token_balance(&self, owner: &Pubkey, mint: &Pubkey) -> Result<u64> {
        let address = instructions::associated_token_address(owner, mint);
        match self.account(&address)? {
            None => Ok(0),
            Some(account) => Ok(unpack::<spl_token_interface::state::Account>(
                &account,
                "token account",
            )?
            .amount),
        }
    }

    /// The total supply of `mint` in base units.
    fn mint_supply(&self, mint: &Pubkey) -> Result<u64> {
        Ok(self.mint_account(mint)?.supply)
    }

    /// The SPL Token mint at `mint`.
    fn mint_account(&self, mint: &Pubkey) -> Result<MintAccount> {
        let account = self.account(mint)?.ok_or(ChainError::Decode {
            what: "mint",
            detail: format!("account {mint} does not exist"),
        })?;
        let mint = unpack::<spl_token_interface::state::Mint>(&account, "mint")?;
        Ok(MintAccount {
            mint_authority: mint.mint_authority.into(),
            supply: mint.supply,
            decimals: mint.decimals,
        })
    }

    /// The SPL Token multisig at `address`.
    fn multisig_account(&self, address: &Pubkey) -> Result<MultisigAccount> {
        let account = self.account(address)?.ok_or(ChainError::Decode {
            what: "multisig",
            detail: format!("account {address} does not exist"),
        })?;
        let multisig = unpack::<spl_token_interface::state::Multisig>(&account, "multisig")?;
        let n = usize::from(multisig.n).min(multisig.signers.len());
        Ok(MultisigAccount {
            threshold: multisig.m,
            members: multisig.signers[..n].to_vec(),
        })
    }
}

fn unpack<T: Pack + solana_program_pack::IsInitialized>(
    account: &AccountInfo,
    what: &'static str,
) -> Result<T> {
    if account.owner != instructions::TOKEN_PROGRAM_ID {
        return Err(ChainError::Decode {
            what,
            detail: format!("owned by {}", account.owner),
        });
    }
    T::unpack(&account.data).map_err(|e| ChainError::Decode {
        what,
        detail: e.to_string(),
    })
}
