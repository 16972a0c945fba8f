//! Named steps of the minting loop and a hook called at each, so tests can crash the engine at
//! every point where a real process could die. Production passes [`NoCrash`].

use super::error::MintError;

/// A point in the minting loop, reached right after the ledger write (or chain call) it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The plan (transfers and batches) is committed; nothing is signed yet.
    Planned,
    /// A batch's attempt (signature, wire bytes, blockhash expiry) is recorded, not yet sent.
    Signed {
        /// The batch.
        batch: u64,
    },
    /// The attempt is marked as being sent; the chain has not seen it yet.
    SendRecorded {
        /// The batch.
        batch: u64,
    },
    /// The chain processed (and confirmed) the attempt; the ledger does not know yet.
    Submitted {
        /// The batch.
        batch: u64,
    },
    /// The ledger recorded the batch's confirmation (between two batches).
    Confirmed {
        /// The batch.
        batch: u64,
    },
    /// An attempt was recorded as expired (never landed); the batch is about to be re-signed.
    Expired {
        /// The batch.
        batch: u64,
    },
    /// Every batch is confirmed and verified against the chain; the plan is not yet marked
    /// complete.
    Verified,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Planned => write!(f, "planned"),
            Self::Signed { batch } => {
                write!(f, "batch {batch} signed and recorded, before sending")
            }
            Self::SendRecorded { batch } => write!(f, "batch {batch} marked sent, before sending"),
            Self::Submitted { batch } => write!(f, "batch {batch} sent, before recording"),
            Self::Confirmed { batch } => write!(f, "batch {batch} confirmation recorded"),
            Self::Expired { batch } => {
                write!(f, "batch {batch} attempt expired, before re-signing")
            }
            Self::Verified => write!(f, "verified, before marking complete"),
        }
    }
}

/// Called at every [`Step`]; an error stops the engine there, as a crash would (everything
/// before it is durable, nothing after it happened).
pub trait CrashHook: Sync {
    /// `epoch` reached `step`.
    fn reached(&self, epoch: u64, step: Step) -> Result<(), MintError>;
}

/// The production hook: never crashes.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCrash;

impl CrashHook for NoCrash {
    fn reached(&self, _epoch: u64, _step: Step) -> Result<(), MintError> {
        Ok(())
    }
}
