//! The benchmark suite at Helium scale (issue #6): `bench all --scale 0.01|0.1|1` measures
//! every figure in one run, prints a table and writes JSON. See `docs/benchmarks.md`.
//!
//! # Layout
//! - [`sigs`]: figure 1, ed25519 verification throughput (single, batch; one and all cores).
//! - [`ingest`]: figure 2, QUIC ingest into a real oracle from a separate client process.
//! - [`day`]: the synthetic Helium-peak day (pure, seeded, parallel generation).
//! - [`load`]: figure 3, loading the day through the oracle's store code.
//! - [`verify`]: figure 3, the oracle's verifier over the stored day; verdict digest.
//! - [`rewards`]: figure 4, the day's epoch rewards from the database, and the reward math alone
//!   at 1 M hotspots.
//! - [`trust`]: the witness-graph trust refresh alone, on the evidence of a verified day.
//! - [`suite`]: running the figures, the table and the JSON.
//! - [`dbs`]: scratch databases, removed after each figure.

pub mod day;
pub mod dbs;
pub mod ingest;
pub mod load;
pub mod rewards;
pub mod sigs;
pub mod suite;
pub mod trust;
pub mod verify;
