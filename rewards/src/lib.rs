//! rewards: deterministic reward manifests and their payment on Solana.
//!
//! # Layout
//! - [`chain`]: the on-chain part: SPL Token instruction builders, batching within the
//!   packet limit, and the [`chain::Chain`] boundary with an embedded (litesvm) and a JSON-RPC
//!   (anchor-client) backend.
//! - [`compute`]: the pure reward rules: an epoch's activity + parameters -> its manifest.
//! - [`epoch`]: loads an epoch from the oracle's database, digests it, computes and stores its
//!   manifest; [`epoch::what_if`] compares past epochs under proposed parameters.
//! - [`approvals`]: oracle operators' signed approvals of manifest hashes.
//! - [`settings`]: the settings file (`pkg/settings-template.toml`).
//!
//! Governance and epoch minting come with the rest of the rewards issue.

pub mod approvals;
pub mod chain;
pub mod compute;
pub mod epoch;
pub mod settings;
