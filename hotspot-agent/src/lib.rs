//! The hotspot agent: the daemon beside a LoRa radio that beacons, witnesses other hotspots'
//! beacons and reports both to the oracle (modelled on Helium's gateway-rs).
//!
//! The simulator runs many [`Agent`]s in one process, each with its own key, its own QUIC
//! connection to the oracle and a [`radio::sim::SimRadio`], on a scaled clock
//! ([`schemas::clock::ScaledClock`]).
//!
//! ```no_run
//! # async fn example(config: hotspot_agent::AgentConfig, key: schemas::Keypair,
//! #     medium: hotspot_agent::radio::sim::SimRadioConfig) -> Result<(), Box<dyn std::error::Error>> {
//! use hotspot_agent::{Agent, radio::sim::SimRadio};
//! use std::sync::Arc;
//! let clock: schemas::clock::SharedClock = Arc::new(schemas::clock::ScaledClock::new(0, 3600.0));
//! let radio = SimRadio::connect(medium, key.clone(), clock.clone())?;
//! let agent = Agent::new(config, key, clock);
//! let stats = agent.stats();
//! agent.run(radio, async { /* shutdown signal */ }).await?;
//! println!("{:?}", stats.snapshot());
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`agent`]: [`AgentConfig`], [`Agent`] and its run loop (radio loop, beaconer, delivery).
//! - [`beaconer`]: one beacon per segment, derived from fresh oracle entropy.
//! - [`schedule`]: the pure beacon schedule (gateway-rs `mk_next_beacon_time`).
//! - [`witness`]: which received frames are witnessed, and the report.
//! - [`cache`]: the 15 last own/reported beacons, never witnessed (again).
//! - [`outbox`]: reports waiting for the oracle, retried until acked or rejected; durable
//!   (an fsynced append-only file, [`outbox::log`]) for the daemon, in memory for simulations.
//! - [`oracle_client`]: the oracle connection, key pinning, reconnect with backoff.
//! - [`backoff`]: jittered exponential backoff.
//! - [`radio`]: the [`radio::Radio`] boundary; [`radio::sim`] talks to the simulated medium
//!   with [`radio::framing`] (bounded length-delimited messages); [`radio::semtech`] to a
//!   Semtech UDP packet forwarder with the sans-IO [`radio::gwmp`] codec.
//! - [`lora`]: LoRaWAN Proprietary framing of beacons.
//! - [`settings`]: the TOML settings file (template in `pkg/settings-template.toml`).
//! - [`stats`]: live counters.
//! - [`status`]: the live state and the status file behind `hotspot-agent status`.
//!
//! The binary (`src/main.rs`, `src/cli.rs`) adds `init`, `assert`, `run`, `status` and
//! `key show`. `pkg/` has the settings template and the systemd unit; `scripts/footprint.sh`
//! measures memory and idle CPU of the daemon with a full queue.

pub mod agent;
pub mod backoff;
pub mod beaconer;
pub mod cache;
pub mod lora;
pub mod oracle_client;
pub mod outbox;
pub mod radio;
pub mod schedule;
pub mod settings;
pub mod stats;
pub mod status;
pub mod witness;

pub use agent::{Agent, AgentConfig, AgentError};
pub use oracle_client::{OracleClient, OracleError};
pub use radio::{Radio, RadioError, RxFrame, TxDone, TxFrame};
pub use stats::{AgentStats, AgentStatsSnapshot};
