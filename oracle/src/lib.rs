//! The oracle: ingests signed beacon and witness reports over QUIC, stores them durably,
//! verifies each against the asserted locations and radio physics, and explains every verdict.
//!
//! # Layout
//! - [`node`]: composition root ([`node::Oracle::start`]).
//! - [`server`]: QUIC accept loop, one request per stream.
//! - [`ingest`]: request checks and the group-commit writer (durable before acknowledged).
//! - [`entropy`]: signed entropy every tick.
//! - [`registry`]: onboarded hotspots in memory.
//! - [`store`]: every SQL query.
//! - [`verifier`]: streaming runner and the pure rules ([`verifier::poc`], [`verifier::reason`],
//!   [`verifier::params`]).
//! - Pure math: [`density`] (HIP 17/104), [`geometry`] (distances, free-space loss),
//!   [`reward_units`] (HIP 15).
//! - [`explain`]: `oracle explain`.
//! - [`settings`], [`identity`], [`density_cli`].

pub mod density;
pub mod density_cli;
pub mod denylist_cli;
pub mod entropy;
pub mod explain;
pub mod geometry;
pub mod identity;
pub mod ingest;
pub mod node;
pub mod physics;
pub mod registry;
pub mod reward_units;
pub mod server;
pub mod settings;
pub mod store;
pub mod trust;
pub mod verifier;
