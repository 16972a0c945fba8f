//! Governance: signed, versioned changes of the parameter set ([`ParameterSet`]).
//!
//! A change is a *proposal*: a parameter-set TOML file with the next `version` and an
//! `effective_epoch` in the future, plus governance signatures over its canonical hash
//! ([`ParameterSet::hash`], wrapped in a domain-separated [`ParameterProposal`]). Governance
//! members sign offline (`rewards governance sign`), each appending to the proposal's sidecar
//! file (`PROPOSAL.sigs.json`); the operator applies it (`rewards governance apply`) once M of
//! the N governance keys in the settings signed. Applied sets are append-only rows of
//! `parameter_sets` with their signatures in `parameter_signatures`: the audit history.
//!
//! # Layout
//! - [`rules`]: the pure rules a change must pass (version, effective epoch, epoch length,
//!   values).
//! - [`proposal`]: proposal and signature files; signing and checking signatures.
//! - [`store`]: the database side: what is applied, applying, the audit history.
//!
//! The set in force for an epoch is read with `db::parameters::in_force`, by the oracle and the
//! rewards job alike; `docs/governance.md` describes the operator flow.
//!
//! [`ParameterSet`]: schemas::parameters::ParameterSet
//! [`ParameterSet::hash`]: schemas::parameters::ParameterSet::hash
//! [`ParameterProposal`]: schemas::proto::ParameterProposal

pub mod proposal;
pub mod rules;
pub mod store;

pub use proposal::{Proposal, SignatureFile};
pub use rules::{GovernanceState, RuleError};
pub use store::{AppliedSet, apply, check, genesis};

/// Why a governance command was refused.
#[derive(Debug, thiserror::Error)]
pub enum GovernanceError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The proposal is not a valid parameter set.
    #[error("{path}: {source}")]
    Parameters {
        /// The proposal file.
        path: String,
        /// Why it does not parse or validate.
        source: schemas::parameters::ParameterError,
    },
    /// The signature file is malformed.
    #[error("signature file {path} is malformed: {reason}")]
    SignatureFile {
        /// The sidecar file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The signature file belongs to another proposal (or the proposal was edited after
    /// signing).
    #[error(
        "signature file {path} signs version {signed_version}, effective epoch {signed_epoch}, \
         hash {signed_hash}; the proposal is version {version}, effective epoch {epoch}, hash \
         {hash}: it was changed after signing or the file belongs to another proposal"
    )]
    SidecarMismatch {
        /// The sidecar file.
        path: String,
        /// What the signatures approve.
        signed_version: u64,
        /// What the signatures approve.
        signed_epoch: u64,
        /// What the signatures approve (hex).
        signed_hash: String,
        /// The proposal's version.
        version: u64,
        /// The proposal's effective epoch.
        epoch: u64,
        /// The proposal's hash (hex).
        hash: String,
    },
    /// No governance keys are configured, or the threshold cannot be met.
    #[error(
        "governance is not configured: {0} (set [governance] keys and threshold in the rewards settings)"
    )]
    NotConfigured(String),
    /// Too few valid signatures from governance keys.
    #[error(
        "{valid} valid signature(s) from governance keys, {threshold} required (signatures by other keys, or over other contents, do not count)"
    )]
    TooFewSignatures {
        /// Distinct governance keys with a valid signature.
        valid: usize,
        /// The configured threshold M.
        threshold: usize,
    },
    /// The change breaks a governance rule.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A stored parameter set is unreadable.
    #[error(transparent)]
    Stored(#[from] db::parameters::ParametersError),
    /// A stored row is malformed.
    #[error("stored governance data is corrupt: {0}")]
    Corrupt(String),
}
