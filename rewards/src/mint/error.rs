//! Errors of the mint engine. Every refusal says which epoch, which numbers and what to do.

use crate::chain::plan::PlanError;
use crate::chain::{ChainError, Pubkey, Signature};

/// Why an epoch was not (completely) minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// Fewer multisig members approved this manifest hash than minting requires.
    #[error(
        "epoch {epoch}: {approvals} approval{s} of manifest {hash}..; {required} required (operators: {operators}; approved: {approved})",
        s = plural(*.approvals),
        hash = short_hex(.manifest_hash),
        operators = keys(.operators),
        approved = keys(.approvers)
    )]
    NotEnoughApprovals {
        /// The epoch.
        epoch: u64,
        /// The manifest hash being minted.
        manifest_hash: [u8; 32],
        /// Distinct multisig members with a valid approval of that hash.
        approvals: usize,
        /// Approvals required (the multisig's M, at least 2).
        required: usize,
        /// The multisig's members.
        operators: Vec<Pubkey>,
        /// Who approved.
        approvers: Vec<Pubkey>,
    },
    /// A key given to sign the mint transactions did not approve this manifest hash (or is not
    /// a member of the multisig).
    #[error(
        "epoch {epoch}: signer {signer} {why} manifest {hash}..; sign only with keys of operators that approved it",
        hash = short_hex(.manifest_hash)
    )]
    SignerNotApproved {
        /// The epoch.
        epoch: u64,
        /// The manifest hash.
        manifest_hash: [u8; 32],
        /// The offending signer.
        signer: Pubkey,
        /// "is not a member of the multisig that may mint" or "did not approve".
        why: &'static str,
    },
    /// Fewer signing keys than the multisig's M were given.
    #[error("epoch {epoch}: {given} signing key(s) given; the multisig needs {required}")]
    NotEnoughSigners {
        /// The epoch.
        epoch: u64,
        /// Keys given.
        given: usize,
        /// The multisig's M.
        required: usize,
    },
    /// The multisig allows a single signature; an epoch is never minted on one approval.
    #[error(
        "the mint authority {multisig} is a {threshold}-of-{n} multisig: epoch minting needs at least 2 required signatures"
    )]
    WeakMultisig {
        /// The multisig.
        multisig: Pubkey,
        /// Its M.
        threshold: u8,
        /// Its N.
        n: usize,
    },
    /// The token's on-chain mint authority is not the configured multisig.
    #[error("mint {mint}: its mint authority is {actual}, not the multisig {multisig}")]
    WrongAuthority {
        /// The mint.
        mint: Pubkey,
        /// The configured multisig.
        multisig: Pubkey,
        /// What the chain says (`none` for a fixed supply).
        actual: String,
    },
    /// The circuit breaker: minting this would exceed the rolling-window limit.
    #[error(
        "epoch {epoch}: circuit breaker: {used} base units minted or in flight within the last {window} plus {needed} for this manifest exceed the limit of {limit} ({emissions} x the epoch emission of {emission}); {frees}"
    )]
    CircuitBreaker {
        /// The epoch.
        epoch: u64,
        /// Minted within the window (confirmed) plus in flight, other than this manifest's remainder.
        used: u64,
        /// What this manifest still needs.
        needed: u64,
        /// The limit.
        limit: u64,
        /// `limits.mint_window_emissions`.
        emissions: u64,
        /// `emission_for(epoch)`.
        emission: u64,
        /// `limits.mint_window`, human-readable.
        window: String,
        /// When room frees up, in words.
        frees: String,
    },
    /// The stored manifest is not a valid manifest for this epoch.
    #[error("epoch {epoch}: invalid manifest: {detail}")]
    InvalidManifest {
        /// The epoch.
        epoch: u64,
        /// What is wrong.
        detail: String,
    },
    /// A plan exists for the epoch, made for another manifest, token or authority.
    #[error(
        "epoch {epoch}: the mint ledger already holds a plan for {what}; refusing to mix two plans"
    )]
    PlanMismatch {
        /// The epoch.
        epoch: u64,
        /// What differs, e.g. `manifest 12ab..` or `mint Abc..`.
        what: String,
    },
    /// The mint ledger is inconsistent (a bug or manual edits).
    #[error("epoch {epoch}: mint ledger inconsistent: {detail}")]
    Ledger {
        /// The epoch.
        epoch: u64,
        /// What is wrong.
        detail: String,
    },
    /// A batch transaction was included but failed; nothing of it took effect. Rerun after
    /// fixing the cause: the batch is signed again.
    #[error("epoch {epoch} batch {batch}: transaction {signature} failed on chain: {reason}")]
    BatchFailed {
        /// The epoch.
        epoch: u64,
        /// The batch.
        batch: u64,
        /// The failed transaction.
        signature: Signature,
        /// The chain's reason.
        reason: String,
    },
    /// The chain refused a batch transaction before executing it.
    #[error("epoch {epoch} batch {batch}: transaction {signature} refused: {reason}")]
    BatchRejected {
        /// The epoch.
        epoch: u64,
        /// The batch.
        batch: u64,
        /// The refused transaction.
        signature: Signature,
        /// The chain's reason.
        reason: String,
    },
    /// Reconciliation found the chain disagreeing with the ledger in a way that could mean a
    /// double or missing payment. Minting stops; investigate before anything else.
    #[error("epoch {epoch}: chain and ledger disagree: {detail}")]
    Reconcile {
        /// The epoch.
        epoch: u64,
        /// The disagreement.
        detail: String,
    },
    /// The chain kept failing (transport errors) beyond the configured retries.
    #[error("epoch {epoch}: chain unavailable after {attempts} tries: {last}")]
    ChainUnavailable {
        /// The epoch.
        epoch: u64,
        /// Tries made.
        attempts: u32,
        /// The last error.
        last: ChainError,
    },
    /// A chain error outside a send (reading accounts, blockhashes, signing).
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The transfers could not be planned into transactions.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The database failed.
    #[error("mint ledger database: {0}")]
    Db(#[from] sqlx::Error),
    /// The parameter set in force could not be read.
    #[error(transparent)]
    Parameters(#[from] db::parameters::ParametersError),
    /// A crash injected by a [`CrashHook`](super::CrashHook) (tests only).
    #[error("injected crash at {0}")]
    Crashed(String),
}

/// The first 4 bytes of a hash in hex, as shown in messages (`ab12cd34..`).
pub fn short_hex(hash: &[u8]) -> String {
    hex::encode(&hash[..hash.len().min(4)])
}

fn keys(keys: &[Pubkey]) -> String {
    if keys.is_empty() {
        return "none".into();
    }
    keys.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}
