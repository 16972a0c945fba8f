//! rewards: deterministic reward manifests and their payment on Solana.
//!
//! # Layout
//! - [`chain`]: the on-chain part: SPL Token instruction builders, batching within the
//!   packet limit, and the [`chain::Chain`] boundary with an embedded (litesvm) and a JSON-RPC
//!   (anchor-client) backend.
//! - [`governance`]: signed, versioned parameter changes (M-of-N governance keys) and their
//!   append-only audit history.
//! - [`settings`]: the settings file (`pkg/settings-template.toml`).
//!
//! The reward computation and manifests come with the rest of the rewards issue.

pub mod chain;
pub mod governance;
pub mod settings;
