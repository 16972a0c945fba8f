//! Errors of the chain module.

use solana_signature::Signature;
use std::path::PathBuf;

/// Everything that can go wrong while building, sending or reading transactions.
///
/// For an exactly-once minting loop the distinction that matters is [`ChainError::Rejected`]
/// (the chain refused the transaction: it did not and will not execute) versus
/// [`ChainError::Rpc`] (transport failure: the outcome is unknown, ask
/// [`Chain::signature_status`](super::Chain::signature_status)).
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The chain refused the transaction (preflight simulation or execution failed, or it was
    /// already processed). Nothing it contains took effect.
    #[error("transaction {signature} rejected: {reason}")]
    Rejected {
        /// The transaction's first signature.
        signature: Signature,
        /// The chain's reason, e.g. `InstructionError(1, MissingRequiredSignature)`.
        reason: String,
    },
    /// The serialized transaction exceeds Solana's packet limit.
    #[error("transaction is {size_bytes} bytes, over the {limit_bytes}-byte packet limit")]
    TooLarge {
        /// Serialized size.
        size_bytes: usize,
        /// [`PACKET_DATA_SIZE_BYTES`](super::PACKET_DATA_SIZE_BYTES).
        limit_bytes: usize,
    },
    /// A required signer was missing or signing failed.
    #[error("signing failed: {0}")]
    Signing(#[from] solana_signer::SignerError),
    /// An instruction builder refused its arguments.
    #[error("invalid instruction arguments: {0}")]
    Instruction(String),
    /// An M-of-N multisig outside SPL Token's limits (1 <= M <= N <= 11).
    #[error("invalid multisig: {m} of {n} (SPL Token allows 1 <= m <= n <= {max})", max = spl_token_interface::instruction::MAX_SIGNERS)]
    InvalidMultisig {
        /// Required signatures.
        m: usize,
        /// Number of signer keys.
        n: usize,
    },
    /// An account or transaction could not be decoded.
    #[error("cannot decode {what}: {detail}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// The JSON-RPC endpoint failed; whether a submitted transaction landed is unknown.
    #[error("RPC: {0}")]
    Rpc(String),
    /// The embedded SVM refused an operation outside a transaction.
    #[error("embedded SVM: {0}")]
    Svm(String),
    /// Reading or writing the embedded chain's state file failed.
    #[error("chain state file {path}: {source}")]
    StateIo {
        /// The state file (or its lock).
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The embedded chain's state file is not valid.
    #[error("chain state file {path} is corrupt: {detail}")]
    StateCorrupt {
        /// The state file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// Result alias of the chain module.
pub type Result<T, E = ChainError> = std::result::Result<T, E>;
