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
//! - [`governance`]: signed, versioned parameter changes (M-of-N governance keys) and their
//!   append-only audit history.
//! - [`mint`]: minting an epoch's manifest: M-of-N approval gate, exactly-once mint ledger,
//!   circuit breaker, reconciliation against the chain.
//! - [`settings`]: the settings file (`pkg/settings-template.toml`).

pub mod approvals;
pub mod chain;
pub mod compute;
pub mod epoch;
pub mod governance;
pub mod mint;
pub mod settings;
