//! rewards: deterministic reward manifests and their payment on Solana.
//!
//! # Layout
//! - [`chain`]: the on-chain part: SPL Token instruction builders, batching within the
//!   packet limit, and the [`chain::Chain`] boundary with an embedded (litesvm) and a JSON-RPC
//!   (anchor-client) backend.
//! - [`mint`]: minting an epoch's manifest: M-of-N approval gate, exactly-once mint ledger,
//!   circuit breaker, reconciliation against the chain.
//! - [`settings`]: the settings file (`pkg/settings-template.toml`).
//!
//! The reward computation, manifests and governance come with the rest of the rewards issue.

pub mod chain;
pub mod mint;
pub mod settings;
