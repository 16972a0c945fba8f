//! Minting an epoch's reward manifest on chain: M-of-N approvals, exactly once, within a
//! circuit breaker.
//!
//! # Flow ([`mint_epoch`])
//! 1. **Manifest**: the owners (sorted, amounts > 0, summing to `total_paid`) and the hash
//!    (SHA-256 of the canonical encoding) of the manifest being minted ([`MintableManifest`]).
//! 2. **Token**: the mint's authority on chain must be the configured SPL Token multisig; its
//!    members and M are read from the chain.
//! 3. **Approval gate** ([`approval::gate`]): at least M (and never fewer than
//!    [`approval::MIN_APPROVALS`]) distinct members approved this very hash
//!    (`ManifestApproval`s in `manifest_approvals`, signatures verified), and only approvers
//!    sign the mint transactions.
//! 4. **Circuit breaker** ([`breaker::check`]): minted within the rolling window + in flight +
//!    this manifest's remainder must stay within `limits.mint_window_emissions x
//!    emission_for(epoch)` of the parameter set in force.
//! 5. **Plan** durably: every transfer, split into transactions within the packet limit
//!    ([`plan_batches`](crate::chain::plan::plan_batches)), one database transaction.
//! 6. **Per batch**: sign against a recent blockhash, record the signature, wire bytes and the
//!    blockhash's last valid block height *before* sending; mark sent; send; ask the chain for
//!    the signature's status; record the confirmation.
//! 7. **Reconcile** ([`verify`]): every batch's landed transaction succeeded on chain and mints
//!    exactly its transfers; no other attempt succeeded. Then the plan is marked complete.
//!
//! # Restart
//! Running again resumes from the ledger. For a batch with a recorded, unconfirmed attempt the
//! chain decides: succeeded -> confirmed; failed -> signed again after the operator fixed the
//! cause; unknown while the block height (read first) is above the attempt's last valid block
//! height -> it provably never landed: signed again with a fresh blockhash; unknown and still
//! valid -> the same bytes are sent again (same signature, so it cannot land twice).
//!
//! # Layout
//! [`approval`], [`breaker`], [`ledger`], [`manifest`], [`verify`], [`hook`] (named crash
//! points for tests), `engine` (the loop).

pub mod approval;
pub mod breaker;
mod engine;
pub mod error;
pub mod hook;
pub mod ledger;
pub mod manifest;
pub mod verify;

pub use engine::{MintContext, MintOptions, MintReport, MintedBatch, TokenAddresses, mint_epoch};
pub use error::MintError;
pub use hook::{CrashHook, NoCrash, Step};
pub use manifest::{MintableManifest, load_manifest, manifest_hash};
